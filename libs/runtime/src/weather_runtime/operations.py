"""Long-running operations: an id at once, progress to watchers, cancellation, bounded history."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from opentelemetry import context as otel_context

from weather_runtime import spans
from weather_runtime.domain_metrics import OperationMetrics
from weather_runtime.errors import NotFound, Unavailable
from weather_runtime.work import (
    FINAL,
    UNFINISHED,
    Board,
    Cancelled,
    OperationError,
    State,
    admit,
    check_move,
    end_span,
    failure,
    traced,
)

T = TypeVar("T")
# the names the work engine's types had here; every user imports them from here or from work
__all__ = ["Cancelled", "OperationError", "Operations", "Snapshot", "error_to_pb", "snapshot_to_pb"]


@dataclass(frozen=True)
class Snapshot(Generic[T]):
    """An operation's state at one moment."""

    operation_id: str
    state: State
    progress: float
    stage: str
    create_time: datetime
    update_time: datetime
    error: OperationError | None = None
    result: T | None = None
    sequence: int = 0


@dataclass
class _Entry(Generic[T]):
    snapshot: Snapshot[T]
    # the trace context of the call that started it, and the name of its span
    context: otel_context.Context | None = None
    name: str = "operation"
    attributes: dict[str, str] = field(default_factory=dict)
    caller: str = ""


# the state label of weather_operations (an operation waiting for a slot is "pending")
_LABELS = {State.QUEUED: "pending"}


def _label(state: State) -> str:
    return _LABELS.get(state, state.value.lower())


class Operations(Generic[T]):
    """Runs work functions in a bounded pool and tracks their snapshots."""

    def __init__(
        self,
        max_running: int,
        keep: int = 1000,
        service: str = "",
        per_caller: int = 0,
        per_caller_setting: str = "",
    ) -> None:
        """per_caller > 0: a caller with that many operations pending or running gets
        RESOURCE_EXHAUSTED (naming per_caller_setting) for the next one."""
        self._per_caller = per_caller
        self._per_caller_setting = per_caller_setting or "operations_per_caller"
        self._pool = ThreadPoolExecutor(max_workers=max_running, thread_name_prefix="operation")
        self._entries: OrderedDict[str, _Entry[T]] = OrderedDict()
        self._board = Board()
        self._keep = keep
        # metrics: the service label, the kinds (operation names) seen, counted at scrape time
        self._service = service
        self._kinds: set[str] = set()
        self._metrics = OperationMetrics()
        self._metrics.current.add_source(self._current)

    def submit(
        self,
        work: Callable[[Callable[[str, float], None], threading.Event], T],
        name: str = "operation",
        *,
        caller: str = "",
        **attributes: str,
    ) -> Snapshot[T]:
        """Queues work(progress, cancel); returns the PENDING snapshot at once. The work runs
        in a span called name (with the attributes and operation.id), a child of the trace
        current at submission: the operation stays in the trace of the call that started it."""
        now = datetime.now(tz=UTC)
        snapshot: Snapshot[T] = Snapshot(uuid.uuid4().hex, State.QUEUED, 0.0, "queued", now, now)
        entry = _Entry(
            snapshot, context=spans.capture(), name=name, attributes=attributes, caller=caller
        )
        with self._board.locked():
            if self._board.closing:
                raise Unavailable("the service is shutting down")
            unfinished = sum(
                1
                for e in self._entries.values()
                if e.caller == caller and e.snapshot.state in UNFINISHED
            )
            admit(
                caller,
                unfinished,
                self._per_caller,
                self._per_caller_setting,
                "operations pending or running",
            )
            self._entries[snapshot.operation_id] = entry
            self._kinds.add(name)
            self._trim()
            cancel = self._board.register(snapshot.operation_id)
        self._pool.submit(self._run, entry, work, cancel)
        return snapshot

    def _update(self, entry: _Entry[T], **changes: Any) -> Snapshot[T]:
        with self._board.locked():
            current = entry.snapshot
            if "state" in changes:
                check_move(current.state, changes["state"])
            entry.snapshot = replace(
                current,
                update_time=datetime.now(tz=UTC),
                sequence=current.sequence + 1,
                **changes,
            )
            self._board.changed()
            return entry.snapshot

    def _run(
        self,
        entry: _Entry[T],
        work: Callable[[Callable[[str, float], None], threading.Event], T],
        cancel: threading.Event,
    ) -> None:
        operation_id = entry.snapshot.operation_id
        attributes = {"operation.id": operation_id, **entry.attributes}
        try:
            with traced(entry.context, entry.name, **attributes) as span:
                started = time.monotonic()
                self._run_traced(entry, work, cancel)
                self._count_finished(entry, time.monotonic() - started)
                end_span(span, "operation", entry.snapshot.state, entry.snapshot.error)
        finally:
            self._board.forget(operation_id)

    def _run_traced(
        self,
        entry: _Entry[T],
        work: Callable[[Callable[[str, float], None], threading.Event], T],
        cancel: threading.Event,
    ) -> None:
        started = self._board.begin(
            entry.snapshot.operation_id,
            lambda: entry.snapshot,
            lambda _: self._update(entry, state=State.RUNNING, stage="starting"),
            lambda _: self._update(entry, state=State.CANCELLED, stage="cancelled"),
        )
        if not started:
            return

        def progress(stage: str, fraction: float) -> None:
            self._update(entry, stage=stage, progress=max(0.0, min(1.0, fraction)))

        try:
            result = work(progress, cancel)
        except Cancelled:
            self._update(entry, state=State.CANCELLED, stage="cancelled")
        except Exception as exc:  # noqa: BLE001 (failure() logs it with its stack)
            error = failure(exc, "operation", entry.snapshot.operation_id)
            self._update(entry, state=State.FAILED, stage="failed", error=error)
        else:
            # finished before a cancel took effect: the result stands
            self._update(entry, state=State.SUCCEEDED, stage="done", progress=1.0, result=result)

    def _current(self) -> Iterator[tuple[tuple[str, str, str], float]]:
        """Samples of weather_operations: operations pending and running, by kind."""
        with self._board.locked():
            counts = {(kind, state): 0 for kind in self._kinds for state in UNFINISHED}
            for entry in self._entries.values():
                key = (entry.name, entry.snapshot.state)
                if key in counts:
                    counts[key] += 1
        for (kind, state), count in counts.items():
            yield (self._service, kind, _label(state)), count

    def _count_finished(self, entry: _Entry[T], seconds: float) -> None:
        state = entry.snapshot.state
        self._metrics.finished.labels(self._service, entry.name, _label(state)).inc()
        if state == State.SUCCEEDED:
            self._metrics.duration.labels(self._service, entry.name).observe(seconds)

    def _trim(self) -> None:
        while len(self._entries) > self._keep:
            oldest_id, oldest = next(iter(self._entries.items()))
            if oldest.snapshot.state not in FINAL:
                break
            del self._entries[oldest_id]

    def _entry(self, operation_id: str) -> _Entry[T]:
        with self._board.locked():
            entry = self._entries.get(operation_id)
        if entry is None:
            raise NotFound("operation", operation_id)
        return entry

    def get(self, operation_id: str) -> Snapshot[T]:
        """The operation's current snapshot."""
        return self._entry(operation_id).snapshot

    def cancel(self, operation_id: str) -> Snapshot[T]:
        """Cancels the operation (idempotent; a finished one stays as it ended): a pending one
        at once, a running one is asked to stop and waited for briefly."""
        entry = self._entry(operation_id)
        return self._board.cancel(
            operation_id,
            lambda: entry.snapshot,
            lambda _: self._update(entry, state=State.CANCELLED, stage="cancelled"),
            wait_seconds=10,
        )

    def watch(self, operation_id: str, is_active: Callable[[], bool]) -> Iterator[Snapshot[T]]:
        """Every change of the operation, from its current state until it ends."""
        entry = self._entry(operation_id)
        return self._board.watch(lambda: entry.snapshot, is_active)

    def close(self) -> None:
        """Cancels what runs, waits for the workers, and ends watches."""
        self._board.close()
        self._pool.shutdown(wait=True, cancel_futures=False)


