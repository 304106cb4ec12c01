"""The preprocess service's use cases: builds and analyses as operations over one archive."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from weather_data.archive import Archive
from weather_data.cluster import DaskRuntime
from weather_data.limits import ExtentLimits
from weather_data.manifest import Manifest
from weather_preprocess.analyses import AnalysisOutcome, Analyst
from weather_preprocess.build import Builder, BuildOutcome, load_statistics
from weather_preprocess.domain import AnalysisRequest, Recipe
from weather_preprocess.statistics import Statistics
from weather_runtime.domain_metrics import ArchiveMetrics
from weather_runtime.operations import Operations, Snapshot

Outcome = BuildOutcome | AnalysisOutcome
log = logging.getLogger(__name__)


class PreprocessService:
    """Builds, analyses and statistics artefacts."""

    def __init__(
        self,
        archive: Archive,
        runtime: DaskRuntime,
        max_running: int,
        per_caller: int = 0,
        limits: ExtentLimits | None = None,
    ) -> None:
        self.archive = archive
        self.runtime = runtime
        self.builder = Builder(archive, runtime, limits)
        self.analyst = Analyst(archive, runtime, limits)
        self.operations: Operations[Outcome] = Operations(
            max_running,
            service="preprocess",
            per_caller=per_caller,
            per_caller_setting="PREPROCESS_MAX_OPERATIONS_PER_CALLER",
        )
        self.metrics = ArchiveMetrics()

    def start_build(self, recipe: Recipe, actor: str) -> Snapshot[Outcome]:
        """Checks the recipe and its input now, then queues the build."""
        self.builder.plan(recipe)

        def work(progress: Callable[[str, float], None], cancel: threading.Event) -> Outcome:
            outcome = self.builder.run(recipe, actor, progress, cancel)
            if not outcome.reused:
                self._count_written(outcome.manifest, "build")
            return outcome

        return self.operations.submit(
            work, "build", caller=actor, **{"dataset.id": recipe.output_dataset_id}
        )

    def start_analysis(self, request: AnalysisRequest, actor: str) -> Snapshot[Outcome]:
        """Checks the request and its input now, then queues the analysis."""
        self.analyst.prepare(request)

        def work(progress: Callable[[str, float], None], cancel: threading.Event) -> Outcome:
            return self.analyst.run(request, actor, progress, cancel)

        return self.operations.submit(
            work, "analysis", caller=actor, **{"analysis.kind": request.kind.value}
        )

    def _count_written(self, manifest: Manifest, kind: str) -> None:
        """Adds a new dataset's stored size to the archive's written bytes."""
        try:
            written = self.archive.fs.du(self.archive.store_url(manifest.store_path), total=True)
        except OSError:
            log.warning("could not measure %s for the metrics", manifest.store_path, exc_info=True)
            return
        self.metrics.written_bytes.labels("preprocess", kind).inc(int(written))

    def statistics(self, stats_hash: str) -> Statistics:
        return load_statistics(self.archive, stats_hash)

    def close(self) -> None:
        self.operations.close()
        self.runtime.close()
