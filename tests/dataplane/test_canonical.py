"""weather_data.canonical: sources of other layouts land on the one canonical form, selections,
and the request field named when a source cannot be made canonical."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from weather_data import hashing
from weather_data.canonical import Selection, canonicalize
from weather_data.region import Region
from weather_runtime.errors import InvalidArgument

TIMES = pd.date_range("2019-03-01", periods=4, freq="6h")
LATS = np.array([-30.0, 0.0, 30.0])
LONS = np.array([-90.0, 0.0, 90.0])


def _values() -> np.ndarray:
    """[time, lat, lon] values that say where they are: 1000 t + 100 i_lat + i_lon."""
    t, i, j = np.meshgrid(range(4), range(3), range(3), indexing="ij")
    return np.asarray(1000.0 * t + 100.0 * i + j, dtype="float64")


def _canonical_source() -> xr.Dataset:
    return xr.Dataset(
        {"t2m": (("time", "latitude", "longitude"), _values(), {"units": "K"})},
        coords={"time": TIMES, "latitude": LATS, "longitude": LONS},
    )


def _other_layout() -> xr.Dataset:
    """The same field as a global archive stores it: lat/lon names, latitudes descending,
    longitudes 0..360 (the -90 column as 270, first), longitude before latitude."""
    ds = _canonical_source().isel(latitude=slice(None, None, -1), longitude=[1, 2, 0])
    ds = ds.assign_coords(longitude=[0.0, 90.0, 270.0]).rename(latitude="lat", longitude="lon")
    ds["lat"].attrs = {"units": "degrees_north"}
    ds["lon"].attrs = {"units": "degrees_east"}
    return ds.transpose("time", "lon", "lat")


def test_the_canonical_form() -> None:
    ds = canonicalize(_canonical_source(), Selection())
    assert ds["t2m"].dims == ("time", "latitude", "longitude")
    assert ds["t2m"].dtype == np.float32 and ds["t2m"].attrs["units"] == "K"
    assert ds["time"].dtype == np.dtype("datetime64[ns]")
    assert ds["latitude"].attrs["units"] == "degrees_north"
    assert ds["longitude"].attrs["units"] == "degrees_east"
    np.testing.assert_array_equal(ds["t2m"].values, _values().astype("float32"))


def test_another_layout_lands_on_the_same_values_and_hash() -> None:
    reference = canonicalize(_canonical_source(), Selection())
    ds = canonicalize(_other_layout(), Selection())
    np.testing.assert_array_equal(ds["latitude"].values, LATS)
    np.testing.assert_array_equal(ds["longitude"].values, [-90.0, 0.0, 90.0])
    np.testing.assert_array_equal(ds["t2m"].values, reference["t2m"].values)
    assert hashing.structure_digest(ds) == hashing.structure_digest(reference)


def test_a_longitude_repeated_past_360_is_dropped() -> None:
    source = _canonical_source().assign_coords(longitude=[0.0, 90.0, 360.0])
    ds = canonicalize(source, Selection())
    np.testing.assert_array_equal(ds["longitude"].values, [0.0, 90.0])
    np.testing.assert_array_equal(ds["t2m"].values[0, 0], [0.0, 1.0])  # the first column kept


def test_pressure_levels_in_pa_become_hpa() -> None:
    source = _canonical_source().expand_dims(plev=[85000.0, 50000.0], axis=1)
    source["plev"].attrs = {"units": "Pa"}
    ds = canonicalize(source, Selection())
    assert ds["t2m"].dims == ("time", "level", "latitude", "longitude")
    np.testing.assert_allclose(ds["level"].values, [850.0, 500.0])
    assert ds["level"].attrs["units"] == "hPa"


def test_selections_keep_what_is_asked() -> None:
    source = _canonical_source()
    source["u10"] = source["t2m"] * 0 + 1
    source["u10"].attrs["units"] = "m s-1"
    selection = Selection(
        variables=("t2m",),
        start=pd.Timestamp("2019-03-01T06:00"),
        end=pd.Timestamp("2019-03-01T18:00"),
        region=Region(lat_min=-10, lat_max=40, lon_min=-10, lon_max=100),
    )
    ds = canonicalize(source, selection)
    assert list(ds.data_vars) == ["t2m"]
    assert list(ds["time"].values) == list(TIMES[1:3].values)
    np.testing.assert_array_equal(ds["latitude"].values, [0.0, 30.0])
    np.testing.assert_array_equal(ds["longitude"].values, [0.0, 90.0])
    assert float(ds["t2m"][0, 0, 0]) == 1000 + 100 + 1


def _violations(source: xr.Dataset, selection: Selection) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as raised:
        canonicalize(source, selection)
    return {v.field: v.description for v in raised.value.violations}


def test_what_cannot_be_selected_names_its_field() -> None:
    problems = _violations(
        _canonical_source(),
        Selection(variables=("t2m", "msl"), start=pd.Timestamp("2030-01-01"), levels=(500.0,)),
    )
    assert set(problems) == {"variables[1]", "time_range", "levels"}
    assert "no variable 'msl'" in problems["variables[1]"]


def test_a_source_that_cannot_be_made_canonical_names_its_field() -> None:
    no_units = _canonical_source()
    no_units["t2m"].attrs = {}
    assert "no units" in _violations(no_units, Selection())["units['t2m']"]
    repeated = _canonical_source().assign_coords(time=[TIMES[0], TIMES[1], TIMES[1], TIMES[2]])
    assert "duplicate times" in _violations(repeated, Selection())["source_uri"]
    unsorted = _canonical_source().assign_coords(time=TIMES[[0, 2, 1, 3]])
    assert "not sorted" in _violations(unsorted, Selection())["source_uri"]
