"""TF Serving client: Predict and GetModelMetadata with deadlines, retries and a circuit breaker.

Retries happen on UNAVAILABLE only, with exponential backoff, never past the caller's deadline.
A CANCELLED answer counts as UNAVAILABLE: the predictor never cancels its own calls, so it is a
model server shutting down with the call still queued (gRPC cancels those, grpc/grpc#41785).
Every attempt failing with UNAVAILABLE, or with DEADLINE_EXCEEDED after at least
`slow_call_seconds` (so clients with very short deadlines cannot open the circuit for everyone),
counts towards the breaker; after
`failures` consecutive ones it opens and calls fail fast with UNAVAILABLE until `reset_seconds`
have passed, then one trial call is let through (half open): success closes it, failure reopens.
When the channel connects again (a restarted model server) the trial may run at once.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    model_pb2,
    prediction_service_pb2_grpc,
)

from weather_predictor.errors import UpstreamError
from weather_runtime.errors import NotFound, Unavailable
from weather_runtime.retry import Backoff, Retrier
from weather_runtime.telemetry import instrumented_channel
from weather_runtime.tls import ClientTLS

log = logging.getLogger(__name__)
T = TypeVar("T")
# what gRPC core writes about a failed connection names internal addresses
# ("failed to connect to all addresses; last error: UNKNOWN: ipv4:10.0.0.7:8500: ..."): the
# client gets the gist, the log keeps it whole
_ADDRESS = re.compile(
    r"\b(?:ipv4:[0-9.]+|ipv6:\[[^\]]*\]|unix(?:-abstract)?:[^\s:]+|dns:[^\s:]+)(?::\d+)?"
    r"|(?<=DNS resolution failed for )[^\s:]+(?::\d+)?"
)
_CORE_PREFIX = re.compile(r"last error: (?:UNKNOWN|UNAVAILABLE): ")
_PREDICT_METHOD = "/tensorflow.serving.PredictionService/Predict"


@dataclass(frozen=True)
class Target:
    """What to ask the model server for: a model and a version number or a label (or neither)."""

    name: str
    version: int = 0
    label: str = ""

    def spec(self, signature: str = "") -> model_pb2.ModelSpec:
        """The TF Serving ModelSpec."""
        spec = model_pb2.ModelSpec(name=self.name, signature_name=signature)
        if self.version:
            spec.version.value = self.version
        elif self.label:
            spec.version_label = self.label
        return spec

    def describe(self) -> str:
        """name:version or name@label for messages."""
        if self.version:
            return f"{self.name}:{self.version}"
        return f"{self.name}@{self.label}" if self.label else self.name


class CircuitBreaker:
    """Consecutive-failure breaker: closed, open for reset_seconds, then half open (one trial)."""

    def __init__(
        self, failures: int, reset_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.failures = failures
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._consecutive = 0
        self._opened_at: float | None = None
        self._trial = False
        self._last = ""  # the last failure, for the fail-fast message

    @property
    def state(self) -> str:
        """closed, open or half_open."""
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half_open" if self._clock() - self._opened_at >= self.reset_seconds else "open"

    def before(self) -> None:
        """Raises Unavailable while open (or while a half-open trial is running)."""
        with self._lock:
            if self._opened_at is None:
                return
            waited = self._clock() - self._opened_at
            if waited >= self.reset_seconds and not self._trial:
                self._trial = True
                return
            last = f" (last: {self._last})" if self._last else ""
            raise Unavailable(
                f"model server circuit open after {self._consecutive} consecutive failures"
                f"{last}; retry in {max(self.reset_seconds - waited, 0.0):.1f} s"
            )

    def reconnected(self) -> None:
        """The channel is connected again: an open circuit lets its trial through now."""
        with self._lock:
            if self._opened_at is not None and not self._trial:
                self._opened_at = self._clock() - self.reset_seconds

    def success(self) -> None:
        """A call got an answer (a status that says the model server is alive)."""
        with self._lock:
            self._consecutive = 0
            self._opened_at = None
            self._trial = False

    def failure(self, reason: str = "") -> None:
        """A call failed with UNAVAILABLE, or timed out after a generous deadline (reason: how,
        repeated in the fail-fast message)."""
        with self._lock:
            self._consecutive += 1
            self._last = reason[:200] or self._last
            if self._trial or self._consecutive >= self.failures:
                self._opened_at = self._clock()
            self._trial = False


class ModelServerClient:
    """The predictor's only view of the model server (embedded or official, it cannot tell)."""

    def __init__(
        self,
        address: str,
        *,
        max_message_bytes: int,
        attempts: int,
        backoff_seconds: float,
        breaker: CircuitBreaker,
        slow_call_seconds: float = 1.0,
        security: ClientTLS | None = None,
        token_file: str = "",
    ) -> None:
        self.address = address
        self.slow_call_seconds = slow_call_seconds
        # the model server's spans join the request's trace (TF Serving ignores the headers)
        self._channel = instrumented_channel(
            address, max_message_bytes=max_message_bytes, security=security, token_file=token_file
        )
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        # the same Predict with serialised messages in and out (the hot path splices them)
        self._predict_bytes = self._channel.unary_unary(
            _PREDICT_METHOD, request_serializer=None, response_deserializer=None
        )
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.breaker = breaker
        # a model server that is back need not wait out the breaker's cool-down
        self._channel.subscribe(self._on_state, try_to_connect=False)

    def _on_state(self, state: grpc.ChannelConnectivity) -> None:
        if state == grpc.ChannelConnectivity.READY:
            self.breaker.reconnected()

    def close(self) -> None:
        """Closes the channel."""
        self._channel.unsubscribe(self._on_state)
        self._channel.close()

    def predict_bytes(self, request: bytes, spec: model_pb2.ModelSpec, deadline: float) -> bytes:
        """Predict before the monotonic deadline, with a serialised PredictRequest (spec is its
        model spec, for messages); the serialised PredictResponse."""
        response: bytes = self._call(self._predict_bytes, request, deadline, _describe(spec))
        return response

    def metadata(
        self, target: Target, deadline: float
    ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        """GetModelMetadata (signature_def) before the monotonic deadline."""
        request = get_model_metadata_pb2.GetModelMetadataRequest(
            model_spec=target.spec(), metadata_field=["signature_def"]
        )
        response: get_model_metadata_pb2.GetModelMetadataResponse = self._call(
            self._stub.GetModelMetadata, request, deadline, target.describe()
        )
        return response

    def _call(self, method: Any, request: Any, deadline: float, what: str) -> Any:
        retrier = Retrier(Backoff(self.backoff_seconds), deadline=deadline, attempts=self.attempts)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise UpstreamError(
                    grpc.StatusCode.DEADLINE_EXCEEDED, f"deadline exceeded before asking {what}"
                )
            self.breaker.before()
            try:
                response = method(request, timeout=remaining)
            except grpc.RpcError as exc:
                code, details = exc.code(), _public(exc.details() or "", what)
                if code == grpc.StatusCode.CANCELLED:
                    code, details = grpc.StatusCode.UNAVAILABLE, f"dropped the call ({details})"
                if code == grpc.StatusCode.UNAVAILABLE or (
                    code == grpc.StatusCode.DEADLINE_EXCEEDED
                    and remaining >= self.slow_call_seconds
                ):
                    self.breaker.failure(f"{code.name}: {details}")
                else:
                    self.breaker.success()
                if code == grpc.StatusCode.UNAVAILABLE and retrier.pause():
                    continue
                raise _translate(code, details, what) from None
            self.breaker.success()
            return response


def _public(details: str, what: str) -> str:
    """details without the internal addresses gRPC core puts in transport errors."""
    cleaned = _CORE_PREFIX.sub("", _ADDRESS.sub("the model server", details))
    if cleaned != details:
        log.warning("model server call failed (%s): %s", what, details)
    return cleaned


def _describe(spec: model_pb2.ModelSpec) -> str:
    if spec.HasField("version"):
        return f"{spec.name}:{spec.version.value}"
    return f"{spec.name}@{spec.version_label}" if spec.version_label else spec.name


def _translate(code: grpc.StatusCode, details: str, what: str) -> Exception:
    message = f"model server, {what}: {details}"
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFound("model", what, message)
    if code == grpc.StatusCode.UNAVAILABLE:
        return Unavailable(message)
    return UpstreamError(code, message)
