"""Climate analyses over real gRPC: El Nino in the navy winds, climatologies, trends, extremes."""

from __future__ import annotations

import grpc
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from weather.common.v1 import operation_pb2, region_pb2
from weather.preprocess.v1 import preprocess_service_pb2 as pb

from tests.preprocess.conftest import RunningPreprocess, ref
from tests.registry.helpers import rpc_error, violated_fields

SUCCEEDED = operation_pb2.OPERATION_STATE_SUCCEEDED


def _analyse(preprocess: RunningPreprocess, **fields: object) -> pb.AnalysisResult:
    done = preprocess.run(preprocess.stub.StartAnalysis(pb.StartAnalysisRequest(**fields)))  # type: ignore[arg-type]
    assert done.operation.state == SUCCEEDED, done.operation.error
    return done.analysis


def test_el_nino_shows_in_the_equatorial_pacific_wind_anomalies(
    preprocess: RunningPreprocess,
) -> None:
    result = _analyse(
        preprocess,
        source=ref("navy"),
        variables=["UWND"],
        kind=pb.ANALYSIS_KIND_AREA_MEAN,
        named_region="nino4",
        of_anomalies=True,
        output_dataset_id="nino4-uwnd-anomaly",
    )
    series = pd.Series(
        [p.values["UWND"] for p in result.series],
        index=pd.to_datetime([p.time.ToNanoseconds() for p in result.series]),
    )
    assert len(series) == 132
    spread = float(series.std())

    def mean(start: str, end: str) -> float:
        return float(series[start:end].mean())

    # Westerly anomalies (weakened trades) in both El Nino events, easterly in the 1988-89 La Nina
    # (measured here: +1.93, +1.02 and -2.03 m/s against a spread of 1.10 m/s).
    assert mean("1982-09", "1983-02") > max(1.0, spread)
    assert mean("1987-01", "1987-09") > max(0.6, 0.5 * spread)
    assert mean("1988-06", "1989-03") < -max(1.0, spread)
    assert abs(float(series.mean())) < 0.05, (
        "anomalies against the whole-period climatology average to ~0"
    )
    assert (
        result.dataset.ref.dataset_id == "nino4-uwnd-anomaly" and result.dataset.time_steps == 132
    )
    assert "UWND_mean" in result.summary


def test_climatology_trend_and_extremes(preprocess: RunningPreprocess) -> None:
    clim = _analyse(
        preprocess,
        source=ref("navy"),
        kind=pb.ANALYSIS_KIND_CLIMATOLOGY,
        calendar=pb.CALENDAR_KEY_MONTH,
    )
    assert clim.dataset.ref.dataset_id == "navy-climatology"
    dims = {d.name: d.size for d in clim.dataset.dimensions}
    assert dims["month"] == 12 and clim.dataset.time_steps == 0
    stored = xr.open_zarr(clim.dataset.store_uri, consolidated=False)
    source = xr.open_zarr(
        preprocess.archive
        / "datasets"
        / "navy"
        / "data"
        / next((preprocess.archive / "datasets" / "navy" / "data").iterdir()).name,
        consolidated=False,
    )
    january = source.UWND.sel(time=source.time.dt.month == 1).mean("time").values
    np.testing.assert_allclose(stored.UWND.sel(month=1).values, january, rtol=1e-5, atol=1e-5)

    trend = _analyse(
        preprocess, source=ref("navy"), variables=["UWND"], kind=pb.ANALYSIS_KIND_TREND
    )
    assert any(k.endswith("significant_fraction") for k in trend.summary)
    assert (
        0.0
        <= next(v for k, v in trend.summary.items() if k.endswith("significant_fraction"))
        <= 1.0
    )

    extremes = _analyse(
        preprocess,
        source=ref("navy"),
        variables=["UWND"],
        kind=pb.ANALYSIS_KIND_EXTREMES,
        percentiles=[90, 99],
        thresholds=[10.0],
    )
    assert any("p99" in k for k in extremes.summary)

    diurnal = _analyse(
        preprocess,
        source=ref("era5"),
        kind=pb.ANALYSIS_KIND_CLIMATOLOGY,
        calendar=pb.CALENDAR_KEY_HOUR,
        output_dataset_id="era5-hourly-clim",
    )
    assert {d.name: d.size for d in diurnal.dataset.dimensions}["hour"] == 24


def test_region_area_mean_matches_a_hand_computation(preprocess: RunningPreprocess) -> None:
    box = region_pb2.Region(lat_min=50, lat_max=55, lon_min=-5, lon_max=0)
    result = _analyse(
        preprocess,
        source=ref("era5"),
        kind=pb.ANALYSIS_KIND_AREA_MEAN,
        region=box,
        output_dataset_id="uk-mean",
    )
    data = preprocess.archive / "datasets" / "era5" / "data"
    ds = xr.open_zarr(next(data.iterdir()), consolidated=False).sel(
        latitude=slice(50, 55), longitude=slice(-5, 0)
    )
    weights = np.cos(np.deg2rad(ds.latitude.values))[:, None] * np.ones(ds.sizes["longitude"])
    first = float((ds.t2m.isel(time=0).values * weights).sum() / weights.sum())
    assert result.series[0].values["t2m"] == pytest.approx(first, rel=1e-6)


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"source": ref("navy")}, ["kind"]),
        (
            {"source": ref("navy"), "kind": pb.ANALYSIS_KIND_AREA_MEAN, "named_region": "atlantis"},
            ["named_region"],
        ),
        (
            {"source": ref("navy"), "kind": pb.ANALYSIS_KIND_EXTREMES, "percentiles": [120]},
            ["percentiles[0]"],
        ),
        (
            {"source": ref("navy"), "kind": pb.ANALYSIS_KIND_TREND, "variables": ["SST"]},
            ["variables[0]"],
        ),
        (
            {
                "source": ref("navy"),
                "kind": pb.ANALYSIS_KIND_AREA_MEAN,
                "region": region_pb2.Region(lat_min=10, lat_max=-10),
            },
            ["region"],
        ),
    ],
)
def test_bad_analysis_requests(
    preprocess: RunningPreprocess, fields: dict[str, object], bad: list[str]
) -> None:
    error = rpc_error(preprocess.stub.StartAnalysis, pb.StartAnalysisRequest(**fields))  # type: ignore[arg-type]
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == bad


def test_unknown_dataset_and_operation(preprocess: RunningPreprocess) -> None:
    missing = rpc_error(
        preprocess.stub.StartAnalysis,
        pb.StartAnalysisRequest(source=ref("ghost"), kind=pb.ANALYSIS_KIND_TREND),
    )
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    assert (
        rpc_error(preprocess.stub.GetOperation, pb.GetOperationRequest(operation_id="x")).code()
        == grpc.StatusCode.NOT_FOUND
    )
    assert (
        rpc_error(
            preprocess.stub.GetStatistics, pb.GetStatisticsRequest(stats_hash="sha256:00")
        ).code()
        == grpc.StatusCode.NOT_FOUND
    )
