"""Builds a training dataset from a recipe; the recipe hash and input hash identify the result."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import xarray as xr

from weather_data.archive import Archive
from weather_data.canonical import ORDER, TIME
from weather_data.cluster import DaskRuntime
from weather_data.limits import ExtentLimits
from weather_data.manifest import Manifest
from weather_data.publish import publish
from weather_data.store_errors import store_errors
from weather_preprocess import transform
from weather_preprocess.domain import Recipe, Split
from weather_preprocess.missing import handle_missing
from weather_preprocess.recipe import check_recipe, recipe_hash
from weather_preprocess.statistics import Statistics, compute_statistics
from weather_runtime import spans
from weather_runtime.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PreconditionViolation,
)
from weather_runtime.operations import Cancelled

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class BuildOutcome:
    """A built (or reused) training dataset and its statistics."""

    manifest: Manifest
    recipe_hash: str
    statistics: Statistics
    steps: dict[str, int]
    reused: bool


def resolve(archive: Archive, dataset_id: str, content_hash: str, field: str) -> Manifest:
    """The version of dataset_id with content_hash (the latest when empty)."""
    if not content_hash:
        return archive.get(dataset_id)
    for number in reversed(archive.versions(dataset_id)):
        manifest = archive.get(dataset_id, number)
        if manifest.content_hash == content_hash:
            return manifest
    if not archive.versions(dataset_id):
        raise NotFound("dataset", dataset_id)
    raise FailedPrecondition(
        f"{dataset_id} has no version with content hash {content_hash}",
        [PreconditionViolation("CONTENT_HASH", field, "no such version")],
    )


def _stats_path(stats_hash: str) -> str:
    return f"statistics/{stats_hash.removeprefix('sha256:')}.json"


def load_statistics(archive: Archive, stats_hash: str) -> Statistics:
    """A stored statistics artefact; NotFound when absent."""
    text = archive.get_json(_stats_path(stats_hash))
    if text is None:
        raise NotFound("statistics", stats_hash)
    return Statistics.from_json(text)


def _split_steps(ds: xr.Dataset, split: Split) -> dict[str, slice]:
    times = pd.DatetimeIndex(ds[TIME].values)
    found = {}
    for name, part in split.parts().items():  # checked: each has a start before its end
        chosen = (times >= part.start) & (times < part.end)
        if not chosen.any():
            raise InvalidArgument.field(f"recipe.split.{name}", "selects no time step of the data")
        where = chosen.nonzero()[0]
        found[name] = slice(int(where[0]), int(where[-1]) + 1)
    return found


class Builder:
    """Runs builds on one archive and Dask cluster."""

    def __init__(
        self, archive: Archive, runtime: DaskRuntime, limits: ExtentLimits | None = None
    ) -> None:
        self.archive = archive
        self.runtime = runtime
        self.limits = limits or ExtentLimits()

    def plan(self, recipe: Recipe) -> tuple[Manifest, str, xr.Dataset, dict[str, slice]]:
        """Checks the recipe against its input and lays out the lazy pipeline (no data read):
        (input manifest, recipe hash, output dataset, split positions)."""
        check_recipe(recipe)
        source = resolve(
            self.archive,
            recipe.source.dataset_id,
            recipe.source.content_hash,
            "recipe.source.content_hash",
        )
        ds = self.archive.open(source)
        ds = transform.select_variables(ds, list(recipe.variables))
        ds = transform.select_area(ds, recipe)
        ds = transform.select_period(ds, recipe)
        ds = transform.regrid(ds, recipe)
        ds = transform.add_derived(ds, list(recipe.derived))
        ds = ds.transpose(*[d for d in ORDER if d in ds.dims], ...)
        self.limits.check(ds, "the recipe")
        return source, recipe_hash(recipe), ds, _split_steps(ds, recipe.split)

    def run(
        self, recipe: Recipe, actor: str, progress: Progress, cancel: threading.Event
    ) -> BuildOutcome:
        with spans.step("build: plan"):
            source, hashed, ds, splits = self.plan(recipe)
        record_path = "builds/{}-{}.json".format(
            hashed.removeprefix("sha256:"), source.content_hash.removeprefix("sha256:")
        )
        reused = self._reuse(record_path, recipe.output_dataset_id)
        if reused is not None:
            progress("done", 1.0)
            return reused
        if cancel.is_set():
            raise Cancelled()
        client = self.runtime.client()
        if recipe.missing is not None:
            progress("missing values", 0.02)
            with spans.step("build: missing values"):
                handled = handle_missing(
                    ds,
                    splits,
                    recipe.missing,
                    client,
                    cancel,
                    lambda kept: _split_steps(kept, recipe.split),
                )
            ds, splits = handled.dataset, handled.splits
        progress("statistics", 0.05)
        with spans.step(
            "build: statistics", **{"split.steps": splits["train"].stop - splits["train"].start}
        ):
            statistics = compute_statistics(
                ds.isel({TIME: splits["train"]}),
                client,
                hashed,
                source.dataset_id,
                source.content_hash,
                cancel,
            )
        progress("writing", 0.15)
        extra = {f"{name}_steps": f"{s.start}:{s.stop}" for name, s in splits.items()}
        extra.update({"recipe_hash": hashed, "stats_hash": statistics.stats_hash})
        if recipe.missing is not None:
            extra.update(handled.notes)
        with spans.step("build: write"):
            manifest = publish(
                self.archive,
                client,
                ds,
                dataset_id=recipe.output_dataset_id,
                source_uri=f"{source.dataset_id}@{source.content_hash}",
                source_format="preprocess",
                source_size=0,
                actor=actor,
                progress=lambda done: progress("writing", 0.15 + 0.8 * done),
                cancel=cancel,
                extra=extra,
            )
        # a store that fills up after the commit: a clean error, and the retry (no build record
        # yet) writes the same content again with its statistics
        output = manifest.dataset_id
        with store_errors(self.archive.url, f"writing the statistics of {output}"):
            self.archive.put_json(_stats_path(statistics.stats_hash), statistics.to_json())
        steps = {name: s.stop - s.start for name, s in splits.items()}
        record = {
            "dataset_id": manifest.dataset_id,
            "version": manifest.version,
            "stats_hash": statistics.stats_hash,
            "steps": steps,
        }
        with store_errors(self.archive.url, f"recording the build of {output}"):
            self.archive.put_json(record_path, json.dumps(record, sort_keys=True))
        progress("done", 1.0)
        return BuildOutcome(manifest, hashed, statistics, steps, reused=False)

    def _reuse(self, record_path: str, output_id: str) -> BuildOutcome | None:
        text = self.archive.get_json(record_path)
        if text is None:
            return None
        record = json.loads(text)
        try:
            manifest = self.archive.get(record["dataset_id"], record["version"])
            statistics = load_statistics(self.archive, record["stats_hash"])
        except NotFound:
            return None  # the earlier output is gone: build again
        if record["dataset_id"] != output_id:
            return None  # same content wanted under another id: build it there
        return BuildOutcome(
            manifest, statistics.recipe_hash, statistics, dict(record["steps"]), reused=True
        )
