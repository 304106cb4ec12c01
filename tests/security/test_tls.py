"""TLS and mTLS over loopback with real handshakes: who gets in, who the server sees, rotation."""

from __future__ import annotations

import os
import socket
import ssl
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from pydantic_settings import SettingsConfigDict

from weather_runtime import healthcheck
from weather_runtime.identity import caller, with_actor
from weather_runtime.local_ca import Issued, LocalCA, make_local_pki
from weather_runtime.server import ManagedServer, ServiceRegistration, build_server
from weather_runtime.settings import ServiceSettings, SettingsError, load_settings
from weather_runtime.telemetry import instrumented_channel
from weather_runtime.tls import ClientTLS, ReloadingChannel, client_tls, server_tls

SERVICE = "test.v1.EchoService"
WHO = f"/{SERVICE}/Who"


class EchoSettings(ServiceSettings):
    """A service's settings with its own prefix, as every service has."""

    model_config = SettingsConfigDict(env_prefix="TLSTEST_", extra="forbid")


def who(_request: bytes, context: grpc.ServicerContext) -> bytes:
    """The caller's identity and the serial number of the certificate it presented ('-')."""
    # a list of PEM certificates (the stubs type the values as bytes)
    pem: Any = (context.auth_context() or {}).get("x509_pem_cert")
    serial = format(x509.load_pem_x509_certificate(pem[0]).serial_number, "x") if pem else "-"
    return f"{caller(context)}|{serial}".encode()


def add_echo(_servicer: object, server: grpc.Server) -> None:
    handler = grpc.method_handlers_generic_handler(
        SERVICE, {"Who": grpc.unary_unary_rpc_method_handler(who)}
    )
    server.add_generic_rpc_handlers((handler,))


@dataclass
class Pki:
    ca: LocalCA
    server: Issued
    alice: Issued
    other_ca: LocalCA
    mallory: Issued  # a client certificate from another CA


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = LocalCA.create(tmp_path / "ca")
    other = LocalCA.create(tmp_path / "other", name="someone else's CA")
    return Pki(
        ca, ca.issue_server("echo"), ca.issue_client("alice"), other, other.issue_client("mallory")
    )


def settings(pki: Pki, mutual: bool) -> EchoSettings:
    return load_settings(
        EchoSettings,
        host="127.0.0.1",
        port=0,
        metrics_port=-1,
        tls_cert_file=str(pki.server.cert_file),
        tls_key_file=str(pki.server.key_file),
        tls_client_ca_file=str(pki.ca.ca_file) if mutual else "",
    )


def serve(config: ServiceSettings) -> tuple[ManagedServer, int]:
    server, port = build_server(config, [ServiceRegistration(None, add_echo, SERVICE)])
    server.start()
    return server, port


@pytest.fixture
def tls_server(pki: Pki) -> Iterator[int]:
    server, port = serve(settings(pki, mutual=False))
    yield port
    server.stop(0)


@pytest.fixture
def mtls_server(pki: Pki) -> Iterator[int]:
    server, port = serve(settings(pki, mutual=True))
    yield port
    server.stop(0)


def ask(channel: grpc.Channel) -> tuple[str, str]:
    """(identity, serial) the server saw, on channel (closed after)."""
    with channel:
        answer = channel.unary_unary(WHO)(b"", timeout=10)  # type: ignore[call-arg]
    name, serial = bytes(answer).decode().split("|")
    return name, serial


def refused(channel: grpc.Channel) -> grpc.StatusCode:
    """The status of a call that must fail (the test fails if it succeeds)."""
    with pytest.raises(grpc.RpcError) as caught, channel:
        channel.unary_unary(WHO)(b"", timeout=10)  # type: ignore[call-arg]
    return caught.value.code()  # type: ignore[no-any-return]


def tls(pki: Pki, client: Issued | None = None, ca: LocalCA | None = None) -> ClientTLS:
    return ClientTLS.from_files(
        (ca or pki.ca).ca_file,
        client.cert_file if client else None,
        client.key_file if client else None,
    )


