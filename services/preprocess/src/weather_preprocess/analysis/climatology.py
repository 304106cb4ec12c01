"""Calendar climatologies: the mean over time grouped by month, day of year or hour of day."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

import numpy as np
import xarray as xr

from weather_preprocess.analysis.grid import TIME, require_time

CalendarKey = Literal["month", "dayofyear", "hour"]
CALENDAR_KEYS: tuple[CalendarKey, ...] = get_args(CalendarKey)
BasePeriod = tuple[str | np.datetime64 | datetime, str | np.datetime64 | datetime]


def require_calendar_key(by: str) -> CalendarKey:
    """by as a CalendarKey, or ValueError naming the accepted keys."""
    for key in CALENDAR_KEYS:
        if by == key:
            return key
    raise ValueError(f"unknown calendar key {by!r}; expected one of {', '.join(CALENDAR_KEYS)}")


def calendar_labels(ds: xr.Dataset, by: CalendarKey) -> xr.DataArray:
    """The calendar key of every time step (1..12, 1..366 or 0..23), named after the key."""
    return ds[f"{TIME}.{by}"].rename(by)


def climatology(
    ds: xr.Dataset,
    by: CalendarKey = "month",
    base_period: BasePeriod | None = None,
) -> xr.Dataset:
    """Mean of every data variable over time, grouped by a calendar key (lazy with dask input).

    by: "month" (result dim `month`, 1..12), "dayofyear" (`dayofyear`, 1..366; after 28 Feb
    a leap year's day numbers are shifted by one relative to other years) or "hour"
    (`hour`, 0..23 UTC). Only keys present in the data appear in the result.
    base_period: inclusive (start, end) labels selecting the reference years, e.g.
    ("1982-01", "1992-12"); None uses every time step.

    Missing values are skipped. Units and other attributes of the variables are kept (a mean
    has the units of its data); the result's attrs record `climatology_by` and the period.
    """
    require_time(ds)
    key = require_calendar_key(by)
    base = ds if base_period is None else ds.sel({TIME: slice(*base_period)})
    if base.sizes[TIME] == 0:
        raise ValueError(f"base period {base_period} selects no time step")
    grouped = base.groupby(calendar_labels(base, key))
    clim = grouped.mean(TIME, skipna=True, keep_attrs=True)
    first, last = base[TIME].values[0], base[TIME].values[-1]
    clim.attrs = {
        **ds.attrs,
        "climatology_by": key,
        "climatology_base_period": f"{np.datetime_as_string(first, unit='D')}"
        f"/{np.datetime_as_string(last, unit='D')}",
        "climatology_time_steps": int(base.sizes[TIME]),
    }
    return clim
