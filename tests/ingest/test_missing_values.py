"""Missing values (_FillValue, missing_value, masked corners, NaN) stay missing and are counted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import netCDF4
import numpy as np
import xarray as xr
from weather.common.v1 import operation_pb2
from weather.ingest.v1 import ingest_service_pb2 as pb

from tests.ingest.conftest import RunningIngest

SUCCEEDED = operation_pb2.OPERATION_STATE_SUCCEEDED
SHAPE = (4, 4, 5)  # time, lat, lon
CORNERS = [(0, 0), (0, -1), (-1, 0), (-1, -1)]


def _write_gappy(path: Path) -> dict[str, np.ndarray]:
    """A NetCDF-4 file as real archives write them; returns where each variable is missing."""
    missing = {name: np.zeros(SHAPE, dtype=bool) for name in ("t2m", "msl", "tcc")}
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        for name, size in zip(("time", "lat", "lon"), SHAPE, strict=True):
            nc.createDimension(name, size)
        time = nc.createVariable("time", "f8", ("time",))
        time.units = "hours since 2024-01-01 00:00"
        time[:] = np.arange(SHAPE[0]) * 6.0
        lat = nc.createVariable("lat", "f4", ("lat",))
        lat.units = "degrees_north"
        lat[:] = [50.0, 51.0, 52.0, 53.0]
        lon = nc.createVariable("lon", "f4", ("lon",))
        lon.units = "degrees_east"
        lon[:] = [0.0, 1.0, 2.0, 3.0, 4.0]

        # float with _FillValue, and a NaN written as data
        t2m = nc.createVariable("t2m", "f4", ("time", "lat", "lon"), fill_value=np.float32(-9999))
        t2m.units = "K"
        values = np.full(SHAPE, 280.0, dtype="f4") + np.arange(SHAPE[2], dtype="f4")
        for cell in ((0, 1, 1), (3, 2, 4)):
            values[cell] = -9999.0
            missing["t2m"][cell] = True
        values[1, 3, 0] = np.nan
        missing["t2m"][1, 3, 0] = True
        t2m.set_auto_maskandscale(False)
        t2m[:] = values

        # packed int16 with missing_value (no _FillValue), corners masked at every step
        msl = nc.createVariable("msl", "i2", ("time", "lat", "lon"))
        msl.units = "Pa"
        msl.scale_factor = 2.0
        msl.add_offset = 100000.0
        msl.missing_value = np.int16(-32767)
        raw = np.arange(np.prod(SHAPE), dtype="i2").reshape(SHAPE)
        for lat_i, lon_i in CORNERS[:2]:
            raw[:, lat_i, lon_i] = -32767
            missing["msl"][:, lat_i, lon_i] = True
        msl.set_auto_maskandscale(False)
        msl[:] = raw

        # a masked array written without any fill value: the netCDF default fill on disk
        tcc = nc.createVariable("tcc", "f4", ("time", "lat", "lon"))
        tcc.units = "1"
        mask = np.zeros(SHAPE, dtype=bool)
        for lat_i, lon_i in CORNERS:
            mask[:, lat_i, lon_i] = True
        missing["tcc"] = mask
        tcc[:] = np.ma.masked_array(np.full(SHAPE, 0.5, dtype="f4"), mask=mask)
    return missing


def test_fill_values_missing_values_masked_corners_and_nan_stay_missing(
    ingest: RunningIngest,
) -> None:
    source = ingest.scratch / "gappy.nc"
    missing = _write_gappy(source)
    with netCDF4.Dataset(source) as nc:  # the unset cells really hold the default fill
        nc.set_auto_mask(False)
        assert "_FillValue" not in nc["tcc"].ncattrs()
        assert np.isclose(nc["tcc"][0, 0, 0], netCDF4.default_fillvals["f4"])

    done = ingest.run(pb.StartIngestRequest(source_uri=str(source), dataset_id="gappy"))
    assert done.operation.state == SUCCEEDED, done.operation.error
    m = done.result
    counts = {v.name: (v.missing_count, v.value_count, v.missing_fraction) for v in m.variables}
    assert counts == {
        "t2m": (3, 80, 3 / 80),
        "msl": (8, 80, 8 / 80),
        "tcc": (16, 80, 16 / 80),
    }
    assert m.missing_count == 27

    stored = xr.open_zarr(m.store_uri, consolidated=False)
    for name, where in missing.items():
        values = stored[name].transpose("time", "latitude", "longitude").values
        np.testing.assert_array_equal(np.isnan(values), where, err_msg=name)
        assert np.isnan(stored[name].encoding["_FillValue"]), name  # NaN marks missing on disk
    raw = np.arange(np.prod(SHAPE), dtype="f4").reshape(SHAPE)
    present = ~missing["msl"]
    np.testing.assert_array_equal(stored["msl"].values[present], (raw * 2 + 100000)[present])
    assert float(stored["tcc"].max()) == 0.5  # no 9.97e36 left anywhere

    # the archived store read back as a source: the same content and the same counts
    copy = ingest.scratch / "gappy.zarr"
    shutil.copytree(m.store_uri, copy)
    again = ingest.run(pb.StartIngestRequest(source_uri=str(copy), dataset_id="gappy-again"))
    assert again.operation.state == SUCCEEDED, again.operation.error
    assert again.result.ref.content_hash == m.ref.content_hash
    assert [(v.name, v.missing_count) for v in again.result.variables] == [
        (v.name, v.missing_count) for v in m.variables
    ]
    stored_manifest = json.loads(
        (ingest.archive / "datasets" / "gappy" / "versions" / "000001.json").read_text()
    )
    assert {v["name"]: v["missing_count"] for v in stored_manifest["variables"]} == {
        "t2m": 3,
        "msl": 8,
        "tcc": 16,
    }


def test_text_where_numbers_belong_names_the_variable(ingest: RunningIngest) -> None:
    source = ingest.scratch / "text-scale.nc"
    with netCDF4.Dataset(source, "w", format="NETCDF4") as nc:
        nc.createDimension("time", 2)
        nc.createDimension("station", 1)
        time = nc.createVariable("time", "f8", ("time",))
        time.units = "hours since 2024-01-01"
        time[:] = [0.0, 1.0]
        t2m = nc.createVariable("t2m", "i2", ("time", "station"))
        t2m.units = "K"
        t2m.set_auto_maskandscale(False)
        t2m[:] = [[28000], [28100]]
        t2m.setncattr_string("scale_factor", "0.01")
    done = ingest.run(pb.StartIngestRequest(source_uri=str(source), dataset_id="bad"))
    error = done.operation.error
    assert done.operation.state == operation_pb2.OPERATION_STATE_FAILED, done
    assert (error.code, [p.field for p in error.field_problems]) == (
        "INVALID_ARGUMENT",
        ["source_uri"],
    )
    assert "variable 't2m' has a non-numeric scale_factor '0.01'" in error.message
    assert ingest.stub.ListDatasets(pb.ListDatasetsRequest()).datasets == []
    assert not (ingest.archive / "datasets" / "bad").exists()
