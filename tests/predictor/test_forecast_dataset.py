"""Forecast from a dataset reference: the window is read from a tiny Zarr archive."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import xarray as xr
from google.protobuf import duration_pb2, timestamp_pb2
from weather.common.v1 import dataset_pb2
from weather.predictor.v1 import predictor_service_pb2 as pb

from tests.modelserver.support import LAT, LON, STEPS, VARIABLE
from tests.predictor.conftest import FORECAST
from tests.predictor.support import (
    INIT,
    LATITUDES,
    LONGITUDES,
    RunningPredictor,
    model_output,
    rolled_out,
    rpc_error,
    selector,
    to_array,
)
from weather_data.archive import Archive
from weather_data.manifest import Manifest
from weather_data.writer import describe, now_iso

DATASET = "tiny-t2m"
CONTENT_HASH = "sha256:" + "c" * 64
HOURS = 10


def _build_archive(root: Path, longitudes: list[float] = LONGITUDES) -> np.ndarray:
    """One dataset version of HOURS hourly steps ending at INIT + 5 h; returns its values."""
    archive = Archive(str(root))
    times = pd.date_range(pd.Timestamp(INIT - 4 * 3600, unit="s"), periods=HOURS, freq="h")
    values = np.random.default_rng(7).normal(280, 4, (HOURS, LAT, LON)).astype(np.float32)
    ds = xr.Dataset(
        {VARIABLE: (("time", "latitude", "longitude"), values, {"units": "K"})},
        coords={"time": times, "latitude": LATITUDES, "longitude": longitudes},
    )
    store_path = archive.new_store_path(DATASET)
    ds.to_zarr(archive.store_url(store_path), mode="w", consolidated=False)
    variables, dimensions, facts = describe(ds, {}, {})
    archive.commit(
        Manifest(
            dataset_id=DATASET,
            version=1,
            content_hash=CONTENT_HASH,
            store_path=store_path,
            variables=variables,
            dimensions=dimensions,
            time_start=str(facts["time_start"]),
            time_end=str(facts["time_end"]),
            time_steps=HOURS,
            time_step_seconds=3600.0,
            source_uri="memory://test",
            source_format="test",
            source_size=0,
            create_time=now_iso(),
            created_by="tests",
            size_bytes=int(str(facts["size_bytes"])),
        )
    )
    return values


def _request(
    init: int, content_hash: str = CONTENT_HASH, dataset: str = DATASET
) -> pb.ForecastRequest:
    return pb.ForecastRequest(
        model=selector(FORECAST),
        init_time=timestamp_pb2.Timestamp(seconds=init),
        lead_times=[duration_pb2.Duration(seconds=3600), duration_pb2.Duration(seconds=4 * 3600)],
        dataset=dataset_pb2.DatasetRef(dataset_id=dataset, content_hash=content_hash),
    )


def test_forecast_reads_the_window_ending_at_init_time(
    predictors: Callable[..., RunningPredictor], tmp_path: Path
) -> None:
    values = _build_archive(tmp_path / "archive")
    predictor = predictors(archive_url=str(tmp_path / "archive"))
    responses = list(predictor.stub.Forecast(_request(INIT), timeout=30))
    window = values[1:5]  # steps INIT-3h .. INIT
    assert [r.method for r in responses] == [pb.FORECAST_METHOD_DIRECT, pb.FORECAST_METHOD_ROLLOUT]
    np.testing.assert_allclose(
        to_array(responses[0].outputs[0]), model_output(window, INIT, 1.0, 1.0), rtol=1e-5
    )
    np.testing.assert_allclose(to_array(responses[1].outputs[0]), rolled_out(window, 4), rtol=1e-5)
    assert window.shape == (STEPS, LAT, LON)


def test_init_time_outside_the_dataset_is_out_of_range(
    predictors: Callable[..., RunningPredictor], tmp_path: Path
) -> None:
    _build_archive(tmp_path / "archive")
    predictor = predictors(archive_url=str(tmp_path / "archive"))
    too_early = rpc_error(predictor.stub.Forecast, _request(INIT - 3 * 3600 - 3600), timeout=30)
    assert too_early.code() == grpc.StatusCode.OUT_OF_RANGE
    assert "needs 4 steps" in (too_early.details() or "")
    after = rpc_error(predictor.stub.Forecast, _request(INIT + 100 * 3600), timeout=30)
    assert after.code() == grpc.StatusCode.OUT_OF_RANGE
    assert "not a time step" in (after.details() or "")


def test_unknown_dataset_or_content_hash_is_not_found(
    predictors: Callable[..., RunningPredictor], tmp_path: Path
) -> None:
    _build_archive(tmp_path / "archive")
    predictor = predictors(archive_url=str(tmp_path / "archive"))
    for request in (_request(INIT, dataset="missing"), _request(INIT, "sha256:" + "0" * 64)):
        error = rpc_error(predictor.stub.Forecast, request, timeout=30)
        assert error.code() == grpc.StatusCode.NOT_FOUND, error.details()


def test_a_dataset_on_another_grid_is_a_failed_precondition(
    predictors: Callable[..., RunningPredictor], tmp_path: Path
) -> None:
    _build_archive(tmp_path / "archive", [x + 10 for x in LONGITUDES])
    predictor = predictors(archive_url=str(tmp_path / "archive"))
    error = rpc_error(predictor.stub.Forecast, _request(INIT), timeout=30)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "longitude" in (error.details() or "")
