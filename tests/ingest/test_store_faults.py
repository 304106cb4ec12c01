"""Ingest into an archive that fills up or turns read-only: a clean status naming the store,
nothing half-written visible, earlier datasets intact, and a retry that succeeds once it is fixed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from google.protobuf import timestamp_pb2
from weather.common.v1 import field_pb2, operation_pb2
from weather.ingest.v1 import ingest_service_pb2 as pb

import weather_data.chunks
import weather_data.writer
from tests.faults_fs import FaultyStore, faulty_store, lift_file_size_limit, limit_file_size
from tests.ingest.conftest import GRIB, RunningIngest, start_ingest
from tests.registry.helpers import rpc_error
from weather_data.archive import Archive
from weather_data.cluster import DaskRuntime

pytestmark = pytest.mark.timeout(300)
States = operation_pb2


@dataclass
class Setup:
    """An ingest server whose archive is a FaultyStore, and the Dask cluster it writes with."""

    ingest: RunningIngest
    store: FaultyStore
    runtime: DaskRuntime


@pytest.fixture
def setup(tmp_path: Path, dask_runtime: DaskRuntime) -> Iterator[Setup]:
    with faulty_store(tmp_path / "archive", 16 * 2**20) as store:
        ingest = start_ingest(tmp_path, dask_runtime)
        try:
            yield Setup(ingest, store, dask_runtime)
        finally:
            ingest.channel.close()
            ingest.server.stop(5)
            if not store.mounted:  # the chmod+rlimit fallback
                dask_runtime.client().run(lift_file_size_limit)


def noise_source(path: Path, steps: int) -> Path:
    """A NetCDF of random hourly fields (incompressible: about 80 KB per step on disk)."""
    rng = np.random.default_rng(steps)
    field = rng.normal(280, 5, (steps, 100, 100)).astype("float32")
    xr.Dataset(
        {
            "a": (("time", "lat", "lon"), field, {"units": "K"}),
            "b": (("time", "lat", "lon"), field[::-1].copy(), {"units": "K"}),
        },
        coords={
            "time": pd.date_range("2021-01-01", periods=steps, freq="h"),
            "lat": ("lat", np.linspace(40, 60, 100), {"units": "degrees_north"}),
            "lon": ("lon", np.linspace(-10, 10, 100), {"units": "degrees_east"}),
        },
    ).to_netcdf(path)
    return path


def ingest_earlier(setup: Setup) -> tuple[dict[str, str], str]:
    """Ingests the demo GRIB as era5: the archive's files (with their sha256) and its hash."""
    done = setup.ingest.run(pb.StartIngestRequest(source_uri=str(GRIB), dataset_id="era5"))
    assert done.operation.state == States.OPERATION_STATE_SUCCEEDED, done.operation.error
    return setup.store.files(), done.result.ref.content_hash


def assert_clean_failure(
    done: pb.WatchOperationResponse, code: str, reason: str, store: FaultyStore
) -> None:
    error = done.operation.error
    assert done.operation.state == States.OPERATION_STATE_FAILED
    assert error.code == code, error
    assert str(store.path) in error.message and reason in error.message, error.message
    assert "Traceback" not in error.message


def assert_invisible(setup: Setup, dataset_id: str) -> None:
    stub = setup.ingest.stub
    missing = rpc_error(stub.GetDataset, pb.GetDatasetRequest(dataset_id=dataset_id))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    listed = [m.ref.dataset_id for m in stub.ListDatasets(pb.ListDatasetsRequest()).datasets]
    assert listed == ["era5"]


def assert_intact(setup: Setup, files: dict[str, str], content_hash: str) -> None:
    """The earlier dataset: the same files and bytes, its manifest and its data readable."""
    now = setup.store.files()
    assert {k: v for k, v in now.items() if k in files} == files
    got = setup.ingest.stub.GetDataset(pb.GetDatasetRequest(dataset_id="era5")).manifest
    assert got.ref.content_hash == content_hash
    archive = Archive(str(setup.store.path))
    values = archive.open(archive.get("era5"))["t2m"].values
    assert values.shape[0] == got.time_steps and np.isfinite(values).all()


def unreferenced(store: FaultyStore) -> list[str]:
    """Files no committed manifest accounts for (half-written data, pending manifests)."""
    archive = Archive(str(store.path))
    stores = {
        archive.get(i, v).store_path for i in archive.dataset_ids() for v in archive.versions(i)
    }
    return [
        name
        for name in store.files()
        if not any(name.startswith(s + "/") for s in stores)
        and not (name.split("/")[2:3] == ["versions"] and "/." not in name)
    ]


