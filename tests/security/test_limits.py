"""Request limits: operations and jobs per caller, time steps and grid points per request."""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import grpc
import numpy as np
import pytest
import xarray as xr
from google.protobuf import timestamp_pb2
from weather.common.v1 import dataset_pb2, operation_pb2
from weather.ingest.v1 import ingest_service_pb2 as pb
from weather.ingest.v1 import ingest_service_pb2_grpc as pb_grpc
from weather.preprocess.v1 import preprocess_service_pb2 as ppb
from weather.preprocess.v1 import preprocess_service_pb2_grpc as ppb_grpc

from tests.preprocess.conftest import ingest_into, ref
from tests.registry.helpers import rpc_error, status_details
from weather_data.archive import Archive
from weather_data.cluster import DaskRuntime, DaskSettings
from weather_data.limits import ExtentLimits
from weather_ingest.server import build_ingest_server
from weather_ingest.settings import IngestSettings
from weather_preprocess.server import build_preprocess_server
from weather_preprocess.settings import PreprocessSettings
from weather_runtime.errors import ResourceExhausted
from weather_runtime.identity import with_actor
from weather_runtime.operations import Cancelled, Operations
from weather_runtime.server import ManagedServer
from weather_runtime.work import State
from weather_trainer.jobs import JobStore
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
        assert {service.get(first.job_id).state, second.state} <= {State.QUEUED, State.RUNNING}
        with pytest.raises(ResourceExhausted) as caught:
            service.start(_spec(), "alice")
        assert caught.value.subject == "TRAINER_MAX_JOBS_PER_CALLER"
        assert "TRAINER_MAX_JOBS_PER_CALLER = 2" in caught.value.message
        assert service.start(_spec(), "alice", validate_only=True) is None  # checks only
        assert service.start(_spec(), "bob") is not None
        assert service.cancel(first.job_id).state == State.CANCELLED  # alice's running job
        assert service.start(_spec(), "alice") is not None
        assert len([r for r in service.list() if r.creator == "alice"]) == 3
    finally:
        service.close()


# time steps and grid points per request

NAVY = Path(__file__).resolve().parents[2] / "data" / "demo" / "monthly_navy_winds.cdf"


def _ingest_server(tmp_path: Path, **limits: int) -> tuple[ManagedServer, grpc.Channel]:
    settings = IngestSettings(
        host="127.0.0.1",
        port=0,
        metrics_port=-1,
        archive_url=str(tmp_path / "archive"),
        allowed_roots=[str(NAVY.parent)],
        **limits,  # type: ignore[arg-type]
    )
    server, port = build_ingest_server(settings, runtime=DaskRuntime(DaskSettings()))
    server.start()
    return server, grpc.insecure_channel(f"127.0.0.1:{port}")


@pytest.mark.parametrize(
    ("limits", "setting"),
    [
        ({"max_time_steps": 12}, "INGEST_MAX_TIME_STEPS"),
        ({"max_grid_points": 100}, "INGEST_MAX_GRID_POINTS"),
    ],
)
def test_ingest_refuses_a_source_above_the_extent_limits(
    tmp_path: Path, limits: dict[str, int], setting: str
) -> None:
    server, channel = _ingest_server(tmp_path, **limits)
    stub = pb_grpc.IngestServiceStub(channel)
    request = pb.StartIngestRequest(source_uri=str(NAVY), dataset_id="navy", validate_only=True)
    try:
        error = rpc_error(stub.StartIngest, request)
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
        assert setting in (error.details() or "")  # type: ignore[attr-defined]
        # started for real, the operation fails the same way and writes nothing
        request.validate_only = False
        started = stub.StartIngest(request).operation
        last = list(
            stub.WatchOperation(pb.WatchOperationRequest(operation_id=started.operation_id))
        )
        assert last[-1].operation.state == operation_pb2.OPERATION_STATE_FAILED
        assert last[-1].operation.error.code == "RESOURCE_EXHAUSTED"
        assert setting in last[-1].operation.error.message
        assert not list((tmp_path / "archive").rglob("*.json"))
    finally:
        channel.close()
        server.stop(5)


def test_ingest_within_the_limits_passes(tmp_path: Path) -> None:
    server, channel = _ingest_server(tmp_path, max_time_steps=100_000, max_grid_points=100_000)
    try:
        ok = pb_grpc.IngestServiceStub(channel).StartIngest(
            pb.StartIngestRequest(source_uri=str(NAVY), dataset_id="navy", validate_only=True)
        )
        assert not ok.HasField("operation")
    finally:
        channel.close()
        server.stop(5)


def test_extent_limits_count_steps_and_points() -> None:
    ds = xr.Dataset({"t": (("time", "level", "latitude", "longitude"), np.zeros((5, 2, 3, 4)))})
    ExtentLimits(5, 24, "X_").check(ds, "the request")
    with pytest.raises(ResourceExhausted, match=r"6 time steps.*X_MAX_TIME_STEPS") as caught:
        ExtentLimits(5, 24, "X_").check(ds.pad(time=(0, 1)), "the request")
    assert caught.value.subject == "X_MAX_TIME_STEPS"
    with pytest.raises(ResourceExhausted, match=r"24 grid points.*X_MAX_GRID_POINTS"):
        ExtentLimits(5, 23, "X_").check(ds, "the request")
    ExtentLimits().check(ds, "no ceilings")
    assert PreprocessSettings(max_time_steps=3).extent_limits() == ExtentLimits(
        3, 50_000_000, "PREPROCESS_"
    )


def test_preprocess_analysis_above_the_time_limit(
    tmp_path: Path, dask_runtime: DaskRuntime
) -> None:
    archive = tmp_path / "archive"
    ingest_into(archive, dask_runtime, NAVY, "navy")
    settings = PreprocessSettings(
        host="127.0.0.1", port=0, metrics_port=-1, archive_url=str(archive), max_time_steps=12
    )
    server, port = build_preprocess_server(settings, runtime=dask_runtime)
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = ppb_grpc.PreprocessServiceStub(channel)
    try:
        error = rpc_error(
            stub.StartAnalysis,
            ppb.StartAnalysisRequest(source=ref("navy"), kind=ppb.ANALYSIS_KIND_TREND),
        )
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
        assert "PREPROCESS_MAX_TIME_STEPS" in (error.details() or "")  # type: ignore[attr-defined]
        # a period within the limit is accepted
        start, end = timestamp_pb2.Timestamp(), timestamp_pb2.Timestamp()
        start.FromJsonString("1985-01-01T00:00:00Z")
        end.FromJsonString("1985-12-31T00:00:00Z")
        ok = stub.StartAnalysis(
            ppb.StartAnalysisRequest(
                source=ref("navy"),
                kind=ppb.ANALYSIS_KIND_TREND,
                period=dataset_pb2.TimeRange(start=start, end=end),
            )
        )
        assert ok.operation.operation_id
    finally:
        channel.close()
        server.stop(5)
