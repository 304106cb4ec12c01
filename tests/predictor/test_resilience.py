"""Deadlines, retries, the circuit breaker, the in-flight cap and message-size limits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import grpc
import numpy as np
import pytest
from weather.predictor.v1 import predictor_service_pb2 as pb

from tests.predictor.support import (
    FakeModelServer,
    RunningPredictor,
    gridded,
    predict_request,
    rpc_error,
    selector,
)
from weather_predictor.limits import check_size
from weather_predictor.modelserver_client import CircuitBreaker
from weather_runtime.errors import ResourceExhausted, Unavailable

Predictors = Callable[..., RunningPredictor]
Fakes = Callable[..., FakeModelServer]


def _warm(predictor: RunningPredictor) -> None:
    """Connects and caches the signature of forecast:1, so a timing test times Predict only."""
    info = predictor.stub.GetModelInfo(pb.GetModelInfoRequest(model=selector("forecast", 1)))
    assert info.provenance.model_version == 1


def test_client_deadline_reaches_a_frozen_model_server(
    predictors: Predictors, fake_modelserver: Fakes
) -> None:
    fake = fake_modelserver(freeze=True)
    predictor = predictors(modelserver_address=fake.address)
    _warm(predictor)
    started = time.monotonic()
    error = rpc_error(predictor.stub.Predict, predict_request(version=1), timeout=0.5)
    elapsed = time.monotonic() - started
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert elapsed < 0.55
    assert fake.predict_calls == 1
    remaining = fake.remaining[0]
    assert remaining is not None and 0 < remaining <= 0.51  # the model server got the deadline


def test_default_deadline_applies_when_the_client_sets_none(
    predictors: Predictors, fake_modelserver: Fakes
) -> None:
    fake = fake_modelserver(freeze=True)
    predictor = predictors(modelserver_address=fake.address, default_deadline_seconds=0.3)
    _warm(predictor)
    started = time.monotonic()
    error = rpc_error(predictor.stub.Predict, predict_request(version=1))
    elapsed = time.monotonic() - started
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # sent by the predictor
    assert elapsed < 0.3 + 0.1  # the deadline plus 50 ms in the predictor, 50 ms for the test
    assert fake.remaining[0] is not None and fake.remaining[0] <= 0.31


def test_unavailable_is_retried_with_backoff(
    predictors: Predictors, fake_modelserver: Fakes
) -> None:
    fake = fake_modelserver(fail_predicts=1)
    predictor = predictors(modelserver_address=fake.address, retry_attempts=3)
    response = predictor.stub.Predict(predict_request(version=1), timeout=10)
    assert response.provenance.model_version == 1
    assert fake.predict_calls == 2


def test_without_retries_unavailable_reaches_the_client(
    predictors: Predictors, fake_modelserver: Fakes
) -> None:
    fake = fake_modelserver(fail_predicts=1)
    predictor = predictors(modelserver_address=fake.address, retry_attempts=1)
    error = rpc_error(predictor.stub.Predict, predict_request(version=1), timeout=10)
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert fake.predict_calls == 1


def test_other_model_server_errors_are_passed_on_without_retry(
    predictors: Predictors, fake_modelserver: Fakes
) -> None:
    fake = fake_modelserver(fail_predicts=1, fail_code=grpc.StatusCode.INVALID_ARGUMENT)
    predictor = predictors(modelserver_address=fake.address, retry_attempts=3)
    error = rpc_error(predictor.stub.Predict, predict_request(version=1), timeout=10)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "injected failure" in (error.details() or "")
    assert fake.predict_calls == 1


def test_circuit_breaker_fails_fast_then_half_opens(
    predictors: Predictors, fake_modelserver: Fakes
) -> None:
    fake = fake_modelserver(fail_predicts=-1)
    predictor = predictors(
        modelserver_address=fake.address,
        retry_attempts=1,
        breaker_failures=3,
        breaker_reset_seconds=0.5,
    )
    for _ in range(3):
        error = rpc_error(predictor.stub.Predict, predict_request(version=1), timeout=10)
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert "injected failure" in (error.details() or "")
    assert fake.predict_calls == 3
    error = rpc_error(predictor.stub.Predict, predict_request(version=1), timeout=10)
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert "circuit open" in (error.details() or "")
    assert fake.predict_calls == 3  # failed fast, the model server was not asked
    fake.fail_predicts = 0
    time.sleep(0.6)
    response = predictor.stub.Predict(predict_request(version=1), timeout=10)
    assert response.provenance.model_version == 1
    assert fake.predict_calls == 4


def test_breaker_reopens_when_the_half_open_trial_fails() -> None:
    now = [0.0]
    breaker = CircuitBreaker(2, 1.0, clock=lambda: now[0])
    breaker.failure()
    breaker.before()  # one failure: still closed
    breaker.failure()
    assert breaker.state == "open"
    with pytest.raises(Unavailable):
        breaker.before()
    now[0] = 1.5
    breaker.before()  # the trial
    with pytest.raises(Unavailable):
        breaker.before()  # only one trial at a time
    breaker.failure()
    assert breaker.state == "open"
    now[0] = 3.0
    breaker.before()
    breaker.success()
    assert breaker.state == "closed"


def test_in_flight_cap_gives_resource_exhausted(
    predictors: Predictors, fake_modelserver: Fakes
) -> None:
    fake = fake_modelserver(freeze=True)
    predictor = predictors(modelserver_address=fake.address, max_in_flight=1)
    _warm(predictor)
    blocked: list[grpc.RpcError] = []

    def _slow() -> None:
        blocked.append(rpc_error(predictor.stub.Predict, predict_request(version=1), timeout=2))

    thread = threading.Thread(target=_slow)
    thread.start()
    deadline = time.monotonic() + 5
    while fake.predict_calls == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.predict_calls == 1
    error = rpc_error(predictor.stub.Predict, predict_request(version=1), timeout=5)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "in flight" in (error.details() or "")
    thread.join()
    assert blocked[0].code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_requests_above_the_message_limit_are_resource_exhausted(predictors: Predictors) -> None:
    predictor = predictors(max_message_bytes=4 * 1024 * 1024)
    big = np.zeros((5 * 1024 * 1024 // 4,), np.float32)  # 5 MiB of data
    error = rpc_error(predictor.stub.Predict, predict_request(fields=[gridded(big)]), timeout=10)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_response_size_check_names_the_message() -> None:
    check_size(100, 100, "PredictResponse.outputs")
    with pytest.raises(ResourceExhausted) as raised:
        check_size(101, 100, "PredictResponse.outputs")
    assert raised.value.subject == "PredictResponse.outputs"
    assert "101 bytes" in raised.value.message


def test_only_timeouts_of_generous_deadlines_open_the_circuit(
    predictors: Predictors, fake_modelserver: Fakes
) -> None:
    fake = fake_modelserver(freeze=True)
    predictor = predictors(
        modelserver_address=fake.address,
        breaker_failures=2,
        breaker_reset_seconds=30,
        breaker_slow_call_seconds=0.2,
    )
    _warm(predictor)
    for _ in range(3):  # short client deadlines: the model server is not blamed
        error = rpc_error(predictor.stub.Predict, predict_request(version=1), timeout=0.05)
        assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    for _ in range(2):
        error = rpc_error(predictor.stub.Predict, predict_request(version=1), timeout=0.6)
        assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # The client's deadline and the predictor's upstream timeout expire together: give the
    # predictor a moment to record the second failure before the next call.
    time.sleep(0.2)
    calls = fake.predict_calls
    error = rpc_error(predictor.stub.Predict, predict_request(version=1), timeout=2)
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert "circuit open" in (error.details() or "")
    assert fake.predict_calls == calls
