"""Latitude-weighted means and RMSE of xarray fields (NaN-aware, lazy with dask input)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import xarray as xr

from weather_scores.grid import cos_latitude

LATITUDE = "latitude"
LONGITUDE = "longitude"


def cos_latitude_weights(latitude: xr.DataArray) -> xr.DataArray:
    """Area weights cos(latitude) along a latitude axis in degrees; never negative, never NaN."""
    return xr.DataArray(
        cos_latitude(latitude.values),
        dims=latitude.dims,
        coords={LATITUDE: latitude.values},
        name="cos_latitude",
    )


def spatially_weighted_mean(
    da: xr.DataArray, dims: Sequence[Hashable] | None = None
) -> xr.DataArray:
    """NaN-aware mean of da over dims (default: all), cos(latitude)-weighted if latitude is one:
    sum(w v) / sum(w over valid v)."""
    over = list(da.dims) if dims is None else list(dims)
    if LATITUDE not in over:
        return da.mean(over)
    return da.weighted(cos_latitude_weights(da[LATITUDE])).mean(over)


def latitude_weighted_rmse(error: xr.DataArray) -> float:
    """sqrt of the cos(latitude)-weighted mean of error² over the grid (NaN skipped)."""
    squared = error.astype(np.float64) ** 2
    return float(np.sqrt(spatially_weighted_mean(squared, (LATITUDE, LONGITUDE))))
