"""Latitude/longitude boxes (dateline-crossing allowed) and the named regions of ENSO monitoring."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
import xarray as xr

from weather_preprocess.analysis.grid import LATITUDE, LONGITUDE

_EDGE_TOLERANCE_DEG = 1e-6


@dataclass(frozen=True)
class Region:
    """A box of latitudes [lat_min, lat_max] and longitudes eastward from lon_min to lon_max.

    Degrees north and east, edges included. Longitudes may be given in [-180, 180) or in
    [0, 360] terms: the box runs east from lon_min to lon_max and crosses the dateline when
    lon_max lies west of lon_min, so 160..-150 and 160..210 are the same box. A span of
    360 degrees or more (e.g. -180..180 or 0..360) covers every longitude.
    """

    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float
    name: str = ""

    def __post_init__(self) -> None:
        if not -90 <= self.lat_min <= self.lat_max <= 90:
            raise ValueError(f"need -90 <= lat_min <= lat_max <= 90, got {self.describe()}")
        for lon in (self.lon_min, self.lon_max):
            if not -180 <= lon <= 360:
                raise ValueError(f"longitudes must lie within [-180, 360], got {self.describe()}")
        if self.lon_max - self.lon_min > 360:
            raise ValueError(f"longitude span exceeds 360 degrees: {self.describe()}")

    @property
    def covers_all_longitudes(self) -> bool:
        """True when the box spans the whole circle of longitudes."""
        return self.lon_max - self.lon_min >= 360

    @property
    def lon_width(self) -> float:
        """Eastward extent of the box in degrees (360 for a global band)."""
        if self.covers_all_longitudes:
            return 360.0
        return float((self.lon_max - self.lon_min) % 360)

    def describe(self) -> str:
        """A short text such as 'NINO34 [-5, 5]N x [-170, -120]E'."""
        box = f"[{self.lat_min:g}, {self.lat_max:g}]N x [{self.lon_min:g}, {self.lon_max:g}]E"
        return f"{self.name} {box}".strip()

    def latitude_mask(self, latitude: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Which latitudes (degrees north) fall inside the box."""
        lat = np.asarray(latitude, dtype=np.float64)
        low = self.lat_min - _EDGE_TOLERANCE_DEG
        return (lat >= low) & (lat <= self.lat_max + _EDGE_TOLERANCE_DEG)

    def longitude_mask(self, longitude: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Which longitudes (degrees east, any convention) fall inside the box."""
        lon = np.asarray(longitude, dtype=np.float64)
        if self.covers_all_longitudes:
            return np.ones(lon.shape, dtype=bool)
        east_of_start = (lon - self.lon_min + _EDGE_TOLERANCE_DEG) % 360
        return east_of_start <= self.lon_width + 2 * _EDGE_TOLERANCE_DEG


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
