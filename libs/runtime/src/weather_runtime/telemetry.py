"""OpenTelemetry tracing: a tracer provider per process, OTLP and file export, the server span."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)

from weather_runtime.interceptors import Behavior, WrappingInterceptor, status_code
from weather_runtime.trace_client import ProviderTracer, instrumented_channel
from weather_runtime.trace_files import TRACES_DIR_VARIABLE, JsonLinesSpanExporter

log = logging.getLogger(__name__)
_provider: TracerProvider | None = None


def _otlp_wanted() -> bool:
    exporters = os.environ.get("OTEL_TRACES_EXPORTER", "")
    if exporters:
        return "otlp" in [e.strip() for e in exporters.split(",")]
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


class ListenedTracerProvider(TracerProvider):
    """A TracerProvider that knows whether any span processor listens: the server interceptor
    records spans only then (a span nobody receives still carries the trace id to the logs,
    responses and downstream calls, at a third of the cost of recording it)."""

    listened = False

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        super().add_span_processor(span_processor)
        self.listened = True


def init_tracing(service_name: str) -> TracerProvider:
    """Installs the global tracer provider once (service.name set), exporting OTLP when asked.

    The standard variables apply: OTEL_SDK_DISABLED, OTEL_SERVICE_NAME (wins over the
    argument), OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, OTEL_TRACES_EXPORTER,
    OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_PROTOCOL (grpc or http/protobuf), the
    OTEL_BSP_* batch settings. WEATHER_TRACES_DIR (set by `weatherctl up` and `demo`) also
    writes every span as OTLP JSON lines to a file of this process in that folder, which
    `weatherctl trace show` reads.
    """
    global _provider
    if _provider is not None:
        return _provider
    name = os.environ.get("OTEL_SERVICE_NAME") or service_name
    provider = ListenedTracerProvider(resource=Resource.create({"service.name": name}))
    disabled = os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true"
    folder = os.environ.get(TRACES_DIR_VARIABLE, "")
    if folder and not disabled:
        provider.add_span_processor(BatchSpanProcessor(JsonLinesSpanExporter(Path(folder), name)))
        log.info("writing traces to %s", folder)
    if _otlp_wanted() and not disabled:
        protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        if protocol.startswith("http"):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        else:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[assignment]
                OTLPSpanExporter,
            )
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        log.info("exporting traces over OTLP (%s)", protocol)
    trace.set_tracer_provider(provider)
    _provider = provider
    return provider


def shutdown_tracing() -> None:
    """Flushes and stops this process's exporters (a process leaving with os._exit, such as a
    training child, would lose its last spans without it)."""
    if _provider is not None:
        _provider.shutdown()


def current_traceparent() -> str:
    """The W3C traceparent of the current span ("" outside any trace)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent", "")


def context_from_traceparent(traceparent: str) -> otel_context.Context:
    """A context whose (remote) parent is the span a traceparent names; empty for ""."""
    if not traceparent:
        return otel_context.Context()
    return propagate.extract({"traceparent": traceparent})


def tracing_server_interceptor() -> grpc.ServerInterceptor:
    """Server interceptor that continues the caller's trace with a span per RPC (recorded when
    a span processor listens)."""
    return TracingInterceptor()


class _MetadataGetter(Getter[Sequence[Any]]):
    """Reads W3C trace headers from a call's invocation metadata (key, value pairs)."""

    def get(self, carrier: Sequence[Any], key: str) -> list[str] | None:
        values = [value for k, value in carrier if k == key]
        return values or None

    def keys(self, carrier: Sequence[Any]) -> list[str]:
        return [k for k, _ in carrier]


_GETTER = _MetadataGetter()
# statuses that mean the server failed (OpenTelemetry's gRPC conventions); others are the
# client's doing and leave the server span's status unset
_SERVER_ERRORS = {
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DATA_LOSS,
}


_IDS = RandomIdGenerator()


def _unrecorded_child(parent: otel_context.Context) -> trace.Span:
    """A span that is not recorded: the caller's trace id (a new one without a caller), its own
    span id, the caller's sampling decision (sampled without a caller, like the SDK's default
    sampler), so that services downstream that do record still join the trace."""
    caller = trace.get_current_span(parent).get_span_context()
    if caller.is_valid:
        trace_id, flags = caller.trace_id, caller.trace_flags
    else:
        trace_id, flags = _IDS.generate_trace_id(), TraceFlags(TraceFlags.SAMPLED)
    return NonRecordingSpan(
        SpanContext(trace_id, _IDS.generate_span_id(), is_remote=False, trace_flags=flags)
    )


class TracingInterceptor(WrappingInterceptor):
    """A SERVER span per call named after the method, child of the caller's trace context
    (W3C headers in the metadata) and current while the handler runs, with the rpc.*
    attributes and the final status code. Leaner per call than the instrumentation package's
    server interceptor, which re-wraps every handler and the servicer context on each call."""

    def __init__(self) -> None:
        super().__init__()
        self._tracer = ProviderTracer("weather_runtime.telemetry")

    def _start(self, method: str, context: grpc.ServicerContext) -> tuple[trace.Span, object]:
        parent = propagate.extract(context.invocation_metadata(), getter=_GETTER)
        provider = trace.get_tracer_provider()
        if getattr(provider, "listened", True):
            service, _, name = method.lstrip("/").partition("/")
            span = self._tracer(provider).start_span(
                method,
                context=parent,
                kind=SpanKind.SERVER,
                attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
            )
        else:
            span = _unrecorded_child(parent)
        return span, otel_context.attach(trace.set_span_in_context(span, parent))

    @staticmethod
    def _end(span: trace.Span, token: object, context: grpc.ServicerContext) -> None:
        if span.is_recording():
            code = status_code(context)
            if code is None:
                code = grpc.StatusCode.OK if context.is_active() else grpc.StatusCode.CANCELLED
            span.set_attribute("rpc.grpc.status_code", code.value[0])
            if code in _SERVER_ERRORS:
                span.set_status(Status(StatusCode.ERROR, code.name))
            span.end()
        otel_context.detach(token)  # type: ignore[arg-type]

    def wrap_unary(self, method: str, behavior: Behavior) -> Behavior:
        def traced(request: Any, context: grpc.ServicerContext) -> Any:
            span, token = self._start(method, context)
            try:
                return behavior(request, context)
            finally:
                self._end(span, token, context)

        return traced

    def wrap_streaming(self, method: str, behavior: Behavior) -> Behavior:
        def traced(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            span, token = self._start(method, context)
            try:
                yield from behavior(request, context)
            finally:
                self._end(span, token, context)

        return traced


__all__ = [
    "ListenedTracerProvider",
    "TracingInterceptor",
    "context_from_traceparent",
    "current_traceparent",
    "init_tracing",
    "instrumented_channel",
    "shutdown_tracing",
    "tracing_server_interceptor",
]
