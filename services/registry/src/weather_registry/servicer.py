"""RegistryService servicer: translates protobuf requests to Registry calls and back."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
from weather.common.v1 import pagination_pb2
from weather.registry.v1 import registry_service_pb2 as pb
from weather.registry.v1 import registry_service_pb2_grpc as pb_grpc

from weather_registry import convert
from weather_registry.registry import Registry
from weather_runtime.identity import caller, principal


def _page(token: str) -> pagination_pb2.PageResponse:
    return pagination_pb2.PageResponse(next_page_token=token)


class RegistryServicer(pb_grpc.RegistryServiceServicer):
    """gRPC face of the Registry."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def CreateRegisteredModel(
        self, request: pb.CreateRegisteredModelRequest, context: grpc.ServicerContext
    ) -> pb.CreateRegisteredModelResponse:
        model = self.registry.create_model(
            request.name, request.description, dict(request.tags), caller(context)
        )
        return pb.CreateRegisteredModelResponse(model=convert.model_to_pb(model))

    def GetRegisteredModel(
        self, request: pb.GetRegisteredModelRequest, context: grpc.ServicerContext
    ) -> pb.GetRegisteredModelResponse:
        return pb.GetRegisteredModelResponse(
            model=convert.model_to_pb(self.registry.get_model(request.name))
        )

    def ListRegisteredModels(
        self, request: pb.ListRegisteredModelsRequest, context: grpc.ServicerContext
    ) -> pb.ListRegisteredModelsResponse:
        models, token = self.registry.list_models(
            request.name_prefix,
            convert.tag_filters_from_pb(list(request.tags)),
            request.page.page_size,
            request.page.page_token,
        )
        return pb.ListRegisteredModelsResponse(
            models=[convert.model_to_pb(m) for m in models], page=_page(token)
        )

    def UpdateRegisteredModel(
        self, request: pb.UpdateRegisteredModelRequest, context: grpc.ServicerContext
    ) -> pb.UpdateRegisteredModelResponse:
        model = self.registry.update_model(
            request.name,
            request.description if request.HasField("description") else None,
            dict(request.set_tags),
            list(request.remove_tags),
        )
        return pb.UpdateRegisteredModelResponse(model=convert.model_to_pb(model))

    def CreateModelVersion(
        self, request: pb.CreateModelVersionRequest, context: grpc.ServicerContext
    ) -> pb.CreateModelVersionResponse:
        version = self.registry.create_version(
            convert.new_version_from_pb(request), caller(context)
        )
        return pb.CreateModelVersionResponse(version=convert.version_to_pb(version))

    def GetModelVersion(
        self, request: pb.GetModelVersionRequest, context: grpc.ServicerContext
    ) -> pb.GetModelVersionResponse:
        version = self.registry.get_version(
            request.model_name,
            version=request.version,
            alias=request.alias,
            latest=request.latest,
        )
        return pb.GetModelVersionResponse(version=convert.version_to_pb(version))

    def ListModelVersions(
        self, request: pb.ListModelVersionsRequest, context: grpc.ServicerContext
    ) -> pb.ListModelVersionsResponse:
        versions, token = self.registry.list_versions(
            convert.version_query_from_pb(request), request.page.page_size, request.page.page_token
        )
        return pb.ListModelVersionsResponse(
            versions=[convert.version_to_pb(v) for v in versions], page=_page(token)
        )

    def UpdateModelVersion(
        self, request: pb.UpdateModelVersionRequest, context: grpc.ServicerContext
    ) -> pb.UpdateModelVersionResponse:
        version = self.registry.update_version(
            request.model_name,
            request.version,
            request.description if request.HasField("description") else None,
            dict(request.set_tags),
            list(request.remove_tags),
        )
        return pb.UpdateModelVersionResponse(version=convert.version_to_pb(version))

    def SetAlias(
        self, request: pb.SetAliasRequest, context: grpc.ServicerContext
    ) -> pb.SetAliasResponse:
        change = self.registry.set_alias(
            request.model_name,
            request.alias,
            request.version,
            actor=caller(context),
            expected_current=(
                request.expected_current_version
                if request.HasField("expected_current_version")
                else None
            ),
            override_gate=request.override_gate,
            reason=request.reason,
            validate_only=request.validate_only,
            principal=principal(context),
        )
        return pb.SetAliasResponse(change=convert.change_to_pb(change))

    def DeleteAlias(
        self, request: pb.DeleteAliasRequest, context: grpc.ServicerContext
    ) -> pb.DeleteAliasResponse:
        change = self.registry.delete_alias(
            request.model_name,
            request.alias,
            request.reason,
            caller(context),
            principal(context),
        )
        return pb.DeleteAliasResponse(change=convert.change_to_pb(change))

    def ListAliasHistory(
        self, request: pb.ListAliasHistoryRequest, context: grpc.ServicerContext
    ) -> pb.ListAliasHistoryResponse:
        changes, token = self.registry.alias_history(
            request.model_name, request.alias, request.page.page_size, request.page.page_token
        )
        return pb.ListAliasHistoryResponse(
            changes=[convert.change_to_pb(c) for c in changes], page=_page(token)
        )

    def VerifyModelVersion(
        self, request: pb.VerifyModelVersionRequest, context: grpc.ServicerContext
    ) -> pb.VerifyModelVersionResponse:
        return convert.verify_to_pb(self.registry.verify(request.model_name, request.version))

    def WatchEvents(
        self, request: pb.WatchEventsRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.WatchEventsResponse]:
        start = request.start_after_sequence if request.HasField("start_after_sequence") else None
        for event in self.registry.watch(request.model_name, start, context.is_active):
            yield pb.WatchEventsResponse(event=convert.event_to_pb(event))
