"""Grids and layouts real archives have: one variable per file, levels with surface fields,
6-hourly and daily steps, 0..360 longitudes with descending latitudes, Zarr v2 and v3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pandas as pd
import xarray as xr
from weather.common.v1 import operation_pb2
from weather.ingest.v1 import ingest_service_pb2 as pb

from tests.ingest.conftest import ERAINT, RunningIngest
from tests.registry.helpers import rpc_error, violated_fields
from weather_data.archive import Archive

SUCCEEDED = operation_pb2.OPERATION_STATE_SUCCEEDED
FAILED = operation_pb2.OPERATION_STATE_FAILED


def _global(steps: int = 2, freq: str = "6h", start: str = "2020-01-01") -> xr.Dataset:
    """Real values: ERA-Interim z, u, v on a 30 x 45 degree global grid (latitudes descending
    from 90, longitudes from -180), on pressure levels, with a surface field beside them."""
    with xr.open_dataset(ERAINT) as source:
        part = source.isel(latitude=slice(0, 241, 40), longitude=slice(0, 480, 60)).load()
    part = part.rename({"month": "time"}).assign_coords(
        time=pd.date_range(start, periods=2, freq=freq)
    )
    part = xr.concat([part] * (steps // 2), "time") if steps > 2 else part.isel(time=slice(steps))
    part = part.assign_coords(time=pd.date_range(start, periods=steps, freq=freq))
    part["level"].attrs = {"units": "hPa"}
    coslat = np.cos(np.deg2rad(part.latitude.values))[:, None]
    surface = 100_500.0 + 1_000.0 * coslat * np.cos(np.deg2rad(part.longitude.values))[None, :]
    part["msl"] = (("time", "latitude", "longitude"), np.broadcast_to(surface, (steps, 7, 8)))
    part["msl"].attrs = {"units": "Pa"}
    for name in part.data_vars:
        part[name].encoding = {}
    return part


def _run(ingest: RunningIngest, sources: list[Path], dataset_id: str, **fields: object) -> Any:
    first, *more = sources
    return ingest.run(
        pb.StartIngestRequest(
            source_uri=str(first),
            source_uris=[str(p) for p in more],
            dataset_id=dataset_id,
            **fields,  # type: ignore[arg-type]
        )
    )


def _ok(ingest: RunningIngest, sources: list[Path], dataset_id: str, **fields: object) -> Any:
    done = _run(ingest, sources, dataset_id, **fields)
    assert done.operation.state == SUCCEEDED, done.operation.error
    return done.result


def _netcdf(ds: xr.Dataset, path: Path) -> Path:
    ds.to_netcdf(path)
    return path


def test_zarr_v2_and_v3_sources(ingest: RunningIngest) -> None:
    ds = _global()
    netcdf = _ok(ingest, [_netcdf(ds, ingest.scratch / "g.nc")], "from-netcdf")
    for version in (2, 3):
        store = ingest.scratch / f"g{version}.zarr"
        ds.to_zarr(store, zarr_format=version, consolidated=False)
        assert (store / (".zgroup" if version == 2 else "zarr.json")).exists()
        zarr = _ok(ingest, [store], f"from-zarr{version}")
        assert zarr.source.format == "zarr"
        assert zarr.ref.content_hash == netcdf.ref.content_hash, version


def test_global_grid_0_360_with_descending_latitudes(ingest: RunningIngest) -> None:
    ds = _global()
    assert ds.latitude.values[0] == 90 and ds.longitude.values[0] == -180
    east = ds.assign_coords(longitude=ds.longitude.values % 360).sortby("longitude")
    assert east.longitude.values.tolist() == [0, 45, 90, 135, 180, 225, 270, 315]
    result = _ok(ingest, [_netcdf(east, ingest.scratch / "east.nc")], "east")
    dims = {d.name: d for d in result.dimensions}
    assert (dims["longitude"].min, dims["longitude"].max) == (-180.0, 135.0)
    assert (dims["latitude"].min, dims["latitude"].max) == (-90.0, 90.0)
    stored = xr.open_zarr(result.store_uri, consolidated=False)
    assert np.all(np.diff(stored.longitude.values) > 0) and np.all(np.diff(stored.latitude) > 0)
    np.testing.assert_array_equal(
        stored.z.sel(longitude=-90.0, latitude=30.0).values,
        east.z.sel(longitude=270.0, latitude=30.0).values.astype("float32"),
    )
    west = _ok(ingest, [_netcdf(ds, ingest.scratch / "west.nc")], "west")
    assert west.ref.content_hash == result.ref.content_hash  # one canonical form for both


def test_pressure_levels_and_surface_fields_together(ingest: RunningIngest) -> None:
    path = _netcdf(_global(), ingest.scratch / "mixed.nc")
    result = _ok(ingest, [path], "mixed", levels=[500.0])
    assert {v.name: v.units for v in result.variables} == {
        "z": "m**2 s**-2",
        "u": "m s**-1",
        "v": "m s**-1",
        "msl": "Pa",
    }
    stored = xr.open_zarr(result.store_uri, consolidated=False)
    assert stored.z.dims == ("time", "level", "latitude", "longitude")
    assert stored.level.values.tolist() == [500.0]
    assert stored.msl.dims == ("time", "latitude", "longitude")
    source = xr.open_dataset(path)
    np.testing.assert_allclose(
        stored.msl.values, source.msl.sortby("latitude").values.astype("float32")
    )


def test_six_hourly_and_daily_steps(ingest: RunningIngest) -> None:
    for freq, seconds in (("6h", 21_600.0), ("D", 86_400.0)):
        path = _netcdf(_global(steps=4, freq=freq), ingest.scratch / f"steps-{freq}.nc")
        result = _ok(ingest, [path], f"steps-{freq.lower()}")
        assert (result.time_steps, result.time_step.ToSeconds()) == (4, seconds)
        stored = xr.open_zarr(result.store_uri, consolidated=False)
        assert np.all(np.diff(stored.time.values) == np.timedelta64(int(seconds), "s"))


def test_one_variable_per_file(ingest: RunningIngest) -> None:
    ds = _global()
    whole = _ok(ingest, [_netcdf(ds, ingest.scratch / "whole.nc")], "whole")
    files = [_netcdf(ds[[name]], ingest.scratch / f"{name}.nc") for name in ds.data_vars]
    merged = _ok(ingest, files, "merged")
    assert merged.ref.content_hash == whole.ref.content_hash
    assert merged.source.size_bytes == sum(p.stat().st_size for p in files)
    provenance = Archive(str(ingest.archive)).get("merged").extra
    assert json.loads(provenance["source_uris"]) == [str(p) for p in files[1:]]
    assert Archive(str(ingest.archive)).get("whole").extra == {}
    shuffled = _ok(ingest, files[::-1], "shuffled")
    assert {v.name for v in shuffled.variables} == {"z", "u", "v", "msl"}
    stored = xr.open_zarr(shuffled.store_uri, consolidated=False)
    expected = xr.open_zarr(whole.store_uri, consolidated=False)
    for name in ("z", "msl"):
        np.testing.assert_array_equal(stored[name].values, expected[name].values)


def test_consecutive_periods_in_several_files(ingest: RunningIngest) -> None:
    ds = _global(steps=4)
    whole = _ok(ingest, [_netcdf(ds, ingest.scratch / "all.nc")], "all")
    later = _netcdf(ds.isel(time=slice(2, 4)), ingest.scratch / "later.nc")
    earlier = _netcdf(ds.isel(time=slice(0, 2)), ingest.scratch / "earlier.nc")
    joined = _ok(ingest, [later, earlier], "joined")  # in any order
    assert joined.ref.content_hash == whole.ref.content_hash


def test_sources_that_do_not_merge_name_their_field(ingest: RunningIngest) -> None:
    ds = _global(steps=4)
    base = _netcdf(ds[["z"]], ingest.scratch / "z.nc")
    cases = {
        "coarse.nc": ds[["u"]].isel(latitude=slice(0, 7, 2)),  # another grid
        "overlap.nc": ds[["z"]].isel(time=slice(3, 4)),  # a step z.nc has
        "short.nc": ds[["u"]].isel(time=slice(0, 3)),  # other times than z.nc's
        "static.nc": ds[["u"]].isel(time=0).drop_vars("time"),  # no time axis
    }
    for name, part in cases.items():
        done = _run(ingest, [base, _netcdf(part, ingest.scratch / name)], "bad")
        assert done.operation.state == FAILED, name
        error = done.operation.error
        assert (error.code, [p.field for p in error.field_problems]) == (
            "INVALID_ARGUMENT",
            ["source_uris[0]"],
        ), (name, error)
    hinted = _run(  # a hint that fits source_uri but not the other source says which one
        ingest,
        [
            _netcdf(ds[["z"]].rename(time="time_index"), ingest.scratch / "zi.nc"),
            _netcdf(ds[["u"]], ingest.scratch / "u.nc"),
        ],
        "bad",
        time_decoding=pb.TimeDecoding(variable="time_index"),
    )
    assert [p.field for p in hinted.operation.error.field_problems] == ["time_decoding.variable"]
    assert "(in source_uris[0])" in hinted.operation.error.message
    for others in (["/etc/passwd"], [str(base)]):  # outside the roots; the same file twice
        refused = rpc_error(
            ingest.stub.StartIngest,
            pb.StartIngestRequest(source_uri=str(base), source_uris=others, dataset_id="bad"),
        )
        assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert violated_fields(refused) == ["source_uris[0]"]
    missing = rpc_error(
        ingest.stub.StartIngest,
        pb.StartIngestRequest(
            source_uri=str(base), source_uris=[str(ingest.scratch / "none.nc")], dataset_id="bad"
        ),
    )
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    assert ingest.stub.ListDatasets(pb.ListDatasetsRequest()).datasets == []
    assert not (ingest.archive / "datasets" / "bad").exists() or not [
        p for p in (ingest.archive / "datasets" / "bad").rglob("*") if p.is_file()
    ]
