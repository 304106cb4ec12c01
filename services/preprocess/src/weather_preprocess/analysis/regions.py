"""Selecting a box of a canonical grid, and the named regions of ENSO monitoring."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import xarray as xr

from weather_data.region import Region
from weather_preprocess.analysis.grid import LATITUDE, LONGITUDE


def select_region(ds: xr.Dataset, region: Region) -> xr.Dataset:
    """The part of a canonical dataset inside region (lazy); ValueError if no grid point is."""
    lat_index = np.flatnonzero(region.latitude_mask(ds[LATITUDE].values))
    lon_index = np.flatnonzero(region.longitude_mask(ds[LONGITUDE].values))
    if lat_index.size == 0 or lon_index.size == 0:
        raise ValueError(f"region {region.describe()} contains no grid point of the dataset")
    return ds.isel({LATITUDE: lat_index, LONGITUDE: lon_index})


GLOBAL = Region(-90.0, 90.0, -180.0, 180.0, name="GLOBAL")
NINO12 = Region(-10.0, 0.0, -90.0, -80.0, name="NINO12")
NINO3 = Region(-5.0, 5.0, -150.0, -90.0, name="NINO3")
NINO34 = Region(-5.0, 5.0, -170.0, -120.0, name="NINO34")
NINO4 = Region(-5.0, 5.0, 160.0, -150.0, name="NINO4")
EQUATORIAL_PACIFIC = Region(-10.0, 10.0, 120.0, -80.0, name="EQUATORIAL_PACIFIC")
TROPICS = Region(-23.5, 23.5, -180.0, 180.0, name="TROPICS")

NAMED_REGIONS: Mapping[str, Region] = MappingProxyType(
    {
        region.name: region
        for region in (GLOBAL, NINO12, NINO3, NINO34, NINO4, EQUATORIAL_PACIFIC, TROPICS)
    }
)


def named_region(name: str) -> Region:
    """The named region (case-insensitive, '.' and '-' ignored: 'nino3.4' is NINO34)."""
    key = name.upper().replace(".", "").replace("-", "").replace(" ", "")
    try:
        return NAMED_REGIONS[key]
    except KeyError:
        known = ", ".join(sorted(NAMED_REGIONS))
        raise ValueError(f"unknown region {name!r}; known: {known}") from None


__all__ = ["NAMED_REGIONS", "Region", "named_region", "select_region"]
