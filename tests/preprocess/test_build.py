"""Training datasets from recipes over real gRPC: splits, statistics on train only, no-op rebuilds."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
import xarray as xr
from google.protobuf import timestamp_pb2
from weather.common.v1 import dataset_pb2, operation_pb2
from weather.preprocess.v1 import preprocess_service_pb2 as pb

from tests.preprocess.conftest import DATA, RunningPreprocess, ref
from tests.registry.helpers import rpc_error, violated_fields
from weatherctl.recipes import recipe_from_yaml

SUCCEEDED = operation_pb2.OPERATION_STATE_SUCCEEDED


def _range(start: str, end: str) -> dataset_pb2.TimeRange:
    first, last = timestamp_pb2.Timestamp(), timestamp_pb2.Timestamp()
    first.FromJsonString(start)
    last.FromJsonString(end)
    return dataset_pb2.TimeRange(start=first, end=last)


def era5_recipe(**changes: object) -> pb.Recipe:
    recipe = pb.Recipe(
        source=ref("era5"),
        variables=[pb.VariableSpec(name="t2m")],
        derived=[
            pb.DerivedVariable(kind=pb.DERIVED_KIND_TIME_OF_DAY),
            pb.DerivedVariable(kind=pb.DERIVED_KIND_DAY_OF_YEAR),
        ],
        split=pb.Split(
            train=_range("2019-03-01T00:00:00Z", "2019-03-25T00:00:00Z"),
            validation=_range("2019-03-25T00:00:00Z", "2019-03-28T00:00:00Z"),
            test=_range("2019-03-28T00:00:00Z", "2019-04-01T00:00:00Z"),
        ),
        augmentation=pb.Augmentation(seed=7, crop_latitude=16, crop_longitude=16, noise_std=0.01),
        output_dataset_id="era5-train",
    )
    for key, value in changes.items():
        if isinstance(value, list):
            recipe.ClearField(key)
            getattr(recipe, key).extend(value)
        elif hasattr(value, "CopyFrom"):
            getattr(recipe, key).CopyFrom(value)
        else:
            setattr(recipe, key, value)
    return recipe


@pytest.fixture(scope="module")
def era5() -> xr.Dataset:
    ds = xr.open_dataset(
        DATA / "era5-2mt-2019-03-uk.grib", engine="cfgrib", backend_kwargs={"indexpath": ""}
    )
    return ds.isel(latitude=slice(None, None, -1)).load()


def test_build_splits_statistics_and_reuse(preprocess: RunningPreprocess, era5: xr.Dataset) -> None:
    done = preprocess.run(preprocess.stub.StartBuild(pb.StartBuildRequest(recipe=era5_recipe())))
    assert done.operation.state == SUCCEEDED, done.operation.error
    build = done.build
    assert (build.train_steps, build.validation_steps, build.test_steps) == (576, 72, 96)
    assert build.recipe_hash.startswith("sha256:") and not build.reused
    names = sorted(v.name for v in build.dataset.variables)
    assert names == [
        "day_of_year_cos",
        "day_of_year_sin",
        "t2m",
        "time_of_day_cos",
        "time_of_day_sin",
    ]
    t2m = next(e for e in build.statistics.entries if e.variable == "t2m")
    train = era5.t2m.values[:576].astype("float64")
    assert t2m.mean == pytest.approx(train.mean(), rel=1e-6)
    assert t2m.std == pytest.approx(train.std(), rel=1e-5)
    diffs = np.diff(train, axis=0)
    assert t2m.diff_mean == pytest.approx(diffs.mean(), abs=1e-5)
    assert t2m.diff_std == pytest.approx(diffs.std(), rel=1e-5)
    assert t2m.count == train.size
    assert abs(t2m.mean - era5.t2m.values.mean()) > 0.05, (
        "statistics must come from the training split only"
    )
    stored = preprocess.stub.GetStatistics(
        pb.GetStatisticsRequest(stats_hash=build.statistics.stats_hash)
    ).statistics
    assert stored == build.statistics
    again = preprocess.run(preprocess.stub.StartBuild(pb.StartBuildRequest(recipe=era5_recipe())))
    assert again.build.reused
    assert again.build.dataset == build.dataset and again.build.statistics == build.statistics
    tod = xr.open_zarr(build.dataset.store_uri, consolidated=False).time_of_day_sin.values
    assert tod[6] == pytest.approx(1.0, abs=1e-6)  # 06 UTC: a quarter turn


def test_coarsen_and_wind_speed(preprocess: RunningPreprocess) -> None:
    coarse = era5_recipe(
        regrid=pb.Regrid(coarsen=pb.Coarsen(latitude_factor=2, longitude_factor=2)),
        output_dataset_id="coarse",
    )
    done = preprocess.run(preprocess.stub.StartBuild(pb.StartBuildRequest(recipe=coarse)))
    assert done.operation.state == SUCCEEDED, done.operation.error
    sizes = {d.name: d.size for d in done.build.dataset.dimensions}
    assert (sizes["latitude"], sizes["longitude"]) == (16, 24)
    navy = pb.Recipe(
        source=ref("navy"),
        derived=[pb.DerivedVariable(kind=pb.DERIVED_KIND_WIND_SPEED, u="UWND", v="VWND")],
        split=pb.Split(
            train=_range("1982-01-01T00:00:00Z", "1990-01-01T00:00:00Z"),
            test=_range("1990-01-01T00:00:00Z", "1993-01-01T00:00:00Z"),
        ),
        output_dataset_id="navy-train",
    )
    winds = preprocess.run(preprocess.stub.StartBuild(pb.StartBuildRequest(recipe=navy)))
    assert winds.operation.state == SUCCEEDED, winds.operation.error
    stored = xr.open_zarr(winds.build.dataset.store_uri, consolidated=False)
    np.testing.assert_allclose(
        stored.wind_speed.values, np.hypot(stored.UWND.values, stored.VWND.values), rtol=1e-6
    )
    assert stored.wind_speed.attrs["units"] == "m s-1"


def test_recipe_from_yaml_round_trips() -> None:
    text = """
