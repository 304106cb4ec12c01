"""A build's missing values: failed on, filled from the training split or dropped, per recipe."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import xarray as xr
from distributed import Client

from weather_data.canonical import TIME
from weather_data.writer import gather_or_release, lost_workers_unavailable
from weather_preprocess.domain import MissingPolicy, MissingValues
from weather_runtime import spans
from weather_runtime.errors import FieldViolation, InvalidArgument
from weather_runtime.operations import Cancelled

HOUR = "hour"


@dataclass(frozen=True)
class Handled:
    """The dataset and splits after the policy, and what it did (manifest extra entries)."""

    dataset: xr.Dataset
    splits: dict[str, slice]
    notes: dict[str, str] = field(default_factory=dict)


def _compute(client: Client, lazies: Sequence[object], cancel: threading.Event) -> list[object]:
    with (
        spans.dask_compute("dask compute: missing values", lazies),
        lost_workers_unavailable("the missing values of the build"),
    ):
        futures = client.compute(list(lazies))
        if cancel.is_set():
            client.cancel(futures)
            raise Cancelled()
        return gather_or_release(client, futures)


def _along_time(ds: xr.Dataset) -> list[str]:
    return [str(name) for name, var in ds.data_vars.items() if TIME in var.dims]


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{name}: {count}" for name, count in counts.items() if count)


def _empty_training(name: str) -> FieldViolation:
    return FieldViolation(
        "recipe.split.train", f"{name} has no value in the training split (all missing): no fill"
    )


def handle_missing(
    ds: xr.Dataset,
    splits: dict[str, slice],
    missing: MissingValues | None,
    client: Client,
    cancel: threading.Event,
    resplit: Callable[[xr.Dataset], dict[str, slice]],
) -> Handled:
    """Applies the recipe's policy to the output dataset (lazily, but for the few statistics it
    needs): the unset policy keeps missing values; FAIL is INVALID_ARGUMENT naming
    recipe.missing when any is missing; fills use the training split only; dropping time steps
    splits the remaining steps again with resplit."""
    if missing is None:
        return Handled(ds, splits)
    names = _along_time(ds)
    policy = missing.policy
    if policy == MissingPolicy.DROP_TIME_STEPS:
        return _drop(ds, names, client, cancel, resplit)
    train = ds.isel({TIME: splits["train"]})
    lazies: list[object] = [ds[n].isnull().sum() for n in names]
    if policy in (MissingPolicy.FILL_MEAN, MissingPolicy.FILL_CLIMATOLOGY):
        lazies += [train[n].mean(TIME, skipna=True) for n in names]
        lazies += [train[n].mean(skipna=True) for n in names]
    if policy == MissingPolicy.FILL_CLIMATOLOGY:
        hours = train[TIME].dt.hour.rename(HOUR)
        lazies += [train[n].groupby(hours).mean(TIME, skipna=True) for n in names]
    results = _compute(client, lazies, cancel)
    counts = {n: int(c) for n, c in zip(names, results[: len(names)], strict=True)}  # type: ignore[call-overload]
    if not any(counts.values()):
        return Handled(ds, splits, {"missing_policy": policy.value})  # nothing to fill
    if policy == MissingPolicy.FAIL:
        raise InvalidArgument.field(
            "recipe.missing",
            f"policy FAIL and the data hold missing values ({_counts_text(counts)})",
        )
    filled = ds.copy()
    problems = []
    for index, name in enumerate(names):
        if not counts[name]:
            continue
        fill = _fill(policy, missing.value, results, len(names), index, ds[name])
        if fill is None:
            problems.append(_empty_training(name))
            continue
        var = ds[name]
        filled[name] = var.fillna(fill).astype(var.dtype).assign_attrs(var.attrs)
    if problems:
        raise InvalidArgument(problems)
    notes = {"missing_policy": policy.value, "missing_filled": _counts_text(counts)}
    return Handled(filled, splits, notes)


def _fill(
    policy: MissingPolicy,
    value: float,
    results: list[object],
    width: int,
    index: int,
    var: xr.DataArray,
) -> xr.DataArray | float | None:
    """The fill of variable index (of width) from the computed results: [counts, point means,
    overall means, hourly means] each width long; None when its training split is all missing."""
    if policy == MissingPolicy.FILL_VALUE:
        return float(value)
    point, overall = results[width + index], results[width * 2 + index]
    if np.isnan(float(overall)):  # type: ignore[arg-type]
        return None
    fill: xr.DataArray = point.fillna(overall)  # type: ignore[attr-defined]
    if policy == MissingPolicy.FILL_CLIMATOLOGY:
        fill = _by_hour(results[width * 3 + index], fill, var)  # type: ignore[arg-type]
    return fill


def _by_hour(clim: xr.DataArray, point: xr.DataArray, var: xr.DataArray) -> xr.DataArray:
    """The climatology value of every time step of var, lazily, chunked along time like var;
    an hour the training split lacks takes the point's mean."""
    clim = clim.reindex({HOUR: np.arange(24)}).fillna(point).chunk({HOUR: -1})
    hours = xr.DataArray(var[TIME].dt.hour.values, dims=(TIME,), coords={TIME: var[TIME]})
    reference = clim.sel({HOUR: hours}).drop_vars(HOUR)
    if var.chunks is not None:
        reference = reference.chunk({TIME: var.chunksizes[TIME]})
    return reference.transpose(*var.dims)


def _drop(
    ds: xr.Dataset,
    names: list[str],
    client: Client,
    cancel: threading.Event,
    resplit: Callable[[xr.Dataset], dict[str, slice]],
) -> Handled:
    """Keeps the time steps where no variable has a missing value."""
    steps = []
    for name in names:
        gaps = ds[name].isnull()
        others = [d for d in gaps.dims if d != TIME]
        steps.append(gaps.any(others) if others else gaps)
    if not steps:
        return Handled(ds, resplit(ds))
    results = _compute(client, steps, cancel)
    dropped = np.logical_or.reduce([np.asarray(r) for r in results])
    if dropped.all():
        raise InvalidArgument.field(
            "recipe.missing", "policy DROP_TIME_STEPS drops every time step: each has a gap"
        )
    kept = ds.isel({TIME: np.nonzero(~dropped)[0]}) if dropped.any() else ds
    notes = {"missing_policy": MissingPolicy.DROP_TIME_STEPS.value}
    notes["missing_dropped_steps"] = str(int(dropped.sum()))
    return Handled(kept, resplit(kept), notes)
