"""Every malformed field gets INVALID_ARGUMENT naming it, and a rejected call writes nothing."""

from __future__ import annotations

import math
from collections.abc import Callable

import grpc
import pytest
from google.protobuf import duration_pb2
from weather.common.v1 import pagination_pb2
from weather.registry.v1 import registry_service_pb2 as pb

from tests.conftest import RunningRegistry
from tests.registry.helpers import (
    HASH_A,
    make_artifact,
    metric,
    rpc_error,
    version_request,
    violated_fields,
)

Build = Callable[[RunningRegistry], tuple[str, object]]


def _version(registry: RunningRegistry, **changes: object) -> pb.CreateModelVersionRequest:
    request = version_request(
        "m", registry.artifact_root / "v", metrics=[metric("rmse", value=1.0, persistence=2.0)]
    )
    for path, value in changes.items():
        target = request
        *parents, leaf = path.split("__")
        for parent in parents:
            target = getattr(target, parent)
        if isinstance(value, list):
            target.ClearField(leaf)
            getattr(target, leaf).extend(value)
        elif isinstance(value, dict):
            getattr(target, leaf).update(value)
        else:
            setattr(target, leaf, value)
    return request


def _metric(**changes: object) -> pb.Metric:
    base = metric("rmse", value=1.0, persistence=2.0)
    for key, value in changes.items():
        if key == "lead_time":
            base.lead_time.CopyFrom(value)  # type: ignore[arg-type]
        elif key == "baselines":
            base.ClearField("baselines")
            base.baselines.extend(value)  # type: ignore[arg-type]
        else:
            setattr(base, key, value)
    return base


