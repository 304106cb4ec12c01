"""WatchEvents streams registry changes as they commit, resumes by sequence, and is bounded."""

from __future__ import annotations

import queue
import threading
import time

import grpc
from weather.registry.v1 import registry_service_pb2 as pb

from tests.conftest import RunningRegistry, start_registry
from tests.registry.helpers import make_artifact, metric, rpc_error, version_request


def _collect(call: grpc.Future, into: queue.Queue) -> threading.Thread:  # type: ignore[type-arg]
    def run() -> None:
        try:
            for message in call:  # type: ignore[attr-defined]
                into.put(message.event)
        except grpc.RpcError as exc:
            into.put(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _take(events: queue.Queue, count: int, timeout: float = 10) -> list[pb.RegistryEvent]:  # type: ignore[type-arg]
    out: list[pb.RegistryEvent] = []
    deadline = time.monotonic() + timeout
    while len(out) < count:
        item = events.get(timeout=max(0.01, deadline - time.monotonic()))
        assert not isinstance(item, grpc.RpcError), item
        out.append(item)
    return out


def test_watch_sees_new_versions_and_alias_moves_then_resumes(registry: RunningRegistry) -> None:
    stub = registry.stub
    stub.CreateRegisteredModel(pb.CreateRegisteredModelRequest(name="t2m"))
    stub.CreateRegisteredModel(pb.CreateRegisteredModelRequest(name="other"))
    events: queue.Queue = queue.Queue()  # type: ignore[type-arg]
    call = stub.WatchEvents(pb.WatchEventsRequest(model_name="t2m"))
    _collect(call, events)
    time.sleep(0.3)  # the watch starts from "now"
    artifact = make_artifact(registry.artifact_root, "v")
    good = [metric("rmse", value=0.1, persistence=1.0)]
    stub.CreateModelVersion(version_request("other", artifact))
    stub.CreateModelVersion(version_request("t2m", artifact, metrics=good))
    stub.CreateModelVersion(version_request("t2m", artifact, metrics=good))
    stub.SetAlias(pb.SetAliasRequest(model_name="t2m", alias="production", version=1))
    stub.SetAlias(pb.SetAliasRequest(model_name="t2m", alias="production", version=2))
    received = _take(events, 4)
    call.cancel()
    assert [(e.type, e.version, e.alias, e.previous_version) for e in received] == [
        (pb.EVENT_TYPE_VERSION_CREATED, 1, "", 0),
        (pb.EVENT_TYPE_VERSION_CREATED, 2, "", 0),
        (pb.EVENT_TYPE_ALIAS_SET, 1, "production", 0),
        (pb.EVENT_TYPE_ALIAS_SET, 2, "production", 1),
    ]
    assert all(e.model_name == "t2m" and e.actor == "tester" for e in received)
    sequences = [e.sequence for e in received]
    assert sequences == sorted(sequences)

    # resume after the second event: the stored ones come first, in order
    replay = stub.WatchEvents(
        pb.WatchEventsRequest(model_name="t2m", start_after_sequence=sequences[1])
    )
    again: queue.Queue = queue.Queue()  # type: ignore[type-arg]
    _collect(replay, again)
    assert [e.sequence for e in _take(again, 2)] == sequences[2:]
    replay.cancel()

    # from the beginning, unfiltered: every event including model creations
    everything = stub.WatchEvents(pb.WatchEventsRequest(start_after_sequence=0))
    all_events: queue.Queue = queue.Queue()  # type: ignore[type-arg]
    _collect(everything, all_events)
    types = [e.type for e in _take(all_events, 7)]
    everything.cancel()
    assert types[:2] == [pb.EVENT_TYPE_MODEL_CREATED, pb.EVENT_TYPE_MODEL_CREATED]


def test_watchers_are_bounded(tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "a"
    root.mkdir()
    running = start_registry(f"sqlite:///{tmp_path / 'r.db'}", root, max_watchers=2)
    try:
        calls = [running.stub.WatchEvents(pb.WatchEventsRequest()) for _ in range(2)]
        sinks = [queue.Queue() for _ in calls]  # type: ignore[var-annotated]
        for call, sink in zip(calls, sinks, strict=True):
            _collect(call, sink)
        time.sleep(0.5)
        third = running.stub.WatchEvents(pb.WatchEventsRequest())
        error = rpc_error(lambda: next(third))
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        calls[0].cancel()
        time.sleep(0.6)  # the cancelled watcher notices within a poll period
        fourth = running.stub.WatchEvents(pb.WatchEventsRequest())
        running.stub.CreateRegisteredModel(pb.CreateRegisteredModelRequest(name="late"))
        assert next(fourth).event.model_name == "late"
        fourth.cancel()
        calls[1].cancel()
    finally:
        running.server.stop(1)


def test_shutdown_ends_watch_streams_promptly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "a"
    root.mkdir()
    running = start_registry(f"sqlite:///{tmp_path / 'r.db'}", root)
    sink: queue.Queue = queue.Queue()  # type: ignore[type-arg]
    thread = _collect(running.stub.WatchEvents(pb.WatchEventsRequest()), sink)
    time.sleep(0.3)
    started = time.monotonic()
    running.server.stop(grace=30)
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert time.monotonic() - started < 5, "a watch stream held the shutdown for its whole grace"
