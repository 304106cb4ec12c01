"""The ingest service's use cases over an archive, a Dask cluster and an operation pool."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from weather_data.archive import Archive
from weather_data.cluster import DaskRuntime
from weather_data.manifest import Manifest
from weather_ingest.append import Appender, AppendOutcome, Step
from weather_ingest.ingest import Ingester
from weather_ingest.requests import IngestRequest
from weather_runtime.errors import InvalidArgument
from weather_runtime.operations import Operations, Snapshot


class IngestService:
    """Ingest operations, dataset manifests and appends."""

    def __init__(
        self, archive: Archive, runtime: DaskRuntime, allowed_roots: list[str], max_running: int
    ) -> None:
        self.archive = archive
        self.runtime = runtime
        self.ingester = Ingester(archive, runtime, allowed_roots)
        self.appender = Appender(archive)
        self.operations: Operations[Manifest] = Operations(max_running)

    def validate(self, request: IngestRequest) -> None:
        """Opens and checks the source now (validate_only); raises what the ingest would."""
        with self.ingester.open(request):
            pass

    def start(self, request: IngestRequest, actor: str) -> Snapshot[Manifest]:
        """Checks the source is allowed and exists, then queues the ingest."""
        self.ingester.precheck(request)

        def work(progress: Callable[[str, float], None], cancel: threading.Event) -> Manifest:
            return self.ingester.run(request, actor, progress, cancel)

        return self.operations.submit(
            work, "ingest", **{"dataset.id": request.dataset_id, "source.uri": request.source_uri}
        )

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
        return self.appender.append(
            dataset_id,
            steps,
            expected_version=expected_version,
            skip_identical=skip_identical,
            actor=actor,
        )

    def watch(
        self, operation_id: str, is_active: Callable[[], bool]
    ) -> Iterator[Snapshot[Manifest]]:
        return self.operations.watch(operation_id, is_active)

    def close(self) -> None:
        self.operations.close()
        self.runtime.close()
