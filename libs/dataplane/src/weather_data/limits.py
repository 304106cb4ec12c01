"""Ceilings on the time steps and grid points one request selects: RESOURCE_EXHAUSTED beyond."""

from __future__ import annotations

import math
from dataclasses import dataclass

import xarray as xr

from weather_data.canonical import TIME
from weather_runtime.errors import ResourceExhausted


@dataclass(frozen=True)
class ExtentLimits:
    """Largest selection per request; 0 means no ceiling. prefix names the settings in errors."""

    max_time_steps: int = 0
    max_grid_points: int = 0
    prefix: str = ""

    def check(self, ds: xr.Dataset, what: str) -> None:
        """RESOURCE_EXHAUSTED naming the limit and its setting when ds is larger (no data read)."""
        steps = int(ds.sizes.get(TIME, 1))
        points = math.prod(int(size) for dim, size in ds.sizes.items() if dim != TIME)
        for count, limit, name, unit, hint in (
            (steps, self.max_time_steps, "MAX_TIME_STEPS", "time steps", "a shorter period"),
            (points, self.max_grid_points, "MAX_GRID_POINTS", "grid points", "a smaller area"),
        ):
            if limit and count > limit:
                setting = f"{self.prefix}{name}"
                raise ResourceExhausted(
                    f"{what} selects {count} {unit}, above the limit of {limit} ({setting}); "
                    f"select {hint} or fewer levels",
                    setting,
                )
