"""Dask over TLS: real `dask scheduler`/`dask worker` processes and local clusters, mutual TLS."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from distributed import Client
from distributed.security import Security
from pydantic_settings import SettingsConfigDict

from weather_data.cluster import DaskRuntime, DaskSettings
from weather_data.settings import DataServiceSettings
from weather_runtime.local_ca import LOCAL_HOSTS, Issued, LocalCA
from weather_runtime.settings import SettingsError, load_settings

# Generous: two cores shared with other suites; a refused connection fails at once, but
# distributed retries it until this timeout before raising.
CONNECT_TIMEOUT = 30
REFUSED_TIMEOUT = 4


class DaskTlsSettings(DataServiceSettings):
    """A data service's settings with its own prefix, as ingest and preprocess have."""

    model_config = SettingsConfigDict(env_prefix="DASKTLSTEST_", extra="forbid")


@dataclass(frozen=True)
class Pki:
    """The cluster's CA, the certificate its processes serve with (server and client auth),
    a client-only certificate, and a certificate from another CA."""

    ca_file: Path
    node: Issued
    client: Issued
    stranger: Issued


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("dask-ca")
    ca = LocalCA.create(folder)
    node = ca.issue("dask", "dask", hosts=LOCAL_HOSTS, server=True, client=True)
    client = ca.issue_client("ingest")
    other = LocalCA.create(tmp_path_factory.mktemp("other-ca"), name="another CA")
    stranger = other.issue("dask", "dask", hosts=LOCAL_HOSTS, server=True, client=True)
    return Pki(ca.ca_file, node, client, stranger)


def _tls_args(pki: Pki) -> list[str]:
    return [
        "--tls-ca-file",
        str(pki.ca_file),
        "--tls-cert",
        str(pki.node.cert_file),
        "--tls-key",
        str(pki.node.key_file),
    ]


