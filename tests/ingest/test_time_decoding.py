"""Time axes xarray cannot decode on its own: the error names the hint, the hint ingests them."""

from __future__ import annotations

from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from weather.common.v1 import operation_pb2
from weather.ingest.v1 import ingest_service_pb2 as pb

from tests.ingest.conftest import NAVY, RunningIngest
from tests.registry.helpers import rpc_error, violated_fields
from weatherctl.main import main

SUCCEEDED = operation_pb2.OPERATION_STATE_SUCCEEDED
FAILED = operation_pb2.OPERATION_STATE_FAILED


def _winds(steps: int = 4) -> np.ndarray:
    """Real values: a 5 x 6 corner of the navy winds' first months (m s-1)."""
    with xr.open_dataset(NAVY) as navy:
        corner = navy.UWND.isel(TIME=slice(0, steps), FNOCY=slice(30, 35), FNOCX=slice(0, 6))
        return np.asarray(corner.values)


def _file(
    path: Path, axis: str, values: np.ndarray, axis_attrs: dict[str, str], **extra: object
) -> np.ndarray:
    """A NetCDF file of the real winds on an undecodable time axis; returns the winds."""
    winds = _winds(len(values))
    ds = xr.Dataset(
        {"UWND": ((axis, "lat", "lon"), winds, {"units": "m s-1"})},
        coords={
            axis: (axis, values, axis_attrs),
            "lat": ("lat", np.arange(5.0) * 2.5 - 15, {"units": "degrees_north"}),
            "lon": ("lon", 20.0 + np.arange(6.0) * 2.5, {"units": "degrees_east"}),
        },
        attrs={k: v for k, v in extra.items() if isinstance(v, str)},
    )
    for name, value in extra.items():
        if not isinstance(value, str):
            ds[name] = value  # type: ignore[assignment]
    ds.to_netcdf(path)
    return winds


def _failed(ingest: RunningIngest, path: Path) -> operation_pb2.OperationError:
    done = ingest.run(pb.StartIngestRequest(source_uri=str(path), dataset_id="t"))
    assert done.operation.state == FAILED, done
    assert ingest.stub.ListDatasets(pb.ListDatasetsRequest()).datasets == []
    return done.operation.error


def _ingested(
    ingest: RunningIngest, path: Path, hints: pb.TimeDecoding, dataset_id: str = "t"
) -> xr.Dataset:
    done = ingest.run(
        pb.StartIngestRequest(source_uri=str(path), dataset_id=dataset_id, time_decoding=hints)
    )
    assert done.operation.state == SUCCEEDED, done.operation.error
    stored: xr.Dataset = xr.open_zarr(done.result.store_uri, consolidated=False)
    return stored


def test_integer_axis_with_units_in_a_global_attribute(ingest: RunningIngest) -> None:
    path = ingest.scratch / "time_index.nc"
    winds = _file(path, "time_index", np.arange(4), {}, time_units="hours since 2020-01-01 00:00")
    error = _failed(ingest, path)
    assert (error.code, [p.field for p in error.field_problems]) == (
        "INVALID_ARGUMENT",
        ["time_decoding"],
    )
    assert "variable 'time_index' looks like one" in error.message
    assert "global attribute 'time_units'" in error.message
    assert "set time_decoding.variable and time_decoding.units" in error.message
    stored = _ingested(ingest, path, pb.TimeDecoding(variable="time_index", units="time_units"))
    assert list(stored.UWND.dims) == ["time", "latitude", "longitude"]
    np.testing.assert_array_equal(
        stored.time.values, pd.date_range("2020-01-01", periods=4, freq="h").values
    )
    np.testing.assert_array_equal(stored.UWND.values, winds)


def test_timestep_axis_with_units_in_another_variable(ingest: RunningIngest) -> None:
    path = ingest.scratch / "timestep.nc"
    units = xr.DataArray("minutes since 1999-12-31 18:00")
    winds = _file(path, "timestep", np.array([360, 720, 1080]), {}, time_units=units)
    error = _failed(ingest, path)
    assert "variable 'time_units' holds 'minutes since 1999-12-31 18:00'" in error.message
    stored = _ingested(ingest, path, pb.TimeDecoding(variable="timestep", units="time_units"))
    np.testing.assert_array_equal(
        stored.time.values, pd.date_range("2000-01-01", periods=3, freq="6h").values
    )
    np.testing.assert_array_equal(stored.UWND.values, winds)


def test_hour_offsets_from_a_reference_time_string(ingest: RunningIngest) -> None:
    path = ingest.scratch / "offsets.nc"
    winds = _file(
        path,
        "step",
        np.array([0, 6, 12, 18]),
        {"units": "hours"},
        reference_time="2020-01-01 00:00",
    )
    error = _failed(ingest, path)
    assert "global attribute 'reference_time' holds '2020-01-01 00:00'" in error.message
    assert "set time_decoding.variable and time_decoding.reference_time" in error.message
    by_attribute = _ingested(
        ingest, path, pb.TimeDecoding(variable="step", reference_time="reference_time")
    )
    six_hourly = pd.date_range("2020-01-01", periods=4, freq="6h").values
    np.testing.assert_array_equal(by_attribute.time.values, six_hourly)
    np.testing.assert_array_equal(by_attribute.UWND.values, winds)
    literal = _ingested(
        ingest,
        path,
        pb.TimeDecoding(reference_time="2019-12-31T00:00", step_units="days"),
        dataset_id="t-days",
    )  # the variable found by its name, the steps read as days
    np.testing.assert_array_equal(
        literal.time.values,
        pd.date_range("2019-12-31", periods=4, freq="6D").values,
    )