CASES: list[tuple[str, str, Callable[[RunningRegistry], object], list[str]]] = [
    (
        "model name empty",
        "CreateRegisteredModel",
        lambda r: pb.CreateRegisteredModelRequest(name=""),
        ["name"],
    ),
    (
        "model name spaces",
        "CreateRegisteredModel",
        lambda r: pb.CreateRegisteredModelRequest(name="a b"),
        ["name"],
    ),
    (
        "model name too long",
        "CreateRegisteredModel",
        lambda r: pb.CreateRegisteredModelRequest(name="a" * 129),
        ["name"],
    ),
    (
        "model description",
        "CreateRegisteredModel",
        lambda r: pb.CreateRegisteredModelRequest(name="n", description="x" * 20000),
        ["description"],
    ),
    (
        "model tag key",
        "CreateRegisteredModel",
        lambda r: pb.CreateRegisteredModelRequest(name="n", tags={"bad key": "v"}),
        ["tags['bad key']"],
    ),
    (
        "get model name",
        "GetRegisteredModel",
        lambda r: pb.GetRegisteredModelRequest(name="../etc"),
        ["name"],
    ),
    (
        "list page size",
        "ListRegisteredModels",
        lambda r: pb.ListRegisteredModelsRequest(page=pagination_pb2.PageRequest(page_size=-1)),
        ["page.page_size"],
    ),
    (
        "list page token",
        "ListRegisteredModels",
        lambda r: pb.ListRegisteredModelsRequest(page=pagination_pb2.PageRequest(page_token="zz")),
        ["page.page_token"],
    ),
    (
        "list tag filter",
        "ListRegisteredModels",
        lambda r: pb.ListRegisteredModelsRequest(tags=[pb.TagFilter(key="")]),
        ["tags[0].key"],
    ),
    (
        "update remove tag",
        "UpdateRegisteredModel",
        lambda r: pb.UpdateRegisteredModelRequest(name="m", remove_tags=["ok", "not ok"]),
        ["remove_tags[1]"],
    ),
    (
        "update set tag",
        "UpdateRegisteredModel",
        lambda r: pb.UpdateRegisteredModelRequest(name="m", set_tags={"k": "v" * 5000}),
        ["set_tags['k']"],
    ),
    (
        "version model name",
        "CreateModelVersion",
        lambda r: _version(r, model_name="m m"),
        ["model_name"],
    ),
    (
        "artifact uri empty",
        "CreateModelVersion",
        lambda r: _version(r, artifact_uri=""),
        ["artifact_uri"],
    ),
    (
        "artifact uri relative",
        "CreateModelVersion",
        lambda r: _version(r, artifact_uri="models/v1"),
        ["artifact_uri"],
    ),
    (
        "artifact uri dotdot",
        "CreateModelVersion",
        lambda r: _version(r, artifact_uri=f"{r.artifact_root}/../../etc"),
        ["artifact_uri"],
    ),
    (
        "artifact uri host",
        "CreateModelVersion",
        lambda r: _version(r, artifact_uri="file://evil/x"),
        ["artifact_uri"],
    ),
    (
        "digest empty",
        "CreateModelVersion",
        lambda r: _version(r, artifact_digest=""),
        ["artifact_digest"],
    ),
    (
        "digest uppercase",
        "CreateModelVersion",
        lambda r: _version(r, artifact_digest=HASH_A.upper()),
        ["artifact_digest"],
    ),
    (
        "digest short",
        "CreateModelVersion",
        lambda r: _version(r, artifact_digest="sha256:abc"),
        ["artifact_digest"],
    ),
    (
        "digest algorithm",
        "CreateModelVersion",
        lambda r: _version(r, artifact_digest="md5:" + "0" * 32),
        ["artifact_digest"],
    ),
    (
        "dataset hash",
        "CreateModelVersion",
        lambda r: _version(r, lineage__dataset__content_hash="abc"),
        ["lineage.dataset.content_hash"],
    ),
    (
        "recipe hash",
        "CreateModelVersion",
        lambda r: _version(r, lineage__recipe_hash="sha1:00"),
        ["lineage.recipe_hash"],
    ),
    (
        "stats hash",
        "CreateModelVersion",
        lambda r: _version(r, lineage__normalisation_stats_hash="x"),
        ["lineage.normalisation_stats_hash"],
    ),
    (
        "job id",
        "CreateModelVersion",
        lambda r: _version(r, lineage__training_job_id="j" * 300),
        ["lineage.training_job_id"],
    ),
    (
        "input name",
        "CreateModelVersion",
        lambda r: _version(r, signature__inputs=[pb.TensorSpec(name="", shape=[1])]),
        ["signature.inputs[0].name"],
    ),
    (
        "output shape",
        "CreateModelVersion",
        lambda r: _version(r, signature__outputs=[pb.TensorSpec(name="y", shape=[-1, -5])]),
        ["signature.outputs[0].shape"],
    ),
    (
        "metric name",
        "CreateModelVersion",
        lambda r: _version(r, metrics=[_metric(name="1bad")]),
        ["metrics[0].name"],
    ),
    (
        "metric variable",
        "CreateModelVersion",
        lambda r: _version(r, metrics=[_metric(variable="")]),
        ["metrics[0].variable"],
    ),
    (
        "metric nan",
        "CreateModelVersion",
        lambda r: _version(r, metrics=[_metric(), _metric(variable="z500", value=math.nan)]),
        ["metrics[1].value"],
    ),
    (
        "metric inf",
        "CreateModelVersion",
        lambda r: _version(r, metrics=[_metric(value=math.inf)]),
        ["metrics[0].value"],
    ),
    (
        "metric goal",
        "CreateModelVersion",
        lambda r: _version(r, metrics=[_metric(goal=pb.METRIC_GOAL_UNSPECIFIED)]),
        ["metrics[0].goal"],
    ),
    (
        "metric lead",
        "CreateModelVersion",
        lambda r: _version(r, metrics=[_metric(lead_time=duration_pb2.Duration(seconds=-3600))]),
        ["metrics[0].lead_time"],
    ),
    (
        "metric duplicate",
        "CreateModelVersion",
        lambda r: _version(r, metrics=[_metric(), _metric()]),
        ["metrics[1]"],
    ),
    (
        "baseline twice",
        "CreateModelVersion",
        lambda r: _version(
            r,
            metrics=[
                _metric(
                    baselines=[
                        pb.BaselineScore(baseline="p", value=1),
                        pb.BaselineScore(baseline="p", value=2),
                    ]
                )
            ],
        ),
        ["metrics[0].baselines"],
    ),
    (
        "baseline nan",
        "CreateModelVersion",
        lambda r: _version(
            r, metrics=[_metric(baselines=[pb.BaselineScore(baseline="p", value=math.nan)])]
        ),
        ["metrics[0].baselines"],
    ),
    ("version tag", "CreateModelVersion", lambda r: _version(r, tags={"": "x"}), ["tags['']"]),
    (
        "request id",
        "CreateModelVersion",
        lambda r: _version(r, request_id="has space"),
        ["request_id"],
    ),
    (
        "two fields at once",
        "CreateModelVersion",
        lambda r: _version(r, artifact_uri="x", artifact_digest="y"),
        ["artifact_uri", "artifact_digest"],
    ),
    (
        "get version number",
        "GetModelVersion",
        lambda r: pb.GetModelVersionRequest(model_name="m", version=-3),
        ["version"],
    ),
    (
        "get alias",
        "GetModelVersion",
        lambda r: pb.GetModelVersionRequest(model_name="m", alias="Prod!"),
        ["alias"],
    ),
    (
        "search comparison",
        "ListModelVersions",
        lambda r: pb.ListModelVersionsRequest(
            metric_filters=[pb.MetricFilter(name="rmse", threshold=1)]
        ),
        ["metric_filters[0].comparison"],
    ),
    (
        "search threshold",
        "ListModelVersions",
        lambda r: pb.ListModelVersionsRequest(
            metric_filters=[
                pb.MetricFilter(name="rmse", comparison=pb.COMPARISON_LESS, threshold=math.nan)
            ]
        ),
        ["metric_filters[0].threshold"],
    ),
    (
        "search alias",
        "ListModelVersions",
        lambda r: pb.ListModelVersionsRequest(alias="A B"),
        ["alias"],
    ),
    (
        "update version number",
        "UpdateModelVersion",
        lambda r: pb.UpdateModelVersionRequest(model_name="m", version=0),
        ["version"],
    ),
    (
        "alias name",
        "SetAlias",
        lambda r: pb.SetAliasRequest(model_name="m", alias="", version=1),
        ["alias"],
    ),
    (
        "alias version",
        "SetAlias",
        lambda r: pb.SetAliasRequest(model_name="m", alias="staging", version=0),
        ["version"],
    ),
    (
        "alias expected",
        "SetAlias",
        lambda r: pb.SetAliasRequest(
            model_name="m", alias="staging", version=1, expected_current_version=-1
        ),
        ["expected_current_version"],
    ),
    (
        "override reason",
        "SetAlias",
        lambda r: pb.SetAliasRequest(
            model_name="m", alias="production", version=1, override_gate=True, reason="  "
        ),
        ["reason"],
    ),
    (
        "delete alias name",
        "DeleteAlias",
        lambda r: pb.DeleteAliasRequest(model_name="m", alias="-x"),
        ["alias"],
    ),
    (
        "history model",
        "ListAliasHistory",
        lambda r: pb.ListAliasHistoryRequest(model_name=""),
        ["model_name"],
    ),
    (
        "verify version",
        "VerifyModelVersion",
        lambda r: pb.VerifyModelVersionRequest(model_name="m", version=0),
        ["version"],
    ),
]