def append_next_hour(setup: Setup) -> pb.AppendStepsResponse:
    """Appends to era5 one more hour (its last field again) through AppendSteps."""
    archive = Archive(str(setup.store.path))
    ds = archive.open(archive.get("era5"))
    last = ds["t2m"].isel(time=-1).values.astype("<f4")
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(int(pd.Timestamp(ds["time"].values[-1]).value) + 3600 * 10**9)
    field = field_pb2.GriddedField(
        variable="t2m",
        units="K",
        shape=list(last.shape),
        dtype=field_pb2.DATA_TYPE_FLOAT32,
        data=last.tobytes(),
    )
    messages = [
        pb.AppendStepsRequest(header=pb.AppendHeader(dataset_id="era5")),
        pb.AppendStepsRequest(step=pb.TimeStep(time=stamp, fields=[field])),
    ]
    answer: pb.AppendStepsResponse = setup.ingest.stub.AppendSteps(iter(messages))
    return answer


def assert_append_refused(setup: Setup, code: grpc.StatusCode, reason: str) -> None:
    error = rpc_error(lambda: append_next_hour(setup))
    assert error.code() == code, error.details()
    assert str(setup.store.path) in error.details() and reason in error.details()


def test_a_full_archive_fails_cleanly_and_a_retry_succeeds_once_there_is_room(
    setup: Setup,
) -> None:
    files, content_hash = ingest_earlier(setup)
    source = noise_source(setup.ingest.scratch / "noise.nc", 60)  # about 5 MB in the archive

    def limit_workers(size: int) -> None:
        setup.runtime.client().run(limit_file_size, size)

    setup.store.make_full(2**20, limit_workers)  # room for a fifth of it
    started = time.monotonic()
    done = setup.ingest.run(pb.StartIngestRequest(source_uri=str(source), dataset_id="noise"))
    failed_after = time.monotonic() - started
    full_reason = "No space left on device" if setup.store.mounted else "File too large"
    assert_clean_failure(done, "RESOURCE_EXHAUSTED", full_reason, setup.store)
    assert_invisible(setup, "noise")
    assert unreferenced(setup.store) == []  # the partial copy is gone, even on a full disk
    assert_intact(setup, files, content_hash)
    if setup.store.mounted:  # appends write in the server: a file size limit there is no test
        setup.store.make_full(4096)  # one page: an append rewrites a chunk and two zarr.json
        assert_append_refused(setup, grpc.StatusCode.RESOURCE_EXHAUSTED, full_reason)
        assert_intact(setup, files, content_hash)

    setup.store.make_roomy(lambda: setup.runtime.client().run(lift_file_size_limit))
    again = setup.ingest.run(pb.StartIngestRequest(source_uri=str(source), dataset_id="noise"))
    assert again.operation.state == States.OPERATION_STATE_SUCCEEDED, again.operation.error
    assert unreferenced(setup.store) == []
    assert_intact(setup, files, content_hash)
    print(f"\nfull archive: {done.operation.error.code} after {failed_after:.1f} s, retry ok")


def test_a_read_only_archive_fails_cleanly_before_and_during_a_write(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    files, content_hash = ingest_earlier(setup)
    source = noise_source(setup.ingest.scratch / "noise.nc", 60)
    unwritable = "Read-only file system" if setup.store.mounted else "Permission denied"

    setup.store.make_unwritable()  # before the ingest starts
    done = setup.ingest.run(pb.StartIngestRequest(source_uri=str(source), dataset_id="noise"))
    assert_clean_failure(done, "FAILED_PRECONDITION", unwritable, setup.store)
    assert setup.store.files() == files  # nothing written at all
    assert_append_refused(setup, grpc.StatusCode.FAILED_PRECONDITION, unwritable)
    assert_intact(setup, files, content_hash)
    setup.store.make_writable()

    # one step per chunk and per batch: a write of 120 tasks, read-only after its first chunks
    monkeypatch.setattr(weather_data.chunks, "TARGET_CHUNK_BYTES", 100 * 100 * 4)
    monkeypatch.setattr(weather_data.writer, "BATCH_BYTES", 1)
    started = setup.ingest.stub.StartIngest(
        pb.StartIngestRequest(source_uri=str(source), dataset_id="noise")
    ).operation
    data = setup.store.path / "datasets" / "noise" / "data"
    deadline = time.monotonic() + 120
    while len([p for p in data.rglob("c/*/0/0") if p.is_file()]) < 4:
        assert time.monotonic() < deadline, "the write never started"
        time.sleep(0.005)
    setup.store.make_unwritable()  # while the workers write
    ended = setup.ingest.wait(started.operation_id, timeout=120)
    done = pb.WatchOperationResponse(operation=ended.operation)
    assert_clean_failure(done, "FAILED_PRECONDITION", unwritable, setup.store)
    assert_invisible(setup, "noise")  # its chunks may still be there, but no manifest names them
    assert_intact(setup, files, content_hash)

    setup.store.make_writable()
    again = setup.ingest.run(pb.StartIngestRequest(source_uri=str(source), dataset_id="noise"))
    assert again.operation.state == States.OPERATION_STATE_SUCCEEDED, again.operation.error
    assert unreferenced(setup.store) == []  # the retry removed what the failed write left
    assert_intact(setup, files, content_hash)
    appended = append_next_hour(setup)  # appends work again too
    assert (appended.appended, appended.manifest.version) == (1, 2)
