"""Translation between protobuf messages and the preprocess domain types, both ways."""

from __future__ import annotations

from typing import Any

import pandas as pd
from google.protobuf import timestamp_pb2
from weather.common.v1 import dataset_pb2, region_pb2
from weather.preprocess.v1 import preprocess_service_pb2 as pb

from weather_data.archive import Archive
from weather_data.manifest_pb import manifest_to_pb, pandas_time, timestamp
from weather_preprocess import domain
from weather_preprocess.analyses import AnalysisOutcome
from weather_preprocess.analysis.climatology import CalendarKey
from weather_preprocess.build import BuildOutcome
from weather_preprocess.statistics import Statistics
from weather_runtime.errors import InvalidArgument

_DERIVED = {
    pb.DERIVED_KIND_WIND_SPEED: domain.DerivedKind.WIND_SPEED,
    pb.DERIVED_KIND_TIME_OF_DAY: domain.DerivedKind.TIME_OF_DAY,
    pb.DERIVED_KIND_DAY_OF_YEAR: domain.DerivedKind.DAY_OF_YEAR,
}
_ANALYSES = {
    pb.ANALYSIS_KIND_CLIMATOLOGY: domain.AnalysisKind.CLIMATOLOGY,
    pb.ANALYSIS_KIND_ANOMALIES: domain.AnalysisKind.ANOMALIES,
    pb.ANALYSIS_KIND_TREND: domain.AnalysisKind.TREND,
    pb.ANALYSIS_KIND_AREA_MEAN: domain.AnalysisKind.AREA_MEAN,
    pb.ANALYSIS_KIND_EXTREMES: domain.AnalysisKind.EXTREMES,
}
_MISSING = {
    pb.MISSING_POLICY_FAIL: domain.MissingPolicy.FAIL,
    pb.MISSING_POLICY_FILL_CLIMATOLOGY: domain.MissingPolicy.FILL_CLIMATOLOGY,
    pb.MISSING_POLICY_FILL_MEAN: domain.MissingPolicy.FILL_MEAN,
    pb.MISSING_POLICY_FILL_VALUE: domain.MissingPolicy.FILL_VALUE,
    pb.MISSING_POLICY_DROP_TIME_STEPS: domain.MissingPolicy.DROP_TIME_STEPS,
}
_CALENDAR: dict[int, CalendarKey] = {
    pb.CALENDAR_KEY_UNSPECIFIED: "month",
    pb.CALENDAR_KEY_MONTH: "month",
    pb.CALENDAR_KEY_DAY_OF_YEAR: "dayofyear",
    pb.CALENDAR_KEY_HOUR: "hour",
}


def _time(message: Any, name: str, field: str) -> pd.Timestamp | None:
    """Timestamp field name of message as naive UTC pandas time, None when unset;
    INVALID_ARGUMENT naming field when pandas cannot hold it."""
    if not message.HasField(name):
        return None
    value: timestamp_pb2.Timestamp = getattr(message, name)
    return pandas_time(value, field)


def _range(message: Any, name: str, field: str) -> domain.TimeRange | None:
    if not message.HasField(name):
        return None
    part: dataset_pb2.TimeRange = getattr(message, name)
    return domain.TimeRange(
        _time(part, "start", f"{field}.start"), _time(part, "end", f"{field}.end")
    )


def _bounds(message: Any) -> domain.Bounds | None:
    if not message.HasField("region"):
        return None
    r: region_pb2.Region = message.region
    return domain.Bounds(r.lat_min, r.lat_max, r.lon_min, r.lon_max)


def _ref(ref: dataset_pb2.DatasetRef) -> domain.DatasetRef:
    return domain.DatasetRef(ref.dataset_id, ref.content_hash)


def _regrid(recipe: pb.Recipe) -> domain.Regrid | None:
    if not recipe.HasField("regrid"):
        return None
    which = recipe.regrid.WhichOneof("method")
    if which == "coarsen":
        c = recipe.regrid.coarsen
        return domain.Regrid(coarsen=domain.Coarsen(c.latitude_factor, c.longitude_factor))
    if which == "resolution_degrees":
        return domain.Regrid(resolution_degrees=recipe.regrid.resolution_degrees)
    return domain.Regrid()


