"""Checks of the canonical dataset form the analyses need (time axis, latitude/longitude grid)."""

from __future__ import annotations

import numpy as np
import xarray as xr

TIME = "time"
LEVEL = "level"
LATITUDE = "latitude"
LONGITUDE = "longitude"
HORIZONTAL_DIMS = (LATITUDE, LONGITUDE)


def require_time(ds: xr.Dataset) -> None:
    """Raise ValueError unless ds has data variables, all along a datetime `time` dimension."""
    if not ds.data_vars:
        raise ValueError("dataset has no data variables")
    if TIME not in ds.dims or TIME not in ds.coords:
        raise ValueError(f"dataset has no '{TIME}' dimension coordinate (dims: {list(ds.dims)})")
    if not np.issubdtype(ds[TIME].dtype, np.datetime64):
        raise ValueError(f"'{TIME}' must hold datetime64 values, not {ds[TIME].dtype}")
    static = [str(name) for name, variable in ds.data_vars.items() if TIME not in variable.dims]
    if static:
        raise ValueError(f"data variables without a '{TIME}' dimension: {static}")


def require_horizontal_grid(ds: xr.Dataset) -> None:
    """Raise ValueError unless ds has the canonical latitude/longitude axes.

    Canonical: `latitude` ascending within [-90, 90] (degrees_north), `longitude` strictly
    ascending within [-180, 180) (degrees_east), so every column appears once.
    """
    for name in HORIZONTAL_DIMS:
        if name not in ds.dims or name not in ds.coords:
            raise ValueError(f"dataset has no '{name}' dimension coordinate")
    latitude = np.asarray(ds[LATITUDE].values, dtype=np.float64)
    longitude = np.asarray(ds[LONGITUDE].values, dtype=np.float64)
    if latitude.size > 1 and not np.all(np.diff(latitude) > 0):
        raise ValueError("latitude must be strictly ascending")
    if latitude.size and (latitude.min() < -90 or latitude.max() > 90):
        raise ValueError("latitude must lie within [-90, 90]")
    if longitude.size > 1 and not np.all(np.diff(longitude) > 0):
        raise ValueError("longitude must be strictly ascending (no duplicated columns)")
    if longitude.size and (longitude.min() < -180 or longitude.max() >= 180):
        raise ValueError("longitude must lie within [-180, 180)")
