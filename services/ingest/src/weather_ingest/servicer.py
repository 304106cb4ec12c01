"""IngestService servicer: translates protobuf requests to IngestService calls and back."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
from weather.common.v1 import manifest_pb2, pagination_pb2
from weather.ingest.v1 import ingest_service_pb2 as pb
from weather.ingest.v1 import ingest_service_pb2_grpc as pb_grpc

from weather_data.manifest import Manifest
from weather_data.manifest_pb import manifest_to_pb
from weather_ingest import convert
from weather_ingest.append import Step
from weather_ingest.service import IngestService
from weather_runtime import paging
from weather_runtime.errors import InvalidArgument, ResourceExhausted
from weather_runtime.identity import caller
from weather_runtime.operations import Snapshot, snapshot_to_pb


class IngestServicer(pb_grpc.IngestServiceServicer):
    """gRPC face of the IngestService."""

    def __init__(self, service: IngestService, max_append_bytes: int) -> None:
        self.service = service
        self.max_append_bytes = max_append_bytes

    def _manifest(self, manifest: Manifest) -> manifest_pb2.DatasetManifest:
        return manifest_to_pb(manifest, self.service.archive.store_url(manifest.store_path))

    def _result(self, snapshot: Snapshot[Manifest]) -> manifest_pb2.DatasetManifest | None:
        return self._manifest(snapshot.result) if snapshot.result is not None else None

    def StartIngest(
        self, request: pb.StartIngestRequest, context: grpc.ServicerContext
    ) -> pb.StartIngestResponse:
        ingest = convert.ingest_request(request)
        if request.validate_only:
            self.service.validate(ingest)
            return pb.StartIngestResponse()
        snapshot = self.service.start(ingest, caller(context))
        return pb.StartIngestResponse(operation=snapshot_to_pb(snapshot))

    def GetOperation(
        self, request: pb.GetOperationRequest, context: grpc.ServicerContext
    ) -> pb.GetOperationResponse:
        snapshot = self.service.operations.get(request.operation_id)
        return pb.GetOperationResponse(
            operation=snapshot_to_pb(snapshot), result=self._result(snapshot)
        )

    def WatchOperation(
        self, request: pb.WatchOperationRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.WatchOperationResponse]:
        for snapshot in self.service.watch(request.operation_id, context.is_active):
            yield pb.WatchOperationResponse(
                operation=snapshot_to_pb(snapshot), result=self._result(snapshot)
            )

    def CancelOperation(
        self, request: pb.CancelOperationRequest, context: grpc.ServicerContext
    ) -> pb.CancelOperationResponse:
        snapshot = self.service.operations.cancel(request.operation_id)
        return pb.CancelOperationResponse(operation=snapshot_to_pb(snapshot))

    def GetDataset(
        self, request: pb.GetDatasetRequest, context: grpc.ServicerContext
    ) -> pb.GetDatasetResponse:
        return pb.GetDatasetResponse(
            manifest=self._manifest(self.service.dataset(request.dataset_id, request.version))
        )

    def ListDatasets(
        self, request: pb.ListDatasetsRequest, context: grpc.ServicerContext
    ) -> pb.ListDatasetsResponse:
        limit = paging.page_size(request.page.page_size)
        query = ("datasets", request.id_prefix, request.variable)
        key = paging.decode(request.page.page_token, query)
        found = self.service.datasets(
            request.id_prefix, request.variable, str(key[0]) if key else None, limit + 1
        )
        token = paging.encode([found[limit - 1].dataset_id], query) if len(found) > limit else ""
        return pb.ListDatasetsResponse(
            datasets=[self._manifest(m) for m in found[:limit]],
            page=pagination_pb2.PageResponse(next_page_token=token),
        )

    def AppendSteps(
        self, request_iterator: Iterator[pb.AppendStepsRequest], context: grpc.ServicerContext
    ) -> pb.AppendStepsResponse:
        header: pb.AppendHeader | None = None
        steps: list[Step] = []
        total = 0
        for index, message in enumerate(request_iterator):
            if index == 0:
                if not message.HasField("header"):
                    raise InvalidArgument.field(
                        "header", "the first message of an append must be the header"
                    )
                header = message.header
                continue
            if not message.HasField("step"):
                raise InvalidArgument.field(
                    f"steps[{len(steps)}]", "only the first message may be a header"
                )
            total += message.ByteSize()
            if total > self.max_append_bytes:
                raise ResourceExhausted(
                    f"an append stream may carry at most {self.max_append_bytes} bytes",
                    "append bytes",
                )
            steps.append(convert.step_from_pb(len(steps), message.step))
        if header is None:
            raise InvalidArgument.field("header", "the stream was empty")
        if not steps:
            raise InvalidArgument.field("steps", "an append needs at least one step")
        outcome = self.service.append(
            header.dataset_id,
            steps,
            header.expected_version,
            header.duplicate_policy == pb.DUPLICATE_POLICY_SKIP_IDENTICAL,
            caller(context),
        )
        return pb.AppendStepsResponse(
            manifest=self._manifest(outcome.manifest),
            appended=outcome.appended,
            skipped=outcome.skipped,
        )
