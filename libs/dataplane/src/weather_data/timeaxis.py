"""Time axes xarray cannot decode on its own: decoding hints, applied or suggested."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from weather_runtime.errors import FieldViolation, InvalidArgument

_SECOND = 1_000_000_000
STEP_UNITS = {  # nanoseconds per step unit
    **dict.fromkeys(("s", "sec", "second", "seconds"), _SECOND),
    **dict.fromkeys(("min", "minute", "minutes"), 60 * _SECOND),
    **dict.fromkeys(("h", "hr", "hour", "hours"), 3600 * _SECOND),
    **dict.fromkeys(("d", "day", "days"), 86400 * _SECOND),
}
_SINCE = re.compile(r"^\s*([A-Za-z]+)\s+since\s+(.+?)\s*$")
_HINTED = re.compile(r"time|step|date", re.IGNORECASE)
_REFERENCE_NAMES = ("reference_time", "ref_time", "base_time", "analysis_time", "init_time")
PREFIX = "time_decoding"


@dataclass(frozen=True)
class TimeDecoding:
    """How to read a source's time axis (all empty: as xarray decoded it)."""

    variable: str = ""
    units: str = ""
    reference_time: str = ""
    step_units: str = ""
    renames: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(
            self.variable or self.units or self.reference_time or self.step_units or self.renames
        )

    @property
    def decodes_time(self) -> bool:
        return bool(self.variable or self.units or self.reference_time or self.step_units)


def check(hints: TimeDecoding) -> list[FieldViolation]:
    """Problems visible without the source: bad step units, units and reference time both set."""
    problems = []
    if hints.step_units and hints.step_units.strip().lower() not in STEP_UNITS:
        problems.append(
            FieldViolation(
                f"{PREFIX}.step_units",
                f"unknown step unit {hints.step_units!r}; use seconds, minutes, hours or days",
            )
        )
    if hints.units and hints.reference_time:
        problems.append(
            FieldViolation(
                f"{PREFIX}.reference_time",
                "give either units ('hours since ...') or reference_time with step_units, not both",
            )
        )
    targets: set[str] = set()
    for source, target in hints.renames.items():
        if not source.strip() or not target.strip():
            problems.append(
                FieldViolation(f"{PREFIX}.renames[{source!r}]", "names must not be empty")
            )
        elif target in targets:
            problems.append(
                FieldViolation(f"{PREFIX}.renames[{source!r}]", f"{target!r} is a target twice")
            )
        targets.add(target)
    return problems


def apply(ds: xr.Dataset, hints: TimeDecoding) -> xr.Dataset:
    """The source with hints applied: renames, then the hinted time axis on a datetime "time"
    dimension. InvalidArgument naming the time_decoding field that does not fit."""
    problems = check(hints)
    if problems:
        raise InvalidArgument(problems)
    ds = _rename(ds, hints.renames)
    if not hints.decodes_time:
        return ds
    name = hints.variable or _candidate(ds)
    if not name:
        raise InvalidArgument.field(
            f"{PREFIX}.variable", "no variable looks like a time axis; name the one that is"
        )
    if name not in ds.variables:
        raise InvalidArgument.field(
            f"{PREFIX}.variable",
            f"no variable {name!r} in the source; it has {sorted(map(str, ds.variables))}",
        )
    var = ds[name]
    if var.ndim != 1:
        raise InvalidArgument.field(
            f"{PREFIX}.variable", f"{name!r} has dims {list(var.dims)}; a time axis has one"
        )
    times = _decode(ds, var, hints)
    dim = str(var.dims[0])
    ds = ds.drop_vars([v for v in (name, dim, "time") if v in ds.variables])
    if dim != "time":
        if "time" in ds.dims:
            raise InvalidArgument.field(
                f"{PREFIX}.variable", f"the source has another 'time' dimension than {dim!r}"
            )
        ds = ds.rename_dims({dim: "time"})
    return ds.assign_coords(time=("time", times))


def suggestion(ds: xr.Dataset) -> str:
    """Which hint would give the source a time axis ("" when nothing looks like one)."""
    name = _candidate(ds)
    if not name:
        return ""
    text = f"variable {name!r} looks like one"
    return f"{text}{_advice(ds, name)}"


