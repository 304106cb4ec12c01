"""Missing values in builds and analyses: NaN-aware statistics, the recipe's missing policy, the
trainer refusing what is left, over real gRPC on a gappy NetCDF-4 file ingested for real."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import xarray as xr
from google.protobuf import json_format
from weather.common.v1 import dataset_pb2, operation_pb2, region_pb2
from weather.preprocess.v1 import preprocess_service_pb2 as pb

from tests.ingest.gappy import CORNERS, FILLED_T2M, NAN_T2M, msl_raw, t2m_values, write_gappy
from tests.preprocess.conftest import RunningPreprocess, ref, start_preprocess
from tests.preprocess.test_build import _range
from tests.registry.helpers import rpc_error, violated_fields
from weather_data.archive import Archive
from weather_data.cluster import DaskRuntime
from weather_ingest.ingest import Ingester
from weather_ingest.requests import build_request
from weather_ingest.source import SourceOptions
from weather_preprocess.convert import recipe_from_pb
from weather_preprocess.recipe_hash import canonical
from weather_runtime.errors import FailedPrecondition
from weather_trainer.data import open_training_data
from weatherctl.recipes import recipe_from_yaml

SUCCEEDED = operation_pb2.OPERATION_STATE_SUCCEEDED
FAILED = operation_pb2.OPERATION_STATE_FAILED
STEPS = 16  # four days, 6-hourly
TRAIN = 8  # the first two days


@pytest.fixture(scope="module")
def gappy_archive(tmp_path_factory: pytest.TempPathFactory, dask_runtime: DaskRuntime) -> Path:
    """An archive holding the gappy file as dataset "gappy", ingested once per module."""
    folder = tmp_path_factory.mktemp("gappy")
    source = folder / "gappy.nc"
    write_gappy(source, steps=STEPS)
    request = build_request(
        source_uri=str(source),
        dataset_id="gappy",
        format="",
        variables=[],
        start=None,
        end=None,
        region=None,
        levels=[],
        units={},
        reference_year=0,
        options=SourceOptions(),
    )
    archive = folder / "archive"
    Ingester(Archive(str(archive)), dask_runtime, [str(folder)]).run(
        request, "fixture", lambda stage, done: None, threading.Event()
    )
    return archive


@pytest.fixture
def gappy(
    gappy_archive: Path, tmp_path: Path, dask_runtime: DaskRuntime
) -> Iterator[RunningPreprocess]:
    archive = tmp_path / "archive"
    shutil.copytree(gappy_archive, archive)
    running = start_preprocess(archive, dask_runtime)
    yield running
    running.channel.close()
    running.server.stop(5)


def _recipe(output: str, variables: tuple[str, ...] = ("t2m",), **changes: Any) -> pb.Recipe:
    recipe = pb.Recipe(
        source=ref("gappy"),
        variables=[pb.VariableSpec(name=n) for n in variables],
        split=pb.Split(
            train=_range("2024-01-01T00:00:00Z", "2024-01-03T00:00:00Z"),
            validation=_range("2024-01-03T00:00:00Z", "2024-01-04T00:00:00Z"),
            test=_range("2024-01-04T00:00:00Z", "2024-01-05T00:00:00Z"),
        ),
        output_dataset_id=output,
    )
    for key, value in changes.items():
        getattr(recipe, key).CopyFrom(value)
    return recipe


def _build(service: RunningPreprocess, recipe: pb.Recipe) -> pb.WatchOperationResponse:
    return service.run(service.stub.StartBuild(pb.StartBuildRequest(recipe=recipe)))


def _policy(policy: int, value: float = 0.0) -> pb.MissingValues:
    return pb.MissingValues(policy=policy, value=value)  # type: ignore[arg-type]


def _stored(service: RunningPreprocess, build: pb.BuildResult) -> xr.Dataset:
    return xr.open_zarr(build.dataset.store_uri, consolidated=False).load()  # type: ignore[no-any-return]


def _t2m() -> np.ndarray:
    """t2m as the archive holds it: gaps NaN."""
    values = t2m_values(STEPS).astype("float64")
    for cell in [*FILLED_T2M, NAN_T2M]:
        values[cell] = np.nan
    return values


def _msl() -> np.ndarray:
    values = msl_raw(STEPS).astype("float64") * 2 + 100000
    for lat_i, lon_i in CORNERS[:2]:
        values[:, lat_i, lon_i] = np.nan
    return values


def test_statistics_skip_gaps_and_the_trainer_refuses_what_is_left(
    gappy: RunningPreprocess,
) -> None:
    done = _build(gappy, _recipe("gappy-kept"))
    assert done.operation.state == SUCCEEDED, done.operation.error
    build = done.build
    assert [(v.name, v.missing_count) for v in build.dataset.variables] == [("t2m", 3)]
    assert build.dataset.missing_count == 3
    (entry,) = build.statistics.entries
    train = _t2m()[:TRAIN]
    diffs = np.diff(train, axis=0)
    assert entry.count == train.size - 3
    assert entry.mean == pytest.approx(np.nanmean(train), rel=1e-6)
    assert entry.std == pytest.approx(np.nanstd(train), rel=1e-5)
    assert entry.diff_mean == pytest.approx(np.nanmean(diffs), abs=1e-5)
    assert entry.diff_std == pytest.approx(np.nanstd(diffs), rel=1e-5)

    with pytest.raises(FailedPrecondition) as refused:
        open_training_data(Archive(str(gappy.archive)), "gappy-kept", "")
    assert "gappy-kept" in str(refused.value) and "t2m: 3" in str(refused.value)
    assert [v.subject for v in refused.value.violations] == ["spec.dataset_id"]


def test_start_training_on_data_with_gaps_is_failed_precondition_naming_it(
    gappy: RunningPreprocess, tmp_path: Path
) -> None:
    from weather.trainer.v1 import trainer_service_pb2 as tpb

    from tests.trainer.service_support import start_trainer

    done = _build(gappy, _recipe("gappy-kept"))
    assert done.operation.state == SUCCEEDED, done.operation.error
    trainer = start_trainer(gappy.archive, tmp_path / "work", None)
    try:
        spec = tpb.JobSpec(
            dataset=dataset_pb2.DatasetRef(dataset_id="gappy-kept"),
            model_family="persistence",
            input_steps=1,
            epochs=1,
        )
        error = rpc_error(trainer.stub.StartTraining, tpb.StartTrainingRequest(spec=spec))
    finally:
        trainer.stop()
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "gappy-kept" in error.details() and "missing values (t2m: 3)" in error.details()


def test_fill_climatology_uses_the_training_split_by_hour_of_day(
    gappy: RunningPreprocess,
) -> None:
    recipe = _recipe(
        "gappy-clim",
        ("t2m", "msl", "tcc"),
        missing=_policy(pb.MISSING_POLICY_FILL_CLIMATOLOGY),
    )
    done = _build(gappy, recipe)
    assert done.operation.state == SUCCEEDED, done.operation.error
    build = done.build
    assert [v.missing_count for v in build.dataset.variables] == [0, 0, 0]
    stored = _stored(gappy, build)
    t2m, msl = _t2m(), _msl()
    out = stored["t2m"].values
    assert not np.isnan(out).any()
    # each gap takes the training mean of its point at its hour of day (steps 4 apart)
    for cell in [*FILLED_T2M, NAN_T2M]:
        step, lat_i, lon_i = cell
        same_hour = t2m[step % 4 : TRAIN : 4, lat_i, lon_i]
        assert out[cell] == pytest.approx(np.nanmean(same_hour), rel=1e-6), cell
    # points with no value at all take the variable's training mean
    for lat_i, lon_i in CORNERS[:2]:
        expected = np.nanmean(msl[:TRAIN])
        np.testing.assert_allclose(stored["msl"].values[:, lat_i, lon_i], expected, rtol=1e-6)
    np.testing.assert_array_equal(stored["tcc"].values, 0.5)
    # present values are untouched; statistics are those of the filled training split
    present = ~np.isnan(t2m)
    np.testing.assert_array_equal(out[present], t2m.astype("float32")[present])
    counts = {e.variable: e.count for e in build.statistics.entries}
    assert counts == {"t2m": TRAIN * 20, "msl": TRAIN * 20, "tcc": TRAIN * 20}
    record = json.loads(
        (gappy.archive / "datasets" / "gappy-clim" / "versions" / "000001.json").read_text()
    )
    assert record["extra"]["missing_policy"] == "fill_climatology"
    assert record["extra"]["missing_filled"] == f"t2m: 3, msl: {STEPS * 2}, tcc: {STEPS * 4}"
    opened = open_training_data(Archive(str(gappy.archive)), "gappy-clim", "")
    assert opened.manifest.dataset_id == "gappy-clim"


def test_fill_mean_and_fill_value(gappy: RunningPreprocess) -> None:
    mean = _build(gappy, _recipe("gappy-mean", missing=_policy(pb.MISSING_POLICY_FILL_MEAN)))
    assert mean.operation.state == SUCCEEDED, mean.operation.error
    out = _stored(gappy, mean.build)["t2m"].values
    t2m = _t2m()
    for cell in [*FILLED_T2M, NAN_T2M]:
        _, lat_i, lon_i = cell
        assert out[cell] == pytest.approx(np.nanmean(t2m[:TRAIN, lat_i, lon_i]), rel=1e-6)

    value = _build(
        gappy,
        _recipe("gappy-value", ("msl",), missing=_policy(pb.MISSING_POLICY_FILL_VALUE, -1.0)),
    )
    assert value.operation.state == SUCCEEDED, value.operation.error
    msl = _stored(gappy, value.build)["msl"].values
    np.testing.assert_array_equal(msl[np.isnan(_msl())], -1.0)
    assert value.build.recipe_hash != mean.build.recipe_hash


def test_drop_time_steps_keeps_the_split_periods(gappy: RunningPreprocess) -> None:
    done = _build(gappy, _recipe("gappy-drop", missing=_policy(pb.MISSING_POLICY_DROP_TIME_STEPS)))
    assert done.operation.state == SUCCEEDED, done.operation.error
    build = done.build
    assert (build.train_steps, build.validation_steps, build.test_steps) == (TRAIN - 3, 4, 4)
    stored = _stored(gappy, build)
    dropped = {cell[0] for cell in [*FILLED_T2M, NAN_T2M]}
    assert stored.sizes["time"] == STEPS - len(dropped)
    assert not np.isnan(stored["t2m"].values).any()
    opened = open_training_data(Archive(str(gappy.archive)), "gappy-drop", "")
    assert opened.gapped and opened.step_seconds == 6 * 3600  # the spacing most steps keep

    every = _build(
        gappy,
        _recipe("gappy-none", ("t2m", "msl"), missing=_policy(pb.MISSING_POLICY_DROP_TIME_STEPS)),
    )
    assert every.operation.state == FAILED
    assert [p.field for p in every.operation.error.field_problems] == ["recipe.missing"]


def test_fail_policy_and_an_empty_training_split_name_their_field(
    gappy: RunningPreprocess,
) -> None:
    failed = _build(gappy, _recipe("gappy-fail", missing=_policy(pb.MISSING_POLICY_FAIL)))
    error = failed.operation.error
    assert (failed.operation.state, error.code) == (FAILED, "INVALID_ARGUMENT")
    assert [p.field for p in error.field_problems] == ["recipe.missing"]
    assert "t2m: 3" in error.message

    corner = region_pb2.Region(lat_min=49.5, lat_max=50.5, lon_min=-0.5, lon_max=0.5)
    empty = _build(gappy, _recipe("gappy-corner", ("tcc",), region=corner))
    assert empty.operation.state == FAILED
    assert [p.field for p in empty.operation.error.field_problems] == ["recipe.split.train"]
    assert "tcc has no value in the training split" in empty.operation.error.message
    assert not (gappy.archive / "datasets" / "gappy-fail").exists()
    assert not (gappy.archive / "datasets" / "gappy-corner").exists()


@pytest.mark.parametrize(
    ("missing", "field"),
    [
        (pb.MissingValues(), "recipe.missing.policy"),
        (_policy(pb.MISSING_POLICY_FILL_VALUE, float("nan")), "recipe.missing.value"),
        (_policy(pb.MISSING_POLICY_FILL_VALUE, 1e39), "recipe.missing.value"),
    ],
)
def test_bad_missing_policies_are_refused_at_once(
    gappy: RunningPreprocess, missing: pb.MissingValues, field: str
) -> None:
    recipe = _recipe("gappy-bad", missing=missing)
    error = rpc_error(gappy.stub.StartBuild, pb.StartBuildRequest(recipe=recipe))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == [field]


def test_the_policy_enters_the_hash_only_when_set() -> None:
    plain = _recipe("x")
    assert "missing" not in canonical(recipe_from_pb(plain))
    for policy in (pb.MISSING_POLICY_FILL_MEAN, pb.MISSING_POLICY_FILL_VALUE):
        recipe = _recipe("x", missing=_policy(policy, 2.5))
        recipe.ClearField("output_dataset_id")
        proto_json = json_format.MessageToDict(recipe, preserving_proto_field_name=True)
        assert canonical(recipe_from_pb(recipe)) == proto_json
    short = recipe_from_yaml("source: {dataset_id: gappy}\nmissing: {policy: fill_climatology}\n")
    assert short.missing.policy == pb.MISSING_POLICY_FILL_CLIMATOLOGY


def test_analyses_skip_gaps(gappy: RunningPreprocess) -> None:
    def analyse(kind: Any, **fields: Any) -> xr.Dataset:
        request = pb.StartAnalysisRequest(
            source=ref("gappy"), variables=["t2m"], kind=kind, **fields
        )
        done = gappy.run(gappy.stub.StartAnalysis(request))
        assert done.operation.state == SUCCEEDED, done.operation.error
        return xr.open_zarr(done.analysis.dataset.store_uri, consolidated=False).load()  # type: ignore[no-any-return]

    t2m = _t2m()
    clim = analyse(pb.ANALYSIS_KIND_CLIMATOLOGY, calendar=pb.CALENDAR_KEY_HOUR)
    for step, lat_i, lon_i in [*FILLED_T2M, NAN_T2M]:
        hour = (step % 4) * 6
        got = float(clim["t2m"].sel(hour=hour).values[lat_i, lon_i])
        assert got == pytest.approx(np.nanmean(t2m[step % 4 :: 4, lat_i, lon_i]), rel=1e-6)
    assert not np.isnan(clim["t2m"].values).any()

    anomalies = analyse(pb.ANALYSIS_KIND_ANOMALIES, calendar=pb.CALENDAR_KEY_HOUR)["t2m"].values
    np.testing.assert_array_equal(np.isnan(anomalies), np.isnan(t2m))  # gaps stay gaps
    step, lat_i, lon_i = 5, *FILLED_T2M[0][1:]  # hour 6, at the point with a gap at hour 0
    expected = t2m[step, lat_i, lon_i] - np.nanmean(t2m[1::4, lat_i, lon_i])
    assert anomalies[step, lat_i, lon_i] == pytest.approx(expected, abs=1e-4)

    trend = analyse(pb.ANALYSIS_KIND_TREND)
    _, lat_i, lon_i = FILLED_T2M[0]
    series = t2m[:, lat_i, lon_i]
    valid = ~np.isnan(series)
    years = np.arange(STEPS)[valid] * 0.25 / 365.2425
    slope = np.polyfit(years, series[valid], 1)[0]
    assert int(trend["t2m_count"].values[lat_i, lon_i]) == STEPS - 1
    assert float(trend["t2m_slope"].values[lat_i, lon_i]) == pytest.approx(slope, rel=1e-4)
