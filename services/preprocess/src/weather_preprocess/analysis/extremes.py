"""Extremes per grid point: percentiles over time and counts of exceedances of thresholds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from weather_preprocess.analysis.grid import TIME, require_time

PERCENTILE_DIM = "percentile"
Thresholds = Mapping[str, Sequence[float]] | Sequence[float]


def threshold_dim(variable: str) -> str:
    """Name of the threshold dimension of one variable's exceedance counts."""
    return f"{variable}_threshold"


def _thresholds_by_variable(
    ds: xr.Dataset, thresholds: Thresholds | None
) -> dict[str, list[float]]:
    """Thresholds per variable: a mapping as given, a plain sequence for every variable."""
    if thresholds is None:
        return {}
    if isinstance(thresholds, Mapping):
        unknown = [name for name in thresholds if name not in ds.data_vars]
        if unknown:
            raise ValueError(f"thresholds given for unknown variables {unknown}")
        return {str(name): [float(v) for v in values] for name, values in thresholds.items()}
    return {str(name): [float(v) for v in thresholds] for name in ds.data_vars}


def _percentiles(variable: xr.DataArray, percentiles: Sequence[float]) -> xr.DataArray:
    """Linear-interpolation percentiles over time, NaN skipped (as numpy.nanpercentile)."""
    other_dims = {dim: "auto" for dim in variable.dims if dim != TIME}
    whole_series = variable.chunk({TIME: -1, **other_dims}) if variable.chunks else variable
    quantiles = whole_series.quantile(
        np.asarray(percentiles, dtype=np.float64) / 100.0, dim=TIME, skipna=True, keep_attrs=True
    )
    quantiles = quantiles.assign_coords(quantile=quantiles["quantile"] * 100.0)
    return quantiles.rename({"quantile": PERCENTILE_DIM}).astype(variable.dtype)


def _exceedances(variable: xr.DataArray, name: str, values: list[float]) -> xr.DataArray:
    """How many time steps lie strictly above each threshold (NaN never counts)."""
    dim = threshold_dim(name)
    levels = xr.DataArray(np.asarray(values, dtype=np.float64), dims=dim, coords={dim: values})
    counts = (variable > levels).sum(TIME).astype(np.int64)
    return counts.transpose(dim, ...).assign_attrs(
        long_name=f"number of time steps with {name} above the threshold",
        threshold_units=variable.attrs.get("units", "1"),
        units="1",
    )


def extremes(
    ds: xr.Dataset,
    percentiles: Sequence[float] = (90.0, 99.0),
    thresholds: Thresholds | None = None,
) -> xr.Dataset:
    """Percentiles over time and exceedance counts of each data variable, per grid point.

    percentiles: values in [0, 100]; linear interpolation between order statistics with
    missing values skipped, as numpy.nanpercentile. The time axis is rechunked into one
    chunk (the other dims to dask's automatic size) for this; the rest stays lazy.
    thresholds: per variable ({"UWND": [10, 15]}) or one sequence for every variable, in the
    variable's units; a time step exceeds a threshold when its value is strictly above it.
    Returns, for each variable `v`:
      `v_percentile` over (`percentile`, non-time dims), in the variable's units and dtype;
      `v_exceedances` over (`v_threshold`, non-time dims), int64 counts, when thresholds are given;
      `v_valid_count` the number of non-missing time steps (to turn counts into frequencies).
    """
    require_time(ds)
    if not percentiles and thresholds is None:
        raise ValueError("give at least one percentile or threshold")
    for percentile in percentiles:
        if not 0.0 <= percentile <= 100.0:
            raise ValueError(f"percentile {percentile} outside [0, 100]")
    per_variable = _thresholds_by_variable(ds, thresholds)
    result = xr.Dataset(attrs={**ds.attrs, "extremes_time_steps": int(ds.sizes[TIME])})
    for name, variable in ds.data_vars.items():
        key = str(name)
        if percentiles:
            result[f"{key}_percentile"] = _percentiles(variable, percentiles)
        if per_variable.get(key):
            result[f"{key}_exceedances"] = _exceedances(variable, key, per_variable[key])
        result[f"{key}_valid_count"] = variable.notnull().sum(TIME).astype(np.int64)
    return result
