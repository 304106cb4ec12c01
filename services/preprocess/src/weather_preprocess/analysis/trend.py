"""Per grid point least-squares linear trends with standard errors and Student-t p-values."""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import numpy.typing as npt
import xarray as xr
from scipy import stats  # type: ignore[import-untyped]

from weather_preprocess.analysis.grid import TIME, require_time

TrendUnit = Literal["day", "year", "decade"]
TREND_UNITS: tuple[TrendUnit, ...] = get_args(TrendUnit)
DAYS_PER_UNIT: dict[TrendUnit, float] = {"day": 1.0, "year": 365.2425, "decade": 3652.425}
TREND_STATISTICS = ("slope", "stderr", "tstat", "pvalue", "count")


def elapsed_time(ds: xr.Dataset, per: TrendUnit) -> xr.DataArray:
    """Time since the first step in units of per (float64; a year is 365.2425 days)."""
    if per not in DAYS_PER_UNIT:
        raise ValueError(f"unknown trend unit {per!r}; expected one of {', '.join(TREND_UNITS)}")
    times = ds[TIME].values
    days = (times - times[0]) / np.timedelta64(1, "D")
    return xr.DataArray(days / DAYS_PER_UNIT[per], dims=TIME, coords={TIME: times})


def _two_sided_p(tstat: npt.NDArray[np.float64], dof: npt.NDArray[np.float64]) -> np.ndarray:
    """P(|T| >= |t|) for Student's t with dof degrees of freedom; NaN where dof < 1."""
    with np.errstate(invalid="ignore"):
        p = 2.0 * stats.t.sf(np.abs(tstat), dof)
    return np.where(dof >= 1, p, np.nan)


def _variable_trend(y: xr.DataArray, x: xr.DataArray) -> dict[str, xr.DataArray]:
    """The trend statistics of one variable from closed-form sums over valid (x, y) pairs."""
    y = y.astype(np.float64)
    valid = y.notnull()
    x_valid = x.where(valid)
    count = valid.sum(TIME)
    sum_x, sum_y = x_valid.sum(TIME), y.sum(TIME)
    sum_xx, sum_xy, sum_yy = (x_valid**2).sum(TIME), (x_valid * y).sum(TIME), (y**2).sum(TIME)
    n = count.where(count > 0)
    sxx = sum_xx - sum_x**2 / n
    sxy = sum_xy - sum_x * sum_y / n
    syy = sum_yy - sum_y**2 / n
    spread = sxx.where(sxx > 0)
    slope = (sxy / spread).where(count >= 2)
    residual = (syy - slope * sxy).clip(min=0.0)
    dof = (count - 2).astype(np.float64)
    stderr = (residual / dof.where(dof > 0) / spread) ** 0.5
    exact_fit_t = xr.full_like(slope, np.inf).where(slope > 0, -np.inf).where(slope != 0)
    tstat = (slope / stderr.where(stderr > 0)).where(stderr > 0, exact_fit_t)
    tstat = tstat.where(stderr.notnull())
    pvalue = xr.apply_ufunc(
        _two_sided_p, tstat, dof, dask="parallelized", output_dtypes=[np.float64]
    )
    return {"slope": slope, "stderr": stderr, "tstat": tstat, "pvalue": pvalue, "count": count}


def linear_trend(ds: xr.Dataset, per: TrendUnit = "year") -> xr.Dataset:
    """Ordinary least-squares trend of every data variable against time, per grid point.

    Returns one Dataset with, for each variable `v`, variables over its non-time dims:
      `v_slope`  change per `per` (units: the variable's units per day, year or decade),
      `v_stderr` standard error of the slope (same units),
      `v_tstat`  slope / stderr,
      `v_pvalue` two-sided p-value of slope == 0 under Student's t with count - 2 dof,
      `v_count`  number of valid (non-NaN) time steps used.
    Each point uses only its own valid pairs. Slope is NaN with fewer than 2 valid steps or
    no spread in time; stderr, tstat and pvalue are NaN with fewer than 3. A perfect fit has
    stderr 0 (up to rounding), an infinite or huge tstat and pvalue 0. Statistics are
    float64; the computation is lazy, made of dask reductions over time (sums of x, y, x²,
    xy, y²), with no loop over points.
    """
    require_time(ds)
    x = elapsed_time(ds, per)
    result = xr.Dataset(attrs={**ds.attrs, "trend_per": per})
    for name, variable in ds.data_vars.items():
        units = variable.attrs.get("units", "1")
        for statistic, values in _variable_trend(variable, x).items():
            attrs = {"long_name": f"{statistic} of the linear trend of {name}"}
            if statistic in {"slope", "stderr"}:
                attrs["units"] = f"{units} per {per}"
            result[f"{name}_{statistic}"] = values.assign_attrs(attrs)
    return result