def secure(port: int, security: ClientTLS, host: str = "127.0.0.1") -> grpc.Channel:
    return grpc.secure_channel(f"{host}:{port}", security.credentials())


def serial_of(path: Path) -> str:
    return format(x509.load_pem_x509_certificate(path.read_bytes()).serial_number, "x")


def served_serial(port: int, pki: Pki, client: Issued | None = None) -> str:
    """The serial of the certificate the server presents to a NEW connection (read with the
    ssl module, independent of gRPC)."""
    context = ssl.create_default_context(cafile=str(pki.ca.ca_file))
    context.set_alpn_protocols(["h2"])
    if client is not None:
        context.load_cert_chain(str(client.cert_file), str(client.key_file))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as wrapped,
    ):
        der = wrapped.getpeercert(binary_form=True)
    assert der is not None
    return format(x509.load_der_x509_certificate(der).serial_number, "x")


def replace(target: Issued, source: Issued, *, cert: bool = True, key: bool = True) -> None:
    """Rotates files the way a Secret update does: new content swapped in atomically."""
    if key:
        os.replace(source.key_file, target.key_file)
    if cert:
        os.replace(source.cert_file, target.cert_file)


# ---- who gets in ---------------------------------------------------------------------------


def test_a_tls_server_answers_a_tls_client_and_refuses_plaintext(pki: Pki, tls_server: int) -> None:
    # server-only TLS: no client certificate, so the declared actor is the identity
    channel = instrumented_channel(f"127.0.0.1:{tls_server}", actor="bob", security=tls(pki))
    assert ask(channel) == ("bob", "-")
    assert ask(secure(tls_server, tls(pki), host="localhost"))[0].startswith("ipv")
    assert refused(grpc.insecure_channel(f"127.0.0.1:{tls_server}")) == (
        grpc.StatusCode.UNAVAILABLE
    )
    # a client that does not trust the server's CA refuses the server
    stranger = secure(tls_server, tls(pki, ca=pki.other_ca))
    assert refused(stranger) == grpc.StatusCode.UNAVAILABLE


def test_mtls_needs_a_certificate_from_the_servers_client_ca(pki: Pki, mtls_server: int) -> None:
    assert refused(grpc.insecure_channel(f"127.0.0.1:{mtls_server}")) == (
        grpc.StatusCode.UNAVAILABLE
    )
    assert refused(secure(mtls_server, tls(pki))) == grpc.StatusCode.UNAVAILABLE  # no cert
    from_elsewhere = ClientTLS.from_files(
        pki.ca.ca_file, pki.mallory.cert_file, pki.mallory.key_file
    )
    assert refused(secure(mtls_server, from_elsewhere)) == grpc.StatusCode.UNAVAILABLE
    assert ask(secure(mtls_server, tls(pki, pki.alice))) == (
        "alice",
        serial_of(pki.alice.cert_file),
    )


def test_the_identity_is_the_certificates_not_the_declared_actor(
    pki: Pki, mtls_server: int
) -> None:
    channel = with_actor(secure(mtls_server, tls(pki, pki.alice)), "admin")
    name, _ = ask(channel)
    assert name == "alice"
    traced = instrumented_channel(
        f"127.0.0.1:{mtls_server}", actor="root", security=tls(pki, pki.alice)
    )
    assert ask(traced)[0] == "alice"