def _advice(ds: xr.Dataset, name: str) -> str:
    """The hint fitting the candidate axis name and what else the source holds."""
    own = _attr(ds[name], "units")
    units = _found_units(ds)
    reference = _found_reference(ds)
    if ds[name].dtype.kind in "OSU":
        return f": set {PREFIX}.variable to read its text as ISO 8601 times"
    if _SINCE.match(own):
        return f" but its units {own!r} do not decode: set {PREFIX}.units"
    if units:
        return f" and {units[0]} holds {units[1]!r}: set {PREFIX}.variable and {PREFIX}.units"
    if reference:
        where = f" and {reference[0]} holds {reference[1]!r}: set {PREFIX}.variable"
        if own.lower() in STEP_UNITS:
            return f"{where} and {PREFIX}.reference_time (its units {own!r} count the steps)"
        return f"{where}, {PREFIX}.reference_time and {PREFIX}.step_units"
    return f": set {PREFIX}.variable and {PREFIX}.units"


def _attr(obj: xr.DataArray | xr.Dataset, name: str) -> str:
    return str(obj.attrs.get(name, "")).strip()


def _rename(ds: xr.Dataset, renames: dict[str, str]) -> xr.Dataset:
    names = set(map(str, ds.variables)) | set(map(str, ds.dims))
    problems = []
    for source, target in sorted(renames.items()):
        if source not in names:
            problems.append(
                FieldViolation(
                    f"{PREFIX}.renames[{source!r}]",
                    f"no variable or dimension {source!r} in the source; it has {sorted(names)}",
                )
            )
        elif target in names and target not in renames:
            problems.append(
                FieldViolation(
                    f"{PREFIX}.renames[{source!r}]", f"the source already has {target!r}"
                )
            )
    if problems:
        raise InvalidArgument(problems)
    return ds.rename(renames) if renames else ds


def _candidate(ds: xr.Dataset) -> str:
    """The one-dimensional variable most like an undecoded time axis ("" when none is)."""
    found = []
    for name in map(str, ds.variables):
        var = ds[name]
        if var.ndim != 1 or np.issubdtype(var.dtype, np.datetime64):
            continue
        if not (np.issubdtype(var.dtype, np.number) or var.dtype.kind in "OSU"):
            continue
        axis_t = _attr(var, "axis").upper() == "T" or _attr(var, "standard_name") == "time"
        if axis_t or _HINTED.search(str(name)):
            found.append((not axis_t, name != var.dims[0], name))
    return min(found)[2] if found else ""


def _found_units(ds: xr.Dataset) -> tuple[str, str] | None:
    """Where the source keeps CF time units outside the axis: (where, units)."""
    for key, value in ds.attrs.items():
        if isinstance(value, str) and _SINCE.match(value):
            return f"global attribute {key!r}", value
    for name, var in ds.variables.items():
        if var.ndim == 0 and var.dtype.kind in "OSU" and _SINCE.match(str(var.values)):
            return f"variable {name!r}", str(var.values)
    return None


def _found_reference(ds: xr.Dataset) -> tuple[str, str] | None:
    for key in _REFERENCE_NAMES:
        if key in ds.attrs:
            return f"global attribute {key!r}", str(ds.attrs[key])
        if key in ds.variables and ds[key].ndim == 0:
            return f"variable {key!r}", str(ds[key].values)
    return None


def _lookup(ds: xr.Dataset, name: str) -> str | None:
    """A global attribute's or a scalar variable's text, or None when name is neither."""
    if name in ds.attrs:
        return str(ds.attrs[name]).strip()
    if name in ds.variables and ds[name].ndim == 0:
        value = ds[name].values
        if np.issubdtype(value.dtype, np.datetime64):
            return str(pd.Timestamp(value).isoformat())
        return str(value).strip()
    return None


def _timestamp(text: str) -> pd.Timestamp | None:
    try:
        moment = pd.Timestamp(text)
        if moment is pd.NaT:
            return None
        moment = moment.tz_convert("UTC").tz_localize(None) if moment.tzinfo else moment
        return moment.as_unit("ns")  # OutOfBoundsDatetime outside the years 1678-2261
    except (ValueError, TypeError, OverflowError):
        return None


