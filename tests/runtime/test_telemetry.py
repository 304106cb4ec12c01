"""One trace spans client and server; logs carry its ids; /metrics counts calls by code."""

from __future__ import annotations

import json
import logging
import urllib.request
from pathlib import Path

import grpc
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from weather.registry.v1 import registry_service_pb2 as pb
from weather.registry.v1 import registry_service_pb2_grpc as pb_grpc

from tests.conftest import start_registry
from tests.registry.helpers import rpc_error
from weather_runtime.logging import JsonFormatter
from weather_runtime.telemetry import init_tracing, instrumented_channel


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, object]] = []
        self.setFormatter(JsonFormatter("registry"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def test_one_trace_crosses_client_and_server_and_reaches_the_logs(tmp_path: Path) -> None:
    provider = init_tracing("weather-tests")
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    capture = _Capture()
    logging.getLogger("weather_runtime.interceptors").addHandler(capture)
    logging.getLogger("weather_runtime.interceptors").setLevel(logging.INFO)
    root = tmp_path / "a"
    root.mkdir()
    running = start_registry(f"sqlite:///{tmp_path / 'r.db'}", root)
    try:
        channel = instrumented_channel(f"127.0.0.1:{running.port}")
        stub = pb_grpc.RegistryServiceStub(channel)
        tracer = trace.get_tracer("test")
        with tracer.start_as_current_span("pipeline-run") as run:
            stub.CreateRegisteredModel(pb.CreateRegisteredModelRequest(name="traced"))
            rpc_error(stub.GetRegisteredModel, pb.GetRegisteredModelRequest(name="missing"))
        channel.close()
    finally:
        running.server.stop(1)
        logging.getLogger("weather_runtime.interceptors").removeHandler(capture)
    trace_id = run.get_span_context().trace_id
    spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]
    kinds = sorted((s.kind.name, s.name) for s in spans)
    assert ("SERVER", "/weather.registry.v1.RegistryService/CreateRegisteredModel") in kinds
    assert ("CLIENT", "/weather.registry.v1.RegistryService/CreateRegisteredModel") in kinds
    servers = [s for s in spans if s.kind == SpanKind.SERVER]
    clients = {s.context.span_id for s in spans if s.kind == SpanKind.CLIENT}
    assert servers and all(s.parent is not None and s.parent.span_id in clients for s in servers)
    assert all(s.resource.attributes["service.name"] for s in spans)
    by_method = {str((s.attributes or {}).get("rpc.method")): s for s in servers}
    created = dict(by_method["CreateRegisteredModel"].attributes or {})
    missing = by_method["GetRegisteredModel"]
    assert created["rpc.service"] == "weather.registry.v1.RegistryService"
    assert created["rpc.system"] == "grpc"
    assert created["rpc.grpc.status_code"] == grpc.StatusCode.OK.value[0]
    assert (missing.attributes or {})["rpc.grpc.status_code"] == 5  # NOT_FOUND
    # NOT_FOUND is the caller's doing: the server span is not marked failed
    assert missing.status.status_code.name == "UNSET"
    not_found = [line for line in capture.lines if "NOT_FOUND" in str(line["message"])]
    assert not_found and not_found[0]["trace_id"] == format(trace_id, "032x")


def test_metrics_endpoint_counts_calls_by_method_and_code(tmp_path: Path) -> None:
    root = tmp_path / "a"
    root.mkdir()
    running = start_registry(f"sqlite:///{tmp_path / 'r.db'}", root, metrics_port=0)
    try:
        stub = running.stub
        stub.CreateRegisteredModel(pb.CreateRegisteredModelRequest(name="counted"))
        for _ in range(3):
            error = rpc_error(stub.GetRegisteredModel, pb.GetRegisteredModelRequest(name="nope-x"))
            assert error.code() == grpc.StatusCode.NOT_FOUND
        port = running.server.metrics_port
        assert port
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    finally:
        running.server.stop(1)
    labels = 'grpc_code="NOT_FOUND",grpc_method="GetRegisteredModel",grpc_service="weather.registry.v1.RegistryService"'
    counted = [
        line
        for line in text.splitlines()
        if line.startswith(f"grpc_server_handled_total{{{labels}}}")
    ]
    assert counted and float(counted[0].split()[-1]) >= 3
    assert "grpc_server_handling_seconds_bucket" in text
