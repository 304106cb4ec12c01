"""Per-caller limits: ingest/preprocess operations and trainer jobs beyond them get RESOURCE_EXHAUSTED."""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import grpc
import pytest
from weather.common.v1 import operation_pb2
from weather.ingest.v1 import ingest_service_pb2 as pb
from weather.ingest.v1 import ingest_service_pb2_grpc as pb_grpc

from tests.registry.helpers import rpc_error, status_details
from weather_data.archive import Archive
from weather_data.cluster import DaskRuntime, DaskSettings
from weather_ingest.server import build_ingest_server
from weather_ingest.settings import IngestSettings
from weather_preprocess.settings import PreprocessSettings
from weather_runtime.errors import ResourceExhausted
from weather_runtime.identity import with_actor
from weather_runtime.operations import Cancelled, Operations
from weather_trainer.jobs import CANCELLED, QUEUED, RUNNING, JobStore
from weather_trainer.service import TrainerService
from weather_trainer.settings import TrainerSettings
from weather_trainer.spec import TrainSpec

TERMINAL = (
    operation_pb2.OPERATION_STATE_SUCCEEDED,
    operation_pb2.OPERATION_STATE_FAILED,
    operation_pb2.OPERATION_STATE_CANCELLED,
)


def test_the_limits_are_settings_with_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    assert IngestSettings().max_operations_per_caller == 8
    assert PreprocessSettings().max_operations_per_caller == 8
    assert TrainerSettings().max_jobs_per_caller == 4
    monkeypatch.setenv("INGEST_MAX_OPERATIONS_PER_CALLER", "3")
    monkeypatch.setenv("PREPROCESS_MAX_OPERATIONS_PER_CALLER", "5")
    monkeypatch.setenv("TRAINER_MAX_JOBS_PER_CALLER", "2")
    assert IngestSettings().max_operations_per_caller == 3
    assert PreprocessSettings().max_operations_per_caller == 5
    assert TrainerSettings().max_jobs_per_caller == 2


def test_the_operations_engine_counts_pending_and_running_per_caller() -> None:
    operations: Operations[str] = Operations(
        1,
        service="preprocess",
        per_caller=2,
        per_caller_setting="PREPROCESS_MAX_OPERATIONS_PER_CALLER",
    )
    gate = threading.Event()

    def work(progress: object, cancel: threading.Event) -> str:
        while not gate.wait(0.05):
            if cancel.is_set():
                raise Cancelled()
        return "done"

    try:
        first = operations.submit(work, "build", caller="alice")
        second = operations.submit(work, "build", caller="alice")  # waits behind the first
        with pytest.raises(ResourceExhausted) as caught:
            operations.submit(work, "build", caller="alice")
        assert "PREPROCESS_MAX_OPERATIONS_PER_CALLER" in caught.value.message
        assert caught.value.subject == "PREPROCESS_MAX_OPERATIONS_PER_CALLER"
        bob = operations.submit(work, "analysis", caller="bob")  # another caller is not held up
        assert operations.cancel(second.operation_id).state == "CANCELLED"
        third = operations.submit(work, "build", caller="alice")  # a slot came back
        gate.set()
        for snapshot in (first, bob, third):
            list(operations.watch(snapshot.operation_id, lambda: True))
            assert operations.get(snapshot.operation_id).state == "SUCCEEDED"
        operations.submit(work, "build", caller="alice")  # finished ones do not count
    finally:
        gate.set()
        operations.close()


def _release(fifo: Path) -> None:
    """Lets a reader blocked on the FIFO go on (it reads an empty file)."""
    try:
        descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno != errno.ENXIO:  # no reader yet
            raise
        return
    os.close(descriptor)