@pytest.fixture(scope="module")
def tls_scheduler(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The tls:// address of a real scheduler with one worker process, both refusing
    unencrypted connections."""
    folder = tmp_path_factory.mktemp("dask-tls")
    scheduler_file = folder / "scheduler.json"
    dask = str(Path(sys.executable).parent / "dask")
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION": "True"}
    processes: list[subprocess.Popen[bytes]] = []
    log = (folder / "dask.log").open("ab")
    try:
        processes.append(
            subprocess.Popen(
                [
                    *(dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--protocol"),
                    *("tls", "--no-dashboard", "--scheduler-file", str(scheduler_file)),
                    *_tls_args(pki),
                ],
                env=env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        )
        deadline = time.monotonic() + 120
        while not scheduler_file.exists():
            assert processes[0].poll() is None, (folder / "dask.log").read_text()
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.1)
        address = str(json.loads(scheduler_file.read_text())["address"])
        assert address.startswith("tls://127.0.0.1:"), address
        processes.append(
            subprocess.Popen(
                [
                    *(dask, "worker", address, "--nthreads", "1", "--no-dashboard"),
                    *("--name", "w0", "--local-directory", str(folder / "worker")),
                    *_tls_args(pki),
                ],
                env=env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        )
        yield address
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def _square_sum(client: Client) -> int:
    return int(sum(client.gather(client.map(lambda x: x * x, range(10)))))


def _refused(address: str, security: Security | None) -> BaseException:
    """The error a client gets connecting to address with security (it must get one)."""
    started = time.monotonic()
    with pytest.raises((OSError, TimeoutError)) as caught:
        Client(address, set_as_default=False, timeout=REFUSED_TIMEOUT, security=security)
    print(f"refused after {time.monotonic() - started:.1f} s: {caught.value!r}")
    # refused by the TLS layer (or the peer resetting a plain connection), not a slow start
    assert any(word in repr(caught.value) for word in ("SSL", "TLS", "reset")), caught.value
    return caught.value


def test_runtime_with_tls_settings_computes_on_the_tls_cluster(
    tls_scheduler: str, pki: Pki
) -> None:
    settings = DaskSettings(
        scheduler_address=tls_scheduler,
        tls_ca_file=str(pki.ca_file),
        tls_cert_file=str(pki.client.cert_file),
        tls_key_file=str(pki.client.key_file),
    )
    runtime = DaskRuntime(settings)
    try:
        client = runtime.client()
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
        assert client.security.require_encryption
        assert _square_sum(client) == 285
        workers = client.scheduler_info()["workers"]
        assert workers and all(address.startswith("tls://") for address in workers)
    finally:
        runtime.close()


def _handshake(address: str, ca_file: Path, client: Issued | None) -> str:
    """'accepted' when the TLS server behind address speaks after the handshake (Dask's
    first message) or keeps the connection open, else what refused it."""
    host, port = address.split("://", 1)[1].rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(ca_file))
    context.check_hostname = False  # Dask's certificates are not bound to host names
    if client is not None:
        context.load_cert_chain(str(client.cert_file), str(client.key_file))
    with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT) as raw:
        try:
            with context.wrap_socket(raw) as tls:
                tls.settimeout(1.0)  # TLS 1.3: a refused certificate arrives as an alert
                return "accepted" if tls.recv(1) else "closed"
        except TimeoutError:
            return "accepted"
        except (ssl.SSLError, ConnectionError) as exc:
            return f"refused: {exc}"


def test_a_client_without_a_certificate_is_refused(tls_scheduler: str, pki: Pki) -> None:
    # Dask's own client will not even dial tls:// without a certificate; a raw TLS client
    # holding only the CA shows the scheduler refuses it (and accepts the same with one)
    assert _handshake(tls_scheduler, pki.ca_file, pki.client) == "accepted"
    outcome = _handshake(tls_scheduler, pki.ca_file, None)
    print("without a client certificate:", outcome)
    assert outcome != "accepted"
    assert "certificate" in outcome.lower() or outcome == "closed", outcome


def test_a_certificate_from_another_ca_is_refused(tls_scheduler: str, pki: Pki) -> None:
    stranger = DaskSettings(
        scheduler_address=tls_scheduler,
        tls_ca_file=str(pki.ca_file),
        tls_cert_file=str(pki.stranger.cert_file),
        tls_key_file=str(pki.stranger.key_file),
    )
    _refused(tls_scheduler, stranger.security())


def test_plain_tcp_to_the_tls_scheduler_is_refused(tls_scheduler: str) -> None:
    _refused(tls_scheduler.replace("tls://", "tcp://"), Security(require_encryption=False))


def test_the_runtime_refuses_a_plain_address_once_a_ca_is_set(pki: Pki) -> None:
    # require_encryption follows the CA: a tcp:// scheduler is never dialled in the clear
    settings = DaskSettings(
        scheduler_address="tcp://127.0.0.1:1",
        tls_ca_file=str(pki.ca_file),
        tls_cert_file=str(pki.client.cert_file),
        tls_key_file=str(pki.client.key_file),
    )
    assert settings.security().require_encryption
    with pytest.raises(RuntimeError, match=r"encrypt|tls"):
        DaskRuntime(settings).client()


def test_a_local_cluster_runs_tls_by_default_and_refuses_plain_clients() -> None:
    started = time.monotonic()
    runtime = DaskRuntime(DaskSettings(local_workers=1, memory_limit="1GiB"))
    try:
        client = runtime.client()
        address = str(client.scheduler.address)
        assert _square_sum(client) == 285
        print(
            f"local TLS cluster (throwaway certificates) up and computing in "
            f"{time.monotonic() - started:.2f} s at {address}"
        )
        assert address.startswith("tls://127.0.0.1:")
        assert all(w.startswith("tls://") for w in client.scheduler_info()["workers"])
        _refused(address.replace("tls://", "tcp://"), Security(require_encryption=False))
        # another process's throwaway certificate is not this cluster's
        _refused(address, Security.temporary())
    finally:
        runtime.close()


def test_a_local_cluster_serves_with_the_configured_files(pki: Pki) -> None:
    runtime = DaskRuntime(
        DaskSettings(
            local_workers=1,
            memory_limit="1GiB",
            tls_ca_file=str(pki.ca_file),
            tls_cert_file=str(pki.node.cert_file),
            tls_key_file=str(pki.node.key_file),
        )
    )
    try:
        client = runtime.client()
        address = str(client.scheduler.address)
        assert address.startswith("tls://")
        assert _square_sum(client) == 285
        # a client holding a certificate of the same CA gets in; one without is refused
        member = Security(
            tls_ca_file=str(pki.ca_file),
            tls_client_cert=str(pki.client.cert_file),
            tls_client_key=str(pki.client.key_file),
            require_encryption=True,
        )
        with Client(address, set_as_default=False, timeout=CONNECT_TIMEOUT, security=member) as c:
            assert _square_sum(c) == 285
        assert _handshake(address, pki.ca_file, None) != "accepted"
    finally:
        runtime.close()


def test_settings_carry_the_tls_files_and_require_encryption(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASKTLSTEST_DASK_SCHEDULER", "tls://scheduler:8786")
    monkeypatch.setenv("DASKTLSTEST_DASK_TLS_CA_FILE", str(pki.ca_file))
    monkeypatch.setenv("DASKTLSTEST_DASK_TLS_CERT_FILE", str(pki.client.cert_file))
    monkeypatch.setenv("DASKTLSTEST_DASK_TLS_KEY_FILE", str(pki.client.key_file))
    dask = load_settings(DaskTlsSettings).dask()
    assert (dask.tls_ca_file, dask.tls_cert_file, dask.tls_key_file) == (
        str(pki.ca_file),
        str(pki.client.cert_file),
        str(pki.client.key_file),
    )
    security = dask.security()
    assert security.require_encryption
    assert security.get_tls_config_for_role("client")["cert"] == str(pki.client.cert_file)
    monkeypatch.setenv("DASKTLSTEST_DASK_REQUIRE_ENCRYPTION", "false")
    assert not load_settings(DaskTlsSettings).dask().security().require_encryption


def test_settings_refuse_incomplete_tls(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASKTLSTEST_DASK_TLS_CERT_FILE", str(pki.client.cert_file))
    with pytest.raises(SettingsError, match="DASKTLSTEST_DASK_TLS_KEY_FILE"):
        load_settings(DaskTlsSettings)
    monkeypatch.setenv("DASKTLSTEST_DASK_TLS_KEY_FILE", str(pki.client.key_file))
    with pytest.raises(SettingsError, match="needs DASKTLSTEST_DASK_TLS_CA_FILE"):
        load_settings(DaskTlsSettings)
    monkeypatch.delenv("DASKTLSTEST_DASK_TLS_CERT_FILE")
    monkeypatch.delenv("DASKTLSTEST_DASK_TLS_KEY_FILE")
    monkeypatch.setenv("DASKTLSTEST_DASK_TLS_CA_FILE", str(pki.ca_file))
    # a local cluster (no scheduler) must serve with a certificate of that CA
    with pytest.raises(SettingsError, match="local Dask cluster"):
        load_settings(DaskTlsSettings)
