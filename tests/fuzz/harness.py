"""Sends hypothesis examples to one RPC as raw bytes and checks the server's answer and health."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.strategies import MessageStrategies, Payload, payloads

CALL_TIMEOUT = 10.0  # a call still running after this is a hang (DEADLINE_EXCEEDED)
STREAM_IDLE = 0.1  # a response stream quiet this long is cancelled (a watch waiting for news)
STREAM_SHARE = 3  # response-streaming RPCs get 1/STREAM_SHARE of the examples (idle watches)
STREAM_MESSAGES = 3  # a response stream is cancelled after this many messages
BAD_CODES = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED)
# what a Python stack trace or exception repr looks like in a status message
TRACE_TEXT = re.compile(
    r"Traceback \(most recent|File \"[^\"]+\", line \d+|Exception calling application|"
    r"\b(?:KeyError|TypeError|ValueError|AttributeError|IndexError|ZeroDivisionError|"
    r"OverflowError|RecursionError|MemoryError|AssertionError|UnicodeDecodeError|"
    r"UnicodeEncodeError|NotADirectoryError|IsADirectoryError|FileNotFoundError|"
    r"PermissionError|RuntimeError|DecodeError|InvalidArgumentError)\b"
)


@dataclass
class Target:
    """A running service (one of the gRPC services on a server) the fuzzer sends to."""

    service: ServiceDescriptor
    channel: grpc.Channel
    vocabulary: Sequence[str] = ()
    overrides: Mapping[str, st.SearchStrategy[Message]] = field(default_factory=dict)
    skip: frozenset[str] = frozenset()  # RPC names another Target covers
    # well-formed requests per RPC name naming real data, for the "seeded" kind, and the
    # top-level fields set on every mutation of them (validate_only)
    seeds: Mapping[str, Sequence[Message]] = field(default_factory=dict)
    pins: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.service.full_name)

    def methods(self) -> list[MethodDescriptor]:
        return [m for m in self.service.methods if m.name not in self.skip]

    def method(self, name: str) -> MethodDescriptor:
        return self.service.methods_by_name[name]

    def has_tensors(self, method: MethodDescriptor) -> bool:
        return MessageStrategies(overrides=self.overrides).holds_override(method.input_type)


@dataclass(frozen=True)
class Outcome:
    """How one call ended."""

    code: grpc.StatusCode
    details: str
    messages: int = 0
    client_cancelled: bool = False  # a response stream the fuzzer ended (idle or enough read)
    response: bytes = b""  # a unary response, serialised

    @property
    def label(self) -> str:
        return "CANCELLED_BY_CLIENT" if self.client_cancelled else self.code.name


def path_of(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


def invoke(channel: grpc.Channel, method: MethodDescriptor, payload: Payload) -> Outcome:
    """Calls method with the payload's bytes (no serialiser: the bytes go out as they are)."""
    path = path_of(method)
    try:
        if method.server_streaming:
            if method.client_streaming:
                call = channel.stream_stream(path, None, None)(
                    iter(payload.messages), timeout=CALL_TIMEOUT
                )
            else:
                call = channel.unary_stream(path, None, None)(
                    payload.messages[0], timeout=CALL_TIMEOUT
                )
            return _drain(call)
        if method.client_streaming:
            response = channel.stream_unary(path, None, None)(
                iter(payload.messages), timeout=CALL_TIMEOUT
            )
        else:
            response = channel.unary_unary(path, None, None)(
                payload.messages[0], timeout=CALL_TIMEOUT
            )
        return Outcome(grpc.StatusCode.OK, "", 1, response=response)
    except grpc.RpcError as error:
        return Outcome(error.code(), error.details() or "")


def _drain(call: Any) -> Outcome:
    """Reads a response stream until it ends, STREAM_MESSAGES arrived or it stayed quiet for
    STREAM_IDLE seconds (then it is cancelled)."""
    received = 0
    last = [time.monotonic()]
    ours = threading.Event()
    done = threading.Event()

    def watchdog() -> None:
        while not done.wait(0.02):
            if time.monotonic() - last[0] > STREAM_IDLE:
                ours.set()
                call.cancel()
                return

    threading.Thread(target=watchdog, daemon=True).start()
    try:
        for _ in call:
            received += 1
            last[0] = time.monotonic()
            if received >= STREAM_MESSAGES:
                ours.set()
                call.cancel()
                break
        code, details = call.code(), call.details() or ""
    except grpc.RpcError as error:
        code, details = error.code(), error.details() or ""
    finally:
        done.set()
    cancelled = ours.is_set() and code == grpc.StatusCode.CANCELLED
    return Outcome(code, details, received, cancelled)