@pytest.fixture
def held_ingest(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """An ingest server whose sources are a FIFO: each ingest blocks opening it until released."""
    root = tmp_path / "incoming"
    root.mkdir()
    fifo = root / "hold.bin"
    os.mkfifo(fifo)
    settings = IngestSettings(
        host="127.0.0.1",
        port=0,
        metrics_port=-1,
        archive_url=str(tmp_path / "archive"),
        allowed_roots=[str(root)],
        max_running=1,
        max_operations_per_caller=2,
    )
    server, port = build_ingest_server(settings, runtime=DaskRuntime(DaskSettings()))
    server.start()
    try:
        yield port, fifo
    finally:
        # an ingest still blocked on the FIFO would hold up the stop: release until it ends
        stopper = threading.Thread(target=server.stop, args=(5,))
        stopper.start()
        while stopper.is_alive():
            _release(fifo)
            stopper.join(0.02)


def test_ingest_operations_per_caller_over_grpc(held_ingest: tuple[int, Path]) -> None:
    port, fifo = held_ingest
    base = grpc.insecure_channel(f"127.0.0.1:{port}")
    alice = pb_grpc.IngestServiceStub(with_actor(base, "alice"))
    bob = pb_grpc.IngestServiceStub(with_actor(base, "bob"))
    request = pb.StartIngestRequest(source_uri=str(fifo), dataset_id="held")
    try:
        started = [alice.StartIngest(request).operation for _ in range(2)]
        error = rpc_error(alice.StartIngest, request)
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
        assert "INGEST_MAX_OPERATIONS_PER_CALLER" in (error.details() or "")  # type: ignore[attr-defined]
        quota = [d for d in status_details(error) if type(d).__name__ == "QuotaFailure"]
        assert quota and quota[0].violations[0].subject == "INGEST_MAX_OPERATIONS_PER_CALLER"  # type: ignore[attr-defined]
        started.append(bob.StartIngest(request).operation)
        # let every held ingest end (each reads an empty file and fails on its format)
        deadline = time.monotonic() + 60
        pending = {op.operation_id for op in started}
        while pending and time.monotonic() < deadline:
            _release(fifo)
            for operation_id in list(pending):
                got = alice.GetOperation(pb.GetOperationRequest(operation_id=operation_id))
                if got.operation.state in TERMINAL:
                    pending.discard(operation_id)
            time.sleep(0.02)
        assert not pending
        again = alice.StartIngest(request).operation  # slots free again
        assert again.operation_id
    finally:
        base.close()


def _spec() -> TrainSpec:
    return TrainSpec(
        dataset_id="any",
        content_hash="",
        model_family="ridge",
        hyperparameters={},
        input_steps=2,
        lead_steps=(1,),
        epochs=1,
        seed=1,
        batch_size=8,
    )


def test_trainer_jobs_per_caller(tmp_path: Path) -> None:
    def train(
        spec: TrainSpec, archive: Archive, workdir: Path, hooks: object, **_: object
    ) -> NoReturn:
        hooks.cancel.wait(60)  # type: ignore[attr-defined]
        raise Cancelled()

    service = TrainerService(
        JobStore(tmp_path / "work"),
        Archive(str(tmp_path / "archive")),
        train=train,
        validate=lambda spec, archive: None,
        max_running=1,
        max_jobs_per_caller=2,
    )
    try:
        first = service.start(_spec(), "alice")
        second = service.start(_spec(), "alice")
        assert first is not None and second is not None
        assert {service.get(first.job_id).state, second.state} <= {QUEUED, RUNNING}
        with pytest.raises(ResourceExhausted) as caught:
            service.start(_spec(), "alice")
        assert caught.value.subject == "TRAINER_MAX_JOBS_PER_CALLER"
        assert "TRAINER_MAX_JOBS_PER_CALLER = 2" in caught.value.message
        assert service.start(_spec(), "alice", validate_only=True) is None  # checks only
        assert service.start(_spec(), "bob") is not None
        assert service.cancel(first.job_id).state == CANCELLED  # alice's running job
        assert service.start(_spec(), "alice") is not None
        assert len([r for r in service.list() if r.creator == "alice"]) == 3
    finally:
        service.close()
