"""Model versions over real gRPC on both backends: numbering, round trip, selection, search."""

from __future__ import annotations

import grpc
from weather.common.v1 import pagination_pb2
from weather.registry.v1 import registry_service_pb2 as pb

from tests.conftest import RunningRegistry
from tests.registry.helpers import (
    HASH_A,
    HASH_B,
    hours,
    make_artifact,
    metric,
    rpc_error,
    version_request,
    violated_fields,
)


def _model(registry: RunningRegistry, name: str = "t2m") -> None:
    registry.stub.CreateRegisteredModel(pb.CreateRegisteredModelRequest(name=name))


def test_versions_number_from_one_and_round_trip_every_field(registry: RunningRegistry) -> None:
    _model(registry)
    artifact = make_artifact(registry.artifact_root, "v1")
    request = version_request(
        "t2m",
        artifact,
        metrics=[
            metric("rmse", "t2m", 1, 0.5, persistence=0.578, climatology=1.804),
            metric("acc", "t2m", 24, 0.9, pb.METRIC_GOAL_MAXIMIZE, persistence=0.8),
        ],
        tags={"family": "cnn"},
        description="first",
    )
    first = registry.stub.CreateModelVersion(request).version
    second = registry.stub.CreateModelVersion(version_request("t2m", artifact)).version
    assert (first.version, second.version) == (1, 2)
    assert first.artifact_uri == str(artifact)
    assert first.artifact_digest == HASH_A
    assert first.signature == request.signature
    assert first.lineage == request.lineage
    expected = [pb.Metric() for _ in request.metrics]
    for want, sent in zip(expected, request.metrics, strict=True):
        want.CopyFrom(sent)
        want.ClearField("baselines")
        want.baselines.extend(sorted(sent.baselines, key=lambda b: b.baseline))
    assert list(first.metrics) == expected
    assert dict(first.tags) == {"family": "cnn"}
    assert first.created_by == "tester"
    fetched = registry.stub.GetModelVersion(pb.GetModelVersionRequest(model_name="t2m", version=1))
    assert fetched.version == first
    latest = registry.stub.GetModelVersion(pb.GetModelVersionRequest(model_name="t2m", latest=True))
    assert latest.version.version == 2
    model = registry.stub.GetRegisteredModel(pb.GetRegisteredModelRequest(name="t2m")).model
    assert model.latest_version == 2


