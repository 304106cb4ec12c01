"""A built training dataset: its version, splits, statistics and training-split climatology."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import xarray as xr

from weather_data.archive import Archive
from weather_data.canonical import LAT, LON, TIME
from weather_data.manifest import Manifest
from weather_runtime import spans
from weather_runtime.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PreconditionViolation,
)

SPLITS = ("train", "validation", "test")
DAY_SECONDS = 86400


@dataclass(frozen=True)
class VariableStatistics:
    """Training-split mean and std of one variable's values and one-step changes."""

    mean: float
    std: float
    diff_mean: float
    diff_std: float


@dataclass(frozen=True)
class TrainingData:
    """A training dataset opened lazily, with what the models need to know about it."""

    manifest: Manifest
    dataset: xr.Dataset
    splits: dict[str, slice]
    statistics: dict[str, VariableStatistics]
    stats_hash: str
    recipe_hash: str
    times: np.ndarray  # int64 unix seconds of every step
    latitude: np.ndarray
    longitude: np.ndarray
    step_seconds: float
    archive_url: str = ""  # where to reopen it (Dask tasks, search trials)
    gapped: bool = False  # its recipe dropped time steps: positions alone do not give times

    @property
    def forecastable(self) -> tuple[str, ...]:
        """Variables on the (time, latitude, longitude) grid with statistics, in dataset order."""
        return tuple(
            str(name)
            for name, var in self.dataset.data_vars.items()
            if var.dims == (TIME, LAT, LON) and str(name) in self.statistics
        )

    @property
    def global_grid(self) -> bool:
        """Whether the longitudes go all the way round (the networks then wrap in longitude)."""
        lon = self.longitude
        if lon.size < 2:
            return False
        spacing = float(np.median(np.diff(lon)))
        return abs(float(lon[-1] - lon[0]) + spacing - 360.0) < spacing / 2

    def read(
        self, variables: tuple[str, ...], start: int, stop: int, stride: int = 1
    ) -> np.ndarray:
        """Physical values [time, lat, lon, variable] of steps start:stop:stride (float32)."""
        part = self.dataset[list(variables)].isel({TIME: slice(start, stop, stride)})
        arrays = [np.asarray(part[name].values, dtype=np.float32) for name in variables]
        return np.stack(arrays, axis=-1)


def resolve(archive: Archive, dataset_id: str, content_hash: str) -> Manifest:
    """The version of dataset_id with content_hash (the latest when empty)."""
    if not dataset_id:
        raise InvalidArgument.field("spec.dataset_id", "is required")
    if not content_hash:
        return archive.get(dataset_id)
    versions = archive.versions(dataset_id)
    if not versions:
        raise NotFound("dataset", dataset_id)
    for number in reversed(versions):
        manifest = archive.get(dataset_id, number)
        if manifest.content_hash == content_hash:
            return manifest
    raise FailedPrecondition(
        f"{dataset_id} has no version with content hash {content_hash}",
        [PreconditionViolation("CONTENT_HASH", "spec.content_hash", "no such version")],
    )


def _splits(manifest: Manifest) -> dict[str, slice]:
    found = {}
    for name in SPLITS:
        text = manifest.extra.get(f"{name}_steps", "")
        if not text:
            continue
        start, stop = (int(part) for part in text.split(":"))
        found[name] = slice(start, stop)
    missing = [name for name in SPLITS if name not in found]
    if missing:
        raise FailedPrecondition(
            f"{manifest.dataset_id} is not a built training dataset (no {', '.join(missing)} "
            "split): build it with the preprocess service",
            [PreconditionViolation("TRAINING_DATASET", "spec.dataset_id", "no splits")],
        )
    return found


def load_statistics(archive: Archive, stats_hash: str) -> dict[str, VariableStatistics]:
    """Per-variable statistics of the artefact statistics/<hex>.json (level 0 entries)."""
    text = archive.get_json(f"statistics/{stats_hash.removeprefix('sha256:')}.json")
    if text is None:
        raise NotFound("statistics", stats_hash)
    out = {}
    for entry in json.loads(text)["entries"]:
        if float(entry["level"]) == 0.0:
            out[str(entry["variable"])] = VariableStatistics(
                float(entry["mean"]),
                float(entry["std"]) or 1.0,
                float(entry["diff_mean"]),
                float(entry["diff_std"]) or 1.0,
            )
    return out


