"""Anomalies: departures of each time step from the climatology of its calendar key."""

from __future__ import annotations

import numpy as np
import xarray as xr

from weather_preprocess.analysis.climatology import (
    CALENDAR_KEYS,
    CalendarKey,
    calendar_labels,
    require_calendar_key,
)
from weather_preprocess.analysis.grid import TIME, require_time


def infer_calendar_key(clim: xr.Dataset) -> CalendarKey:
    """The calendar key a climatology is grouped by: its `climatology_by` attr, else its dim."""
    recorded = clim.attrs.get("climatology_by")
    if isinstance(recorded, str):
        return require_calendar_key(recorded)
    present = [key for key in CALENDAR_KEYS if key in clim.dims]
    if len(present) != 1:
        raise ValueError(f"cannot tell the climatology's calendar key (dims {list(clim.dims)})")
    return present[0]


def _reference_along_time(
    clim: xr.DataArray, labels: xr.DataArray, variable: xr.DataArray
) -> xr.DataArray:
    """The climatology value of every time step, chunked along time like variable."""
    key = str(labels.name)
    if clim.chunks is not None:
        clim = clim.chunk({key: -1})
    reference = clim.sel({key: labels}).drop_vars(key)
    if variable.chunks is not None:
        reference = reference.chunk({TIME: variable.chunksizes[TIME]})
    return reference


def anomalies(ds: xr.Dataset, clim: xr.Dataset, by: CalendarKey | None = None) -> xr.Dataset:
    """ds minus the climatology value of each time step's calendar key (lazy with dask input).

    The climatology is looked up for every time step (its values broadcast along time, like
    groupby arithmetic) and rechunked to the time chunks of ds, so the result keeps the
    chunking of ds and a small task graph.

    clim is a result of `climatology` (any base period); by defaults to the key it was
    grouped by. Every data variable of ds must be in clim, and every calendar key occurring
    in ds must be in clim[by]. Anomalies keep the variables' units and attrs (a difference
    has the units of its data) and the dims of ds; the calendar key is not kept as a coordinate.
    """
    require_time(ds)
    key = infer_calendar_key(clim) if by is None else require_calendar_key(by)
    if key not in clim.dims:
        raise ValueError(f"climatology has no '{key}' dimension (dims {list(clim.dims)})")
    missing_vars = [name for name in ds.data_vars if name not in clim.data_vars]
    if missing_vars:
        raise ValueError(f"climatology lacks variables {missing_vars}")
    labels = calendar_labels(ds, key)
    missing_keys = np.setdiff1d(np.unique(labels.values), clim[key].values)
    if missing_keys.size:
        raise ValueError(f"climatology lacks {key} values {missing_keys.tolist()}")
    departures = xr.Dataset(coords=ds.coords)
    for name, variable in ds.data_vars.items():
        reference = _reference_along_time(clim[name], labels, variable)
        departures[name] = (variable - reference).assign_attrs(variable.attrs)
    departures.attrs = {**ds.attrs, "anomaly_reference": f"{key} climatology"}
    base_period = clim.attrs.get("climatology_base_period")
    if base_period is not None:
        departures.attrs["anomaly_base_period"] = base_period
    return departures
