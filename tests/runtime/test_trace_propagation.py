"""Trace context through channels, streams, operations and events; trace files and their tree."""

from __future__ import annotations

import json
import queue
import threading
import time
from pathlib import Path

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from weather.registry.v1 import registry_service_pb2 as pb
from weather.registry.v1 import registry_service_pb2_grpc as pb_grpc

from tests.conftest import start_registry
from weather_runtime.operations import Operations
from weather_runtime.telemetry import ListenedTracerProvider, init_tracing, instrumented_channel
from weather_runtime.trace_files import JsonLinesSpanExporter, Span, build_tree, read_spans
from weatherctl.trace_commands import compact, render, show


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    provider = init_tracing("weather-tests")
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


def test_a_stream_through_a_traced_channel_carries_the_trace_and_can_be_cancelled(
    exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    root = tmp_path / "a"
    root.mkdir()
    running = start_registry(f"sqlite:///{tmp_path / 'r.db'}", root)
    channel = instrumented_channel(f"127.0.0.1:{running.port}", actor="watcher")
    stub = pb_grpc.RegistryServiceStub(channel)
    tracer = trace.get_tracer("test")
    received: queue.Queue[pb.RegistryEvent] = queue.Queue()
    try:
        with tracer.start_as_current_span("follow") as follow:
            call = stub.WatchEvents(pb.WatchEventsRequest(start_after_sequence=0))

            def drain() -> None:
                try:
                    for message in call:
                        received.put(message.event)
                except grpc.RpcError:
                    return

            reader = threading.Thread(target=drain, daemon=True)
            reader.start()
            with tracer.start_as_current_span("change") as change:
                stub.CreateRegisteredModel(pb.CreateRegisteredModelRequest(name="traced"))
            event = received.get(timeout=10)
            call.cancel()  # the traced channel hands back the call itself
            reader.join(timeout=10)
            assert not reader.is_alive()
    finally:
        channel.close()
        running.server.stop(1)
    assert event.actor == "watcher"  # the actor interceptor still applies
    # the event remembers the trace of the call that made it: its traceparent names the
    # registry's server span of CreateRegisteredModel, in the "change" span's trace
    version, trace_id, span_id, _flags = event.trace_parent.split("-")
    assert version == "00" and int(trace_id, 16) == change.get_span_context().trace_id
    spans = exporter.get_finished_spans()
    created = [
        s for s in spans if s.kind == SpanKind.SERVER and s.name.endswith("/CreateRegisteredModel")
    ]
    assert [format(s.context.span_id, "016x") for s in created] == [span_id]
    watch_client = [
        s for s in spans if s.kind == SpanKind.CLIENT and s.name.endswith("/WatchEvents")
    ]
    assert len(watch_client) == 1, "the cancelled stream's CLIENT span ended"
    assert watch_client[0].parent is not None
    assert watch_client[0].parent.span_id == follow.get_span_context().span_id
    assert (watch_client[0].attributes or {})[
        "rpc.grpc.status_code"
    ] == grpc.StatusCode.CANCELLED.value[0]


def test_calls_outside_a_trace_make_no_client_span(
    exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    root = tmp_path / "a"
    root.mkdir()
    running = start_registry(f"sqlite:///{tmp_path / 'r.db'}", root)
    channel = instrumented_channel(f"127.0.0.1:{running.port}")
    try:
        pb_grpc.RegistryServiceStub(channel).ListRegisteredModels(pb.ListRegisteredModelsRequest())
    finally:
        channel.close()
        running.server.stop(1)
    kinds = [s.kind for s in exporter.get_finished_spans() if s.name.endswith("Models")]
    assert kinds == [SpanKind.SERVER]


def test_without_client_spans_calls_still_carry_the_trace(
    exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    from weather_runtime.trace_client import TraceContextClientInterceptor

    root = tmp_path / "a"
    root.mkdir()
    running = start_registry(f"sqlite:///{tmp_path / 'r.db'}", root)
    plain = grpc.insecure_channel(f"127.0.0.1:{running.port}")
    channel = grpc.intercept_channel(plain, TraceContextClientInterceptor(client_spans=False))
    try:
        with trace.get_tracer("test").start_as_current_span("caller") as caller:
            pb_grpc.RegistryServiceStub(channel).ListRegisteredModels(
                pb.ListRegisteredModelsRequest()
            )
    finally:
        plain.close()
        running.server.stop(1)
    [server] = [s for s in exporter.get_finished_spans() if s.name.endswith("Models")]
    assert server.kind == SpanKind.SERVER  # no CLIENT span beside it
    assert server.parent is not None  # the caller's span is the parent: the context went along
    assert server.parent.span_id == caller.get_span_context().span_id
    assert server.context.trace_id == caller.get_span_context().trace_id


def test_an_operation_continues_the_trace_it_was_started_in(
    exporter: InMemorySpanExporter,
) -> None:
    operations: Operations[int] = Operations(max_running=1)
    tracer = trace.get_tracer("test")

    def work(progress, cancel) -> int:  # type: ignore[no-untyped-def]
        with tracer.start_as_current_span("inner step"):
            progress("working", 0.5)
        return 7

    with tracer.start_as_current_span("rpc") as rpc:
        started = operations.submit(work, "ingest", **{"dataset.id": "d"})
    deadline = time.monotonic() + 10
    while operations.get(started.operation_id).state != "SUCCEEDED":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    operations.close()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    ingest, inner = spans["ingest"], spans["inner step"]
    assert ingest.parent is not None and ingest.parent.span_id == rpc.get_span_context().span_id
    assert inner.parent is not None and inner.parent.span_id == ingest.context.span_id
    assert (ingest.attributes or {})["operation.state"] == "SUCCEEDED"
    assert (ingest.attributes or {})["operation.id"] == started.operation_id
    assert (ingest.attributes or {})["dataset.id"] == "d"


def test_trace_files_round_trip_into_a_tree(tmp_path: Path) -> None:
    provider = ListenedTracerProvider(resource=Resource.create({"service.name": "unit"}))
    file_exporter = JsonLinesSpanExporter(tmp_path, "unit")
    provider.add_span_processor(SimpleSpanProcessor(file_exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("run") as run:
        for epoch in range(1, 9):
            with tracer.start_as_current_span(f"epoch {epoch}", attributes={"epoch": epoch}):
                pass
        with tracer.start_as_current_span("export", attributes={"dask.tasks": 12}):
            pass
    with tracer.start_as_current_span("another trace"):
        pass
    trace_id = format(run.get_span_context().trace_id, "032x")
    (tmp_path / "cut.jsonl").write_text('{"resourceSpans": [')  # a killed writer's last line
    spans = read_spans(tmp_path, trace_id)
    assert len(spans) == 10 and {s.service for s in spans} == {"unit"}
    roots = build_tree(spans)
    assert [r.name for r in roots] == ["run"]
    assert [c.name for c in roots[0].children] == [*(f"epoch {n}" for n in range(1, 9)), "export"]
    assert roots[0].children[2].attributes["epoch"] == 3
    lines = show(tmp_path, trace_id, repeat=3)
    assert lines[0].startswith(f"trace {trace_id}: 10 spans from 1 services (unit)")
    assert lines[1].startswith("run  [unit]")
    # eight epochs collapse to the first and one line for the other seven
    assert lines[2].startswith("├─ epoch 1  [unit]") and "epoch=1" in lines[2]
    assert lines[3].startswith("├┄ 7 more 'epoch N' [unit]: total ")
    assert lines[4].startswith("└─ export  [unit]") and "dask.tasks=12" in lines[4]
    assert len(lines) == 5
    assert show(tmp_path, "0" * 32) == []


def test_render_nests_and_marks_failures() -> None:
    def span(name: str, span_id: str, parent: str, start: int, status: int = 0) -> Span:
        return Span("t", span_id, parent, name, "svc", 1, start, start + 2_000_000, {}, status)

    spans = [
        span("root", "1", "", 0),
        span("a", "2", "1", 1),
        span("b", "3", "2", 2, status=2),
        span("c", "4", "1", 3),
    ]
    lines = render(build_tree(spans))
    assert lines == [
        "root  [svc]  2.0 ms",
        "├─ a  [svc]  2.0 ms",
        "│  └─ b  [svc]  2.0 ms  FAILED",
        "└─ c  [svc]  2.0 ms",
    ]


def test_the_direct_otlp_json_encoder_matches_protobufs_mapping() -> None:
    from opentelemetry import propagate
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Link, Status, StatusCode

    from weather_runtime.trace_files import (
        OtlpLineEncoder,
        to_otlp_json,
        to_otlp_json_by_protobuf,
    )

    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "unit", "n": 3}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    plain, versioned = provider.get_tracer("plain"), provider.get_tracer("versioned", "1.2")
    attributes: dict[str, str | int] = {
        "rpc.system": "grpc",
        "rpc.method": "Predict",
        "rpc.grpc.status_code": 0,
    }
    first = plain.start_span("/p.S/Predict", kind=SpanKind.SERVER, attributes=attributes)
    first.end()
    remote = propagate.extract(
        {
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "tracestate": "a=1,b=2",
        }
    )
    links = [Link(first.get_span_context(), {"k": 1})]
    with versioned.start_as_current_span("root", context=remote, links=links) as root:
        root.set_attributes({"f": 1.5, "b": True, "ints": [1, 2], "strs": ["a"], "big": 2**40})
        root.add_event("event", {"x": "y"})
        root.add_event("bare")
        with plain.start_as_current_span("failed", kind=SpanKind.CLIENT) as failed:
            failed.set_status(Status(StatusCode.ERROR, "INTERNAL"))
        with plain.start_as_current_span("ok", kind=SpanKind.PRODUCER) as ok:
            ok.set_status(Status(StatusCode.OK))
    spans = exporter.get_finished_spans()
    assert len(spans) == 4
    assert to_otlp_json(spans) == to_otlp_json_by_protobuf(spans)
    assert to_otlp_json(spans[:1]) == to_otlp_json_by_protobuf(spans[:1])
    # the exporter's line: strings written directly for common spans (first, failed, ok:
    # scalar attributes, no events), the dictionaries for the rest (root); twice, so the
    # second line comes from the encoder's caches
    encoder = OtlpLineEncoder()
    for _ in range(2):
        line = encoder.line(spans)
        assert "\n" not in line
        assert json.loads(line) == to_otlp_json_by_protobuf(spans)
    for span in spans:
        assert json.loads(encoder.line([span])) == to_otlp_json_by_protobuf([span])


def test_a_call_is_one_line_unless_full() -> None:
    def span(name: str, span_id: str, parent: str, kind: int, service: str) -> Span:
        return Span("t", span_id, parent, name, service, kind, 0, 1_000_000, {}, 0)

    method = "/weather.ingest.v1.IngestService/StartIngest"
    spans = [
        span("run", "1", "", 1, "cli"),
        span(method, "2", "1", 3, "cli"),
        span(method, "3", "2", 2, "ingest"),
        span("ingest", "4", "3", 1, "ingest"),
    ]
    assert render(compact(build_tree(spans))) == [
        "run  [cli]  1.0 ms",
        "└─ IngestService/StartIngest  [cli → ingest]  1.0 ms",
        "   └─ ingest  [ingest]  1.0 ms",
    ]
    assert len(render(build_tree(spans))) == 4