def test_health_and_reflection_stay_reachable_over_mtls(
    pki: Pki, mtls_server: int, capsys: pytest.CaptureFixture[str]
) -> None:
    target = f"127.0.0.1:{mtls_server}"
    assert healthcheck.check(target, security=tls(pki, pki.alice)) == "SERVING"
    assert healthcheck.check(target, SERVICE, security=tls(pki, pki.alice)) == "SERVING"
    files = ["--ca", str(pki.ca.ca_file), "--cert", str(pki.alice.cert_file)]
    assert healthcheck.main([target, *files, "--key", str(pki.alice.key_file)]) == 0
    assert capsys.readouterr().out.strip() == f"{target}: SERVING"
    # without a client certificate the probe is refused like anyone else
    assert healthcheck.main([target, "--ca", str(pki.ca.ca_file), "--timeout", "3"]) == 1
    assert "UNAVAILABLE" in capsys.readouterr().err
    # a probe's file that is missing: a clear line naming the option
    assert healthcheck.main([target, "--ca", str(pki.ca.folder / "nope.pem")]) == 2
    assert "--ca=" in capsys.readouterr().err
    with secure(mtls_server, tls(pki, pki.alice)) as channel:
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = reflection.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        names = {s.name for s in next(responses).list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health"} <= names


# ---- rotation ------------------------------------------------------------------------------


def test_a_rotated_server_certificate_is_served_to_new_connections(
    pki: Pki, mtls_server: int
) -> None:
    first = serial_of(pki.server.cert_file)
    assert served_serial(mtls_server, pki, pki.alice) == first
    before = secure(mtls_server, tls(pki, pki.alice))  # a connection made before the rotation
    assert ask_open(before) == ("alice", serial_of(pki.alice.cert_file))
    renewed = pki.ca.issue("echo", "renewed", hosts=("127.0.0.1",), server=True)
    second = serial_of(renewed.cert_file)
    assert second != first
    # half a rotation (the certificate swapped, not yet its key): the old pair stays served
    replace(pki.server, renewed, key=False)
    assert served_serial(mtls_server, pki, pki.alice) == first
    replace(pki.server, renewed, cert=False)
    assert served_serial(mtls_server, pki, pki.alice) == second
    assert ask(secure(mtls_server, tls(pki, pki.alice)))[0] == "alice"
    assert ask_open(before)[0] == "alice"  # the earlier connection keeps working
    before.close()


def ask_open(channel: grpc.Channel) -> tuple[str, str]:
    answer = channel.unary_unary(WHO)(b"", timeout=10)  # type: ignore[call-arg]
    name, serial = bytes(answer).decode().split("|")
    return name, serial


def test_a_long_lived_client_picks_up_its_rotated_certificate(pki: Pki, mtls_server: int) -> None:
    security = tls(pki, pki.alice)
    channel = ReloadingChannel(f"127.0.0.1:{mtls_server}", security, check_seconds=0)
    call = channel.unary_unary(WHO)  # made once, like a stub's
    try:
        first = serial_of(pki.alice.cert_file)
        assert bytes(call(b"", timeout=10)).decode() == f"alice|{first}"
        renewed = pki.ca.issue_client("alice-next")
        replace(pki.alice, renewed)
        second = serial_of(pki.alice.cert_file)
        assert bytes(call(b"", timeout=10)).decode() == f"alice-next|{second}"
        assert channel.generation == 1
        # files that do not work (a key of another certificate): keep the last good ones
        pki.ca.issue_client("broken", days=1)
        os.replace(pki.alice.key_file.with_name("broken-client.key"), pki.alice.key_file)
        assert bytes(call(b"", timeout=10)).decode() == f"alice-next|{second}"
        assert channel.generation == 1
    finally:
        channel.close()


def test_a_client_checks_its_files_at_most_every_few_seconds(pki: Pki, mtls_server: int) -> None:
    now = [0.0]
    channel = ReloadingChannel(
        f"127.0.0.1:{mtls_server}", tls(pki, pki.alice), check_seconds=5, clock=lambda: now[0]
    )
    call = channel.unary_unary(WHO)
    try:
        replace(pki.alice, pki.ca.issue_client("alice-next"))
        now[0] = 4.0
        assert bytes(call(b"", timeout=10)).decode().startswith("alice|")
        now[0] = 5.0
        assert bytes(call(b"", timeout=10)).decode().startswith("alice-next|")
    finally:
        channel.close()


# ---- settings ------------------------------------------------------------------------------


def test_no_tls_settings_mean_plaintext_as_before(tmp_path: Path) -> None:
    plain = load_settings(EchoSettings, host="127.0.0.1", port=0, metrics_port=-1)
    assert server_tls(plain) is None and client_tls(plain) is None
    server, port = serve(plain)
    try:
        assert ask(grpc.insecure_channel(f"127.0.0.1:{port}"))[0].startswith("ipv")
    finally:
        server.stop(0)


def test_bad_files_are_refused_at_start_naming_the_variable(pki: Pki) -> None:
    good = settings(pki, mutual=True)
    missing = good.model_copy(update={"tls_key_file": str(pki.ca.folder / "gone.key")})
    with pytest.raises(SettingsError, match=r"TLSTEST_TLS_KEY_FILE=.*gone.key.*cannot read"):
        build_server(missing, [ServiceRegistration(None, add_echo, SERVICE)])
    mismatched = good.model_copy(update={"tls_key_file": str(pki.alice.key_file)})
    with pytest.raises(SettingsError, match=r"TLSTEST_TLS_KEY_FILE=.* is not the key of .*"):
        build_server(mismatched, [ServiceRegistration(None, add_echo, SERVICE)])
    half = good.model_copy(update={"tls_key_file": ""})
    with pytest.raises(SettingsError, match="TLSTEST_TLS_CERT_FILE is set but TLSTEST_TLS_KEY"):
        server_tls(half)
    not_a_ca = pki.ca.folder / "empty.pem"
    not_a_ca.write_text("\n")
    with pytest.raises(SettingsError, match=r"TLSTEST_TLS_CLIENT_CA_FILE=.*empty"):
        build_server(
            good.model_copy(update={"tls_client_ca_file": str(not_a_ca)}),
            [ServiceRegistration(None, add_echo, SERVICE)],
        )
    client = {"client_cert_file": str(pki.alice.cert_file), "client_key_file": ""}
    with pytest.raises(SettingsError, match="TLSTEST_CLIENT_CA_FILE too"):
        client_tls(good.model_copy(update=client))
    client["client_ca_file"] = str(pki.ca.ca_file)
    with pytest.raises(SettingsError, match="TLSTEST_CLIENT_CERT_FILE is set but TLSTEST_CLIENT"):
        client_tls(good.model_copy(update=client))
    client["client_key_file"] = str(pki.mallory.key_file)
    with pytest.raises(SettingsError, match=r"TLSTEST_CLIENT_KEY_FILE=.* is not the key of"):
        client_tls(good.model_copy(update=client))
    client["client_key_file"] = str(pki.alice.key_file)
    found = client_tls(good.model_copy(update=client))
    assert found is not None and found.cert is not None
    assert found.cert.path == pki.alice.cert_file


def test_settings_come_from_the_services_environment(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TLSTEST_TLS_CERT_FILE", str(pki.server.cert_file))
    monkeypatch.setenv("TLSTEST_TLS_KEY_FILE", str(pki.server.key_file))
    monkeypatch.setenv("TLSTEST_TLS_CLIENT_CA_FILE", str(pki.ca.ca_file))
    found = server_tls(load_settings(EchoSettings))
    assert found is not None and found.mutual
    assert found.cert.variable == "TLSTEST_TLS_CERT_FILE"


def test_the_local_pki_has_private_keys_and_names_for_loopback(tmp_path: Path) -> None:
    made = make_local_pki(tmp_path / "tls", servers=["registry"], clients=["trainer"])
    assert stat.S_IMODE((tmp_path / "tls").stat().st_mode) == 0o700
    for issued in (*made.servers.values(), *made.clients.values()):
        assert stat.S_IMODE(issued.key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tls" / "ca.key").stat().st_mode) == 0o600
    server = x509.load_pem_x509_certificate(made.servers["registry"].cert_file.read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    client = x509.load_pem_x509_certificate(made.clients["trainer"].cert_file.read_bytes())
    assert client.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "trainer"
    ClientTLS.from_files(
        made.ca_file, made.clients["trainer"].cert_file, made.clients["trainer"].key_file
    ).check()
