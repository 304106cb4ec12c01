"""kill -9 a Dask worker mid-build: same hashes, or UNAVAILABLE with nothing left; retry matches."""

# A real `dask scheduler` with two `dask worker` processes; the kill helpers are the ingest
# test's (tests/ingest/test_worker_kill.py). Nothing left: no dataset, statistics or record.

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import xarray as xr
from weather.common.v1 import operation_pb2
from weather.preprocess.v1 import preprocess_service_pb2 as pb
from weather.preprocess.v1 import preprocess_service_pb2_grpc as pb_grpc

from tests.ingest.test_worker_kill import (
    DEFAULT_ALLOWED_FAILURES,
    TERMINAL,
    DaskCluster,
    dask_cluster,
    kill_mid_compute,
)
from tests.preprocess.conftest import DATA, ingest_into
from tests.preprocess.test_build import era5_recipe
from weather_data.archive import Archive
from weather_data.cluster import DaskRuntime, DaskSettings
from weather_preprocess.server import build_preprocess_server
from weather_preprocess.settings import PreprocessSettings
from weather_runtime.errors import NotFound
from weather_runtime.identity import with_actor
from weather_runtime.server import ManagedServer

OUTPUT = "era5-train"


@dataclass
class PreprocessServer:
    """A preprocess server on loopback computing on the cluster (PREPROCESS_DASK_SCHEDULER)."""

    server: ManagedServer
    stub: pb_grpc.PreprocessServiceStub
    channel: grpc.Channel
    archive: Path

    def start(self) -> str:
        started = self.stub.StartBuild(pb.StartBuildRequest(recipe=era5_recipe()))
        return str(started.operation.operation_id)

    def running(self, operation_id: str) -> Callable[[], bool]:
        request = pb.GetOperationRequest(operation_id=operation_id)
        return lambda: self.stub.GetOperation(request).operation.state not in TERMINAL

    def wait(self, operation_id: str, timeout: float = 180) -> pb.GetOperationResponse:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.stub.GetOperation(pb.GetOperationRequest(operation_id=operation_id))
            if got.operation.state in TERMINAL:
                return got  # type: ignore[no-any-return]
            time.sleep(0.05)
        raise AssertionError(f"operation {operation_id} did not end in {timeout} s")

    def artefacts(self) -> list[str]:
        """Statistics and build records in the archive (JSON artefacts beside the datasets)."""
        return sorted(
            f"{kind}/{p.name}"
            for kind in ("statistics", "builds")
            if (self.archive / kind).exists()
            for p in (self.archive / kind).iterdir()
        )

    def stores(self) -> list[str]:
        folder = self.archive / "datasets" / OUTPUT / "data"
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@contextmanager
def preprocess_server(archive: Path, scheduler: str) -> Iterator[PreprocessServer]:
    settings = PreprocessSettings(
        host="127.0.0.1",
        port=0,
        metrics_port=-1,
        archive_url=str(archive),
        dask_scheduler=scheduler,
    )  # type: ignore[call-arg]
    server, port = build_preprocess_server(settings)
    server.start()
    channel = with_actor(grpc.insecure_channel(f"127.0.0.1:{port}"), "tester")
    try:
        yield PreprocessServer(server, pb_grpc.PreprocessServiceStub(channel), channel, archive)
    finally:
        channel.close()
        server.stop(5)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    with dask_cluster(tmp_path_factory.mktemp("dask")) as running:
        yield running


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, cluster: DaskCluster) -> Path:
    """An archive holding era5 (the bundled ERA5 GRIB), ingested on the cluster."""
    archive = tmp_path_factory.mktemp("seeded") / "archive"
    runtime = DaskRuntime(DaskSettings(scheduler_address=cluster.address))
    try:
        ingest_into(archive, runtime, DATA / "era5-2mt-2019-03-uk.grib", "era5")
    finally:
        runtime.close()
    return archive