def recipe_from_pb(recipe: pb.Recipe) -> domain.Recipe:
    """The domain recipe; INVALID_ARGUMENT naming a time pandas cannot hold."""
    split = recipe.split
    aug = recipe.augmentation
    return domain.Recipe(
        source=_ref(recipe.source),
        variables=tuple(domain.VariableSpec(v.name, tuple(v.levels)) for v in recipe.variables),
        region=_bounds(recipe),
        period=_range(recipe, "period", "recipe.period"),
        regrid=_regrid(recipe),
        derived=tuple(
            domain.DerivedVariable(
                _DERIVED.get(d.kind, domain.DerivedKind.UNSPECIFIED), d.name, d.u, d.v
            )
            for d in recipe.derived
        ),
        split=domain.Split(
            **{
                name: _range(split, name, f"recipe.split.{name}")
                for name in ("train", "validation", "test")
            }
        ),
        augmentation=domain.Augmentation(
            aug.seed, aug.crop_latitude, aug.crop_longitude, aug.noise_std
        )
        if recipe.HasField("augmentation")
        else None,
        output_dataset_id=recipe.output_dataset_id,
        missing=domain.MissingValues(
            _MISSING.get(recipe.missing.policy, domain.MissingPolicy.UNSPECIFIED),
            recipe.missing.value,
        )
        if recipe.HasField("missing")
        else None,
    )


def analysis_request_from_pb(request: pb.StartAnalysisRequest) -> domain.AnalysisRequest:
    """The domain request; INVALID_ARGUMENT naming an unknown calendar or a time out of range."""
    if request.calendar not in _CALENDAR:
        raise InvalidArgument.field("calendar", "unknown calendar key")
    return domain.AnalysisRequest(
        source=_ref(request.source),
        kind=_ANALYSES.get(request.kind, domain.AnalysisKind.UNSPECIFIED),
        variables=tuple(request.variables),
        period=_range(request, "period", "period"),
        calendar=_CALENDAR[request.calendar],
        base_period=_range(request, "base_period", "base_period"),
        region=_bounds(request),
        named_region=request.named_region,
        of_anomalies=request.of_anomalies,
        percentiles=tuple(request.percentiles),
        thresholds=tuple(request.thresholds),
        output_dataset_id=request.output_dataset_id,
    )


def statistics_to_pb(stats: Statistics) -> pb.NormalisationStatistics:
    return pb.NormalisationStatistics(
        stats_hash=stats.stats_hash,
        recipe_hash=stats.recipe_hash,
        input=dataset_pb2.DatasetRef(dataset_id=stats.input_id, content_hash=stats.input_hash),
        train_steps=stats.train_steps,
        entries=[
            pb.StatisticsEntry(
                variable=e.variable,
                level=e.level,
                mean=e.mean,
                std=e.std,
                diff_mean=e.diff_mean,
                diff_std=e.diff_std,
                count=e.count,
            )
            for e in stats.entries
        ],
    )


def result_fields(outcome: Any, archive: Archive) -> dict[str, Any]:
    """The oneof result of an operation response: {"build": ...} or {"analysis": ...}."""
    if isinstance(outcome, BuildOutcome):
        return {
            "build": pb.BuildResult(
                dataset=manifest_to_pb(
                    outcome.manifest, archive.store_url(outcome.manifest.store_path)
                ),
                recipe_hash=outcome.recipe_hash,
                statistics=statistics_to_pb(outcome.statistics),
                train_steps=outcome.steps.get("train", 0),
                validation_steps=outcome.steps.get("validation", 0),
                test_steps=outcome.steps.get("test", 0),
                reused=outcome.reused,
            )
        }
    if isinstance(outcome, AnalysisOutcome):
        return {
            "analysis": pb.AnalysisResult(
                dataset=manifest_to_pb(
                    outcome.manifest, archive.store_url(outcome.manifest.store_path)
                ),
                summary=outcome.summary,
                series=[pb.SeriesPoint(time=timestamp(t), values=v) for t, v in outcome.series],
            )
        }
    return {}
