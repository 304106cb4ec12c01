"""Long-running operations: an id at once, progress to watchers, cancellation, bounded history."""

from __future__ import annotations

import logging
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
from opentelemetry.trace import Status, StatusCode

from weather_runtime import spans
from weather_runtime.domain_metrics import OperationMetrics
from weather_runtime.errors import (
    DomainError,
    FieldViolation,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)
from weather_runtime.logging import current_trace_ids

log = logging.getLogger(__name__)
T = TypeVar("T")


class Cancelled(Exception):
    """Raised by work that noticed its cancel event; the operation ends CANCELLED."""


TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
_UNFINISHED = ("PENDING", "RUNNING")


@dataclass(frozen=True)
class OperationError:
    """Why an operation failed, as a gRPC status code name, message and bad fields."""

    code: str
    message: str
    fields: tuple[FieldViolation, ...] = ()


@dataclass(frozen=True)
class Snapshot(Generic[T]):
    """An operation's state at one moment."""

    operation_id: str
    state: str
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
    cancel: threading.Event = field(default_factory=threading.Event)
    # the trace context of the call that started it, and the name of its span
    context: otel_context.Context | None = None
    name: str = "operation"
    attributes: dict[str, str] = field(default_factory=dict)
    caller: str = ""


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
        self._per_caller_setting = per_caller_setting
        self._pool = ThreadPoolExecutor(max_workers=max_running, thread_name_prefix="operation")
        self._entries: OrderedDict[str, _Entry[T]] = OrderedDict()
        self._cond = threading.Condition()
        self._keep = keep
        self._closed = False
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
        snapshot: Snapshot[T] = Snapshot(uuid.uuid4().hex, "PENDING", 0.0, "queued", now, now)
        entry = _Entry(
            snapshot, context=spans.capture(), name=name, attributes=attributes, caller=caller
        )
        with self._cond:
            if self._closed:
                raise Unavailable("the service is shutting down")
            self._check_caller(caller)
            self._entries[snapshot.operation_id] = entry
            self._kinds.add(name)
            self._trim()
        self._pool.submit(self._run, entry, work)
        return snapshot

    def _check_caller(self, caller: str) -> None:
        """RESOURCE_EXHAUSTED when caller is at the per-caller limit (call holding _cond)."""
        if self._per_caller <= 0 or not caller:
            return
        unfinished = sum(
            1
            for entry in self._entries.values()
            if entry.caller == caller and entry.snapshot.state in _UNFINISHED
        )
        if unfinished >= self._per_caller:
            raise ResourceExhausted(
                f"{caller} has {unfinished} operations pending or running, the limit per caller "
                f"({self._per_caller_setting or 'per_caller'} = {self._per_caller}); retry "
                "when one ends",
                self._per_caller_setting or "operations_per_caller",
            )

    def _update(self, entry: _Entry[T], **changes: object) -> None:
        with self._cond:
            current = entry.snapshot
            entry.snapshot = replace(
                current,
                update_time=datetime.now(tz=UTC),
                sequence=current.sequence + 1,
                **changes,  # type: ignore[arg-type]
            )
            self._cond.notify_all()

    def _run(
        self, entry: _Entry[T], work: Callable[[Callable[[str, float], None], threading.Event], T]
    ) -> None:
        attributes = {"operation.id": entry.snapshot.operation_id, **entry.attributes}
        with spans.attached(entry.context), spans.step(entry.name, **attributes) as span:
            started = time.monotonic()
            self._run_traced(entry, work)
            self._count_finished(entry, time.monotonic() - started)
            span.set_attribute("operation.state", entry.snapshot.state)
            if entry.snapshot.error is not None:
                span.set_status(Status(StatusCode.ERROR, entry.snapshot.error.code))

    def _run_traced(
        self, entry: _Entry[T], work: Callable[[Callable[[str, float], None], threading.Event], T]
    ) -> None:
        if entry.cancel.is_set():
            self._update(entry, state="CANCELLED", stage="cancelled")
            return
        self._update(entry, state="RUNNING", stage="starting")

        def progress(stage: str, fraction: float) -> None:
            self._update(entry, stage=stage, progress=max(0.0, min(1.0, fraction)))

        try:
            result = work(progress, entry.cancel)
        except Cancelled:
            self._update(entry, state="CANCELLED", stage="cancelled")
        except DomainError as exc:
            fields = tuple(exc.violations) if isinstance(exc, InvalidArgument) else ()
            self._update(
                entry,
                state="FAILED",
                stage="failed",
                error=OperationError(exc.code.name, exc.message, fields),
            )
        except Exception:
            reference = current_trace_ids()[0] or entry.snapshot.operation_id
            log.exception("operation %s failed unexpectedly", entry.snapshot.operation_id)
            self._update(
                entry,
                state="FAILED",
                stage="failed",
                error=OperationError(
                    "INTERNAL", f"internal error (reference {reference}); see server log"
                ),
            )
        else:
            if entry.cancel.is_set():
                # finished before the cancel took effect: the result stands
                log.info("operation %s finished before its cancel", entry.snapshot.operation_id)
            self._update(entry, state="SUCCEEDED", stage="done", progress=1.0, result=result)

    def _current(self) -> Iterator[tuple[tuple[str, str, str], float]]:
        """Samples of weather_operations: operations pending and running, by kind."""
        with self._cond:
            counts = {(kind, state): 0 for kind in self._kinds for state in _UNFINISHED}
            for entry in self._entries.values():
                key = (entry.name, entry.snapshot.state)
                if key in counts:
                    counts[key] += 1
        for (kind, state), count in counts.items():
            yield (self._service, kind, state.lower()), count

    def _count_finished(self, entry: _Entry[T], seconds: float) -> None:
        state = entry.snapshot.state
        self._metrics.finished.labels(self._service, entry.name, state.lower()).inc()
        if state == "SUCCEEDED":
            self._metrics.duration.labels(self._service, entry.name).observe(seconds)

    def _trim(self) -> None:
        while len(self._entries) > self._keep:
            oldest_id, oldest = next(iter(self._entries.items()))
            if oldest.snapshot.state not in TERMINAL:
                break
            del self._entries[oldest_id]

    def _entry(self, operation_id: str) -> _Entry[T]:
        with self._cond:
            entry = self._entries.get(operation_id)
        if entry is None:
            raise NotFound("operation", operation_id)
        return entry

    def get(self, operation_id: str) -> Snapshot[T]:
        """The operation's current snapshot."""
        return self._entry(operation_id).snapshot

    def cancel(self, operation_id: str) -> Snapshot[T]:
        """Asks the operation to stop; waits briefly for it to acknowledge."""
        entry = self._entry(operation_id)
        entry.cancel.set()
        with self._cond:
            self._cond.wait_for(
                lambda: entry.snapshot.state in TERMINAL or entry.snapshot.state == "PENDING",
                timeout=10,
            )
            if entry.snapshot.state == "PENDING":
                entry.snapshot = replace(
                    entry.snapshot,
                    state="CANCELLED",
                    stage="cancelled",
                    update_time=datetime.now(tz=UTC),
                    sequence=entry.snapshot.sequence + 1,
                )
                self._cond.notify_all()
            return entry.snapshot

    def watch(self, operation_id: str, is_active: Callable[[], bool]) -> Iterator[Snapshot[T]]:
        """Every change of the operation, from its current state until it ends."""
        entry = self._entry(operation_id)
        seen = -1

        def changed() -> bool:
            return entry.snapshot.sequence != seen or self._closed

        while is_active():
            with self._cond:
                self._cond.wait_for(changed, timeout=1.0)
                snapshot = entry.snapshot
            if snapshot.sequence != seen:
                seen = snapshot.sequence
                yield snapshot
                if snapshot.state in TERMINAL:
                    return
            if self._closed:
                return

    def close(self) -> None:
        """Cancels what runs, waits for the workers, and ends watches."""
        with self._cond:
            self._closed = True
            for entry in self._entries.values():
                entry.cancel.set()
            self._cond.notify_all()
        self._pool.shutdown(wait=True, cancel_futures=False)


_STATE_NUMBERS = {"PENDING": 1, "RUNNING": 2, "SUCCEEDED": 3, "FAILED": 4, "CANCELLED": 5}


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
        message.error.CopyFrom(
            operation_pb2.OperationError(
                code=snapshot.error.code,
                message=snapshot.error.message,
                field_problems=[
                    operation_pb2.FieldProblem(field=f.field, description=f.description)
                    for f in snapshot.error.fields
                ],
            )
        )
    return message
