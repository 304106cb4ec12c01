"""The recipe hash: sha256 of a canonical mapping whose field names are frozen here."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import pandas as pd

from weather_preprocess.domain import (
    Augmentation,
    Bounds,
    DerivedKind,
    DerivedVariable,
    MissingPolicy,
    MissingValues,
    Recipe,
    Regrid,
    Split,
    TimeRange,
    VariableSpec,
)

# The mapping reproduces, key for key, the JSON form the hash was first computed from (the
# protobuf JSON mapping of weather.preprocess.v1.Recipe with its field names): unset parts and
# zero numbers or empty strings are left out, int64 numbers are strings, times RFC 3339 with
# 0, 3, 6 or 9 fraction digits, kinds by their enum name. The names below are written out, not
# derived from any schema, so renaming a proto field changes no recorded hash. A field added
# later must enter the mapping only when it is set, so that older recipes keep their hash.
_KINDS = {
    DerivedKind.WIND_SPEED: "DERIVED_KIND_WIND_SPEED",
    DerivedKind.TIME_OF_DAY: "DERIVED_KIND_TIME_OF_DAY",
    DerivedKind.DAY_OF_YEAR: "DERIVED_KIND_DAY_OF_YEAR",
}
_POLICIES = {policy: f"MISSING_POLICY_{policy.name}" for policy in MissingPolicy}


def recipe_hash(recipe: Recipe) -> str:
    """sha256 of the recipe's canonical mapping, without the output dataset id."""
    text = json.dumps(canonical(recipe), sort_keys=True)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def canonical(recipe: Recipe) -> dict[str, Any]:
    """The recipe as the mapping its hash is computed from (output dataset id excluded)."""
    out: dict[str, Any] = {
        "source": _present(
            dataset_id=recipe.source.dataset_id, content_hash=recipe.source.content_hash
        ),
        "split": _split(recipe.split),
    }
    if recipe.variables:
        out["variables"] = [_variable(v) for v in recipe.variables]
    if recipe.region is not None:
        out["region"] = _bounds(recipe.region)
    if recipe.period is not None:
        out["period"] = _time_range(recipe.period)
    if recipe.regrid is not None:
        out["regrid"] = _regrid(recipe.regrid)
    if recipe.derived:
        out["derived"] = [_derived(d) for d in recipe.derived]
    if recipe.augmentation is not None:
        out["augmentation"] = _augmentation(recipe.augmentation)
    if recipe.missing is not None:  # added later: absent from older recipes and their hashes
        out["missing"] = _missing(recipe.missing)
    return out


def _present(**fields: Any) -> dict[str, Any]:
    """The fields that are set: a non-empty string, a non-zero number (-0.0 counts as set)."""
    out = {}
    for name, value in fields.items():
        if isinstance(value, float):
            if value != 0 or math.copysign(1.0, value) < 0:
                out[name] = _number(value)
        elif value:
            out[name] = value
    return out


def _number(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return float(value)


def _rfc3339(moment: pd.Timestamp) -> str:
    """UTC time with 0, 3, 6 or 9 fraction digits, the fewest that hold its nanoseconds."""
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    nanos = moment.microsecond * 1000 + moment.nanosecond
    if nanos == 0:
        return text + "Z"
    if nanos % 1_000_000 == 0:
        return f"{text}.{nanos // 1_000_000:03d}Z"
    if nanos % 1_000 == 0:
        return f"{text}.{nanos // 1_000:06d}Z"
    return f"{text}.{nanos:09d}Z"


def _time_range(part: TimeRange) -> dict[str, str]:
    out = {}
    if part.start is not None:
        out["start"] = _rfc3339(part.start)
    if part.end is not None:
        out["end"] = _rfc3339(part.end)
    return out


def _split(split: Split) -> dict[str, Any]:
    return {name: _time_range(part) for name, part in split.parts().items()}


def _variable(spec: VariableSpec) -> dict[str, Any]:
    out = _present(name=spec.name)
    if spec.levels:
        out["levels"] = [_number(float(level)) for level in spec.levels]
    return out


def _bounds(box: Bounds) -> dict[str, Any]:
    return _present(
        lat_min=float(box.lat_min),
        lat_max=float(box.lat_max),
        lon_min=float(box.lon_min),
        lon_max=float(box.lon_max),
    )


def _regrid(regrid: Regrid) -> dict[str, Any]:
    if regrid.coarsen is not None:
        c = regrid.coarsen
        return {
            "coarsen": _present(
                latitude_factor=int(c.latitude_factor), longitude_factor=int(c.longitude_factor)
            )
        }
    if regrid.resolution_degrees is not None:  # a oneof member: written even when zero
        return {"resolution_degrees": _number(float(regrid.resolution_degrees))}
    return {}


def _derived(item: DerivedVariable) -> dict[str, Any]:
    out = _present(name=item.name, u=item.u, v=item.v)
    if item.kind in _KINDS:
        out["kind"] = _KINDS[item.kind]
    return out


def _augmentation(aug: Augmentation) -> dict[str, Any]:
    out = _present(
        crop_latitude=int(aug.crop_latitude),
        crop_longitude=int(aug.crop_longitude),
        noise_std=float(aug.noise_std),
    )
    if aug.seed:
        out["seed"] = str(int(aug.seed))  # an int64: a string in the mapping
    return out


def _missing(missing: MissingValues) -> dict[str, Any]:
    out = _present(value=float(missing.value))
    if missing.policy != MissingPolicy.UNSPECIFIED:
        out["policy"] = _POLICIES[missing.policy]
    return out
