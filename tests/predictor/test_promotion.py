"""A promotion in the registry reaches the predictor's clients without a failed request: the
registry's alias moves, the serving sync loads the new version and moves the model server's
label, and the predictor's answers switch to the new version while a client keeps forecasting."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.modelserver.support import LoadLoop, build_saved_model
from tests.predictor.support import (
    INIT,
    RunningPredictor,
    gridded,
    metadata,
    model_output,
    predict_request,
    start_predictor,
    to_array,
    window,
)
from tests.predictor.sync_support import MODEL, start_stack

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """SavedModels answering with scale 1 and 2, with the trainer's assets/metadata.json."""
    root = tmp_path_factory.mktemp("promotion")
    built = {}
    for scale in (1, 2):
        path = build_saved_model(root / f"scale-{scale}", float(scale))
        (path / "assets").mkdir(exist_ok=True)
        (path / "assets" / "metadata.json").write_text(json.dumps(metadata(scale)))
        built[scale] = path
    return built


def _forecaster(predictor: RunningPredictor) -> LoadLoop:
    """Asks the predictor for `production` in a loop; an answer is right when it is the version
    its provenance names."""

    def ask(seed: int) -> tuple[int, bool]:
        values = window(seed)
        request = predict_request(MODEL, alias="production", fields=[gridded(values)])
        response = predictor.stub.Predict(request, timeout=10)
        version = int(response.provenance.model_version)
        want = model_output(values, INIT, 1.0, float(version))
        return version, bool(np.allclose(to_array(response.outputs[0]), want, rtol=1e-6))

    return LoadLoop(ask, lambda: None)


def _wait(test: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    done = threading.Event()
    deadline = threading.Timer(timeout, done.set)
    deadline.start()
    try:
        while not test():
            if done.wait(0.05):
                raise AssertionError(f"timed out waiting for {what}")
    finally:
        deadline.cancel()


def test_a_promotion_reaches_forecasting_clients_with_no_failed_request(
    tmp_path: Path, artifacts: dict[int, Path]
) -> None:
    stack = start_stack(tmp_path, artifacts[1].parent)
    predictor = None
    client = None
    try:
        assert [stack.register(artifacts[s]) for s in (1, 2)] == [1, 2]
        stack.set_alias("production", 1)
        stack.start_sync()
        predictor = start_predictor(
            modelserver_address=f"127.0.0.1:{stack.modelserver.port}",
            model_root=str(stack.base),
        )
        client = _forecaster(predictor)
        client.start()
        _wait(lambda: len(client.answers) > 20, "traffic on version 1")
        stack.set_alias("production", 2)  # the promotion, in the registry only
        _wait(lambda: client.answers[-1:] == [2], "answers from version 2", timeout=10)
        switched = len(client.answers)
        _wait(lambda: len(client.answers) > switched + 20, "traffic on version 2")
    finally:
        if client is not None:
            client.finish()
        if predictor is not None:
            predictor.stop()
        stack.stop()
    assert client.errors == []
    assert client.wrong == []
    assert client.answers[0] == 1 and client.answers[-1] == 2
    assert client.answers == sorted(client.answers)  # 1 ... 1 2 ... 2, never back


def test_a_replica_reports_serving_only_once_its_models_are_loaded(
    tmp_path: Path, artifacts: dict[int, Path]
) -> None:
    stack = start_stack(tmp_path, artifacts[1].parent)
    predictor = None
    try:
        predictor = start_predictor(
            modelserver_address=f"127.0.0.1:{stack.modelserver.port}",
            model_root=str(stack.base),
            required_models=[MODEL],
            label_cache_seconds=0,
        )
        health = health_pb2_grpc.HealthStub(predictor.channel)

        def status() -> int:
            return int(health.Check(health_pb2.HealthCheckRequest(), timeout=5).status)

        assert status() == health_pb2.HealthCheckResponse.NOT_SERVING  # nothing loaded yet
        stack.register(artifacts[1])
        stack.start_sync()  # nothing aliased: still nothing to serve
        time.sleep(1.5)
        assert status() == health_pb2.HealthCheckResponse.NOT_SERVING
        stack.set_alias("production", 1)
        _wait(lambda: status() == health_pb2.HealthCheckResponse.SERVING, "SERVING", 15)
        answer = predictor.stub.Predict(predict_request(MODEL, alias="production"), timeout=10)
        assert answer.provenance.model_version == 1
    finally:
        if predictor is not None:
            predictor.stop()
        stack.stop()
