"""Recipes: what a training dataset is made of, validated and hashed."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import pandas as pd
from google.protobuf import json_format
from weather.preprocess.v1 import preprocess_service_pb2 as pb

from weather_data.archive import DATASET_ID
from weather_runtime.errors import FieldViolation, InvalidArgument


def recipe_hash(recipe: pb.Recipe) -> str:
    """sha256 of the recipe's canonical JSON, without the output dataset id."""
    copy = pb.Recipe()
    copy.CopyFrom(recipe)
    copy.ClearField("output_dataset_id")
    text = json.dumps(
        json_format.MessageToDict(copy, preserving_proto_field_name=True), sort_keys=True
    )
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def time_or_none(message: Any, name: str) -> pd.Timestamp | None:
    """The Timestamp field name of message as a naive UTC pandas Timestamp, or None."""
    if not message.HasField(name):
        return None
    try:
        return pd.Timestamp(getattr(message, name).ToNanoseconds(), unit="ns")
    except (ValueError, OverflowError):
        raise InvalidArgument.field(name, "is not a valid timestamp (years 1678-2261)") from None


def check_recipe(recipe: pb.Recipe) -> None:
    """Checks a recipe's fields on their face; INVALID_ARGUMENT names every bad one."""
    problems: list[FieldViolation] = []
    if not DATASET_ID.match(recipe.source.dataset_id):
        problems.append(FieldViolation("recipe.source.dataset_id", "must name an archive dataset"))
    if not DATASET_ID.match(recipe.output_dataset_id):
        problems.append(
            FieldViolation(
                "recipe.output_dataset_id",
                "must be 1-128 of [A-Za-z0-9._-], starting with a letter or digit",
            )
        )
    for index, spec in enumerate(recipe.variables):
        if not spec.name:
            problems.append(FieldViolation(f"recipe.variables[{index}].name", "must not be empty"))
    problems += _regrid_problems(recipe)
    for index, derived in enumerate(recipe.derived):
        at = f"recipe.derived[{index}]"
        if derived.kind == pb.DERIVED_KIND_UNSPECIFIED:
            problems.append(
                FieldViolation(f"{at}.kind", "must be WIND_SPEED, TIME_OF_DAY or DAY_OF_YEAR")
            )
        if derived.kind == pb.DERIVED_KIND_WIND_SPEED and not (derived.u and derived.v):
            problems.append(FieldViolation(at, "wind speed needs u and v variable names"))
    problems += _split_problems(recipe.split)
    aug = recipe.augmentation
    if aug.crop_latitude < 0 or aug.crop_longitude < 0:
        problems.append(FieldViolation("recipe.augmentation", "crop sizes must not be negative"))
    if not math.isfinite(aug.noise_std) or aug.noise_std < 0:
        problems.append(
            FieldViolation("recipe.augmentation.noise_std", "must be a finite number >= 0")
        )
    if problems:
        raise InvalidArgument(problems)


def _regrid_problems(recipe: pb.Recipe) -> list[FieldViolation]:
    problems: list[FieldViolation] = []
    if not recipe.HasField("regrid"):
        return problems
    which = recipe.regrid.WhichOneof("method")
    if which == "coarsen":
        c = recipe.regrid.coarsen
        if c.latitude_factor < 1 or c.longitude_factor < 1:
            problems.append(FieldViolation("recipe.regrid.coarsen", "factors must be 1 or more"))
    elif which == "resolution_degrees":
        r = recipe.regrid.resolution_degrees
        if not math.isfinite(r) or not 0 < r <= 90:
            problems.append(
                FieldViolation("recipe.regrid.resolution_degrees", "must be in (0, 90]")
            )
    else:
        problems.append(FieldViolation("recipe.regrid", "set coarsen or resolution_degrees"))
    return problems


def _split_problems(split: pb.Split) -> list[FieldViolation]:
    problems: list[FieldViolation] = []
    ranges = {}
    for name in ("train", "validation", "test"):
        if not split.HasField(name):
            if name == "train":
                problems.append(FieldViolation("recipe.split.train", "is required"))
            continue
        part = getattr(split, name)
        start, end = time_or_none(part, "start"), time_or_none(part, "end")
        if start is None or end is None or end <= start:
            problems.append(FieldViolation(f"recipe.split.{name}", "needs a start before its end"))
            continue
        ranges[name] = (start, end)
    names = list(ranges)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            a, b = ranges[first], ranges[second]
            if a[0] < b[1] and b[0] < a[1]:
                problems.append(
                    FieldViolation(f"recipe.split.{second}", f"overlaps the {first} period")
                )
    return problems
