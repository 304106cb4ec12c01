"""Bilinear regridding (resolution_degrees) against weights computed by hand, edges included."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from weather_preprocess.domain import Recipe, Regrid
from weather_preprocess.transform import regrid

# A 3 x 3 grid, 2 degrees apart in latitude and 3 in longitude, two time steps.
LAT = [10.0, 12.0, 14.0]
LON = [-3.0, 0.0, 3.0]
V0 = np.array([[1.0, 2.0, 4.0], [8.0, 16.0, 32.0], [64.0, 128.0, 256.0]])  # far from linear


def _grid(values: np.ndarray, lat: list[float] = LAT, lon: list[float] = LON) -> xr.Dataset:
    data = np.stack([values, values * 10]).astype("float32")
    return xr.Dataset(
        {"x": (("time", "latitude", "longitude"), data, {"units": "K"})},
        coords={
            "time": np.array(["2024-01-01T00", "2024-01-01T01"], dtype="datetime64[ns]"),
            "latitude": ("latitude", lat, {"units": "degrees_north"}),
            "longitude": ("longitude", lon, {"units": "degrees_east"}),
        },
    )


def _bilinear(values: np.ndarray, i: int, j: int, wy: float, wx: float) -> float:
    """By hand: the cell whose lower-left corner is (i, j), wy and wx of the way up and across."""
    return float(
        (1 - wy) * (1 - wx) * values[i, j]
        + (1 - wy) * wx * values[i, j + 1]
        + wy * (1 - wx) * values[i + 1, j]
        + wy * wx * values[i + 1, j + 1]
    )


def _regridded(ds: xr.Dataset, step: float) -> xr.Dataset:
    return regrid(ds, Recipe(regrid=Regrid(resolution_degrees=step))).compute()


def test_one_degree_against_hand_computed_weights() -> None:
    out = _regridded(_grid(V0), 1.0)
    np.testing.assert_array_equal(out["latitude"].values, [10, 11, 12, 13, 14])
    np.testing.assert_array_equal(out["longitude"].values, [-3, -2, -1, 0, 1, 2, 3])
    assert out["x"].dtype == np.float32 and out["x"].attrs["units"] == "K"
    x = out["x"].isel(time=0)

    def at(lat: float, lon: float) -> float:
        return float(x.sel(latitude=lat, longitude=lon))

    # inside a cell: (11, -2) is half way up and a third across the cell at (10, -3)
    assert at(11, -2) == pytest.approx(_bilinear(V0, 0, 0, 0.5, 1 / 3), rel=1e-6)
    assert at(11, -2) == pytest.approx(0.5 * (2 / 3) * 1 + 0.5 * (1 / 3) * 2 + 0.5 * (2 / 3) * 8
                                        + 0.5 * (1 / 3) * 16, rel=1e-6)  # fmt: skip
    assert at(13, 2) == pytest.approx(_bilinear(V0, 1, 1, 0.5, 2 / 3), rel=1e-6)
    # on the source's grid lines: the source values, and plain linear along one axis
    assert at(12, 0) == 16.0
    assert at(13, 0) == pytest.approx((16 + 128) / 2, rel=1e-6)
    # the edges and corners of the source grid are kept, not NaN
    assert (at(10, -3), at(10, 3), at(14, -3), at(14, 3)) == (1.0, 4.0, 64.0, 256.0)
    assert at(10, 1) == pytest.approx(2 * (2 / 3) + 4 * (1 / 3), rel=1e-6)  # bottom edge
    assert at(11, 3) == pytest.approx((4 + 32) / 2, rel=1e-6)  # right edge
    assert at(14, -1) == pytest.approx(64 * (1 / 3) + 128 * (2 / 3), rel=1e-6)  # top edge
    # every step is interpolated alike
    np.testing.assert_allclose(out["x"].isel(time=1).values, x.values * 10, rtol=1e-6)
    assert not np.isnan(out["x"].values).any()


@pytest.mark.parametrize(
    ("lat", "lon", "step"),
    [
        # 0.1 steps from 0 end at 0.30000000000000004 and 0.7000000000000001: past the edge
        ([0.0, 0.15, 0.3], [0.0, 0.35, 0.7], 0.1),
        # 0.9 / 0.3 starts at 0.8999999999999999, before the edge; 2.1 / 0.3 is 7.000000000000001
        ([0.9, 1.5, 2.1], [2.1, 2.7, 3.3], 0.3),
    ],
)
def test_steps_that_do_not_divide_the_grid_keep_its_edges(
    lat: list[float], lon: list[float], step: float
) -> None:
    """Rounding must neither put an edge point outside the grid (it would interpolate to NaN)
    nor skip the first grid line."""
    out = _regridded(_grid(V0, lat, lon), step)
    for axis, values in (("latitude", lat), ("longitude", lon)):
        points = out[axis].values
        assert values[0] <= points[0] < values[0] + 1e-9, axis  # inside, never before the edge
        assert values[-1] - 1e-9 < points[-1] <= values[-1], axis  # inside, never past it
        assert points.size == round((values[-1] - values[0]) / step) + 1, axis
    x = out["x"].isel(time=0).values
    assert not np.isnan(x).any()
    assert (x[0, 0], x[0, -1], x[-1, 0], x[-1, -1]) == pytest.approx((1, 4, 64, 256), rel=1e-6)
    # the second point of each axis: a third (0.1 of 0.15 or 0.35: 2/3 and 2/7) of the first cell
    wy = step / (lat[1] - lat[0])
    wx = step / (lon[1] - lon[0])
    assert x[1, 1] == pytest.approx(_bilinear(V0, 0, 0, wy, wx), rel=1e-5)


def test_a_missing_corner_leaves_only_its_cells_missing() -> None:
    gappy = V0.copy()
    gappy[0, 0] = np.nan
    x = _regridded(_grid(gappy), 1.0)["x"].isel(time=0)
    missing = np.isnan(x.values)
    # every point using the missing value (the first cell, its edges) is missing, no other
    near = (x["latitude"] < 12).values[:, None] & (x["longitude"] < 0).values[None, :]
    np.testing.assert_array_equal(missing, near)
    assert float(x.sel(latitude=12, longitude=-3)) == 8.0
