"""weather_data.timeaxis on its own: decoding details the gRPC tests do not reach."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from weather_data.canonical import Selection, canonicalize
from weather_data.timeaxis import TimeDecoding, apply, suggestion
from weather_runtime.errors import InvalidArgument


def _source(axis: str, values: object, attrs: dict[str, str] | None = None) -> xr.Dataset:
    data = np.arange(3 * 2 * 2, dtype="float32").reshape(3, 2, 2)
    return xr.Dataset(
        {"t2m": ((axis, "lat", "lon"), data, {"units": "K"})},
        coords={axis: (axis, values, attrs or {}), "lat": [50.0, 51.0], "lon": [0.0, 1.0]},
    )


def test_fractional_offsets_and_a_zoned_reference_time() -> None:
    ds = _source("timestep", np.array([0.0, 1.5, 3.0]))
    hints = TimeDecoding(variable="timestep", reference_time="2020-01-01T02:00+02:00")
    decoded = apply(ds, hints)
    assert list(decoded.t2m.dims) == ["time", "lat", "lon"]
    np.testing.assert_array_equal(
        decoded.time.values,
        pd.to_datetime(["2020-01-01 00:00", "2020-01-01 01:30", "2020-01-01 03:00"]).values,
    )  # the zoned reference is read in UTC


def test_text_times_need_only_the_variable() -> None:
    ds = _source("date", np.array(["2020-01-01 00:00", "2020-01-01 06:00", "2020-01-01 12:00"]))
    with pytest.raises(InvalidArgument) as caught:
        canonicalize(ds, Selection())
    assert [v.field for v in caught.value.violations] == ["time_decoding"]
    assert "set time_decoding.variable to read its text as ISO 8601" in caught.value.message
    out = canonicalize(ds, Selection(time_decoding=TimeDecoding(variable="date")))
    np.testing.assert_array_equal(
        out.time.values, pd.date_range("2020-01-01", periods=3, freq="6h").values
    )


def test_a_decoded_axis_under_another_name() -> None:
    ds = _source("t", np.array([0, 24, 48]), {"units": "hours since 2000-01-01"})
    ds = xr.decode_cf(ds)  # decoded, but under "t" the canonical form finds it anyway
    assert canonicalize(ds, Selection()).sizes["time"] == 3
    hinted = apply(ds, TimeDecoding(variable="t"))
    assert hinted.time.values[1] == np.datetime64("2000-01-02")


def test_no_suggestion_without_a_candidate() -> None:
    ds = _source("member", np.arange(3))
    assert suggestion(ds) == ""
    with pytest.raises(InvalidArgument) as caught:
        canonicalize(ds, Selection())
    assert [v.field for v in caught.value.violations] == ["source_uri"]
    with pytest.raises(InvalidArgument) as caught:
        apply(ds, TimeDecoding(units="hours since 2020-01-01"))
    assert [v.field for v in caught.value.violations] == ["time_decoding.variable"]


def test_a_rename_onto_an_existing_name_is_refused() -> None:
    ds = _source("time", pd.date_range("2020-01-01", periods=3))
    with pytest.raises(InvalidArgument) as caught:
        apply(ds, TimeDecoding(renames={"lat": "lon"}))
    assert [v.field for v in caught.value.violations] == ["time_decoding.renames['lat']"]
    swapped = apply(ds, TimeDecoding(renames={"lat": "lon", "lon": "lat"}))
    assert swapped.t2m.dims == ("time", "lon", "lat")
