"""Recipe steps on a canonical dataset: variables, area, period, regridding, derived variables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from weather_data.canonical import LAT, LEVEL, LON, TIME, select_region
from weather_data.region import Region
from weather_preprocess.domain import DerivedKind, DerivedVariable, Recipe, VariableSpec
from weather_runtime.errors import FieldViolation, InvalidArgument


def select_variables(ds: xr.Dataset, specs: list[VariableSpec]) -> xr.Dataset:
    """Keeps the named variables (and their levels); all when specs is empty."""
    if not specs:
        return ds
    problems = []
    parts = []
    for index, spec in enumerate(specs):
        if spec.name not in ds.data_vars:
            problems.append(
                FieldViolation(
                    f"recipe.variables[{index}].name", f"no variable {spec.name!r} in the input"
                )
            )
            continue
        var = ds[spec.name]
        if spec.levels:
            if LEVEL not in var.dims:
                problems.append(
                    FieldViolation(
                        f"recipe.variables[{index}].levels", f"{spec.name} has no levels"
                    )
                )
                continue
            have = var[LEVEL].values
            missing = [lv for lv in spec.levels if not np.any(np.isclose(have, lv))]
            if missing:
                problems.append(
                    FieldViolation(f"recipe.variables[{index}].levels", f"no levels {missing} hPa")
                )
                continue
            for level in spec.levels:
                one = var.sel({LEVEL: have[np.isclose(have, level)][0]}).drop_vars(LEVEL)
                parts.append(
                    one.rename(f"{spec.name}{int(level) if float(level).is_integer() else level}")
                )
        else:
            parts.append(var)
    if problems:
        raise InvalidArgument(problems)
    return xr.merge(parts, combine_attrs="drop_conflicts")


def select_area(ds: xr.Dataset, recipe: Recipe) -> xr.Dataset:
    if recipe.region is None:
        return ds
    r = recipe.region
    try:
        region = Region(r.lat_min, r.lat_max, r.lon_min, r.lon_max)
    except ValueError as exc:
        raise InvalidArgument(FieldViolation("recipe.region", str(exc))) from None
    ds, problem = select_region(ds, region)
    if problem:
        raise InvalidArgument(FieldViolation("recipe.region", problem.description))
    return ds


def select_period(ds: xr.Dataset, recipe: Recipe) -> xr.Dataset:
    if recipe.period is None:
        return ds
    start, end = recipe.period.start, recipe.period.end
    ds = ds.sel({TIME: slice(start, (end - pd.Timedelta(1, "ns")) if end is not None else None)})
    if ds.sizes[TIME] == 0:
        raise InvalidArgument.field("recipe.period", "selects no time step of the input")
    return ds


def regrid(ds: xr.Dataset, recipe: Recipe) -> xr.Dataset:
    """Block means (coarsen) or bilinear interpolation to a regular grid."""
    if recipe.regrid is None:
        return ds
    c = recipe.regrid.coarsen
    if c is not None:
        if c.latitude_factor > ds.sizes[LAT] or c.longitude_factor > ds.sizes[LON]:
            raise InvalidArgument.field("recipe.regrid.coarsen", "factors exceed the grid")
        out = ds.coarsen({LAT: c.latitude_factor, LON: c.longitude_factor}, boundary="trim").mean()
    else:
        step = float(recipe.regrid.resolution_degrees or 0)
        targets = {LAT: _axis(ds[LAT].values, step), LON: _axis(ds[LON].values, step)}
        if len(targets[LAT]) == 0 or len(targets[LON]) == 0:
            raise InvalidArgument.field("recipe.regrid.resolution_degrees", "leaves no grid point")
        out = _bilinear(ds, targets)
    for name in out.data_vars:
        out[name].attrs = ds[name].attrs
    for axis in (LAT, LON):
        out[axis].attrs = ds[axis].attrs
    return out.astype("float32")


def _axis(values: np.ndarray, step: float) -> np.ndarray:
    """The multiples of step inside the axis's range, rounding slack allowed (a step that does
    not divide the coordinates, such as 0.1, must neither skip the first grid line nor put the
    last a rounding error beyond the edge, where it would interpolate to NaN)."""
    low, high = float(values.min()), float(values.max())
    points = np.arange(np.ceil(low / step - 1e-9) * step, high + 1e-9, step)
    return np.clip(points, low, high)


def _bilinear(ds: xr.Dataset, targets: dict[str, np.ndarray]) -> xr.Dataset:
    """Bilinear interpolation where a point is missing when a neighbour it gives weight to is
    missing (not when one with weight zero is: a point on a grid line uses two neighbours)."""
    values = ds.fillna(0.0).interp(targets, method="linear")
    weight_on_gaps = ds.isnull().astype("float32").interp(targets, method="linear")
    return values.where(weight_on_gaps == 0)


def add_derived(ds: xr.Dataset, derived: list[DerivedVariable]) -> xr.Dataset:
    """Adds wind speed and time-of-day / day-of-year encodings."""
    for index, item in enumerate(derived):
        if item.kind == DerivedKind.WIND_SPEED:
            missing = [n for n in (item.u, item.v) if n not in ds.data_vars]
            if missing:
                raise InvalidArgument.field(
                    f"recipe.derived[{index}]", f"no variables {missing} in the input"
                )
            speed = xr.DataArray(np.hypot(ds[item.u], ds[item.v])).astype("float32")
            speed.attrs = {
                "units": ds[item.u].attrs.get("units", "m s-1"),
                "long_name": "wind speed",
            }
            ds[item.name or "wind_speed"] = speed
        else:
            times = pd.DatetimeIndex(ds[TIME].values)
            if item.kind == DerivedKind.TIME_OF_DAY:
                angle = 2 * np.pi * np.asarray(times.hour + times.minute / 60) / 24
                base = item.name or "time_of_day"
            else:
                angle = 2 * np.pi * np.asarray(times.day_of_year - 1) / 365.25
                base = item.name or "day_of_year"
            for suffix, values in (("sin", np.sin(angle)), ("cos", np.cos(angle))):
                ds[f"{base}_{suffix}"] = xr.DataArray(
                    values.astype("float32"), dims=(TIME,), attrs={"units": "1"}
                )
    return ds