def _refuse_missing(manifest: Manifest) -> None:
    """FAILED_PRECONDITION naming the dataset when its manifest counts missing values: NaN
    would poison every loss and score. The recipe's missing policy fills or drops them."""
    counts = [f"{v.name}: {v.missing_count}" for v in manifest.variables if v.missing_count]
    if counts:
        raise FailedPrecondition(
            f"training dataset {manifest.dataset_id} (version {manifest.version}) holds missing "
            f"values ({', '.join(counts)}): build it with a recipe missing policy "
            "(missing: {policy: MISSING_POLICY_FILL_CLIMATOLOGY, FILL_MEAN, FILL_VALUE or "
            "DROP_TIME_STEPS})",
            [PreconditionViolation("MISSING_VALUES", "spec.dataset_id", "holds missing values")],
        )


def open_training_data(archive: Archive, dataset_id: str, content_hash: str) -> TrainingData:
    """Resolves, opens and describes a training dataset built by the preprocess service;
    FAILED_PRECONDITION when it is not one or still holds missing values."""
    manifest = resolve(archive, dataset_id, content_hash)
    splits = _splits(manifest)
    _refuse_missing(manifest)
    stats_hash = manifest.extra.get("stats_hash", "")
    statistics = load_statistics(archive, stats_hash)
    ds = archive.open(manifest)
    times = (ds[TIME].values.astype("datetime64[s]").astype(np.int64)).astype(np.int64)
    step = manifest.time_step_seconds or (float(times[1] - times[0]) if times.size > 1 else 0.0)
    gapped = manifest.extra.get("missing_dropped_steps", "0") not in ("", "0")
    if gapped and times.size > 1:  # the steps left keep the spacing most of them still have
        spacings, counts = np.unique(np.diff(times), return_counts=True)
        step = float(spacings[np.argmax(counts)])
    return TrainingData(
        manifest=manifest,
        dataset=ds,
        splits=splits,
        statistics=statistics,
        stats_hash=stats_hash,
        recipe_hash=manifest.extra.get("recipe_hash", ""),
        times=times,
        latitude=np.asarray(ds[LAT].values, dtype=np.float64),
        longitude=np.asarray(ds[LON].values, dtype=np.float64),
        step_seconds=float(step),
        archive_url=archive.url,
        gapped=gapped,
    )


def day_slots(step_seconds: float) -> int:
    """Climatology slots per day: one per model step of the day (1 when steps do not fit a day)."""
    if step_seconds <= 0 or step_seconds > DAY_SECONDS or DAY_SECONDS % step_seconds:
        return 1
    return int(DAY_SECONDS // step_seconds)


def slot_of(times: np.ndarray, slots: int) -> np.ndarray:
    """Climatology slot of unix times (hour of day for hourly slots)."""
    return ((times % DAY_SECONDS) // (DAY_SECONDS // slots)).astype(np.int64)


def fold_of(index: np.ndarray, train: slice, folds: int) -> np.ndarray:
    """Cross-fitting fold (contiguous blocks of the training split) of dataset step indices;
    -1 outside the training split."""
    length = max(1, train.stop - train.start)
    fold = ((index - train.start) * folds) // length
    inside = (index >= train.start) & (index < train.stop)
    return np.where(inside, np.minimum(fold, folds - 1), -1).astype(np.int32)


def climatology(
    data: TrainingData, variables: tuple[str, ...], slots: int, leave_out: int = -1, folds: int = 1
) -> np.ndarray:
    """Mean of the training split by time-of-day slot: [slot, lat, lon, variable] float32;
    leave_out >= 0 leaves that cross-fitting fold (of folds) out."""
    train = data.splits["train"]
    steps = np.arange(train.start, train.stop)
    if leave_out >= 0:
        steps = steps[fold_of(steps, train, folds) != leave_out]
    keys = xr.DataArray(slot_of(data.times[steps], slots), dims=(TIME,), name="slot")
    part = data.dataset[list(variables)].isel({TIME: steps})
    grouped = part.groupby(keys.assign_coords({TIME: part[TIME]})).mean(TIME)
    with spans.dask_compute("dask compute: climatology", grouped, slots=slots):
        means = grouped.compute()
    found = set(int(s) for s in means["slot"].values)
    if found != set(range(slots)):
        raise FailedPrecondition(
            "the training split does not cover every time of day",
            [PreconditionViolation("TRAINING_SPLIT", "spec.dataset_id", "too short")],
        )
    means = means.sortby("slot")
    return np.stack(
        [np.asarray(means[name].transpose("slot", LAT, LON).values) for name in variables],
        axis=-1,
    ).astype(np.float32)
