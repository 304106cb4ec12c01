"""Latitude-longitude boxes (dateline crossing allowed), shared by ingest and analysis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

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
