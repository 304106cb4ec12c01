"""Ingests are operations: an id at once, progress on a watch stream, a clean cancel."""

from __future__ import annotations

import grpc
import pytest
from weather.common.v1 import operation_pb2, pagination_pb2
from weather.ingest.v1 import ingest_service_pb2 as pb

import weather_data.chunks
import weather_data.writer
from tests.ingest.conftest import GRIB, NAVY, RunningIngest
from tests.operation_calls import cancel_while_writing
from tests.registry.helpers import rpc_error, violated_fields

States = operation_pb2


def test_watch_streams_monotonic_progress_to_the_result(ingest: RunningIngest) -> None:
    started = ingest.stub.StartIngest(
        pb.StartIngestRequest(source_uri=str(GRIB), dataset_id="era5")
    )
    assert started.operation.state in (
        States.OPERATION_STATE_PENDING,
        States.OPERATION_STATE_RUNNING,
    )
    assert started.operation.operation_id
    messages = list(
        ingest.stub.WatchOperation(
            pb.WatchOperationRequest(operation_id=started.operation.operation_id), timeout=120
        )
    )
    progress = [m.operation.progress for m in messages]
    assert progress == sorted(progress)
    assert messages[-1].operation.state == States.OPERATION_STATE_SUCCEEDED
    assert messages[-1].result.ref.dataset_id == "era5"
    assert "writing" in {m.operation.stage for m in messages}
    got = ingest.stub.GetOperation(
        pb.GetOperationRequest(operation_id=started.operation.operation_id)
    )
    assert got.result == messages[-1].result


def _big_source(path) -> None:  # type: ignore[no-untyped-def]
    """A synthetic hourly NetCDF of about 160 MB, so an ingest runs for seconds."""
    import numpy as np
    import pandas as pd
    import xarray as xr

    steps = 2000
    rng = np.random.default_rng(0)
    field = rng.normal(280, 5, (steps, 100, 100)).astype("float32")
    xr.Dataset(
        {
            "a": (("time", "lat", "lon"), field, {"units": "K"}),
            "b": (("time", "lat", "lon"), field + 1, {"units": "K"}),
        },
        coords={
            "time": pd.date_range("2020-01-01", periods=steps, freq="h"),
            "lat": ("lat", np.linspace(40, 60, 100), {"units": "degrees_north"}),
            "lon": ("lon", np.linspace(-10, 10, 100), {"units": "degrees_east"}),
        },
    ).to_netcdf(path)


def test_cancel_stops_cleanly_and_leaves_nothing(
    ingest: RunningIngest, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = ingest.scratch / "big.nc"
    _big_source(source)
    # small chunks and batches make this ingest hundreds of Dask tasks: long enough to cancel
    monkeypatch.setattr(weather_data.chunks, "TARGET_CHUNK_BYTES", 100 * 100 * 4 * 4)
    monkeypatch.setattr(weather_data.writer, "BATCH_BYTES", 1)
    started = ingest.stub.StartIngest(
        pb.StartIngestRequest(source_uri=str(source), dataset_id="slow")
    )
    operation_id = started.operation.operation_id
    cancelled = cancel_while_writing(ingest.stub, pb, operation_id, 0.03)
    assert cancelled.state == States.OPERATION_STATE_CANCELLED, cancelled
    assert cancelled.progress < 0.9
    # cancelling again answers the same final status
    again = ingest.stub.CancelOperation(pb.CancelOperationRequest(operation_id=operation_id))
    assert again.operation == cancelled
    data = ingest.archive / "datasets" / "slow"
    assert not [p for p in data.rglob("*") if p.is_file()] if data.exists() else True
    missing = rpc_error(ingest.stub.GetDataset, pb.GetDatasetRequest(dataset_id="slow"))
    assert missing.code() == grpc.StatusCode.NOT_FOUND


def test_unknown_operations_are_not_found(ingest: RunningIngest) -> None:
    for call, request in [
        (ingest.stub.GetOperation, pb.GetOperationRequest(operation_id="nope")),
        (ingest.stub.CancelOperation, pb.CancelOperationRequest(operation_id="nope")),
    ]:
        assert rpc_error(call, request).code() == grpc.StatusCode.NOT_FOUND
    stream = ingest.stub.WatchOperation(pb.WatchOperationRequest(operation_id="nope"))
    assert rpc_error(lambda: next(stream)).code() == grpc.StatusCode.NOT_FOUND


def test_list_and_get_datasets(ingest: RunningIngest) -> None:
    for name in ("navy-a", "navy-b", "navy-c"):
        ingest.run(pb.StartIngestRequest(source_uri=str(NAVY), dataset_id=name, variables=["VWND"]))
    ingest.run(pb.StartIngestRequest(source_uri=str(GRIB), dataset_id="era5"))
    ids: list[str] = []
    token = ""
    while True:
        page = ingest.stub.ListDatasets(
            pb.ListDatasetsRequest(page=pagination_pb2.PageRequest(page_size=2, page_token=token))
        )
        ids += [m.ref.dataset_id for m in page.datasets]
        token = page.page.next_page_token
        if not token:
            break
    assert ids == ["era5", "navy-a", "navy-b", "navy-c"]
    prefix = ingest.stub.ListDatasets(pb.ListDatasetsRequest(id_prefix="navy-")).datasets
    assert [m.ref.dataset_id for m in prefix] == ["navy-a", "navy-b", "navy-c"]
    by_variable = ingest.stub.ListDatasets(pb.ListDatasetsRequest(variable="t2m")).datasets
    assert [m.ref.dataset_id for m in by_variable] == ["era5"]
    same = {m.ref.content_hash for m in prefix}
    assert len(same) == 1, "the same content has the same hash whatever the dataset id"
    assert (
        rpc_error(ingest.stub.GetDataset, pb.GetDatasetRequest(dataset_id="era5", version=7)).code()
        == grpc.StatusCode.NOT_FOUND
    )
    bad = rpc_error(ingest.stub.GetDataset, pb.GetDatasetRequest(dataset_id="era5", version=-1))
    assert violated_fields(bad) == ["version"]
    token_error = rpc_error(
        ingest.stub.ListDatasets,
        pb.ListDatasetsRequest(
            id_prefix="x",
            page=pagination_pb2.PageRequest(page_token=page.page.next_page_token or "bad"),
        ),
    )
    assert violated_fields(token_error) == ["page.page_token"]
