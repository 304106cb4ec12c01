"""Area means: cos(latitude)-weighted, NaN-aware averages over a latitude/longitude box."""

from __future__ import annotations

import xarray as xr

from weather_preprocess.analysis.grid import HORIZONTAL_DIMS, require_horizontal_grid
from weather_preprocess.analysis.regions import GLOBAL, Region, select_region
from weather_scores.fields import cos_latitude_weights


def area_mean(ds: xr.Dataset, region: Region = GLOBAL) -> xr.Dataset:
    """Mean of every data variable over the grid points inside region, weighted by cos(latitude).

    The weight of a point is cos(latitude), the relative area of a cell of a regular grid;
    missing values are skipped and their weight left out of the normalisation, so each
    result value is sum(w * v) / sum(w over valid v). All values missing gives NaN.
    The result (float64) keeps every dim but latitude and longitude (a time series for
    time-dependent input), the variables' units and attrs, and records the box in `region`
    and `region_*` attrs. Lazy with dask input; ValueError if the region holds no grid point.
    """
    require_horizontal_grid(ds)
    inside = select_region(ds, region)
    weights = cos_latitude_weights(inside[HORIZONTAL_DIMS[0]])
    averaged = inside.weighted(weights).mean(HORIZONTAL_DIMS, skipna=True, keep_attrs=True)
    grid_points = inside.sizes[HORIZONTAL_DIMS[0]] * inside.sizes[HORIZONTAL_DIMS[1]]
    averaged.attrs = {
        **ds.attrs,
        "region": region.describe(),
        "region_lat_min": region.lat_min,
        "region_lat_max": region.lat_max,
        "region_lon_min": region.lon_min,
        "region_lon_max": region.lon_max,
        "region_grid_points": int(grid_points),
    }
    return averaged
