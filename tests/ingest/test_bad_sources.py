"""Bad sources get INVALID_ARGUMENT naming the field, and leave nothing in the archive."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from weather.common.v1 import operation_pb2, region_pb2
from weather.ingest.v1 import ingest_service_pb2 as pb

from tests.ingest.conftest import GRIB, NAVY, RunningIngest
from tests.registry.helpers import rpc_error, violated_fields

FAILED = operation_pb2.OPERATION_STATE_FAILED


def _grid(times: list[str], units: str = "K", name: str = "t2m") -> xr.Dataset:
    data = np.random.default_rng(0).normal(280, 5, (len(times), 3, 4)).astype("float32")
    return xr.Dataset(
        {name: (("time", "lat", "lon"), data, {"units": units})},
        coords={
            "time": pd.to_datetime(times),
            "lat": ("lat", [50.0, 51.0, 52.0], {"units": "degrees_north"}),
            "lon": ("lon", [0.0, 1.0, 2.0, 3.0], {"units": "degrees_east"}),
        },
    )


def _failed(ingest: RunningIngest, source: Path, **fields: object) -> operation_pb2.OperationError:
    done = ingest.run(pb.StartIngestRequest(source_uri=str(source), dataset_id="bad", **fields))  # type: ignore[arg-type]
    assert done.operation.state == FAILED, done
    return done.operation.error


def _nothing_stored(ingest: RunningIngest) -> None:
    dataset = ingest.archive / "datasets" / "bad"
    leftovers = [p for p in dataset.rglob("*")] if dataset.exists() else []
    assert not [p for p in leftovers if p.is_file()], leftovers
    assert ingest.stub.ListDatasets(pb.ListDatasetsRequest()).datasets == []


def test_truncated_grib(ingest: RunningIngest) -> None:
    truncated = ingest.scratch / "cut.grib"
    truncated.write_bytes(GRIB.read_bytes()[:1_500_000])
    error = _failed(ingest, truncated)
    assert error.code == "INVALID_ARGUMENT"
    assert [p.field for p in error.field_problems] == ["source_uri"]
    assert "truncated" in error.message
    _nothing_stored(ingest)


def test_truncated_netcdf_classic(ingest: RunningIngest) -> None:
    truncated = ingest.scratch / "cut.cdf"
    truncated.write_bytes(
        NAVY.read_bytes()[:-376]
    )  # a few values short: netCDF4 would read fill values
    error = _failed(ingest, truncated)
    assert (error.code, [p.field for p in error.field_problems]) == (
        "INVALID_ARGUMENT",
        ["source_uri"],
    )
    assert "truncated" in error.message
    _nothing_stored(ingest)


def test_garbage_is_not_guessed(ingest: RunningIngest) -> None:
    garbage = ingest.scratch / "noise.bin"
    garbage.write_bytes(os.urandom(4096))
    error = _failed(ingest, garbage)
    assert [p.field for p in error.field_problems] == ["format"]


def test_netcdf_without_time(ingest: RunningIngest) -> None:
    static = _grid(["2020-01-01"]).isel(time=0).drop_vars("time")
    path = ingest.scratch / "static.nc"
    static.to_netcdf(path)
    error = _failed(ingest, path)
    assert "no time axis" in error.message and [p.field for p in error.field_problems] == [
        "source_uri"
    ]


def test_duplicate_and_unsorted_times(ingest: RunningIngest) -> None:
    duplicated = ingest.scratch / "dup.nc"
    _grid(["2020-01-01", "2020-01-02", "2020-01-02"]).to_netcdf(duplicated)
    assert "duplicate times" in _failed(ingest, duplicated).message
    unsorted = ingest.scratch / "unsorted.nc"
    _grid(["2020-01-01", "2020-01-03", "2020-01-02"]).to_netcdf(unsorted)
    assert "not sorted" in _failed(ingest, unsorted).message
    _nothing_stored(ingest)


def test_unknown_units(ingest: RunningIngest) -> None:
    path = ingest.scratch / "bananas.nc"
    _grid(["2020-01-01", "2020-01-02"], units="bananas").to_netcdf(path)
    error = _failed(ingest, path)
    assert [p.field for p in error.field_problems] == ["units['t2m']"]
    fixed = ingest.run(
        pb.StartIngestRequest(source_uri=str(path), dataset_id="fixed", units={"t2m": "K"})
    )
    assert fixed.operation.state == operation_pb2.OPERATION_STATE_SUCCEEDED


def test_empty_selections_name_their_field(ingest: RunningIngest) -> None:
    cases: dict[str, dict[str, object]] = {
        "region": {"region": region_pb2.Region(lat_min=-10, lat_max=-5, lon_min=0.5, lon_max=1)},
        "variables[1]": {"variables": ["UWND", "TEMP"]},
        "levels": {"levels": [500.0]},
    }
    for field, extra in cases.items():
        error = _failed(ingest, NAVY, **extra)
        assert [p.field for p in error.field_problems] == [field], (field, error)
    grib_region = _failed(
        ingest, GRIB, region=region_pb2.Region(lat_min=-10, lat_max=-5, lon_min=0, lon_max=1)
    )
    assert [p.field for p in grib_region.field_problems] == ["region"]


def test_validate_only_answers_at_once(ingest: RunningIngest) -> None:
    truncated = ingest.scratch / "cut.grib"
    truncated.write_bytes(GRIB.read_bytes()[:1_000_000])
    error = rpc_error(
        ingest.stub.StartIngest,
        pb.StartIngestRequest(source_uri=str(truncated), dataset_id="bad", validate_only=True),
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["source_uri"]
    ok = ingest.stub.StartIngest(
        pb.StartIngestRequest(source_uri=str(NAVY), dataset_id="x", validate_only=True)
    )
    assert not ok.HasField("operation")
    _nothing_stored(ingest)


def test_paths_outside_the_roots_are_refused_without_being_opened(
    ingest: RunningIngest, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    fifo = outside / "trap.nc"
    os.mkfifo(fifo)  # opening a FIFO for reading blocks: an opened trap would hang the call
    link = ingest.scratch / "link.nc"
    link.symlink_to(fifo)
    for uri in [
        str(fifo),
        f"file://{fifo}",
        str(link),
        f"{ingest.scratch}/../outside/trap.nc",
        "/etc/passwd",
        "http://169.254.169.254/latest",
    ]:
        outcome: dict[str, object] = {}

        def call(uri: str = uri, outcome: dict[str, object] = outcome) -> None:
            outcome["error"] = rpc_error(
                ingest.stub.StartIngest,
                pb.StartIngestRequest(source_uri=uri, dataset_id="bad"),
                timeout=10,
            )

        thread = threading.Thread(target=call)
        thread.start()
        thread.join(15)
        error = outcome["error"]
        assert isinstance(error, grpc.RpcError)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, uri  # type: ignore[attr-defined]
        assert violated_fields(error) == ["source_uri"], uri
    missing = rpc_error(
        ingest.stub.StartIngest,
        pb.StartIngestRequest(source_uri=str(ingest.scratch / "none.nc"), dataset_id="bad"),
    )
    assert missing.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"dataset_id": "has space"}, ["dataset_id"]),
        ({"dataset_id": ""}, ["dataset_id"]),
        ({"levels": [-5.0]}, ["levels[0]"]),
        ({"region": region_pb2.Region(lat_min=10, lat_max=5)}, ["region"]),
        ({"reference_year": 20000}, ["reference_year"]),
        ({"format": 42}, ["format"]),
        ({"source_uri": "relative/path.nc"}, ["source_uri"]),
    ],
)
def test_bad_request_fields(
    ingest: RunningIngest, fields: dict[str, object], bad: list[str]
) -> None:
    request = pb.StartIngestRequest(source_uri=str(NAVY), dataset_id="ok")
    for key, value in fields.items():
        if isinstance(value, region_pb2.Region):
            request.region.CopyFrom(value)
        elif isinstance(value, list):
            getattr(request, key).extend(value)
        else:
            setattr(request, key, value)
    error = rpc_error(ingest.stub.StartIngest, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == bad
