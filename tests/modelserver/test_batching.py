"""Batching: concurrent requests merge into fewer model calls and answer exactly as alone."""

from __future__ import annotations

import re
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path

import grpc
import numpy as np
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from tests.modelserver.support import (
    VARIABLE,
    RunningModelServer,
    expected,
    inputs,
    output,
    predict_request,
)

REQUESTS = 8


def _metric(port: int, name: str, model: str) -> float:
    """Sum of a sample over the model's label sets, read from the server's /metrics page."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as page:
        text = page.read().decode()
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"{name}\{{([^}}]*)\}} (\S+)$", line)
        if match and f'model="{model}"' in match.group(1):
            total += float(match.group(2))
    return total


def _concurrently(
    stub: prediction_service_pb2_grpc.PredictionServiceStub,
    requests: list[predict_pb2.PredictRequest],
) -> list[predict_pb2.PredictResponse]:
    barrier = threading.Barrier(len(requests))
    answers: list[predict_pb2.PredictResponse | None] = [None] * len(requests)
    errors: list[grpc.RpcError] = []

    def send(i: int) -> None:
        barrier.wait()
        try:
            answers[i] = stub.Predict(requests[i], timeout=30)
        except grpc.RpcError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return [a for a in answers if a is not None]


def test_concurrent_requests_are_merged_and_answer_as_single_requests(
    modelservers: Callable[..., RunningModelServer], tmp_path: Path, install
) -> None:
    install(tmp_path / "batched", 2)
    batched = modelservers(
        model_name="batched",
        model_base_path=str(tmp_path / "batched"),
        metrics_port=0,
        max_batch_size=2 * REQUESTS,
        batch_timeout_micros=500_000,
    )
    single = modelservers(
        model_name="batched", model_base_path=str(tmp_path / "batched"), enable_batching=False
    )
    assert batched.server.metrics_port
    port = batched.server.metrics_port
    # Requests of 1 to 3 rows, each different.
    arrays = [inputs(rows=1 + i % 3, seed=100 + i) for i in range(REQUESTS)]
    requests = [predict_request("batched", a) for a in arrays]

    alone = [single.predict.Predict(r, timeout=10) for r in requests]
    calls_before = _metric(port, "weather_modelserver_model_calls_total", "batched")
    merged_before = _metric(port, "weather_modelserver_batch_requests_sum", "batched")
    rows_before = _metric(port, "weather_modelserver_batch_rows_sum", "batched")

    together = _concurrently(batched.predict, requests)

    calls = _metric(port, "weather_modelserver_model_calls_total", "batched") - calls_before
    merged = _metric(port, "weather_modelserver_batch_requests_sum", "batched") - merged_before
    rows = _metric(port, "weather_modelserver_batch_rows_sum", "batched") - rows_before
    assert len(together) == REQUESTS
    for a, got, want in zip(arrays, together, alone, strict=True):
        assert got.model_spec.version.value == want.model_spec.version.value == 2
        assert np.array_equal(output(got), output(want))  # bit for bit
        assert output(got).shape[0] == a[VARIABLE].shape[0]
        np.testing.assert_allclose(
            output(got), expected(a[VARIABLE], a["init_time"], a["lead_hours"], 2), rtol=1e-6
        )
    assert merged == REQUESTS
    assert rows == sum(a[VARIABLE].shape[0] for a in arrays)
    assert 1 <= calls <= REQUESTS // 2, f"{REQUESTS} requests took {calls} model calls"


def test_without_batching_every_request_is_its_own_call(
    modelservers: Callable[..., RunningModelServer], tmp_path: Path, install
) -> None:
    install(tmp_path / "unbatched", 1)
    running = modelservers(
        model_name="unbatched",
        model_base_path=str(tmp_path / "unbatched"),
        metrics_port=0,
        enable_batching=False,
    )
    port = running.server.metrics_port
    assert port
    before = _metric(port, "weather_modelserver_model_calls_total", "unbatched")
    _concurrently(running.predict, [predict_request("unbatched", inputs(seed=i)) for i in range(4)])
    assert _metric(port, "weather_modelserver_model_calls_total", "unbatched") - before == 4