source: {dataset_id: era5}
variables: [{name: t2m}]
split:
  train: {start: "2019-03-01T00:00:00Z", end: "2019-03-25T00:00:00Z"}
augmentation: {seed: 3, noise_std: 0.1}
output_dataset_id: from-yaml
"""
    recipe = recipe_from_yaml(text)
    assert recipe.source.dataset_id == "era5" and recipe.augmentation.seed == 3
    assert recipe.split.train.start.ToJsonString() == "2019-03-01T00:00:00Z"


@pytest.mark.parametrize(
    ("recipe", "field"),
    [
        (era5_recipe(split=pb.Split()), "recipe.split.train"),
        (
            era5_recipe(
                split=pb.Split(
                    train=_range("2019-03-01T00:00:00Z", "2019-03-20T00:00:00Z"),
                    validation=_range("2019-03-19T00:00:00Z", "2019-03-22T00:00:00Z"),
                )
            ),
            "recipe.split.validation",
        ),
        (era5_recipe(variables=[pb.VariableSpec(name="tp")]), "recipe.variables[0].name"),
        (
            era5_recipe(variables=[pb.VariableSpec(name="t2m", levels=[500])]),
            "recipe.variables[0].levels",
        ),
        (era5_recipe(output_dataset_id="bad id"), "recipe.output_dataset_id"),
        (
            era5_recipe(
                regrid=pb.Regrid(coarsen=pb.Coarsen(latitude_factor=0, longitude_factor=2))
            ),
            "recipe.regrid.coarsen",
        ),
        (
            era5_recipe(derived=[pb.DerivedVariable(kind=pb.DERIVED_KIND_WIND_SPEED, u="u10")]),
            "recipe.derived[0]",
        ),
        (
            era5_recipe(
                split=pb.Split(train=_range("2020-01-01T00:00:00Z", "2020-02-01T00:00:00Z"))
            ),
            "recipe.split.train",
        ),
        (
            era5_recipe(period=_range("2021-01-01T00:00:00Z", "2021-02-01T00:00:00Z")),
            "recipe.period",
        ),
    ],
)
def test_bad_recipes_are_refused_at_once(
    preprocess: RunningPreprocess, recipe: pb.Recipe, field: str
) -> None:
    error = rpc_error(preprocess.stub.StartBuild, pb.StartBuildRequest(recipe=recipe))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == [field]


def test_unknown_input_and_pinned_hash(preprocess: RunningPreprocess) -> None:
    missing = rpc_error(
        preprocess.stub.StartBuild, pb.StartBuildRequest(recipe=era5_recipe(source=ref("nope")))
    )
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    pinned = dataset_pb2.DatasetRef(dataset_id="era5", content_hash="sha256:" + "0" * 64)
    stale = rpc_error(
        preprocess.stub.StartBuild, pb.StartBuildRequest(recipe=era5_recipe(source=pinned))
    )
    assert stale.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (
        rpc_error(preprocess.stub.StartBuild, pb.StartBuildRequest()).code()
        == grpc.StatusCode.INVALID_ARGUMENT
    )
