"""TrainerService servicer: translates protobuf requests to TrainerService calls and back."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
from weather.common.v1 import pagination_pb2
from weather.trainer.v1 import trainer_service_pb2 as pb
from weather.trainer.v1 import trainer_service_pb2_grpc as pb_grpc

from weather_runtime import paging
from weather_runtime.errors import InvalidArgument
from weather_runtime.identity import caller
from weather_trainer import convert
from weather_trainer.service import TrainerService


class TrainerServicer(pb_grpc.TrainerServiceServicer):
    """gRPC face of the TrainerService."""

    def __init__(self, service: TrainerService) -> None:
        self.service = service

    def _dataset_step(self, dataset_id: str, content_hash: str) -> float:
        return self.service.dataset_step_seconds(dataset_id, content_hash)

    def StartTraining(
        self, request: pb.StartTrainingRequest, context: grpc.ServicerContext
    ) -> pb.StartTrainingResponse:
        if not request.HasField("spec"):
            raise InvalidArgument.field("spec", "is required")
        spec = convert.spec_from_pb(request.spec, self._dataset_step)
        record = self.service.start(
            spec, caller(context), request.request_id, request.validate_only
        )
        if record is None:
            return pb.StartTrainingResponse()
        return pb.StartTrainingResponse(job=convert.job_to_pb(record))

    def GetJob(self, request: pb.GetJobRequest, context: grpc.ServicerContext) -> pb.GetJobResponse:
        return pb.GetJobResponse(job=convert.job_to_pb(self.service.get(request.job_id)))

    def ListJobs(
        self, request: pb.ListJobsRequest, context: grpc.ServicerContext
    ) -> pb.ListJobsResponse:
        if request.state and request.state not in convert.STATE_NAMES:
            raise InvalidArgument.field("state", f"unknown job state {request.state}")
        state = convert.STATE_NAMES.get(request.state, "")
        limit = paging.page_size(request.page.page_size)
        query = ("jobs", state, request.model_family, request.dataset_id)
        key = paging.decode(request.page.page_token, query)
        found = self.service.list(state, request.model_family, request.dataset_id)
        if key is not None:
            after = (str(key[0]), str(key[1]))
            found = [r for r in found if (r.create_time.isoformat(), r.job_id) < after]
        page = found[:limit]
        token = ""
        if len(found) > limit:
            last = page[-1]
            token = paging.encode([last.create_time.isoformat(), last.job_id], query)
        return pb.ListJobsResponse(
            jobs=[convert.job_to_pb(r) for r in page],
            page=pagination_pb2.PageResponse(next_page_token=token),
        )

    def WatchJob(
        self, request: pb.WatchJobRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.WatchJobResponse]:
        for record in self.service.watch(request.job_id, context.is_active):
            yield pb.WatchJobResponse(job=convert.job_to_pb(record))

    def CancelJob(
        self, request: pb.CancelJobRequest, context: grpc.ServicerContext
    ) -> pb.CancelJobResponse:
        return pb.CancelJobResponse(job=convert.job_to_pb(self.service.cancel(request.job_id)))

    def ResumeJob(
        self, request: pb.ResumeJobRequest, context: grpc.ServicerContext
    ) -> pb.ResumeJobResponse:
        return pb.ResumeJobResponse(job=convert.job_to_pb(self.service.resume(request.job_id)))
