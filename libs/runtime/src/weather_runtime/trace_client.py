"""The client side of tracing: one interceptor for every channel, carrying W3C trace context."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from weather_runtime.auth import bearer_interceptor
from weather_runtime.identity import ActorInterceptor
from weather_runtime.tls import ClientTLS, ReloadingChannel

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# gRPC's reconnect backoff starts at 1 s and grows to 120 s: a server restarted after a long
# outage would be seen up to two minutes late. Every channel retries at least once a second
# (a caller's own options of these names win).
RECONNECT_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 1000),
)
# WEATHER_TRACE_CLIENT_SPANS=false: calls carry the trace context but record no CLIENT span
# (the servers called record their own SERVER spans: one span fewer per call where every
# server is traced, at the cost of not seeing a call that never reached its server)
CLIENT_SPANS_VARIABLE = "WEATHER_TRACE_CLIENT_SPANS"


def client_spans_wanted() -> bool:
    """Whether this process records CLIENT spans (WEATHER_TRACE_CLIENT_SPANS, default true)."""
    return os.environ.get(CLIENT_SPANS_VARIABLE, "true").strip().lower() not in {"false", "0", "no"}


def _listened(provider: trace.TracerProvider) -> bool:
    """Whether spans are recorded by anyone (a span processor on our provider)."""
    return bool(getattr(provider, "listened", False))


class ProviderTracer:
    """A named tracer of the global provider, looked up again only when the provider changes
    (it may be installed after a server or channel is built)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._known: tuple[trace.TracerProvider, trace.Tracer] | None = None

    def __call__(self, provider: trace.TracerProvider) -> trace.Tracer:
        known = self._known
        if known is None or known[0] is not provider:
            known = self._known = (provider, provider.get_tracer(self.name))
        return known[1]


class TraceContextClientInterceptor(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[misc]
    grpc.StreamUnaryClientInterceptor,  # type: ignore[misc]
    grpc.StreamStreamClientInterceptor,  # type: ignore[misc]
):
    """Puts the current trace context (W3C traceparent/tracestate) into every call's metadata,
    so the server's span is a child of the caller's. When spans are recorded (a span
    processor listens) each call made inside a trace also gets a CLIENT span, ended when the
    call completes (a stream: when it ends or is cancelled; the call object is returned as
    is, so cancel() and the call's other methods keep working)."""

    def __init__(self, client_spans: bool = True) -> None:
        self._tracer = ProviderTracer("weather_runtime.trace_client")
        self.client_spans = client_spans

    def _begin(self, details: Any) -> tuple[Any, trace.Span | None]:
        provider = trace.get_tracer_provider()
        context = otel_context.get_current()
        span = None
        # a CLIENT span only inside a trace: background loops (health checks, resyncs) do not
        # start traces of their own; the server's span still records every call
        if (
            self.client_spans
            and _listened(provider)
            and trace.get_current_span(context).get_span_context().is_valid
        ):
            method = str(details.method)
            service, _, name = method.lstrip("/").partition("/")
            span = self._tracer(provider).start_span(
                method,
                context=context,
                kind=SpanKind.CLIENT,
                attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
            )
            context = trace.set_span_in_context(span, context)
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=context)
        if carrier:
            details = details._replace(metadata=[*(details.metadata or ()), *carrier.items()])
        return details, span

    @staticmethod
    def _watch(span: trace.Span | None, call: Any) -> Any:
        if span is not None:
            call.add_done_callback(lambda done: _end(span, done))
        return call

    def intercept_unary_unary(self, continuation, details, request):  # type: ignore[no-untyped-def]
        details, span = self._begin(details)
        return self._watch(span, continuation(details, request))

    def intercept_unary_stream(self, continuation, details, request):  # type: ignore[no-untyped-def]
        details, span = self._begin(details)
        return self._watch(span, continuation(details, request))

    def intercept_stream_unary(self, continuation, details, requests):  # type: ignore[no-untyped-def]
        details, span = self._begin(details)
        return self._watch(span, continuation(details, requests))

    def intercept_stream_stream(self, continuation, details, requests):  # type: ignore[no-untyped-def]
        details, span = self._begin(details)
        return self._watch(span, continuation(details, requests))


def _end(span: trace.Span, call: Any) -> None:
    """Ends a CLIENT span with the call's status code (any code but OK marks it failed)."""
    try:
        code = call.code()
    except Exception:  # noqa: BLE001 - a call without a code still ends its span
        code = None
    if code is not None:
        span.set_attribute("rpc.grpc.status_code", code.value[0])
        if code != grpc.StatusCode.OK:
            span.set_status(Status(StatusCode.ERROR, code.name))
    span.end()


_INTERCEPTOR = TraceContextClientInterceptor(client_spans_wanted())


def traced(channel: grpc.Channel, actor: str = "") -> grpc.Channel:
    """channel with trace context on every call (and the caller's declared actor, if given)."""
    interceptors: list[Any] = [_INTERCEPTOR]
    if actor:
        interceptors.append(ActorInterceptor(actor))
    return grpc.intercept_channel(channel, *interceptors)


def instrumented_channel(
    target: str,
    *,
    actor: str = "",
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    options: Sequence[tuple[str, object]] = (),
    security: ClientTLS | None = None,
    token_file: str = "",
    token: str = "",
) -> grpc.Channel:
    """A channel to target whose calls carry the current trace context: what every service,
    the serving sync and weatherctl use to call a service (`unix:PATH` targets work too).
    With security, a TLS (mTLS with a client certificate) channel following its files; with
    token (or token_file, re-read when it changes) every call carries it as a bearer token."""
    all_options = [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        *(o for o in RECONNECT_OPTIONS if o[0] not in {name for name, _ in options}),
        *options,
    ]
    if security is not None:
        channel: grpc.Channel = ReloadingChannel(target, security, all_options)
    else:
        channel = grpc.insecure_channel(target, options=all_options)
    bearer = bearer_interceptor(token, token_file)
    if bearer is not None:
        channel = grpc.intercept_channel(channel, bearer)
    return traced(channel, actor)
