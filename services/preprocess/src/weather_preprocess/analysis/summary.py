"""Summaries of analysis results: a few named floats per variable, small enough for a reply."""

from __future__ import annotations

from collections.abc import Mapping

import xarray as xr

from weather_preprocess.analysis.extremes import PERCENTILE_DIM, threshold_dim
from weather_runtime import spans
from weather_scores.fields import spatially_weighted_mean

Summary = dict[str, float]


def _evaluate(lazy: Mapping[str, xr.DataArray]) -> Summary:
    """Compute every scalar in one pass over the dask graph and return them as floats."""
    scalars = xr.Dataset({key: value.reset_coords(drop=True) for key, value in lazy.items()})
    with spans.dask_compute("dask compute: summary", scalars, scalars=len(lazy)):
        computed = scalars.compute()
    return {key: float(computed[key].values) for key in lazy}


def _variables_with_suffix(ds: xr.Dataset, suffix: str) -> list[str]:
    """Names v of the data variables called `v{suffix}`."""
    return [str(name)[: -len(suffix)] for name in ds.data_vars if str(name).endswith(suffix)]


def climatology_summary(clim: xr.Dataset) -> Summary:
    """Per variable v: `v_mean` (area-weighted), `v_min`, `v_max` and `v_cycle_amplitude`.

    The cycle amplitude is the range (max - min) over the calendar key of the area-weighted
    mean climatology, e.g. the diurnal range of an hour-of-day climatology.
    """
    key = str(clim.attrs.get("climatology_by", ""))
    lazy: dict[str, xr.DataArray] = {}
    for name, variable in clim.data_vars.items():
        lazy[f"{name}_mean"] = spatially_weighted_mean(variable)
        lazy[f"{name}_min"] = variable.min()
        lazy[f"{name}_max"] = variable.max()
        if key in variable.dims:
            others = [dim for dim in variable.dims if dim != key]
            cycle = spatially_weighted_mean(variable, others)
            lazy[f"{name}_cycle_amplitude"] = cycle.max() - cycle.min()
    return _evaluate(lazy)


def anomaly_summary(anomalies: xr.Dataset) -> Summary:
    """Per variable v: `v_mean`, `v_rms` (both area-weighted), `v_min`, `v_max`."""
    lazy: dict[str, xr.DataArray] = {}
    for name, variable in anomalies.data_vars.items():
        lazy[f"{name}_mean"] = spatially_weighted_mean(variable)
        lazy[f"{name}_rms"] = spatially_weighted_mean(variable**2) ** 0.5
        lazy[f"{name}_min"] = variable.min()
        lazy[f"{name}_max"] = variable.max()
    return _evaluate(lazy)


def trend_summary(trend: xr.Dataset, alpha: float = 0.05) -> Summary:
    """Per variable v of a linear_trend result: slope mean (area-weighted), min and max,
    and `v_significant_fraction`, the area fraction of points with a p-value below alpha."""
    lazy: dict[str, xr.DataArray] = {}
    for name in _variables_with_suffix(trend, "_slope"):
        slope, pvalue = trend[f"{name}_slope"], trend[f"{name}_pvalue"]
        lazy[f"{name}_slope_mean"] = spatially_weighted_mean(slope)
        lazy[f"{name}_slope_min"] = slope.min()
        lazy[f"{name}_slope_max"] = slope.max()
        significant = (pvalue < alpha).where(pvalue.notnull())
        lazy[f"{name}_significant_fraction"] = spatially_weighted_mean(significant)
    return _evaluate(lazy)


def area_mean_summary(series: xr.Dataset) -> Summary:
    """Per variable v of an area_mean result: `v_mean`, `v_std`, `v_min`, `v_max` over time."""
    lazy: dict[str, xr.DataArray] = {}
    for name, variable in series.data_vars.items():
        lazy[f"{name}_mean"] = variable.mean()
        lazy[f"{name}_std"] = variable.std()
        lazy[f"{name}_min"] = variable.min()
        lazy[f"{name}_max"] = variable.max()
    return _evaluate(lazy)


def extremes_summary(result: xr.Dataset) -> Summary:
    """Per variable v of an extremes result: `v_p<P>_mean` and `v_p<P>_max` of each percentile
    field, and `v_above_<T>_frequency`, the area-weighted mean fraction of valid time steps
    above threshold T (P and T formatted with %g)."""
    lazy: dict[str, xr.DataArray] = {}
    for name in _variables_with_suffix(result, "_valid_count"):
        valid = result[f"{name}_valid_count"]
        if f"{name}_percentile" in result:
            field = result[f"{name}_percentile"]
            for percentile in field[PERCENTILE_DIM].values:
                level = field.sel({PERCENTILE_DIM: percentile})
                lazy[f"{name}_p{percentile:g}_mean"] = spatially_weighted_mean(level)
                lazy[f"{name}_p{percentile:g}_max"] = level.max()
        if f"{name}_exceedances" in result:
            counts = result[f"{name}_exceedances"]
            frequency = counts / valid.where(valid > 0)
            for threshold in counts[threshold_dim(name)].values:
                at_threshold = frequency.sel({threshold_dim(name): threshold})
                lazy[f"{name}_above_{threshold:g}_frequency"] = spatially_weighted_mean(
                    at_threshold
                )
    return _evaluate(lazy)