def test_time_axis_without_units(ingest: RunningIngest) -> None:
    path = ingest.scratch / "no_units.nc"
    winds = _file(path, "time", np.arange(3), {})
    error = _failed(ingest, path)
    assert (
        "variable 'time' looks like one: set time_decoding.variable and time_decoding.units"
        in error.message
    )
    daily = _ingested(ingest, path, pb.TimeDecoding(units="days since 2021-03-01"))
    np.testing.assert_array_equal(
        daily.time.values, pd.date_range("2021-03-01", periods=3, freq="D").values
    )
    np.testing.assert_array_equal(daily.UWND.values, winds)


def test_renames_name_axes_nothing_else_reveals(ingest: RunningIngest) -> None:
    path = ingest.scratch / "xy.nc"
    winds = _winds(2)
    xr.Dataset(
        {"UWND": (("t", "y", "x"), winds, {"units": "m s-1"})},
        coords={
            "t": ("t", pd.to_datetime(["2020-01-01", "2020-01-02"])),
            "y": ("y", np.arange(5.0) * 2.5 - 15),
            "x": ("x", 20.0 + np.arange(6.0) * 2.5),
        },
    ).to_netcdf(path)
    stored = _ingested(
        ingest, path, pb.TimeDecoding(renames={"y": "latitude", "x": "longitude", "t": "time"})
    )
    assert list(stored.UWND.dims) == ["time", "latitude", "longitude"]
    np.testing.assert_array_equal(stored.latitude.values, np.arange(5.0) * 2.5 - 15)
    np.testing.assert_array_equal(stored.UWND.values, winds)


@pytest.mark.parametrize(
    ("hints", "field"),
    [
        (pb.TimeDecoding(variable="time_idx", units="hours since 2020-01-01"), "variable"),
        (pb.TimeDecoding(variable="time_index", units="fortnights since 2020-01-01"), "units"),
        (pb.TimeDecoding(variable="time_index", units="hours since the flood"), "units"),
        (pb.TimeDecoding(variable="time_index", units="no_such_attribute"), "units"),
        (pb.TimeDecoding(variable="time_index", reference_time="title"), "reference_time"),
        (
            pb.TimeDecoding(variable="time_index", reference_time="2020-01-01", units="x"),
            "reference_time",
        ),
        (pb.TimeDecoding(variable="time_index", step_units="fortnights"), "step_units"),
        (pb.TimeDecoding(variable="UWND", units="hours since 2020-01-01"), "variable"),
        (pb.TimeDecoding(renames={"nothing": "latitude"}), "renames['nothing']"),
    ],
)
def test_hints_that_do_not_fit_name_their_field(
    ingest: RunningIngest, hints: pb.TimeDecoding, field: str
) -> None:
    path = ingest.scratch / "time_index.nc"
    if not path.exists():
        _file(path, "time_index", np.arange(4), {}, title="not a time")
    error = rpc_error(
        ingest.stub.StartIngest,
        pb.StartIngestRequest(
            source_uri=str(path), dataset_id="t", time_decoding=hints, validate_only=True
        ),
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == [f"time_decoding.{field}"]


def test_a_failed_hinted_ingest_stores_nothing(ingest: RunningIngest) -> None:
    path = ingest.scratch / "nan_steps.nc"
    _file(path, "time_index", np.array([0.0, 1.0, np.nan]), {})
    done = ingest.run(
        pb.StartIngestRequest(
            source_uri=str(path),
            dataset_id="t",
            time_decoding=pb.TimeDecoding(variable="time_index", units="hours since 2020-01-01"),
        )
    )
    assert done.operation.state == FAILED
    assert [p.field for p in done.operation.error.field_problems] == ["time_decoding.variable"]
    assert "missing values" in done.operation.error.message
    assert ingest.stub.ListDatasets(pb.ListDatasetsRequest()).datasets == []
    assert not [p for p in (ingest.archive / "datasets").rglob("*") if p.is_file()]


def test_cli_hints(ingest: RunningIngest, capsys: pytest.CaptureFixture[str]) -> None:
    path = ingest.scratch / "cli.nc"
    _file(path, "time_index", np.arange(4), {}, reference_time="2020-01-01 00:00")
    address = f"127.0.0.1:{ingest.port}"
    assert main(["--ingest", address, "ingest", "run", str(path), "--dataset", "c"]) == 1
    assert "time_decoding.reference_time" in capsys.readouterr().err
    hinted = ["--time-variable", "time_index", "--reference-time", "reference_time"]
    command = ["--ingest", address, "ingest", "run", str(path), "--dataset", "c", "--quiet"]
    assert main([*command, *hinted, "--step-units", "days"]) == 0
    line = capsys.readouterr().out
    assert line.startswith("c v1 ") and "time 4 x latitude 5 x longitude 6" in line
