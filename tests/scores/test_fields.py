"""weather_scores.fields: cos(latitude)-weighted means and RMSE of xarray fields."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from weather_scores import fields


def _field(values: list[list[float]]) -> xr.DataArray:
    return xr.DataArray(
        np.array(values),
        dims=("latitude", "longitude"),
        coords={"latitude": [0.0, 60.0], "longitude": [0.0, 10.0]},
    )


def test_weights_follow_the_latitude_axis() -> None:
    weights = fields.cos_latitude_weights(_field([[0, 0], [0, 0]])["latitude"])
    np.testing.assert_allclose(weights.values, [1.0, 0.5])
    assert weights.dims == ("latitude",)


def test_weighted_mean_skips_missing_values() -> None:
    da = _field([[2.0, np.nan], [4.0, 6.0]])
    # (1 * 2 + 0.5 * 4 + 0.5 * 6) / (1 + 0.5 + 0.5)
    assert float(fields.spatially_weighted_mean(da)) == pytest.approx(3.5)
    by_latitude = fields.spatially_weighted_mean(da, ["longitude"])
    np.testing.assert_allclose(by_latitude.values, [2.0, 5.0])  # unweighted along longitude


def test_rmse_of_a_known_error() -> None:
    da = _field([[1.0, 1.0], [4.0, np.nan]])
    # (1 * 1 + 1 * 1 + 0.5 * 16) / 2.5
    assert fields.latitude_weighted_rmse(da) == pytest.approx(math.sqrt(4.0))
