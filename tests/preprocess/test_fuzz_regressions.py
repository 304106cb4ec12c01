"""Inputs the fuzzer (tests/fuzz) found answered INTERNAL: now INVALID_ARGUMENT naming the field."""

from __future__ import annotations

from pathlib import Path

import grpc
from google.protobuf import timestamp_pb2
from weather.common.v1 import dataset_pb2
from weather.preprocess.v1 import preprocess_service_pb2 as pb

from tests.preprocess.conftest import start_preprocess
from tests.registry.helpers import rpc_error, violated_fields
from weather_data.cluster import DaskRuntime, DaskSettings


def test_split_time_outside_pandas_range(tmp_path: Path) -> None:
    runtime = DaskRuntime(DaskSettings(local_workers=1))  # never started: refused up front
    running = start_preprocess(tmp_path, runtime)
    try:
        recipe = pb.Recipe(
            split=pb.Split(
                test=dataset_pb2.TimeRange(start=timestamp_pb2.Timestamp(seconds=-(2**63)))
            )
        )
        error = rpc_error(running.stub.StartBuild, pb.StartBuildRequest(recipe=recipe))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "start" in violated_fields(error)
    finally:
        running.channel.close()
        running.server.stop(1)
        runtime.close()
