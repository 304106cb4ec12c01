"""OpenTelemetry tracing: a tracer provider per process, OTLP export, gRPC instrumentation."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import grpc
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import client_interceptor, grpcext, server_interceptor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

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


def init_tracing(service_name: str) -> TracerProvider:
    """Installs the global tracer provider once (service.name set), exporting OTLP when asked.

    The standard variables apply: OTEL_SDK_DISABLED, OTEL_SERVICE_NAME (wins over the
    argument), OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, OTEL_TRACES_EXPORTER,
    OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_PROTOCOL (grpc or http/protobuf).
    """
    global _provider
    if _provider is not None:
        return _provider
    name = os.environ.get("OTEL_SERVICE_NAME") or service_name
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    if _otlp_wanted() and os.environ.get("OTEL_SDK_DISABLED", "").lower() != "true":
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


def tracing_server_interceptor() -> grpc.ServerInterceptor:
    """Server interceptor that continues the caller's trace and records a span per RPC."""
    return server_interceptor(tracer_provider=trace.get_tracer_provider())  # type: ignore[no-any-return]


def instrumented_channel(
    target: str,
    *,
    max_message_bytes: int = 64 * 1024 * 1024,
    options: Sequence[tuple[str, object]] = (),
) -> grpc.Channel:
    """An insecure channel whose calls carry the current trace context to the server."""
    channel = grpc.insecure_channel(
        target,
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            *options,
        ],
    )
    interceptor = client_interceptor(tracer_provider=trace.get_tracer_provider())
    return grpcext.intercept_channel(channel, interceptor)  # type: ignore[no-any-return]
