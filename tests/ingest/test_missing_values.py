"""Missing values (_FillValue, missing_value, masked corners, NaN) stay missing and are counted."""

from __future__ import annotations

import json
import shutil

import netCDF4
import numpy as np
import xarray as xr
from weather.common.v1 import operation_pb2
from weather.ingest.v1 import ingest_service_pb2 as pb

from tests.ingest.conftest import RunningIngest
from tests.ingest.gappy import msl_raw, write_gappy
from weatherctl.data_commands import describe_manifest

SUCCEEDED = operation_pb2.OPERATION_STATE_SUCCEEDED


def test_fill_values_missing_values_masked_corners_and_nan_stay_missing(
    ingest: RunningIngest,
) -> None:
    source = ingest.scratch / "gappy.nc"
    missing = write_gappy(source)
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
    assert "msl [Pa] 8 missing (10.0%), tcc [1] 16 missing (20.0%)" in describe_manifest(m)

    stored = xr.open_zarr(m.store_uri, consolidated=False)
    for name, where in missing.items():
        values = stored[name].transpose("time", "latitude", "longitude").values
        np.testing.assert_array_equal(np.isnan(values), where, err_msg=name)
        assert np.isnan(stored[name].encoding["_FillValue"]), name  # NaN marks missing on disk
    raw = msl_raw(4).astype("f4")
    present = ~missing["msl"]
    np.testing.assert_array_equal(stored["msl"].values[present], (raw * 2 + 100000)[present])
    assert float(stored["tcc"].max()) == 0.5  # no 9.97e36 left anywhere

    # the archived store read back as a source: the same content and the same counts
    copy = ingest.scratch / "gappy.zarr"
    shutil.copytree(m.store_uri, copy)
    again = ingest.run(pb.StartIngestRequest(source_uri=str(copy), dataset_id="gappy-again"))
    assert again.operation.state == SUCCEEDED, again.operation.error
    assert again.result.ref.content_hash == m.ref.content_hash
    # (a Zarr source's variables come by name: compare by name)
    assert {v.name: v.missing_count for v in again.result.variables} == {
        v.name: v.missing_count for v in m.variables
    }
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


def test_grib_bitmap_gaps_stay_missing(ingest: RunningIngest) -> None:
    import eccodes  # ecCodes loads only where GRIB is read (the data-plane test process)

    source = ingest.scratch / "bitmap.grib2"
    with source.open("wb") as out:
        for step in range(3):
            handle = eccodes.codes_grib_new_from_samples("regular_ll_sfc_grib2")
            eccodes.codes_set_key_vals(
                handle,
                {
                    "Ni": 4,
                    "Nj": 3,
                    "latitudeOfFirstGridPointInDegrees": 52.0,
                    "latitudeOfLastGridPointInDegrees": 50.0,
                    "longitudeOfFirstGridPointInDegrees": 0.0,
                    "longitudeOfLastGridPointInDegrees": 3.0,
                    "iDirectionIncrementInDegrees": 1.0,
                    "jDirectionIncrementInDegrees": 1.0,
                    "dataDate": 20240101,
                    "dataTime": step * 100,
                    "shortName": "2t",
                },
            )
            eccodes.codes_set(handle, "bitmapPresent", 1)
            eccodes.codes_set(handle, "missingValue", 9999.0)
            values = np.full(12, 280.0) + np.arange(12)
            values[[0, -1]] = 9999.0  # north-west and south-east corners absent from the bitmap
            eccodes.codes_set_values(handle, values)
            eccodes.codes_write(handle, out)
            eccodes.codes_release(handle)
    done = ingest.run(pb.StartIngestRequest(source_uri=str(source), dataset_id="bitmap"))
    assert done.operation.state == SUCCEEDED, done.operation.error
    assert [(v.name, v.missing_count, v.value_count) for v in done.result.variables] == [
        ("t2m", 6, 36)
    ]
    stored = xr.open_zarr(done.result.store_uri, consolidated=False).t2m.values
    expected = np.zeros((3, 3, 4), dtype=bool)  # latitude ascends in the archive: 50, 51, 52
    expected[:, 2, 0] = expected[:, 0, 3] = True
    np.testing.assert_array_equal(np.isnan(stored), expected)
    assert np.nanmax(stored) == 290.0  # no 9999 left