def healthy(channel: grpc.Channel) -> str:
    """'' when the server answers its health check SERVING, else what went wrong."""
    try:
        response = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=5
        )
    except grpc.RpcError as error:
        return f"health check failed: {error.code().name} {error.details()}"
    if response.status != health_pb2.HealthCheckResponse.SERVING:
        return f"health check answered {health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)}"
    return ""


def violations(outcome: Outcome) -> list[str]:
    """What is wrong with how a call ended (empty: nothing)."""
    found = []
    if outcome.code in BAD_CODES and not outcome.client_cancelled:
        found.append(f"status {outcome.code.name}: {outcome.details[:500]!r}")
    if "metadata size exceeds" in outcome.details:  # the status' own trailer was too big
        found.append(f"status lost, trailer too large: {outcome.details[:300]!r}")
    if TRACE_TEXT.search(outcome.details):
        found.append(f"stack trace text in the details: {outcome.details[:500]!r}")
    return found


@dataclass
class Finding:
    rpc: str
    kind: str
    problem: str
    example: str
    example_bytes: int


@dataclass
class Recorder:
    """Cases and statuses per RPC, and the smallest example of each distinct problem."""

    cases: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Counter[str]] = field(default_factory=dict)
    findings: dict[tuple[str, str], Finding] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self, rpc: str, kind: str, outcome: Outcome, problems: list[str], payload: Payload
    ) -> None:
        with self.lock:
            self.cases[rpc] += 1
            self.statuses.setdefault(rpc, Counter())[outcome.label] += 1
            for problem in problems:
                key = (rpc, _problem_key(problem))
                known = self.findings.get(key)
                if known is None or payload.size < known.example_bytes:
                    self.findings[key] = Finding(rpc, kind, problem, repr(payload), payload.size)


def _problem_key(problem: str) -> str:
    """Problems alike up to the numbers and quoted names in them count as one finding."""
    return re.sub(r"'[^']*'|\d+", "_", problem)[:120]


class _Quiet(st.SearchStrategy[Payload]):
    """A payload strategy with a short repr. Hypothesis compares the global random state around
    each draw and, when it moved, names the strategy in a warning; the in-process services'
    threads move it (distributed's sizeof samples with `random`), and the repr of these deep
    recursive strategies overflows the stack (a RecursionError failing the test)."""

    def __init__(self, inner: st.SearchStrategy[Payload], name: str) -> None:
        super().__init__()
        self.inner = inner
        self.name = name

    def do_draw(self, data: Any) -> Payload:
        payload: Payload = data.draw(self.inner)
        return payload

    def __repr__(self) -> str:
        return f"payloads({self.name})"


def fuzz_rpc(
    target: Target,
    method: MethodDescriptor,
    kind: str,
    options: settings,
    recorder: Recorder | None = None,
    *,
    raise_on_finding: bool = True,
    on_outcome: Callable[[Outcome, Payload], None] | None = None,
) -> None:
    """Runs hypothesis on one RPC with one kind of payload (see strategies.KINDS)."""
    strategy = payloads(
        kind,
        method.input_type,
        vocabulary=target.vocabulary,
        overrides=target.overrides,
        client_streaming=method.client_streaming,
        seeds=target.seeds.get(method.name, ()),
        pins=target.pins.get(method.name),
    )
    rpc = f"{target.name}/{method.name}"
    if method.server_streaming:
        options = settings(options, max_examples=max(1, options.max_examples // STREAM_SHARE))

    @options
    @given(payload=_Quiet(strategy, rpc))
    def check(payload: Payload) -> None:
        outcome = invoke(target.channel, method, payload)
        problems = violations(outcome)
        health = healthy(target.channel)
        if health:
            problems.append(health)
        if recorder is not None:
            recorder.record(rpc, kind, outcome, problems, payload)
        if on_outcome is not None:
            on_outcome(outcome, payload)
        if problems and raise_on_finding:
            raise AssertionError(f"{rpc}: " + "; ".join(problems))

    check()