def _snapshot(registry: RunningRegistry) -> tuple[object, ...]:
    stub = registry.stub
    model = stub.GetRegisteredModel(pb.GetRegisteredModelRequest(name="m")).model
    versions = stub.ListModelVersions(pb.ListModelVersionsRequest()).versions
    history = stub.ListAliasHistory(pb.ListAliasHistoryRequest(model_name="m")).changes
    models = stub.ListRegisteredModels(pb.ListRegisteredModelsRequest()).models
    return (model, list(versions), list(history), [m.name for m in models])


def test_every_bad_field_is_named_and_nothing_is_written(registry: RunningRegistry) -> None:
    stub = registry.stub
    stub.CreateRegisteredModel(pb.CreateRegisteredModelRequest(name="m"))
    make_artifact(registry.artifact_root, "v")
    stub.CreateModelVersion(_version(registry))
    stub.SetAlias(pb.SetAliasRequest(model_name="m", alias="production", version=1))
    before = _snapshot(registry)
    failures = []
    for label, method, build, fields in CASES:
        error = rpc_error(getattr(stub, method), build(registry))
        if error.code() != grpc.StatusCode.INVALID_ARGUMENT or violated_fields(error) != fields:
            failures.append((label, error.code(), violated_fields(error), error.details()))
        assert "Traceback" not in (error.details() or "")
    assert failures == []
    assert _snapshot(registry) == before


@pytest.mark.parametrize(
    "request_",
    [pb.WatchEventsRequest(model_name="bad name"), pb.WatchEventsRequest(start_after_sequence=-1)],
)
def test_bad_watch_requests(registry: RunningRegistry, request_: pb.WatchEventsRequest) -> None:
    call = registry.stub.WatchEvents(request_)
    error = rpc_error(lambda: next(call))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