def _units(ds: xr.Dataset, var: xr.DataArray, hints: TimeDecoding) -> tuple[int, pd.Timestamp]:
    """(nanoseconds per step, reference time) of the axis, from the hints or the variable."""
    if hints.reference_time:
        text = hints.reference_time
        reference = _timestamp(text)
        if reference is None:
            looked = _lookup(ds, text)
            reference = _timestamp(looked) if looked is not None else None
            if reference is None:
                where = "" if looked is None else f" (it holds {looked!r})"
                raise InvalidArgument.field(
                    f"{PREFIX}.reference_time",
                    f"{text!r} is neither a time (ISO 8601) nor a global attribute or scalar "
                    f"variable holding one{where}",
                )
        step = (hints.step_units or _attr(var, "units") or "hours").strip().lower()
        if step not in STEP_UNITS:
            raise InvalidArgument.field(
                f"{PREFIX}.step_units",
                f"the axis's units {step!r} are no step unit; set seconds, minutes, hours or days",
            )
        return STEP_UNITS[step], reference
    field_ = f"{PREFIX}.units"
    units = hints.units or _attr(var, "units")
    if hints.units and not _SINCE.match(units):
        looked = _lookup(ds, units)
        units = looked if looked is not None else units
    parsed = _SINCE.match(units)
    if not units:
        raise InvalidArgument.field(
            field_,
            f"the time variable {var.name!r} has no units; give CF units such as "
            "'hours since 2020-01-01 00:00' (or reference_time and step_units)",
        )
    reference = _timestamp(parsed.group(2)) if parsed else None
    step = parsed.group(1).lower() if parsed else ""
    if parsed is None or reference is None or step not in STEP_UNITS:
        raise InvalidArgument.field(
            field_,
            f"cannot read {units!r} as time units; give CF units such as "
            "'hours since 2020-01-01 00:00' (steps in seconds, minutes, hours or days)",
        )
    return STEP_UNITS[step], reference


def _decode(ds: xr.Dataset, var: xr.DataArray, hints: TimeDecoding) -> np.ndarray:
    """The axis's values as datetime64[ns]."""
    values = np.asarray(var.values)
    if np.issubdtype(values.dtype, np.datetime64):
        if hints.units or hints.reference_time:
            raise InvalidArgument.field(
                f"{PREFIX}.units" if hints.units else f"{PREFIX}.reference_time",
                f"{var.name!r} already holds times; leave units and reference_time empty",
            )
        return values.astype("datetime64[ns]")
    if values.dtype.kind in "OSU" and not (hints.units or hints.reference_time):
        return _parse_texts(values, str(var.name))
    if not np.issubdtype(values.dtype, np.number):
        raise InvalidArgument.field(
            f"{PREFIX}.variable", f"{var.name!r} holds {values.dtype} values, not numbers"
        )
    unit, reference = _units(ds, var, hints)
    numbers = values.astype("float64")
    if not np.all(np.isfinite(numbers)):
        raise InvalidArgument.field(f"{PREFIX}.variable", f"{var.name!r} has missing values")
    offsets = np.rint(numbers * float(unit))
    start = np.datetime64(reference, "ns").astype("int64")
    if np.any(np.abs(offsets) > 2**62) or np.any(np.abs(offsets + start) > 2**62):
        raise InvalidArgument.field(
            f"{PREFIX}.variable", f"{var.name!r} reaches beyond the years 1678-2261"
        )
    times: np.ndarray = (start + offsets.astype("int64")).astype("datetime64[ns]")
    return times


def _parse_texts(values: np.ndarray, name: str) -> np.ndarray:
    """Times written as text ("2020-01-01 06:00"), read as ISO 8601 (UTC when zoned)."""
    try:
        times = pd.to_datetime([str(v) for v in values], format="ISO8601", utc=True)
    except (ValueError, TypeError) as exc:
        raise InvalidArgument.field(
            f"{PREFIX}.variable", f"{name!r} holds text that is not ISO 8601 times: {exc}"
        ) from None
    if times.hasnans:
        raise InvalidArgument.field(f"{PREFIX}.variable", f"{name!r} has missing values")
    parsed: np.ndarray = times.tz_localize(None).values.astype("datetime64[ns]")
    return parsed
