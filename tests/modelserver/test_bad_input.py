"""Bad requests get a clear status code and a message naming the field, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import grpc
import numpy as np
import pytest
import tensorflow as tf
from google.rpc import error_details_pb2
from tensorflow_serving.apis import get_model_status_pb2, predict_pb2
from tensorflow_serving.config import model_server_config_pb2

from tests.modelserver.conftest import SERVED
from tests.modelserver.support import (
    LAT,
    LON,
    STEPS,
    VARIABLE,
    RunningModelServer,
    inputs,
    model_config,
    model_spec,
    predict_request,
    server_config,
)
from tests.registry.helpers import rpc_error, status_details


def _without(name: str) -> dict[str, np.ndarray]:
    arrays = inputs()
    del arrays[name]
    return arrays


def _with(**changes: np.ndarray) -> dict[str, np.ndarray]:
    return {**inputs(), **changes}


def _bad_content() -> predict_pb2.PredictRequest:
    request = predict_request(SERVED)
    request.inputs[VARIABLE].tensor_content = request.inputs[VARIABLE].tensor_content[:-4]
    return request


CASES: dict[str, tuple[Callable[[], predict_pb2.PredictRequest], grpc.StatusCode, list[str]]] = {
    "unknown model": (
        lambda: predict_request("no-such-model"),
        grpc.StatusCode.NOT_FOUND,
        ["model_spec.name", "'no-such-model'"],
    ),
    "empty model name": (
        lambda: predict_request(""),
        grpc.StatusCode.INVALID_ARGUMENT,
        ["model_spec.name"],
    ),
    "unknown version": (
        lambda: predict_request(SERVED, version=7),
        grpc.StatusCode.NOT_FOUND,
        ["model_spec.version", "version 7", "available: 1, 2"],
    ),
    "unknown label": (
        lambda: predict_request(SERVED, label="gold"),
        grpc.StatusCode.NOT_FOUND,
        ["model_spec.version_label", "'gold'", "labels: canary, stable"],
    ),
    "unknown signature": (
        lambda: predict_request(SERVED, signature="classify"),
        grpc.StatusCode.FAILED_PRECONDITION,
        ["model_spec.signature_name", "'classify'", "serving_default"],
    ),
    "missing input": (
        lambda: predict_request(SERVED, _without("lead_hours")),
        grpc.StatusCode.INVALID_ARGUMENT,
        ["inputs['lead_hours']", "missing", "float32 (DT_FLOAT) [-1]"],
    ),
    "unknown input": (
        lambda: predict_request(SERVED, _with(lead_days=np.ones(1, np.float32))),
        grpc.StatusCode.INVALID_ARGUMENT,
        ["inputs['lead_days']", "not an input", "init_time, lead_hours, t2m"],
    ),
    "wrong dtype": (
        lambda: predict_request(SERVED, _with(init_time=np.array([1.5e9], np.float64))),
        grpc.StatusCode.INVALID_ARGUMENT,
        ["inputs['init_time'].dtype", "float64 (DT_DOUBLE) given", "int64 (DT_INT64) [-1]"],
    ),
    "wrong rank": (
        lambda: predict_request(SERVED, _with(t2m=np.zeros((1, LAT, LON), np.float32))),
        grpc.StatusCode.INVALID_ARGUMENT,
        ["inputs['t2m'].tensor_shape", "[1, 3, 5] given", f"[-1, {STEPS}, {LAT}, {LON}]"],
    ),
    "wrong grid": (
        lambda: predict_request(SERVED, _with(t2m=np.zeros((1, STEPS, LAT + 1, LON), np.float32))),
        grpc.StatusCode.INVALID_ARGUMENT,
        ["inputs['t2m'].tensor_shape", f"[1, {STEPS}, {LAT + 1}, {LON}] given"],
    ),
    "short tensor_content": (
        _bad_content,
        grpc.StatusCode.INVALID_ARGUMENT,
        ["inputs['t2m'].tensor_content", "bytes"],
    ),
    "unknown output": (
        lambda: predict_request(SERVED, output_filter=("t2m", "u10")),
        grpc.StatusCode.INVALID_ARGUMENT,
        ["output_filter[1]", "'u10'"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_predict_request(served: RunningModelServer, case: str) -> None:
    build, code, fragments = CASES[case]
    error = rpc_error(served.predict.Predict, build(), timeout=10)
    assert error.code() == code, error.details()
    for fragment in fragments:
        assert fragment in error.details()
    assert "Traceback" not in error.details()


def test_bad_inputs_are_all_named_in_the_details(served: RunningModelServer) -> None:
    arrays = _with(init_time=np.array([1.0], np.float32))
    del arrays["lead_hours"]
    error = rpc_error(served.predict.Predict, predict_request(SERVED, arrays), timeout=10)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    bad_request = next(
        d for d in status_details(error) if isinstance(d, error_details_pb2.BadRequest)
    )
    fields = {v.field for v in bad_request.field_violations}
    assert fields == {"inputs['lead_hours']", "inputs['init_time'].dtype"}


def test_int32_is_not_silently_cast_to_int64(served: RunningModelServer) -> None:
    request = predict_request(SERVED)
    request.inputs["init_time"].CopyFrom(tf.make_tensor_proto(np.array([1], np.int32)))
    error = rpc_error(served.predict.Predict, request, timeout=10)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "int32 (DT_INT32) given" in error.details()


@pytest.mark.parametrize(
    ("spec", "code", "fragment"),
    [
        (model_spec("no-such-model"), grpc.StatusCode.NOT_FOUND, "any versions of model"),
        (model_spec(SERVED, version=9), grpc.StatusCode.NOT_FOUND, "version 9"),
        (model_spec(SERVED, label="gold"), grpc.StatusCode.NOT_FOUND, "'gold'"),
        (model_spec(""), grpc.StatusCode.INVALID_ARGUMENT, "model_spec.name"),
    ],
)
def test_bad_get_model_status(
    served: RunningModelServer, spec: object, code: grpc.StatusCode, fragment: str
) -> None:
    error = rpc_error(
        served.models.GetModelStatus,
        get_model_status_pb2.GetModelStatusRequest(model_spec=spec),
        timeout=10,
    )
    assert error.code() == code
    assert fragment in error.details()


def test_model_without_a_version_yet_is_unavailable(
    modelservers: Callable[..., RunningModelServer], tmp_path: Path
) -> None:
    """A configured model with no version folder yet: UNAVAILABLE (retry later), not NOT_FOUND."""
    running = modelservers(model_name="empty", model_base_path=str(tmp_path / "empty"))
    error = rpc_error(running.predict.Predict, predict_request("empty"), timeout=10)
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert "no version available yet" in error.details()
    assert str(tmp_path / "empty") in error.details()
    missing = rpc_error(
        running.models.GetModelStatus,
        get_model_status_pb2.GetModelStatusRequest(model_spec=model_spec("empty")),
        timeout=10,
    )
    assert missing.code() == grpc.StatusCode.NOT_FOUND


def test_reload_config_refuses_bad_configs(
    modelservers: Callable[..., RunningModelServer], tmp_path: Path, install
) -> None:
    install(tmp_path / "a", 1)
    running = modelservers(model_name="a", model_base_path=str(tmp_path / "a"))
    duplicate = server_config(model_config("a", tmp_path / "a"), model_config("a", tmp_path / "a"))
    relative = server_config(model_config("a", Path("models/a")))
    platform = server_config(model_config("a", tmp_path / "a"))
    platform.model_config_list.config[0].model_platform = "pytorch"
    for config, field in [
        (duplicate, "config.model_config_list.config[1].name"),
        (relative, "config.model_config_list.config[0].base_path"),
        (platform, "config.model_config_list.config[0].model_platform"),
    ]:
        error = rpc_error(running.reload, config)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in error.details()
    empty = rpc_error(running.reload, model_server_config_pb2.ModelServerConfig())
    assert empty.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "model_config_list" in empty.details()
    # Nothing was applied: model a still answers.
    assert running.predict.Predict(predict_request("a"), timeout=10).model_spec.version.value == 1