# weather.common.v1.OperationState numbers (an operation is never INTERRUPTED)
_STATE_NUMBERS = {
    State.QUEUED: 1,
    State.RUNNING: 2,
    State.SUCCEEDED: 3,
    State.FAILED: 4,
    State.CANCELLED: 5,
}


def error_to_pb(error: OperationError) -> Any:
    """The weather.common.v1.OperationError of a stored failure."""
    from weather.common.v1 import operation_pb2

    return operation_pb2.OperationError(
        code=error.code,
        message=error.message,
        field_problems=[
            operation_pb2.FieldProblem(field=f.field, description=f.description)
            for f in error.fields
        ],
    )


def snapshot_to_pb(snapshot: Snapshot[Any]) -> Any:
    """The weather.common.v1.OperationStatus of a snapshot."""
    from google.protobuf import timestamp_pb2
    from weather.common.v1 import operation_pb2

    def stamp(moment: datetime) -> timestamp_pb2.Timestamp:
        message = timestamp_pb2.Timestamp()
        message.FromDatetime(moment)
        return message

    message = operation_pb2.OperationStatus(
        operation_id=snapshot.operation_id,
        state=_STATE_NUMBERS[snapshot.state],  # type: ignore[arg-type]
        progress=snapshot.progress,
        stage=snapshot.stage,
        create_time=stamp(snapshot.create_time),
        update_time=stamp(snapshot.update_time),
    )
    if snapshot.error is not None:
        message.error.CopyFrom(error_to_pb(snapshot.error))
    return message
