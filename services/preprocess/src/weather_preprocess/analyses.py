"""Climate analyses over archive datasets, stored as datasets with a small summary."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import xarray as xr

from weather_data.archive import DATASET_ID, Archive
from weather_data.canonical import TIME
from weather_data.cluster import DaskRuntime
from weather_data.limits import ExtentLimits
from weather_data.manifest import Manifest
from weather_data.publish import publish
from weather_preprocess import analysis
from weather_preprocess.analysis.grid import require_horizontal_grid, require_time
from weather_preprocess.build import resolve
from weather_preprocess.domain import AnalysisKind, AnalysisRequest, TimeRange
from weather_runtime.errors import FieldViolation, InvalidArgument

Progress = Callable[[str, float], None]
KIND_NAMES: dict[AnalysisKind, str] = {
    kind: str(kind.value) for kind in AnalysisKind if kind != AnalysisKind.UNSPECIFIED
}


@dataclass(frozen=True)
class AnalysisOutcome:
    """The stored result, its headline numbers and, for area means, the series."""

    manifest: Manifest
    summary: dict[str, float]
    series: list[tuple[pd.Timestamp, dict[str, float]]]


def output_id(request: AnalysisRequest) -> str:
    return (
        request.output_dataset_id
        or f"{request.source.dataset_id}-{KIND_NAMES.get(request.kind, 'analysis')}"
    )


def check_request(request: AnalysisRequest) -> None:
    """Field checks that need no data; INVALID_ARGUMENT names every bad field."""
    problems = []
    if request.kind not in KIND_NAMES:
        problems.append(
            FieldViolation("kind", "must be CLIMATOLOGY, ANOMALIES, TREND, AREA_MEAN or EXTREMES")
        )
    if not DATASET_ID.match(request.source.dataset_id):
        problems.append(FieldViolation("source.dataset_id", "must name an archive dataset"))
    if not DATASET_ID.match(output_id(request)):
        problems.append(FieldViolation("output_dataset_id", "must be 1-128 of [A-Za-z0-9._-]"))
    for index, value in enumerate(request.percentiles):
        if not (math.isfinite(value) and 0 < value < 100):
            problems.append(FieldViolation(f"percentiles[{index}]", "must be in (0, 100)"))
    for index, value in enumerate(request.thresholds):
        if not math.isfinite(value):
            problems.append(FieldViolation(f"thresholds[{index}]", "must be finite"))
    problems += _region_problems(request)
    if problems:
        raise InvalidArgument(problems)


def _region_problems(request: AnalysisRequest) -> list[FieldViolation]:
    problems: list[FieldViolation] = []
    if request.named_region and request.region is not None:
        problems.append(FieldViolation("named_region", "give region or named_region, not both"))
    elif request.named_region:
        try:
            analysis.named_region(request.named_region)
        except ValueError as exc:
            problems.append(FieldViolation("named_region", str(exc)))
    if request.region is not None:
        try:
            _region(request)
        except ValueError as exc:
            problems.append(FieldViolation("region", str(exc)))
    return problems


def _region(request: AnalysisRequest) -> analysis.Region:
    if request.named_region:
        return analysis.named_region(request.named_region)
    if request.region is not None:
        r = request.region
        return analysis.Region(r.lat_min, r.lat_max, r.lon_min, r.lon_max)
    return analysis.GLOBAL


def _window(part: TimeRange, field: str) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    start, end = part.start, part.end
    if start is None or end is None:
        return None
    if end <= start:
        raise InvalidArgument.field(field, "needs a start before its end")
    return start, end - pd.Timedelta(1, "ns")


class Analyst:
    """Runs analyses on one archive and Dask cluster."""

    def __init__(
        self, archive: Archive, runtime: DaskRuntime, limits: ExtentLimits | None = None
    ) -> None:
        self.archive = archive
        self.runtime = runtime
        self.limits = limits or ExtentLimits()

    def prepare(self, request: AnalysisRequest) -> Manifest:
        """Checks the request and its input now (no data read); returns the input manifest."""
        check_request(request)
        source = resolve(
            self.archive,
            request.source.dataset_id,
            request.source.content_hash,
            "source.content_hash",
        )
        self._input(request, source)
        return source

    def _input(self, request: AnalysisRequest, source: Manifest) -> xr.Dataset:
        ds = self.archive.open(source)
        missing = [(i, n) for i, n in enumerate(request.variables) if n not in ds.data_vars]
        if missing:
            raise InvalidArgument(
                [FieldViolation(f"variables[{i}]", f"no variable {n!r}") for i, n in missing]
            )
        if request.variables:
            ds = ds[list(request.variables)]
        if request.period is not None:
            window = _window(request.period, "period")
            if window is not None:
                ds = ds.sel({TIME: slice(*window)})
        if TIME not in ds.dims or ds.sizes[TIME] == 0:
            raise InvalidArgument.field("period", "selects no time step")
        self.limits.check(ds, "the analysis")
        return ds

    def _compute(
        self, request: AnalysisRequest, ds: xr.Dataset
    ) -> tuple[xr.Dataset, Callable[[xr.Dataset], dict[str, float]]]:
        by = request.calendar
        base = (
            _window(request.base_period, "base_period") if request.base_period is not None else None
        )
        kind = request.kind
        try:  # a source another analysis wrote (a series without a grid) can lack them
            require_time(ds)
            if kind == AnalysisKind.AREA_MEAN:
                require_horizontal_grid(ds)
        except ValueError as exc:
            # found by the seeded fuzz: the ValueError ended the operation INTERNAL
            raise InvalidArgument.field("source", f"cannot be analysed this way: {exc}") from None
        uses_base = kind in (AnalysisKind.CLIMATOLOGY, AnalysisKind.ANOMALIES) or (
            kind == AnalysisKind.AREA_MEAN and request.of_anomalies
        )
        if uses_base and base is not None and ds.sel({TIME: slice(*base)}).sizes[TIME] == 0:
            # found by the seeded fuzz: the climatology's ValueError ended the operation INTERNAL
            raise InvalidArgument.field("base_period", "selects no time step of the source")
        if kind == AnalysisKind.CLIMATOLOGY:
            return analysis.climatology(ds, by, base), analysis.climatology_summary
        if kind == AnalysisKind.ANOMALIES:
            return analysis.anomalies(
                ds, analysis.climatology(ds, by, base), by
            ), analysis.anomaly_summary
        if kind == AnalysisKind.TREND:
            return analysis.linear_trend(ds, per="year"), analysis.trend_summary
        if kind == AnalysisKind.AREA_MEAN:
            values = (
                analysis.anomalies(ds, analysis.climatology(ds, by, base), by)
                if request.of_anomalies
                else ds
            )
            return analysis.area_mean(values, _region(request)), analysis.area_mean_summary
        percentiles = list(request.percentiles) or [90.0, 99.0]
        return analysis.extremes(
            ds, percentiles, list(request.thresholds) or None
        ), analysis.extremes_summary

    def run(
        self,
        request: AnalysisRequest,
        actor: str,
        progress: Progress,
        cancel: threading.Event,
    ) -> AnalysisOutcome:
        source = self.prepare(request)
        progress("planning", 0.05)
        ds = self._input(request, source)
        result, summarise = self._compute(request, ds)
        result = result.astype("float32")
        client = self.runtime.client()
        manifest = publish(
            self.archive,
            client,
            result,
            dataset_id=output_id(request),
            source_uri=f"{source.dataset_id}@{source.content_hash}",
            source_format=f"preprocess:{KIND_NAMES[request.kind]}",
            source_size=0,
            actor=actor,
            progress=lambda done: progress("writing", 0.1 + 0.8 * done),
            cancel=cancel,
        )
        stored = self.archive.open(manifest)
        summary = {k: float(v) for k, v in summarise(stored).items()}
        series: list[tuple[pd.Timestamp, dict[str, float]]] = []
        if request.kind == AnalysisKind.AREA_MEAN:
            loaded = stored.load()
            for index, moment in enumerate(pd.DatetimeIndex(loaded[TIME].values)):
                series.append(
                    (moment, {str(n): float(loaded[n].values[index]) for n in loaded.data_vars})
                )
        progress("done", 1.0)
        return AnalysisOutcome(manifest, summary, series)
