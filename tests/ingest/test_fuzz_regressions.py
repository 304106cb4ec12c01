"""Inputs the fuzzer (tests/fuzz) found answered INTERNAL or hanging: now INVALID_ARGUMENT naming
the field, at once."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import timestamp_pb2
from weather.common.v1 import dataset_pb2
from weather.ingest.v1 import ingest_service_pb2 as pb

from tests.ingest.conftest import DATA, RunningIngest, start_ingest
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


def test_a_large_non_grib_file_named_grib_is_refused_at_once(idle_ingest: RunningIngest) -> None:
    """The seeded fuzz: format GRIB on the 11 MB navy winds NetCDF kept a server thread in
    ecCodes' scan for 16 s (the call's 10 s deadline expired first)."""
    source = idle_ingest.scratch / "navy.nc"
    shutil.copyfile(DATA / "monthly_navy_winds.cdf", source)
    request = pb.StartIngestRequest(
        source_uri=str(source),
        dataset_id="fuzz",
        format=pb.SOURCE_FORMAT_GRIB,
        validate_only=True,
    )
    began = time.monotonic()
    error = rpc_error(idle_ingest.stub.StartIngest, request, timeout=30)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert violated_fields(error) == ["source_uri"]
    assert "not a GRIB file" in error.details()
    assert time.monotonic() - began < 5
