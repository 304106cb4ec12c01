"""PreprocessService servicer: translates protobuf requests to PreprocessService calls and back."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
from weather.preprocess.v1 import preprocess_service_pb2 as pb
from weather.preprocess.v1 import preprocess_service_pb2_grpc as pb_grpc

from weather_preprocess import convert
from weather_preprocess.service import PreprocessService
from weather_runtime.errors import InvalidArgument
from weather_runtime.identity import caller
from weather_runtime.operations import snapshot_to_pb


class PreprocessServicer(pb_grpc.PreprocessServiceServicer):
    """gRPC face of the PreprocessService."""

    def __init__(self, service: PreprocessService) -> None:
        self.service = service

    def StartBuild(
        self, request: pb.StartBuildRequest, context: grpc.ServicerContext
    ) -> pb.StartBuildResponse:
        if not request.HasField("recipe"):
            raise InvalidArgument.field("recipe", "is required")
        snapshot = self.service.start_build(convert.recipe_from_pb(request.recipe), caller(context))
        return pb.StartBuildResponse(operation=snapshot_to_pb(snapshot))

    def StartAnalysis(
        self, request: pb.StartAnalysisRequest, context: grpc.ServicerContext
    ) -> pb.StartAnalysisResponse:
        snapshot = self.service.start_analysis(
            convert.analysis_request_from_pb(request), caller(context)
        )
        return pb.StartAnalysisResponse(operation=snapshot_to_pb(snapshot))

    def GetOperation(
        self, request: pb.GetOperationRequest, context: grpc.ServicerContext
    ) -> pb.GetOperationResponse:
        snapshot = self.service.operations.get(request.operation_id)
        return pb.GetOperationResponse(
            operation=snapshot_to_pb(snapshot),
            **convert.result_fields(snapshot.result, self.service.archive),
        )

    def WatchOperation(
        self, request: pb.WatchOperationRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.WatchOperationResponse]:
        for snapshot in self.service.operations.watch(request.operation_id, context.is_active):
            yield pb.WatchOperationResponse(
                operation=snapshot_to_pb(snapshot),
                **convert.result_fields(snapshot.result, self.service.archive),
            )

    def CancelOperation(
        self, request: pb.CancelOperationRequest, context: grpc.ServicerContext
    ) -> pb.CancelOperationResponse:
        return pb.CancelOperationResponse(
            operation=snapshot_to_pb(self.service.operations.cancel(request.operation_id))
        )

    def GetStatistics(
        self, request: pb.GetStatisticsRequest, context: grpc.ServicerContext
    ) -> pb.GetStatisticsResponse:
        return pb.GetStatisticsResponse(
            statistics=convert.statistics_to_pb(self.service.statistics(request.stats_hash))
        )
