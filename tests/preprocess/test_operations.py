"""Preprocess operations: status by GetOperation, and a cancel that stores nothing."""

from __future__ import annotations

import pytest
from weather.common.v1 import operation_pb2
from weather.preprocess.v1 import preprocess_service_pb2 as pb

import weather_data.chunks
import weather_data.writer
from tests.operation_calls import cancel_while_writing
from tests.preprocess.conftest import RunningPreprocess
from tests.preprocess.test_build import era5_recipe


def test_get_operation_returns_the_build(preprocess: RunningPreprocess) -> None:
    started = preprocess.stub.StartBuild(pb.StartBuildRequest(recipe=era5_recipe()))
    done = preprocess.run(started)
    got = preprocess.stub.GetOperation(
        pb.GetOperationRequest(operation_id=started.operation.operation_id)
    )
    assert got.operation.state == operation_pb2.OPERATION_STATE_SUCCEEDED
    assert got.WhichOneof("result") == "build" and got.build == done.build


def test_cancel_a_build(preprocess: RunningPreprocess, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(weather_data.chunks, "TARGET_CHUNK_BYTES", 33 * 49 * 4 * 2)
    monkeypatch.setattr(weather_data.writer, "BATCH_BYTES", 1)
    started = preprocess.stub.StartBuild(
        pb.StartBuildRequest(recipe=era5_recipe(output_dataset_id="slow"))
    )
    operation_id = started.operation.operation_id
    cancelled = cancel_while_writing(preprocess.stub, pb, operation_id, 0.2)
    assert cancelled.state == operation_pb2.OPERATION_STATE_CANCELLED, cancelled
    slow = preprocess.archive / "datasets" / "slow"
    assert not slow.exists() or not [p for p in slow.rglob("*") if p.is_file()]
