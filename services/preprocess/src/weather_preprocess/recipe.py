"""Recipes: what a training dataset is made of, checked on their face and hashed."""

from __future__ import annotations

import math

from weather_data.archive import DATASET_ID
from weather_preprocess.domain import DerivedKind, MissingPolicy, Recipe, Split
from weather_preprocess.recipe_hash import recipe_hash
from weather_runtime.errors import FieldViolation, InvalidArgument

__all__ = ["check_recipe", "recipe_hash"]


def check_recipe(recipe: Recipe) -> None:
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
        if derived.kind == DerivedKind.UNSPECIFIED:
            problems.append(
                FieldViolation(f"{at}.kind", "must be WIND_SPEED, TIME_OF_DAY or DAY_OF_YEAR")
            )
        if derived.kind == DerivedKind.WIND_SPEED and not (derived.u and derived.v):
            problems.append(FieldViolation(at, "wind speed needs u and v variable names"))
    problems += _split_problems(recipe.split)
    if recipe.augmentation is not None:
        aug = recipe.augmentation
        if aug.crop_latitude < 0 or aug.crop_longitude < 0:
            problems.append(
                FieldViolation("recipe.augmentation", "crop sizes must not be negative")
            )
        if not math.isfinite(aug.noise_std) or aug.noise_std < 0:
            problems.append(
                FieldViolation("recipe.augmentation.noise_std", "must be a finite number >= 0")
            )
    problems += _missing_problems(recipe)
    if problems:
        raise InvalidArgument(problems)


FLOAT32_MAX = 3.4028234663852886e38  # the data are float32: a larger fill would become inf


def _missing_problems(recipe: Recipe) -> list[FieldViolation]:
    missing = recipe.missing
    if missing is None:
        return []
    if missing.policy == MissingPolicy.UNSPECIFIED:
        return [
            FieldViolation(
                "recipe.missing.policy",
                "must be FAIL, FILL_CLIMATOLOGY, FILL_MEAN, FILL_VALUE or DROP_TIME_STEPS",
            )
        ]
    if missing.policy == MissingPolicy.FILL_VALUE and not (
        math.isfinite(missing.value) and abs(missing.value) <= FLOAT32_MAX
    ):
        return [FieldViolation("recipe.missing.value", "must be a finite float32 number")]
    return []


def _regrid_problems(recipe: Recipe) -> list[FieldViolation]:
    problems: list[FieldViolation] = []
    if recipe.regrid is None:
        return problems
    if recipe.regrid.coarsen is not None:
        c = recipe.regrid.coarsen
        if c.latitude_factor < 1 or c.longitude_factor < 1:
            problems.append(FieldViolation("recipe.regrid.coarsen", "factors must be 1 or more"))
    elif recipe.regrid.resolution_degrees is not None:
        r = recipe.regrid.resolution_degrees
        if not math.isfinite(r) or not 0 < r <= 90:
            problems.append(
                FieldViolation("recipe.regrid.resolution_degrees", "must be in (0, 90]")
            )
    else:
        problems.append(FieldViolation("recipe.regrid", "set coarsen or resolution_degrees"))
    return problems


def _split_problems(split: Split) -> list[FieldViolation]:
    problems: list[FieldViolation] = []
    if split.train is None:
        problems.append(FieldViolation("recipe.split.train", "is required"))
    ranges = {}
    for name, part in split.parts().items():
        if part.start is None or part.end is None or part.end <= part.start:
            problems.append(FieldViolation(f"recipe.split.{name}", "needs a start before its end"))
            continue
        ranges[name] = (part.start, part.end)
    names = list(ranges)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            a, b = ranges[first], ranges[second]
            if a[0] < b[1] and b[0] < a[1]:
                problems.append(
                    FieldViolation(f"recipe.split.{second}", f"overlaps the {first} period")
                )
    return problems