def test_get_by_alias_and_unknowns(registry: RunningRegistry) -> None:
    _model(registry)
    artifact = make_artifact(registry.artifact_root, "v")
    for _ in range(3):
        registry.stub.CreateModelVersion(version_request("t2m", artifact))
    registry.stub.SetAlias(pb.SetAliasRequest(model_name="t2m", alias="staging", version=2))
    got = registry.stub.GetModelVersion(
        pb.GetModelVersionRequest(model_name="t2m", alias="staging")
    )
    assert got.version.version == 2
    assert list(got.version.aliases) == ["staging"]
    for request in [
        pb.GetModelVersionRequest(model_name="t2m", version=9),
        pb.GetModelVersionRequest(model_name="t2m", alias="canary"),
        pb.GetModelVersionRequest(model_name="nope", version=1),
    ]:
        assert rpc_error(registry.stub.GetModelVersion, request).code() == grpc.StatusCode.NOT_FOUND
    error = rpc_error(registry.stub.GetModelVersion, pb.GetModelVersionRequest(model_name="t2m"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["version"]


def test_unknown_model_for_new_version_is_not_found(registry: RunningRegistry) -> None:
    artifact = make_artifact(registry.artifact_root, "v")
    error = rpc_error(registry.stub.CreateModelVersion, version_request("ghost", artifact))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert "ghost" in error.details()


def test_request_id_makes_creation_idempotent(registry: RunningRegistry) -> None:
    _model(registry)
    artifact = make_artifact(registry.artifact_root, "v")
    first = registry.stub.CreateModelVersion(version_request("t2m", artifact, request_id="job-7"))
    retry = registry.stub.CreateModelVersion(version_request("t2m", artifact, request_id="job-7"))
    other = registry.stub.CreateModelVersion(version_request("t2m", artifact, request_id="job-8"))
    assert first.version == retry.version
    assert other.version.version == 2


def test_update_version_description_and_tags(registry: RunningRegistry) -> None:
    _model(registry)
    artifact = make_artifact(registry.artifact_root, "v")
    registry.stub.CreateModelVersion(version_request("t2m", artifact, tags={"a": "1", "b": "2"}))
    updated = registry.stub.UpdateModelVersion(
        pb.UpdateModelVersionRequest(
            model_name="t2m",
            version=1,
            description="checked",
            set_tags={"c": "3"},
            remove_tags=["a"],
        )
    ).version
    assert updated.description == "checked"
    assert dict(updated.tags) == {"b": "2", "c": "3"}
    error = rpc_error(
        registry.stub.UpdateModelVersion, pb.UpdateModelVersionRequest(model_name="t2m", version=5)
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_search_by_model_tag_alias_and_metric_threshold(registry: RunningRegistry) -> None:
    artifact = make_artifact(registry.artifact_root, "v")
    for name in ("alpha", "beta"):
        _model(registry, name)
        for rmse in (2.0, 1.0, 0.5):
            registry.stub.CreateModelVersion(
                version_request(
                    name,
                    artifact,
                    metrics=[metric("rmse", "t2m", 6, rmse), metric("rmse", "t2m", 24, rmse * 2)],
                    tags={"good": "yes" if rmse < 1.5 else "no"},
                )
            )
    registry.stub.SetAlias(pb.SetAliasRequest(model_name="beta", alias="staging", version=1))

    def search(**kwargs: object) -> list[tuple[str, int]]:
        response = registry.stub.ListModelVersions(pb.ListModelVersionsRequest(**kwargs))  # type: ignore[arg-type]
        return [(v.model_name, v.version) for v in response.versions]

    everything = search()
    assert everything == [
        ("alpha", 3),
        ("alpha", 2),
        ("alpha", 1),
        ("beta", 3),
        ("beta", 2),
        ("beta", 1),
    ]
    assert search(model_name="beta") == [("beta", 3), ("beta", 2), ("beta", 1)]
    assert search(tags=[pb.TagFilter(key="good", value="yes")]) == [
        ("alpha", 3),
        ("alpha", 2),
        ("beta", 3),
        ("beta", 2),
    ]
    assert search(alias="staging") == [("beta", 1)]
    below = pb.MetricFilter(
        name="rmse",
        variable="t2m",
        lead_time=hours(6),
        comparison=pb.COMPARISON_LESS,
        threshold=1.0,
    )
    assert search(metric_filters=[below]) == [("alpha", 3), ("beta", 3)]
    at_most = pb.MetricFilter(name="rmse", comparison=pb.COMPARISON_LESS_EQUAL, threshold=1.0)
    assert search(model_name="alpha", metric_filters=[at_most]) == [("alpha", 3), ("alpha", 2)]
    above_24h = pb.MetricFilter(
        name="rmse", lead_time=hours(24), comparison=pb.COMPARISON_GREATER_EQUAL, threshold=4.0
    )
    assert search(metric_filters=[above_24h]) == [("alpha", 1), ("beta", 1)]
    assert search(metric_filters=[below], tags=[pb.TagFilter(key="good", value="no")]) == []


def test_version_pages_are_stable_and_bound_to_their_query(registry: RunningRegistry) -> None:
    _model(registry)
    artifact = make_artifact(registry.artifact_root, "v")
    for _ in range(10):
        registry.stub.CreateModelVersion(version_request("t2m", artifact, digest=HASH_B))
    numbers: list[int] = []
    token = ""
    while True:
        response = registry.stub.ListModelVersions(
            pb.ListModelVersionsRequest(
                model_name="t2m", page=pagination_pb2.PageRequest(page_size=4, page_token=token)
            )
        )
        numbers.extend(v.version for v in response.versions)
        token = response.page.next_page_token
        if len(numbers) == 4:
            # a version created between pages lands before the cursor: no duplicate, no gap
            registry.stub.CreateModelVersion(version_request("t2m", artifact))
            reuse_token = token
        if not token:
            break
    assert numbers == list(range(10, 0, -1))
    error = rpc_error(
        registry.stub.ListModelVersions,
        pb.ListModelVersionsRequest(
            model_name="t2m",
            alias="production",
            page=pagination_pb2.PageRequest(page_token=reuse_token),
        ),
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["page.page_token"]
    garbage = rpc_error(
        registry.stub.ListModelVersions,
        pb.ListModelVersionsRequest(page=pagination_pb2.PageRequest(page_token="%%%not-a-token")),
    )
    assert violated_fields(garbage) == ["page.page_token"]
