"""The ingest service's use cases over an archive, a Dask cluster and an operation pool."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

from weather_data.archive import Archive
from weather_data.cluster import DaskRuntime
from weather_data.limits import ExtentLimits
from weather_data.manifest import Manifest
from weather_ingest.append import Appender, AppendOutcome, Step
from weather_ingest.ingest import Ingester
from weather_ingest.requests import IngestRequest
from weather_runtime.domain_metrics import ArchiveMetrics
from weather_runtime.errors import InvalidArgument
from weather_runtime.operations import Cancelled, Operations, Snapshot
from weather_runtime.uris import UriPolicy

log = logging.getLogger(__name__)


class IngestService:
    """Ingest operations, dataset manifests and appends."""

    def __init__(
        self,
        archive: Archive,
        runtime: DaskRuntime,
        allowed: list[str] | UriPolicy,
        max_running: int,
        per_caller: int = 0,
        limits: ExtentLimits | None = None,
    ) -> None:
        self.archive = archive
        self.runtime = runtime
        self.ingester = Ingester(archive, runtime, allowed, limits)
        self.appender = Appender(archive)
        self.operations: Operations[Manifest] = Operations(
            max_running,
            service="ingest",
            per_caller=per_caller,
            per_caller_setting="INGEST_MAX_OPERATIONS_PER_CALLER",
        )
        self.metrics = ArchiveMetrics()

    def validate(self, request: IngestRequest) -> None:
        """Opens and checks the source now (validate_only); raises what the ingest would."""
        with self.ingester.open(request):
            pass

    def start(self, request: IngestRequest, actor: str) -> Snapshot[Manifest]:
        """Checks the source is allowed and exists, then queues the ingest."""
        self.ingester.precheck(request)

        def work(progress: Callable[[str, float], None], cancel: threading.Event) -> Manifest:
            before = self.archive.latest(request.dataset_id)
            try:
                manifest = self.ingester.run(request, actor, progress, cancel)
            except Cancelled:
                self.metrics.datasets_ingested.labels("cancelled").inc()
                raise
            except BaseException:
                self.metrics.datasets_ingested.labels("failed").inc()
                raise
            self._count_ingested(manifest, before)
            return manifest

        return self.operations.submit(
            work,
            "ingest",
            caller=actor,
            **{"dataset.id": request.dataset_id, "source.uri": request.source_uri},
        )

    def _count_ingested(self, manifest: Manifest, before: Manifest | None) -> None:
        """Counts an ingest that committed (or found its content already stored)."""
        if before is not None and before.version >= manifest.version:
            self.metrics.datasets_ingested.labels("unchanged").inc()
            return
        self.metrics.datasets_ingested.labels("created").inc()
        try:
            written = self.archive.fs.du(self.archive.store_url(manifest.store_path), total=True)
        except OSError:
            log.warning("could not measure %s for the metrics", manifest.store_path, exc_info=True)
            return
        self.metrics.written_bytes.labels("ingest", "ingest").inc(int(written))

    def dataset(self, dataset_id: str, version: int) -> Manifest:
        if version < 0:
            raise InvalidArgument.field("version", "must be 0 (latest) or a version number")
        return self.archive.get(dataset_id, version)

    def datasets(self, prefix: str, variable: str, after: str | None, limit: int) -> list[Manifest]:
        found = []
        for manifest in self.archive.iter_latest(prefix, after):
            if variable and variable not in manifest.variable_names:
                continue
            found.append(manifest)
            if len(found) >= limit:
                break
        return found

    def append(
        self,
        dataset_id: str,
        steps: list[Step],
        expected_version: int,
        skip_identical: bool,
        actor: str,
    ) -> AppendOutcome:
        outcome = self.appender.append(
            dataset_id,
            steps,
            expected_version=expected_version,
            skip_identical=skip_identical,
            actor=actor,
        )
        if outcome.appended:
            self.metrics.steps_appended.inc(outcome.appended)
            self.metrics.written_bytes.labels("ingest", "append").inc(outcome.manifest.source_size)
        return outcome

    def watch(
        self, operation_id: str, is_active: Callable[[], bool]
    ) -> Iterator[Snapshot[Manifest]]:
        return self.operations.watch(operation_id, is_active)

    def close(self) -> None:
        self.operations.close()
        self.runtime.close()
