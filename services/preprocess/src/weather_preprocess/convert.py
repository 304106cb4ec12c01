"""Translation of preprocess results to protobuf messages."""

from __future__ import annotations

from typing import Any

from weather.common.v1 import dataset_pb2
from weather.preprocess.v1 import preprocess_service_pb2 as pb

from weather_data.archive import Archive
from weather_data.manifest_pb import manifest_to_pb, timestamp
from weather_preprocess.analyses import AnalysisOutcome
from weather_preprocess.build import BuildOutcome
from weather_preprocess.statistics import Statistics


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
