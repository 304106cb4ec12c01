"""Server interceptors: call metrics, domain errors to gRPC statuses, unexpected failures hidden."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from weather_runtime.errors import DomainError, InvalidArgument, internal_status, to_status
from weather_runtime.logging import current_trace_ids
from weather_runtime.metrics import CallMetrics

log = logging.getLogger(__name__)


Behavior = Callable[[Any, grpc.ServicerContext], Any]


class WrappingInterceptor(grpc.ServerInterceptor):
    """A server interceptor that wraps each method's behaviour once, not once per call: the
    wrapped handler is kept per method and reused while the server hands out the same one."""

    def __init__(self) -> None:
        self._handlers: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def wrap_unary(self, method: str, behavior: Behavior) -> Behavior:
        """The behaviour of a unary-response method, wrapped."""
        raise NotImplementedError

    def wrap_streaming(self, method: str, behavior: Behavior) -> Behavior:
        """The behaviour of a streaming-response method (a generator function), wrapped."""
        raise NotImplementedError

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method: str = handler_call_details.method  # type: ignore[attr-defined]
        known = self._handlers.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        wrapped = self._rewrap(method, handler)
        self._handlers[method] = (handler, wrapped)
        return wrapped

    def wrap_deserializer(self, deserializer: Any) -> Any:
        """The request deserializer of the wrapped handler (the same one unless overridden)."""
        return deserializer

    def _rewrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if handler.response_streaming:
            streaming = handler.unary_stream or handler.stream_stream
            factory = (
                grpc.unary_stream_rpc_method_handler
                if handler.unary_stream
                else grpc.stream_stream_rpc_method_handler
            )
            behavior = self.wrap_streaming(method, streaming)  # type: ignore[arg-type]
        else:
            unary = handler.unary_unary or handler.stream_unary
            factory = (
                grpc.unary_unary_rpc_method_handler
                if handler.unary_unary
                else grpc.stream_unary_rpc_method_handler
            )
            behavior = self.wrap_unary(method, unary)  # type: ignore[arg-type]
        return factory(  # type: ignore[no-any-return]
            behavior,
            request_deserializer=self.wrap_deserializer(handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )


class CallMetricsInterceptor(WrappingInterceptor):
    """Counts every call with the status it ends with; placed before authentication, so calls
    refused there (UNAUTHENTICATED, PERMISSION_DENIED) are counted too."""

    def __init__(self, metrics: CallMetrics) -> None:
        super().__init__()
        self._metrics = metrics

    def wrap_unary(self, method: str, behavior: Behavior) -> Behavior:
        metrics = self._metrics.method(method)

        def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
            start = time.perf_counter()
            metrics.start()
            failed = True
            try:
                response = behavior(request, context)
                failed = False
                return response
            finally:
                metrics.record(code_name(context, failed), time.perf_counter() - start)

        return wrapped

    def wrap_streaming(self, method: str, behavior: Behavior) -> Behavior:
        metrics = self._metrics.method(method)

        def wrapped(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            start = time.perf_counter()
            metrics.start()
            failed = True
            try:
                yield from behavior(request, context)
                failed = False
            finally:
                metrics.record(code_name(context, failed), time.perf_counter() - start)

        return wrapped


class CallInterceptor(WrappingInterceptor):
    """Wraps every handler: maps DomainError, hides other exceptions as INTERNAL.

    A client never sees a Python traceback: unexpected exceptions are logged with their traceback
    and a reference (the trace id when tracing is on) that the client gets in the message.
    """

    def wrap_deserializer(self, deserializer: Any) -> Any:
        """A deserializer that turns bytes no message parses into an Undecodable marker (gRPC
        itself would answer INTERNAL); the wrapped handler answers INVALID_ARGUMENT."""
        if deserializer is None:
            return None

        def lenient(data: bytes) -> Any:
            try:
                return deserializer(data)
            except DecodeError as exc:
                return Undecodable(str(exc))

        return lenient

    def wrap_unary(self, method: str, behavior: Behavior) -> Behavior:
        def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                return behavior(_decoded(request), context)
            except Exception as exc:  # noqa: BLE001 - every failure is mapped to a status
                _abort_for(method, exc, context)

        return wrapped

    def wrap_streaming(self, method: str, behavior: Behavior) -> Behavior:
        def wrapped(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            try:
                yield from behavior(_decoded(request), context)
            except Exception as exc:  # noqa: BLE001
                _abort_for(method, exc, context)

        return wrapped


class Undecodable:
    """A request message whose bytes did not parse (kept so the handler can refuse it)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _refuse(reason: str) -> InvalidArgument:
    return InvalidArgument.field("request", f"is not a valid serialised message ({reason})")


def _decoded(request: Any) -> Any:
    """The request, raising InvalidArgument for an undecodable one; a request stream is
    checked message by message as the handler reads it."""
    if isinstance(request, Undecodable):
        raise _refuse(request.reason)
    if isinstance(request, Iterator):
        return _decoded_stream(request)
    return request


def _decoded_stream(requests: Iterator[Any]) -> Iterator[Any]:
    for request in requests:
        if isinstance(request, Undecodable):
            raise _refuse(request.reason)
        yield request


def _abort_for(method: str, exc: Exception, context: grpc.ServicerContext) -> None:
    """Aborts the call with the status exc stands for; re-raises an abort already made."""
    if status_code(context) not in (None, grpc.StatusCode.OK):
        raise exc  # the handler called context.abort itself
    if isinstance(exc, DomainError):
        log.info("%s -> %s: %s", method, exc.code.name, exc.message)
        context.abort_with_status(to_status(exc))
    trace_id, _ = current_trace_ids()
    reference = trace_id or uuid.uuid4().hex
    log.exception("%s failed unexpectedly (reference %s)", method, reference)
    context.abort_with_status(internal_status(reference))


def status_code(context: grpc.ServicerContext) -> grpc.StatusCode | None:
    """The status the handler set or aborted with (None when it set none)."""
    code = context.code()  # type: ignore[attr-defined]
    if isinstance(code, int):
        return next((c for c in grpc.StatusCode if c.value[0] == code), None)
    return code  # type: ignore[no-any-return]


def code_name(context: grpc.ServicerContext, failed: bool = False) -> str:
    """The call's status name as it ends: the status set, else CANCELLED when the client went
    away, UNKNOWN when the handler failed without a status (gRPC's answer), else OK."""
    code = status_code(context)
    if code is not None:
        return code.name
    if not context.is_active():
        return "CANCELLED"
    return "UNKNOWN" if failed else "OK"
