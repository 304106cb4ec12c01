"""Long-running work (operations, training jobs): states, watch, cancel, failures, trace context."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from weather_runtime import spans
from weather_runtime.errors import DomainError, FieldViolation, InvalidArgument, ResourceExhausted
from weather_runtime.logging import current_trace_ids

log = logging.getLogger(__name__)


class State(StrEnum):
    """Where a piece of work stands (the servicers map it to their protos' enums)."""

    QUEUED = "QUEUED"  # accepted, waiting for a slot (an operation's PENDING)
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    INTERRUPTED = "INTERRUPTED"  # its process stopped while it ran; it can be resumed

    @property
    def final(self) -> bool:
        """Whether the work has ended for good (it never changes state again)."""
        return self in FINAL


FINAL = frozenset({State.SUCCEEDED, State.FAILED, State.CANCELLED})
# what counts against a caller's limit
UNFINISHED = (State.QUEUED, State.RUNNING)
# work that runs nowhere: a cancel ends it at once
WAITING = (State.QUEUED, State.INTERRUPTED)
_NEXT = {
    State.QUEUED: {State.RUNNING, State.CANCELLED, State.INTERRUPTED},
    State.RUNNING: {State.SUCCEEDED, State.FAILED, State.CANCELLED, State.INTERRUPTED},
    State.INTERRUPTED: {State.QUEUED, State.CANCELLED},
}


def can_move(old: State, new: State) -> bool:
    """Whether work in state old may go to state new (staying put is allowed while unfinished)."""
    return (old == new and not old.final) or new in _NEXT.get(old, ())


def check_move(old: State, new: State) -> None:
    """Raises RuntimeError (a bug of the engine) unless work in state old may go to new: in
    particular, finished work never changes state again."""
    if not can_move(old, new):
        raise RuntimeError(f"work cannot go from {old.value} to {new.value}")


class Cancelled(Exception):
    """Raised by work that noticed its cancel event; the work ends CANCELLED."""


@dataclass(frozen=True)
class OperationError:
    """Why work failed, as a gRPC status code name, message and bad fields."""

    code: str
    message: str
    fields: tuple[FieldViolation, ...] = ()


def failure(
    error: Exception, kind: str, work_id: str, log_name: str = "server log"
) -> OperationError:
    """The stored failure of work (kind work_id) that raised error: a domain error keeps its
    code, message and fields; anything else is logged with its stack and stored as INTERNAL
    with a reference (the trace id, else the work's id) into log_name, never the stack."""
    if isinstance(error, DomainError):
        fields = tuple(error.violations) if isinstance(error, InvalidArgument) else ()
        return OperationError(error.code.name, error.message, fields)
    reference = current_trace_ids()[0] or work_id
    log.error("%s %s failed unexpectedly", kind, work_id, exc_info=error)
    return OperationError("INTERNAL", f"internal error (reference {reference}); see {log_name}")


def admit(caller: str, unfinished: int, limit: int, setting: str, what: str) -> None:
    """RESOURCE_EXHAUSTED (naming setting) when caller already has limit pieces of work
    unfinished; limit <= 0 is no limit. what: "operations pending or running" and the like."""
    if limit <= 0 or not caller or unfinished < limit:
        return
    raise ResourceExhausted(
        f"{caller} has {unfinished} {what}, the limit per caller ({setting} = {limit}); "
        "retry when one ends",
        setting,
    )


@contextmanager
def traced(
    context: otel_context.Context | None, name: str, **attributes: str
) -> Iterator[trace.Span]:
    """A span called name for work running in another thread, a child of context (captured
    with spans.capture() when the work was started): the work stays in the trace of its call."""
    with spans.attached(context), spans.step(name, **attributes) as span:
        yield span


def end_span(span: trace.Span, kind: str, state: State, error: OperationError | None) -> None:
    """Records how the work ended on its span (kind.state; an error status when it failed)."""
    span.set_attribute(f"{kind}.state", state.value)
    if error is not None:
        span.set_status(Status(StatusCode.ERROR, error.code))


class Tracked(Protocol):
    """What the board reads of a piece of work: its state and a counter of its changes."""

    @property
    def state(self) -> State: ...

    @property
    def sequence(self) -> int: ...


R = TypeVar("R", bound=Tracked)


class Board:
    """The shared part of a work engine: a condition with a version counter (every change
    wakes the waiters), a cancel event per running piece of work, and the closing flag."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._version = 0
        self._events: dict[str, threading.Event] = {}
        self.closing = False

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Holds the board's lock: a change made in the block is atomic with cancel and begin."""
        with self._cond:
            yield

    def changed(self) -> None:
        """Tells the waiters something changed."""
        with self._cond:
            self._version += 1
            self._cond.notify_all()

    def register(self, work_id: str) -> threading.Event:
        """A new cancel event for work_id, about to run (set at once when the board closes)."""
        event = threading.Event()
        with self._cond:
            if self.closing:
                event.set()
            self._events[work_id] = event
        return event

    def forget(self, work_id: str) -> None:
        """Drops work_id's cancel event (its work has stopped running)."""
        with self._cond:
            self._events.pop(work_id, None)
            self._version += 1
            self._cond.notify_all()

    def close(self) -> None:
        """Sets closing and every cancel event, and wakes every waiter."""
        with self._cond:
            self.closing = True
            for event in self._events.values():
                event.set()
            self._version += 1
            self._cond.notify_all()

    def pause(self, seconds: float) -> None:
        """Waits up to seconds, less when the board closes."""
        with self._cond:
            self._cond.wait_for(lambda: self.closing, timeout=seconds)

    def begin(
        self,
        work_id: str,
        read: Callable[[], R],
        start: Callable[[R], object],
        stop: Callable[[R], object],
    ) -> bool:
        """The worker's first step, atomic with cancel: work still QUEUED is started (start
        moves it to RUNNING), or stopped when its cancel event is already set (stop); work no
        longer QUEUED (cancelled meanwhile) is left alone. True when the work should run."""
        with self._cond:
            current = read()
            if current.state != State.QUEUED:
                return False
            event = self._events.get(work_id)
            if event is not None and event.is_set():
                stop(current)
                return False
            start(current)
            return True

    def cancel(
        self, work_id: str, read: Callable[[], R], drop: Callable[[R], R], wait_seconds: float
    ) -> R:
        """Cancels work, idempotently: finished work is returned as it ended (a cancel cannot
        change it); waiting work (QUEUED, INTERRUPTED) is dropped at once (drop stores it
        CANCELLED); running work is asked to stop and waited for, up to wait_seconds."""
        with self._cond:
            current = read()
            if current.state.final:
                return current
            if current.state in WAITING:
                return drop(current)
            event = self._events.get(work_id)
            if event is not None:
                event.set()
            self._cond.wait_for(lambda: read().state.final or self.closing, timeout=wait_seconds)
            return read()

    def watch(
        self,
        read: Callable[[], R],
        is_active: Callable[[], bool],
        ends: Callable[[R], bool] = lambda current: current.state.final,
    ) -> Iterator[R]:
        """The work now and after every change until ends(it) (by default: it is finished),
        the watcher leaves or the board closes. Changes that come faster than the watcher
        reads are coalesced into the latest, so a watch that ends with the work always
        delivers the state it ended in (a watcher that comes after the end gets only that)."""
        seen: int | None = None
        while True:
            with self._cond:
                version = self._version
            current = read()
            if current.sequence != seen:
                seen = current.sequence
                yield current
            if ends(current) or self.closing or not is_active():
                return
            with self._cond:
                # the timeout lets a watcher whose client left (is_active) notice it
                self._cond.wait_for(functools.partial(self._moved, version), timeout=1.0)

    def _moved(self, version: int) -> bool:
        return self._version != version or self.closing
