"""Registered models over real gRPC on both backends: create, get, list, update."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2
from weather.common.v1 import pagination_pb2
from weather.registry.v1 import registry_service_pb2 as pb

from tests.conftest import RunningRegistry
from tests.registry.helpers import rpc_error, status_details


def test_create_get_and_update_model(registry: RunningRegistry) -> None:
    stub = registry.stub
    created = stub.CreateRegisteredModel(
        pb.CreateRegisteredModelRequest(
            name="t2m-cnn", description="UK 2 m temperature", tags={"team": "a"}
        )
    ).model
    assert created.name == "t2m-cnn"
    assert created.created_by == "tester"
    assert created.latest_version == 0
    assert created.create_time.seconds > 0

    got = stub.GetRegisteredModel(pb.GetRegisteredModelRequest(name="t2m-cnn")).model
    assert got == created

    updated = stub.UpdateRegisteredModel(
        pb.UpdateRegisteredModelRequest(
            name="t2m-cnn", description="new text", set_tags={"stage": "dev"}, remove_tags=["team"]
        )
    ).model
    assert updated.description == "new text"
    assert dict(updated.tags) == {"stage": "dev"}
    # description not set: unchanged
    again = stub.UpdateRegisteredModel(
        pb.UpdateRegisteredModelRequest(name="t2m-cnn", set_tags={"x": "1"})
    ).model
    assert again.description == "new text"
    assert dict(again.tags) == {"stage": "dev", "x": "1"}


def test_duplicate_model_is_already_exists_and_changes_nothing(registry: RunningRegistry) -> None:
    stub = registry.stub
    stub.CreateRegisteredModel(pb.CreateRegisteredModelRequest(name="m", description="first"))
    error = rpc_error(
        stub.CreateRegisteredModel, pb.CreateRegisteredModelRequest(name="m", description="second")
    )
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "m" in error.details()
    infos = [d for d in status_details(error) if isinstance(d, error_details_pb2.ResourceInfo)]
    assert infos and infos[0].resource_name == "m"
    assert (
        stub.GetRegisteredModel(pb.GetRegisteredModelRequest(name="m")).model.description == "first"
    )


def test_unknown_model_is_not_found(registry: RunningRegistry) -> None:
    for call, request in [
        (registry.stub.GetRegisteredModel, pb.GetRegisteredModelRequest(name="nope")),
        (registry.stub.UpdateRegisteredModel, pb.UpdateRegisteredModelRequest(name="nope")),
    ]:
        error = rpc_error(call, request)
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert "nope" in error.details()


def test_list_models_pages_in_name_order_with_filters(registry: RunningRegistry) -> None:
    stub = registry.stub
    names = [f"model-{i:02d}" for i in range(7)] + ["other"]
    for index, name in enumerate(reversed(names)):
        stub.CreateRegisteredModel(
            pb.CreateRegisteredModelRequest(name=name, tags={"parity": str(index % 2)})
        )
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        response = stub.ListRegisteredModels(
            pb.ListRegisteredModelsRequest(
                name_prefix="model-", page=pagination_pb2.PageRequest(page_size=3, page_token=token)
            )
        )
        seen.extend(m.name for m in response.models)
        pages += 1
        token = response.page.next_page_token
        if not token:
            break
    assert seen == sorted(names[:7])
    assert pages == 3

    tagged = stub.ListRegisteredModels(
        pb.ListRegisteredModelsRequest(tags=[pb.TagFilter(key="parity", value="1")])
    ).models
    assert {m.name for m in tagged} == {n for i, n in enumerate(reversed(names)) if i % 2 == 1}
    any_value = stub.ListRegisteredModels(
        pb.ListRegisteredModelsRequest(tags=[pb.TagFilter(key="parity")])
    ).models
    assert len(any_value) == len(names)
