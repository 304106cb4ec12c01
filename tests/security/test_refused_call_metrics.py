"""Calls refused by authentication or authorisation are counted in a real server's call metrics."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families
from weather.registry.v1 import registry_service_pb2 as pb
from weather.registry.v1 import registry_service_pb2_grpc as pb_grpc

from tests.security.auth_support import Keys, auth_settings, bearer, make_keys

SERVICE = "weather.registry.v1.RegistryService"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Registry:
    stub: pb_grpc.RegistryServiceStub
    metrics_url: str
    keys: Keys


def _start(tmp_path: Path, keys: Keys, attempt: int) -> tuple[subprocess.Popen[bytes], int, int]:
    """A registry process with authentication on (the shipped policy, a JWKS file) on free
    ports (the caller waits for it to accept connections)."""
    port, metrics_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "REGISTRY_HOST": "127.0.0.1",
        "REGISTRY_PORT": str(port),
        "REGISTRY_METRICS_PORT": str(metrics_port),
        "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'registry.db'}",
        "REGISTRY_LOG_LEVEL": "WARNING",
        **{f"REGISTRY_{k.upper()}": str(v) for k, v in auth_settings(keys).items()},
    }
    log = tmp_path / f"registry-{attempt}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "weather_registry"], env=env, stdout=out, stderr=out
        )
    return process, port, metrics_port


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    keys = make_keys(tmp_path / "keys")
    for attempt in range(3):
        process, port, metrics_port = _start(tmp_path, keys, attempt)
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        try:
            deadline = time.monotonic() + 60
            while process.poll() is None:
                try:
                    grpc.channel_ready_future(channel).result(timeout=0.5)
                    break
                except grpc.FutureTimeoutError:
                    assert time.monotonic() < deadline, "the registry did not start in 60 s"
            if process.poll() is None:
                yield Registry(
                    pb_grpc.RegistryServiceStub(channel),
                    f"http://127.0.0.1:{metrics_port}/metrics",
                    keys,
                )
                return
        finally:
            channel.close()
            process.kill()
            process.wait(timeout=30)
    logs = "\n".join(p.read_text()[-2000:] for p in sorted(tmp_path.glob("registry-*.log")))
    raise AssertionError(f"the registry exited during start-up three times:\n{logs}")


def _handled(url: str) -> dict[tuple[str, str], float]:
    """(method, code) -> grpc_server_handled_total of the registry service, scraped."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    counts: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "grpc_server_handled_total" and sample.labels["grpc_service"] == (
                SERVICE
            ):
                counts[(sample.labels["grpc_method"], sample.labels["grpc_code"])] = sample.value
    return counts


def _code(call: Any, request: Any, token: str | None) -> grpc.StatusCode:
    try:
        call(request, metadata=bearer(token) if token else None, timeout=10)
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def test_refused_calls_are_counted_with_their_code(registry: Registry) -> None:
    stub, keys = registry.stub, registry.keys
    reader = keys.token("rita", ["reader"])
    sent: dict[tuple[str, str], list[tuple[Any, Any, str | None]]] = {
        ("ListRegisteredModels", "UNAUTHENTICATED"): [
            (stub.ListRegisteredModels, pb.ListRegisteredModelsRequest(), None),
            (stub.ListRegisteredModels, pb.ListRegisteredModelsRequest(), "not-a-token"),
            (
                stub.ListRegisteredModels,
                pb.ListRegisteredModelsRequest(),
                keys.token("eve", ["admin"], key=keys.stranger),
            ),
        ],
        ("CreateRegisteredModel", "PERMISSION_DENIED"): [
            (stub.CreateRegisteredModel, pb.CreateRegisteredModelRequest(name=f"m{i}"), reader)
            for i in range(2)
        ],
        ("ListRegisteredModels", "OK"): [
            (stub.ListRegisteredModels, pb.ListRegisteredModelsRequest(), reader)
        ],
    }
    for (_, code), calls in sent.items():
        for call, request, token in calls:
            assert _code(call, request, token).name == code
    # the counters are updated as each call ends: poll briefly for the last one
    deadline = time.monotonic() + 20
    wanted = {key: float(len(calls)) for key, calls in sent.items()}
    while True:
        counts = _handled(registry.metrics_url)
        if all(counts.get(key) == value for key, value in wanted.items()):
            break
        assert time.monotonic() < deadline, (counts, wanted)
        time.sleep(0.1)
    print(f"\nrefused calls counted: {counts}")
    assert counts == wanted  # nothing else counted for the registry service
