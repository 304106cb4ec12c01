"""The shared engine of long-running work: state moves, watch, cancel and stored failures."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator

import pytest
from weather.common.v1 import operation_pb2

from weather_runtime.errors import InvalidArgument, NotFound
from weather_runtime.operations import Operations, Snapshot, snapshot_to_pb
from weather_runtime.work import (
    FINAL,
    Cancelled,
    State,
    can_move,
    check_move,
    failure,
)

Progress = Callable[[str, float], None]


@pytest.fixture
def operations() -> Iterator[Operations[str]]:
    engine: Operations[str] = Operations(1, service="test")
    yield engine
    engine.close()


def _final(operations: Operations[str], snapshot: Snapshot[str]) -> Snapshot[str]:
    """Watches the operation to its end; returns the last snapshot watched."""
    return list(operations.watch(snapshot.operation_id, lambda: True))[-1]


def _until_cancelled(started: threading.Event) -> Callable[[Progress, threading.Event], str]:
    def work(progress: Progress, cancel: threading.Event) -> str:
        started.set()
        cancel.wait(60)
        raise Cancelled()

    return work


def test_state_moves() -> None:
    allowed = [
        (State.QUEUED, State.RUNNING),
        (State.QUEUED, State.CANCELLED),
        (State.RUNNING, State.RUNNING),  # progress
        (State.RUNNING, State.SUCCEEDED),
        (State.RUNNING, State.FAILED),
        (State.RUNNING, State.CANCELLED),
        (State.RUNNING, State.INTERRUPTED),
        (State.INTERRUPTED, State.QUEUED),  # resumed
        (State.INTERRUPTED, State.CANCELLED),
    ]
    for old, new in allowed:
        assert can_move(old, new), (old, new)
        check_move(old, new)
    assert not can_move(State.QUEUED, State.SUCCEEDED)
    assert not can_move(State.INTERRUPTED, State.RUNNING)
    for finished in FINAL:
        for new in State:
            assert not can_move(finished, new), (finished, new)
    with pytest.raises(RuntimeError, match="from SUCCEEDED to CANCELLED"):
        check_move(State.SUCCEEDED, State.CANCELLED)
    # the values are what job records on disk hold
    assert [s.value for s in State] == [
        "QUEUED",
        "RUNNING",
        "SUCCEEDED",
        "FAILED",
        "CANCELLED",
        "INTERRUPTED",
    ]


def test_a_watcher_sees_the_work_to_its_final_state(operations: Operations[str]) -> None:
    gate = threading.Event()

    def work(progress: Progress, cancel: threading.Event) -> str:
        progress("reading", 0.25)
        gate.wait(60)
        progress("writing", 0.75)
        return "done"

    snapshot = operations.submit(work, "test")
    seen: list[Snapshot[str]] = []
    for update in operations.watch(snapshot.operation_id, lambda: True):
        seen.append(update)
        if update.stage == "reading":
            gate.set()
    states = [s.state for s in seen]
    assert states[-1] == State.SUCCEEDED and seen[-1].result == "done"
    assert seen[-1].progress == 1.0
    assert "reading" in [s.stage for s in seen]
    for old, new in itertools.pairwise(states):
        assert can_move(old, new), states
    sequences = [s.sequence for s in seen]
    assert sequences == sorted(set(sequences))  # each change once, in order


def test_a_late_watcher_gets_the_final_state_at_once(operations: Operations[str]) -> None:
    snapshot = operations.submit(lambda progress, cancel: "done", "test")
    final = _final(operations, snapshot)
    late = list(operations.watch(snapshot.operation_id, lambda: True))
    assert late == [final] and final.state == State.SUCCEEDED and final.result == "done"


def test_a_watch_ends_when_its_watcher_leaves(operations: Operations[str]) -> None:
    started = threading.Event()
    snapshot = operations.submit(_until_cancelled(started), "test")
    started.wait(60)
    active = [True]
    updates = []
    for update in operations.watch(snapshot.operation_id, lambda: active[0]):
        updates.append(update)
        active[0] = False  # the client went away
    assert [u.state for u in updates] == [State.RUNNING]
    assert operations.cancel(snapshot.operation_id).state == State.CANCELLED


def test_cancel_is_idempotent(operations: Operations[str]) -> None:
    started = threading.Event()
    running = operations.submit(_until_cancelled(started), "test")
    ran: list[str] = []

    def record(progress: Progress, cancel: threading.Event) -> str:
        ran.append("queued")
        return "x"

    queued = operations.submit(record, "test")
    started.wait(60)
    assert operations.get(queued.operation_id).state == State.QUEUED  # the one slot is taken
    # a queued operation is cancelled at once and never runs
    first = operations.cancel(queued.operation_id)
    assert first.state == State.CANCELLED and first.stage == "cancelled"
    assert operations.cancel(queued.operation_id) == first
    # a running one is asked to stop and waited for
    stopped = operations.cancel(running.operation_id)
    assert stopped.state == State.CANCELLED
    assert operations.cancel(running.operation_id) == stopped
    assert _final(operations, queued) == first and not ran
    with pytest.raises(NotFound):
        operations.cancel("nope")


def test_a_cancel_after_the_end_changes_nothing(operations: Operations[str]) -> None:
    def fails(progress: Progress, cancel: threading.Event) -> str:
        raise InvalidArgument.field("source_uri", "no such file")

    for work in (lambda progress, cancel: "done", fails):
        final = _final(operations, operations.submit(work, "test"))
        assert final.state in (State.SUCCEEDED, State.FAILED)
        assert operations.cancel(final.operation_id) == final  # not even a new sequence
        assert operations.get(final.operation_id) == final


def test_errors_are_stored_as_status_codes_without_stacks(operations: Operations[str]) -> None:
    def invalid(progress: Progress, cancel: threading.Event) -> str:
        raise InvalidArgument.field("source_uri", "no such file")

    def broken(progress: Progress, cancel: threading.Event) -> str:
        raise ValueError("secret detail /etc/hidden")

    bad = _final(operations, operations.submit(invalid, "test"))
    assert bad.state == State.FAILED and bad.stage == "failed" and bad.error is not None
    assert bad.error.code == "INVALID_ARGUMENT"
    assert [(f.field, f.description) for f in bad.error.fields] == [("source_uri", "no such file")]
    crashed = _final(operations, operations.submit(broken, "test"))
    assert crashed.error is not None and crashed.error.code == "INTERNAL"
    assert crashed.error.message.startswith("internal error (reference ")
    assert "secret" not in crashed.error.message and "Traceback" not in crashed.error.message
    # outside a trace the reference is the work's id; the log named is the caller's
    stored = failure(RuntimeError("boom"), "job", "job-7", "the trainer log")
    assert stored.message == "internal error (reference job-7); see the trainer log"


def test_the_proto_states(operations: Operations[str]) -> None:
    started = threading.Event()
    running = operations.submit(_until_cancelled(started), "test")
    queued = operations.submit(lambda progress, cancel: "x", "test")
    assert snapshot_to_pb(queued).state == operation_pb2.OPERATION_STATE_PENDING
    started.wait(60)
    running_pb = snapshot_to_pb(operations.get(running.operation_id))
    assert running_pb.state == operation_pb2.OPERATION_STATE_RUNNING
    cancelled = snapshot_to_pb(operations.cancel(running.operation_id))
    assert cancelled.state == operation_pb2.OPERATION_STATE_CANCELLED
    assert snapshot_to_pb(_final(operations, queued)).state == (
        operation_pb2.OPERATION_STATE_SUCCEEDED
    )


def test_close_cancels_what_runs_and_what_waits() -> None:
    operations: Operations[str] = Operations(1, service="test")
    started = threading.Event()
    running = operations.submit(_until_cancelled(started), "test")
    queued = operations.submit(lambda progress, cancel: "x", "test")
    started.wait(60)
    operations.close()
    assert operations.get(running.operation_id).state == State.CANCELLED
    assert operations.get(queued.operation_id).state == State.CANCELLED
