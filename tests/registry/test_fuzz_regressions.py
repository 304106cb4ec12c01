"""Inputs the fuzzer (tests/fuzz) found answered INTERNAL: now INVALID_ARGUMENT naming the field."""

from __future__ import annotations

import grpc
from google.protobuf import duration_pb2
from weather.registry.v1 import registry_service_pb2 as pb

from tests.conftest import RunningRegistry
from tests.registry.helpers import (
    make_artifact,
    metric,
    rpc_error,
    version_request,
    violated_fields,
)


def test_metric_filter_lead_time_beyond_timedelta(registry: RunningRegistry) -> None:
    request = pb.ListModelVersionsRequest(
        metric_filters=[
            pb.MetricFilter(),
            pb.MetricFilter(lead_time=duration_pb2.Duration(seconds=-86399999913601)),
        ]
    )
    error = rpc_error(registry.stub.ListModelVersions, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["metric_filters[1].lead_time"]


def test_metric_lead_time_beyond_timedelta(registry: RunningRegistry) -> None:
    registry.stub.CreateRegisteredModel(pb.CreateRegisteredModelRequest(name="m"))
    huge = metric("rmse", value=1.0)
    huge.lead_time.seconds = 2**62
    request = version_request("m", make_artifact(registry.artifact_root, "v"), metrics=[huge])
    error = rpc_error(registry.stub.CreateModelVersion, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["metrics[0].lead_time"]
