"""Inputs the fuzzer (tests/fuzz) found answered INTERNAL: now INVALID_ARGUMENT naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import timestamp_pb2
from weather.common.v1 import dataset_pb2
from weather.ingest.v1 import ingest_service_pb2 as pb

from tests.ingest.conftest import RunningIngest, start_ingest
from tests.registry.helpers import rpc_error, violated_fields
from weather_data.cluster import DaskRuntime, DaskSettings


@pytest.fixture
def idle_ingest(tmp_path: Path) -> Iterator[RunningIngest]:
    """An ingest server whose Dask cluster never starts (these requests end before it)."""
    runtime = DaskRuntime(DaskSettings(local_workers=1))
    running = start_ingest(tmp_path, runtime)
    yield running
    running.channel.close()
    running.server.stop(1)
    runtime.close()


def test_time_range_outside_pandas_range(idle_ingest: RunningIngest) -> None:
    for bad in (timestamp_pb2.Timestamp(nanos=-1), timestamp_pb2.Timestamp(seconds=2**40)):
        request = pb.StartIngestRequest(
            source_uri=str(idle_ingest.scratch / "x.nc"),
            dataset_id="fuzz",
            time_range=dataset_pb2.TimeRange(end=bad),
        )
        error = rpc_error(idle_ingest.stub.StartIngest, request)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert violated_fields(error) == ["time_range.end"]


def test_append_step_time_outside_pandas_range(idle_ingest: RunningIngest) -> None:
    messages = [
        pb.AppendStepsRequest(header=pb.AppendHeader(dataset_id="fuzz")),
        pb.AppendStepsRequest(step=pb.TimeStep(time=timestamp_pb2.Timestamp(seconds=2**62))),
    ]
    error = rpc_error(idle_ingest.stub.AppendSteps, iter(messages))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["steps[0].time"]
