"""Inputs the fuzzer (tests/fuzz) found answered INTERNAL (or ending their operation INTERNAL):
now INVALID_ARGUMENT naming the field."""

from __future__ import annotations

from pathlib import Path

import grpc
from google.protobuf import timestamp_pb2
from weather.common.v1 import dataset_pb2, operation_pb2
from weather.preprocess.v1 import preprocess_service_pb2 as pb

from tests.preprocess.conftest import RunningPreprocess, ref, start_preprocess
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
        assert "recipe.split.test.start" in violated_fields(error)
    finally:
        running.channel.close()
        running.server.stop(1)
        runtime.close()


def test_a_base_period_selecting_no_step_fails_the_analysis_cleanly(
    preprocess: RunningPreprocess,
) -> None:
    """The seeded fuzz: an area mean of anomalies whose base period (252 ns after the epoch)
    holds no month of the navy winds ended its operation INTERNAL."""
    request = pb.StartAnalysisRequest(
        source=ref("navy"),
        variables=["UWND"],
        kind=pb.ANALYSIS_KIND_AREA_MEAN,
        named_region="nino4",
        of_anomalies=True,
        base_period=dataset_pb2.TimeRange(
            start=timestamp_pb2.Timestamp(seconds=0), end=timestamp_pb2.Timestamp(nanos=252066)
        ),
    )
    done = preprocess.run(preprocess.stub.StartAnalysis(request))
    assert done.operation.state == operation_pb2.OPERATION_STATE_FAILED
    assert done.operation.error.code == "INVALID_ARGUMENT", done.operation.error
    assert [p.field for p in done.operation.error.field_problems] == ["base_period"]


def test_an_area_mean_of_a_series_without_a_grid_fails_cleanly(
    preprocess: RunningPreprocess,
) -> None:
    """The seeded fuzz: an analysis stored a Nino 4 series as a new version of its source; the
    next area mean of that source (no latitude/longitude) ended its operation INTERNAL."""
    series = pb.StartAnalysisRequest(
        source=ref("navy"),
        variables=["UWND"],
        kind=pb.ANALYSIS_KIND_AREA_MEAN,
        named_region="nino4",
        output_dataset_id="fuzz-nino4-series",
    )
    done = preprocess.run(preprocess.stub.StartAnalysis(series))
    assert done.operation.state == operation_pb2.OPERATION_STATE_SUCCEEDED, done.operation.error
    of_series = pb.StartAnalysisRequest(
        source=ref("fuzz-nino4-series"), kind=pb.ANALYSIS_KIND_AREA_MEAN, named_region="nino4"
    )
    done = preprocess.run(preprocess.stub.StartAnalysis(of_series))
    assert done.operation.state == operation_pb2.OPERATION_STATE_FAILED
    assert done.operation.error.code == "INVALID_ARGUMENT", done.operation.error
    assert [p.field for p in done.operation.error.field_problems] == ["source"]
    assert "latitude" in done.operation.error.message
