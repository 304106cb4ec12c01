"""Normalisation statistics on the training split: mean and std of values and one-step changes."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import asdict, dataclass

import xarray as xr
from distributed import Client

from weather_data.canonical import LEVEL, TIME
from weather_data.writer import gather_or_release, lost_workers_unavailable
from weather_runtime import spans
from weather_runtime.errors import FieldViolation, InvalidArgument
from weather_runtime.operations import Cancelled


@dataclass(frozen=True)
class Entry:
    """Statistics of one variable at one level (0 when it has none)."""

    variable: str
    level: float
    mean: float
    std: float
    diff_mean: float
    diff_std: float
    count: int


@dataclass(frozen=True)
class Statistics:
    """The artefact: entries, what they were computed for, and their own hash."""

    stats_hash: str
    recipe_hash: str
    input_id: str
    input_hash: str
    train_steps: int
    entries: tuple[Entry, ...]

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Statistics:
        data = json.loads(text)
        data["entries"] = tuple(Entry(**e) for e in data["entries"])
        return cls(**data)


def _reductions(var: xr.DataArray) -> list[tuple[float, list[xr.DataArray]]]:
    """Per level (or once): lazy mean, std, diff mean, diff std, count and diff count, all
    skipping missing values (a one-step change needs both of its steps)."""
    levels = (
        [(float(v), var.sel({LEVEL: v})) for v in var[LEVEL].values]
        if LEVEL in var.dims
        else [(0.0, var)]
    )
    out = []
    for level, values in levels:
        diffs = values.diff(TIME) if values.sizes.get(TIME, 0) > 1 else values * 0
        out.append(
            (
                level,
                [
                    values.mean(skipna=True),
                    values.std(skipna=True),
                    diffs.mean(skipna=True),
                    diffs.std(skipna=True),
                    values.count(),
                    diffs.count(),
                ],
            )
        )
    return out


def _empty(name: str, level: float, count: int, diff_count: int) -> FieldViolation | None:
    """The problem of a variable whose training values (or one-step changes) are all missing:
    its statistics would be NaN and poison every normalised value."""
    what = f"{name} at {level:g} hPa" if level else name
    if count == 0:
        return FieldViolation(
            "recipe.split.train", f"{what} has no value in the training split (all missing)"
        )
    if diff_count == 0:
        return FieldViolation(
            "recipe.split.train",
            f"{what} has no two consecutive values in the training split (every one-step "
            "change is missing)",
        )
    return None


def compute_statistics(
    train: xr.Dataset,
    client: Client,
    recipe_hash: str,
    input_id: str,
    input_hash: str,
    cancel: threading.Event,
) -> Statistics:
    """Statistics of every variable of the training split, computed on the Dask cluster;
    missing values are skipped, and a variable left with nothing to average is
    INVALID_ARGUMENT naming recipe.split.train."""
    plan = [
        (str(name), level, lazy)
        for name in sorted(str(n) for n in train.data_vars)
        for level, lazy in _reductions(train[name])
    ]
    lazies = [item for _, _, lazy in plan for item in lazy]
    with (
        spans.dask_compute("dask compute: statistics", lazies, variables=len(plan)),
        lost_workers_unavailable(f"the statistics of {input_id}"),
    ):
        futures = client.compute(lazies)
        if cancel.is_set():
            client.cancel(futures)
            raise Cancelled()
        values = gather_or_release(client, futures)
    entries = []
    problems = []
    for index, (name, level, _) in enumerate(plan):
        mean, std, diff_mean, diff_std, count, diff_count = (
            float(v) for v in values[index * 6 : index * 6 + 6]
        )
        problem = _empty(name, level, int(count), int(diff_count))
        if problem is not None:
            problems.append(problem)
        entries.append(Entry(name, level, mean, std, diff_mean, diff_std, int(count)))
    if problems:
        raise InvalidArgument(problems)
    body = json.dumps([asdict(e) for e in entries], sort_keys=True)
    stats_hash = (
        "sha256:" + hashlib.sha256(f"{recipe_hash}|{input_hash}|{body}".encode()).hexdigest()
    )
    return Statistics(
        stats_hash, recipe_hash, input_id, input_hash, int(train.sizes[TIME]), tuple(entries)
    )