@pytest.fixture(scope="module")
def undisturbed(
    seeded: Path, tmp_path_factory: pytest.TempPathFactory, cluster: DaskCluster
) -> pb.BuildResult:
    """The result of a build no kill disturbed, on its own copy of the seeded archive."""
    archive = tmp_path_factory.mktemp("undisturbed") / "archive"
    shutil.copytree(seeded, archive)
    with preprocess_server(archive, cluster.address) as served:
        done = served.wait(served.start())
    assert done.operation.state == operation_pb2.OPERATION_STATE_SUCCEEDED, done.operation.error
    return done.build


@pytest.fixture
def served(seeded: Path, tmp_path: Path, cluster: DaskCluster) -> Iterator[PreprocessServer]:
    """A server on a private copy of the seeded archive; the cluster restored afterwards."""
    archive = tmp_path / "archive"
    shutil.copytree(seeded, archive)
    cluster.wait_for_workers(2)
    with preprocess_server(archive, cluster.address) as running:
        yield running
    cluster.allow_failures(DEFAULT_ALLOWED_FAILURES)
    cluster.wait_for_workers(2)


def _same_build(build: pb.BuildResult, undisturbed: pb.BuildResult) -> None:
    assert build.dataset.ref.content_hash == undisturbed.dataset.ref.content_hash
    assert build.statistics.stats_hash == undisturbed.statistics.stats_hash


def test_a_worker_killed_mid_build_costs_nothing(
    cluster: DaskCluster, served: PreprocessServer, undisturbed: pb.BuildResult
) -> None:
    operation_id = served.start()
    kill = kill_mid_compute(cluster, served.running(operation_id), attempts=3)
    assert kill is not None and kill.landed, kill
    done = served.wait(operation_id)
    state = operation_pb2.OperationState.Name(done.operation.state)
    print(f"\nworker kill mid-build: {kill}, outcome {state}")
    assert done.operation.state == operation_pb2.OPERATION_STATE_SUCCEEDED, done.operation.error
    _same_build(done.build, undisturbed)
    assert served.stores() == [done.build.dataset.store_uri.rstrip("/").rsplit("/", 1)[-1]]
    xr.testing.assert_identical(
        xr.open_zarr(done.build.dataset.store_uri, consolidated=False).load(),
        xr.open_zarr(undisturbed.dataset.store_uri, consolidated=False).load(),
    )
    again = served.wait(served.start())
    assert again.build.reused
    _same_build(again.build, undisturbed)


def test_a_build_whose_worker_dies_past_allowed_failures_fails_cleanly_and_a_retry_succeeds(
    cluster: DaskCluster, served: PreprocessServer, undisturbed: pb.BuildResult
) -> None:
    before = served.artefacts()
    cluster.allow_failures(0)  # the first death of a worker running a task errs the task
    operation_id = served.start()
    kill = kill_mid_compute(cluster, served.running(operation_id), attempts=3)
    assert kill is not None and kill.landed, kill
    done = served.wait(operation_id)
    error = done.operation.error
    print(f"\nworker kill mid-build, allowed-failures 0: {kill}, {error.code}: {error.message}")
    assert done.operation.state == operation_pb2.OPERATION_STATE_FAILED
    assert error.code == "UNAVAILABLE", error
    assert "a Dask worker died" in error.message and "retry" in error.message
    assert "Traceback" not in error.message
    # nothing of the failed build: no dataset listed or found by name, no store, no artefact
    archive = Archive(str(served.archive))
    assert OUTPUT not in archive.dataset_ids()
    with pytest.raises(NotFound):
        archive.get(OUTPUT)
    assert served.stores() == []
    assert served.artefacts() == before

    cluster.allow_failures(DEFAULT_ALLOWED_FAILURES)
    cluster.wait_for_workers(2)  # the nanny restarted the killed worker
    retried = served.wait(served.start())
    assert retried.operation.state == operation_pb2.OPERATION_STATE_SUCCEEDED, (
        retried.operation.error
    )
    assert not retried.build.reused
    _same_build(retried.build, undisturbed)
    assert archive.versions(OUTPUT) == [1]
    assert served.stores() == [retried.build.dataset.store_uri.rstrip("/").rsplit("/", 1)[-1]]
