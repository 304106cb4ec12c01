"""A real `dask scheduler` and two `dask worker` processes: ingest gives the local-cluster result."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import xarray as xr
from distributed import Client
from weather.common.v1 import operation_pb2
from weather.ingest.v1 import ingest_service_pb2 as pb

from tests.ingest.conftest import GRIB, NAVY, RunningIngest, start_ingest
from weather_data.cluster import DaskRuntime, DaskSettings
from weatherctl.launcher import DaskProcesses


@pytest.fixture(scope="module")
def dask_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The scheduler's address, with two single-threaded worker processes connected.

    The same `dask scheduler` and `dask worker` commands `weatherctl up` runs.
    """
    folder = tmp_path_factory.mktemp("dask")
    processes = DaskProcesses(folder, workers=2)
    try:
        address = processes.start(folder, timeout=60)
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        processes.stop()


def test_ingest_on_a_real_cluster_equals_the_local_result(
    dask_processes: str, ingest: RunningIngest, tmp_path: Path
) -> None:
    runtime = DaskRuntime(DaskSettings(scheduler_address=dask_processes))
    remote = start_ingest(tmp_path / "remote", runtime)
    try:
        with Client(dask_processes, timeout=30) as client:
            workers = client.scheduler_info()["workers"]
        assert len(workers) == 2
        for source, dataset_id in [(NAVY, "navy"), (GRIB, "era5")]:
            request = pb.StartIngestRequest(source_uri=str(source), dataset_id=dataset_id)
            on_cluster = remote.run(request)
            local = ingest.run(request)
            assert on_cluster.operation.state == operation_pb2.OPERATION_STATE_SUCCEEDED, (
                on_cluster.operation.error
            )
            assert on_cluster.result.ref.content_hash == local.result.ref.content_hash
            xr.testing.assert_identical(
                xr.open_zarr(on_cluster.result.store_uri, consolidated=False).load(),
                xr.open_zarr(local.result.store_uri, consolidated=False).load(),
            )
    finally:
        remote.server.stop(5)
        runtime.close()


def test_preprocess_on_a_real_cluster_equals_the_local_result(
    dask_processes: str, dask_runtime: DaskRuntime, tmp_path: Path
) -> None:
    from weather.preprocess.v1 import preprocess_service_pb2 as ppb

    from tests.preprocess.conftest import ingest_into, start_preprocess
    from tests.preprocess.test_build import era5_recipe

    results = []
    remote_runtime = DaskRuntime(DaskSettings(scheduler_address=dask_processes))
    for name, runtime in (("local", dask_runtime), ("cluster", remote_runtime)):
        archive = tmp_path / name / "archive"
        ingest_into(archive, runtime, GRIB, "era5")
        running = start_preprocess(archive, runtime)
        try:
            done = running.run(running.stub.StartBuild(ppb.StartBuildRequest(recipe=era5_recipe())))
            assert done.operation.state == operation_pb2.OPERATION_STATE_SUCCEEDED, (
                done.operation.error
            )
            results.append(done.build)
        finally:
            running.server.stop(5)
    remote_runtime.close()
    local, cluster = results
    assert cluster.dataset.ref.content_hash == local.dataset.ref.content_hash
    assert cluster.statistics.stats_hash == local.statistics.stats_hash
