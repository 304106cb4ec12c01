"""Forecast plans (direct leads, rollout beyond the longest trained lead) and archive windows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from weather_data.archive import Archive
from weather_data.manifest import Manifest
from weather_predictor.models import ModelInfo
from weather_runtime.errors import FailedPrecondition, InvalidArgument, NotFound, OutOfRange
from weather_scores.rollout import rollout_steps


@dataclass(frozen=True)
class LeadPlan:
    """How one requested lead is produced: directly, or by `steps` rollout steps."""

    lead_seconds: int
    rollout_steps: int = 0  # 0: one direct call with lead_seconds


def trained_steps(info: ModelInfo) -> frozenset[int]:
    """The trained leads on the time step's grid, in time steps."""
    step = round(info.step_seconds)
    if step <= 0:
        return frozenset()
    return frozenset(t // step for t in info.trained_seconds if t % step == 0)


def window_steps(info: ModelInfo) -> int:
    """The input window's length in time steps."""
    return int(info.window_shape[0])


def plan(info: ModelInfo, leads: list[int], where: str = "lead_times") -> list[LeadPlan]:
    """A plan per lead (seconds). Trained leads (or any lead when the metadata gives none) are
    direct; leads beyond the longest trained lead that are multiples of the time step are rolled
    out in blocks of the trained leads (weather_scores.rollout; the time step must be trained)."""
    trained = info.trained_seconds
    step = round(info.step_seconds)
    plans = []
    for i, lead in enumerate(leads):
        field = f"{where}[{i}]" if where == "lead_times" else where
        if lead <= 0:
            raise InvalidArgument.field(field, f"must be positive, got {lead} s")
        steps = rollout_steps(lead, trained, step, window_steps(info))
        if steps is not None:
            plans.append(LeadPlan(lead, steps))
            continue
        hours = sorted(h for h in info.lead_hours)
        raise InvalidArgument.field(
            field,
            f"{lead / 3600:g} h: expected a trained lead {hours} h or a multiple of the "
            f"{step / 3600:g} h time step beyond {max(hours):g} h (rollout)",
        )
    return plans


def resolve_dataset(archive: Archive, dataset_id: str, content_hash: str) -> Manifest:
    """The version of dataset_id with content_hash (the latest when empty)."""
    if not dataset_id:
        raise InvalidArgument.field("dataset.dataset_id", "is required")
    versions = archive.versions(dataset_id)
    if not versions:
        raise NotFound("dataset", dataset_id)
    if not content_hash:
        return archive.get(dataset_id)
    for number in reversed(versions):
        manifest = archive.get(dataset_id, number)
        if manifest.content_hash == content_hash:
            return manifest
    raise NotFound("dataset version", f"{dataset_id}@{content_hash}")


def read_window(
    archive: Archive, manifest: Manifest, info: ModelInfo, init_time: int
) -> dict[str, np.ndarray]:
    """The window of input_steps steps ending at init_time (unix seconds), spaced by the model's
    time step, per variable [input_steps, lat, lon] float32. OUT_OF_RANGE when the dataset does
    not hold it."""
    ds = archive.open(manifest)
    times = ds["time"].values.astype("datetime64[s]").astype(np.int64)
    steps, lat, lon = info.window_shape
    if times.size == 0:
        raise OutOfRange(f"{manifest.dataset_id} has no time steps")
    dataset_step = float(times[1] - times[0]) if times.size > 1 else 0.0
    model_step = info.step_seconds or dataset_step
    stride = round(model_step / dataset_step) if dataset_step else 1
    matches = np.nonzero(times == init_time)[0]
    if matches.size == 0:
        raise OutOfRange(
            f"init_time {init_time} is not a time step of {manifest.dataset_id} "
            f"({manifest.time_start} .. {manifest.time_end})"
        )
    last = int(matches[0])
    first = last - (steps - 1) * stride
    if first < 0:
        raise OutOfRange(
            f"init_time needs {steps} steps before it in {manifest.dataset_id}; the dataset "
            f"starts at {manifest.time_start}"
        )
    _check_grid(ds, info, manifest.dataset_id)
    window = {}
    for name in info.variables:
        if name not in ds.data_vars:
            raise FailedPrecondition(f"{manifest.dataset_id} has no variable {name!r}")
        values = np.asarray(
            ds[name].isel(time=slice(first, last + 1, stride)).values, dtype=np.float32
        )
        if values.shape != (steps, lat, lon):
            raise FailedPrecondition(
                f"{manifest.dataset_id}:{name} window is {list(values.shape)}, the model expects "
                f"{[steps, lat, lon]}"
            )
        if np.isnan(values).any():
            raise FailedPrecondition(f"{manifest.dataset_id}:{name} has NaN in the window")
        window[name] = values
    return window


def _check_grid(ds: xr.Dataset, info: ModelInfo, dataset_id: str) -> None:
    """FailedPrecondition when the dataset's grid is not the one the model was trained on."""
    for axis in ("latitude", "longitude"):
        expected = info.metadata.get(axis)
        if not expected or axis not in ds.coords:
            continue
        found = np.asarray(ds[axis].values, dtype=np.float64)
        if found.shape != (len(expected),) or not np.allclose(found, expected, atol=1e-6):
            raise FailedPrecondition(
                f"{dataset_id} {axis} ({found.size} values from {found[0]:g}) is not the "
                f"model's grid ({len(expected)} values from {float(expected[0]):g})"
            )
