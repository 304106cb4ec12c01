"""The shared server bootstrap: health, reflection, error mapping, graceful stop and SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.registry.helpers import rpc_error
from weather_runtime.errors import InvalidArgument, NotFound
from weather_runtime.server import ManagedServer, ServiceRegistration, build_server
from weather_runtime.settings import ServiceSettings

SERVICE = "test.v1.ProbeService"


class Probe:
    """A raw-bytes service: Sleep waits, Fail raises what the request names."""

    def __init__(self) -> None:
        self.entered = threading.Event()

    def sleep(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        self.entered.set()
        time.sleep(float(request.decode()))
        return b"slept"

    def fail(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        kind = request.decode()
        if kind == "invalid":
            raise InvalidArgument.field("thing.size", "must be positive")
        if kind == "missing":
            raise NotFound("thing", "t1")
        if kind == "abort":
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "no")
        raise RuntimeError("secret internal detail /etc/passwd")

    def add(self, _servicer: object, server: grpc.Server) -> None:
        handler = grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Sleep": grpc.unary_unary_rpc_method_handler(self.sleep),
                "Fail": grpc.unary_unary_rpc_method_handler(self.fail),
            },
        )
        server.add_generic_rpc_handlers((handler,))


@pytest.fixture
def probe_server() -> Iterator[tuple[ManagedServer, int, Probe]]:
    probe = Probe()
    settings = ServiceSettings(host="127.0.0.1", port=0, metrics_port=-1)
    server, port = build_server(settings, [ServiceRegistration(probe, probe.add, SERVICE)])
    server.start()
    yield server, port, probe
    server.stop(0)


def _call(port: int, method: str, payload: bytes, timeout: float = 10) -> bytes:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(f"/{SERVICE}/{method}")  # type: ignore[call-arg]
        return call(payload, timeout=timeout)  # type: ignore[no-any-return]


def test_health_and_reflection(probe_server: tuple[ManagedServer, int, Probe]) -> None:
    _, port, _ = probe_server
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", SERVICE):
            status = health.Check(health_pb2.HealthCheckRequest(service=name)).status
            assert status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = reflection.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        names = {s.name for s in next(responses).list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names


def test_errors_map_to_statuses_without_python_details(
    probe_server: tuple[ManagedServer, int, Probe],
) -> None:
    _, port, _ = probe_server
    invalid = rpc_error(_call, port, "Fail", b"invalid")
    assert invalid.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert invalid.details() == "thing.size: must be positive"
    assert rpc_error(_call, port, "Fail", b"missing").code() == grpc.StatusCode.NOT_FOUND
    assert rpc_error(_call, port, "Fail", b"abort").code() == grpc.StatusCode.PERMISSION_DENIED
    internal = rpc_error(_call, port, "Fail", b"boom")
    assert internal.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in internal.details() and "Traceback" not in internal.details()
    assert "reference" in internal.details()


def test_graceful_stop_finishes_in_flight_calls_and_refuses_new_ones(
    probe_server: tuple[ManagedServer, int, Probe],
) -> None:
    server, port, probe = probe_server
    result: dict[str, object] = {}

    def slow_call() -> None:
        try:
            result["value"] = _call(port, "Sleep", b"1.0")
        except grpc.RpcError as exc:
            result["error"] = exc.code()

    caller = threading.Thread(target=slow_call)
    caller.start()
    assert probe.entered.wait(5)
    stopper = threading.Thread(target=server.stop, args=(5,))
    stopper.start()
    time.sleep(0.2)
    assert server.health._server_status[""] == health_pb2.HealthCheckResponse.NOT_SERVING
    late = rpc_error(_call, port, "Sleep", b"0", timeout=2)
    assert late.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    caller.join(10)
    stopper.join(10)
    assert result == {"value": b"slept"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sigterm_drains_and_exits_cleanly_with_json_logs(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "REGISTRY_HOST": "127.0.0.1",
        "REGISTRY_PORT": str(port),
        "REGISTRY_METRICS_PORT": "-1",
        "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
        "REGISTRY_GRACE_SECONDS": "5",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "weather_registry"], env=env, stderr=subprocess.PIPE, text=True
    )
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0
    assert time.monotonic() - started < 5
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    messages = [line["message"] for line in lines]
    assert "registry serving" in messages and "registry stopped" in messages
    assert all({"time", "level", "service", "logger"} <= set(line) for line in lines)


def test_bad_settings_fail_at_start_with_a_clear_line(tmp_path: Path) -> None:
    env = {**os.environ, "REGISTRY_PORT": "not-a-port"}
    done = subprocess.run(
        [sys.executable, "-m", "weather_registry"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "REGISTRY_PORT='not-a-port'" in done.stderr
    assert "Traceback" not in done.stderr


def test_each_call_has_a_server_span_with_its_final_status(
    probe_server: tuple[ManagedServer, int, Probe],
) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from weather_runtime.telemetry import init_tracing

    exporter = InMemorySpanExporter()
    init_tracing("weather-tests").add_span_processor(SimpleSpanProcessor(exporter))
    _, port, _ = probe_server
    for payload in (b"boom", b"abort", b"missing", b"boom"):
        rpc_error(_call, port, "Fail", payload)
    spans = [s for s in exporter.get_finished_spans() if s.name == f"/{SERVICE}/Fail"]
    codes = [(s.attributes or {}).get("rpc.grpc.status_code") for s in spans]
    assert codes == [13, 7, 5, 13]  # INTERNAL, PERMISSION_DENIED, NOT_FOUND, INTERNAL
    # the server's own failures are errors; statuses that answer the caller's request are not
    assert [s.status.status_code.name for s in spans] == ["ERROR", "UNSET", "UNSET", "ERROR"]
