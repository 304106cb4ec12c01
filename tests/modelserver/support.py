"""Tiny SavedModels shaped like the trainer's export, a model server on loopback, request builders."""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_management_pb2,
    model_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_log_pb2,
    prediction_service_pb2_grpc,
)
from tensorflow_serving.config import model_server_config_pb2

from weather_modelserver.server import build_modelserver_server
from weather_modelserver.settings import ModelServerSettings
from weather_runtime.server import ManagedServer

# The trainer's signature (services/trainer/src/weather_trainer/export.py), on a tiny grid.
VARIABLE = "t2m"
STEPS, LAT, LON = 4, 3, 5
SIGNATURE = "serving_default"
MEAN_SIGNATURE = "window_mean"
WARMUP = Path("assets.extra") / "tf_serving_warmup_requests"


class _Forecast(tf.Module):  # type: ignore[misc]
    """output = mean of the window * scale + lead_hours + init_time % 7 (scale = the version)."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = tf.Variable(scale, dtype=tf.float32, trainable=False)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, STEPS, LAT, LON], tf.float32, name=VARIABLE),
            tf.TensorSpec([None], tf.int64, name="init_time"),
            tf.TensorSpec([None], tf.float32, name="lead_hours"),
        ]
    )
    def forecast(self, t2m, init_time, lead_hours):
        offset = lead_hours + tf.cast(init_time % 7, tf.float32)
        return {VARIABLE: tf.reduce_mean(t2m, axis=1) * self.scale + offset[:, None, None]}

    @tf.function(
        input_signature=[tf.TensorSpec([None, STEPS, LAT, LON], tf.float32, name=VARIABLE)]
    )
    def window_mean(self, t2m):
        return {"mean": tf.reduce_mean(t2m, axis=1)}


def warmup_example() -> dict[str, np.ndarray]:
    return {
        VARIABLE: np.full((1, STEPS, LAT, LON), 280.0, np.float32),
        "init_time": np.array([1_553_472_000], np.int64),
        "lead_hours": np.array([1.0], np.float32),
    }


def write_warmup(path: Path, example: dict[str, np.ndarray]) -> None:
    """The warm-up file as the trainer's export writes it: one PredictionLog in a TFRecord."""
    request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(signature_name=SIGNATURE))
    for name, value in example.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    log = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        writer.write(log.SerializeToString())


def build_saved_model(target: Path, scale: float) -> Path:
    """A SavedModel with the trainer's serving signature (plus window_mean) and a warm-up file."""
    module = _Forecast(scale)
    tf.saved_model.save(
        module,
        str(target),
        signatures={
            SIGNATURE: module.forecast.get_concrete_function(),
            MEAN_SIGNATURE: module.window_mean.get_concrete_function(),
        },
    )
    write_warmup(target / WARMUP, warmup_example())
    return target


def expected(
    window: np.ndarray, init_time: np.ndarray, lead_hours: np.ndarray, scale: float
) -> np.ndarray:
    offset = lead_hours + (init_time % 7).astype(np.float32)
    result: np.ndarray = window.mean(axis=1) * scale + offset[:, None, None]
    return result


def install_version(base: Path, version: int, source: Path) -> Path:
    """Copies a SavedModel to base/<version> the way a publisher should: under a temporary name,
    then renamed, so the server never sees half a version."""
    base.mkdir(parents=True, exist_ok=True)
    partial = base / f".partial-{version}-{uuid.uuid4().hex[:6]}"
    shutil.copytree(source, partial)
    target = base / str(version)
    os.replace(partial, target)
    return target


def inputs(rows: int = 1, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        VARIABLE: rng.normal(280.0, 5.0, (rows, STEPS, LAT, LON)).astype(np.float32),
        "init_time": rng.integers(1_500_000_000, 1_600_000_000, rows).astype(np.int64),
        "lead_hours": rng.integers(1, 25, rows).astype(np.float32),
    }


def model_spec(
    name: str, version: int | None = None, label: str | None = None, signature: str = ""
) -> model_pb2.ModelSpec:
    spec = model_pb2.ModelSpec(name=name, signature_name=signature)
    if version is not None:
        spec.version.value = version
    if label is not None:
        spec.version_label = label
    return spec


def predict_request(
    name: str,
    arrays: dict[str, np.ndarray] | None = None,
    *,
    version: int | None = None,
    label: str | None = None,
    signature: str = "",
    output_filter: tuple[str, ...] = (),
) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest(
        model_spec=model_spec(name, version, label, signature), output_filter=list(output_filter)
    )
    for key, value in (arrays if arrays is not None else inputs()).items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return request


def model_config(
    name: str,
    base_path: Path,
    *,
    policy: str = "",
    labels: dict[str, int] | None = None,
) -> model_server_config_pb2.ModelConfig:
    """A ModelConfig; policy in text format, e.g. 'latest { num_versions: 2 }' or 'all {}'."""
    config = model_server_config_pb2.ModelConfig(
        name=name, base_path=str(base_path), model_platform="tensorflow"
    )
    if policy:
        text_format.Parse(policy, config.model_version_policy)
    for label, version in (labels or {}).items():
        config.version_labels[label] = version
    return config


def server_config(
    *models: model_server_config_pb2.ModelConfig,
) -> model_server_config_pb2.ModelServerConfig:
    config = model_server_config_pb2.ModelServerConfig()
    config.model_config_list.config.extend(models)
    return config


@dataclass
class RunningModelServer:
    """A model server on 127.0.0.1 with the stock TF Serving stubs."""

    server: ManagedServer
    port: int
    settings: ModelServerSettings
    channel: grpc.Channel
    predict: prediction_service_pb2_grpc.PredictionServiceStub
    models: model_service_pb2_grpc.ModelServiceStub

    def stop(self) -> None:
        self.channel.close()
        self.server.stop(1)

    def states(self, name: str) -> dict[int, str]:
        """Version -> state name of every version GetModelStatus lists."""
        response = self.models.GetModelStatus(
            get_model_status_pb2.GetModelStatusRequest(model_spec=model_spec(name)), timeout=10
        )
        return {
            s.version: get_model_status_pb2.ModelVersionStatus.State.Name(s.state)
            for s in response.model_version_status
        }

    def reload(
        self, config: model_server_config_pb2.ModelServerConfig
    ) -> model_management_pb2.ReloadConfigResponse:
        return self.models.HandleReloadConfigRequest(
            model_management_pb2.ReloadConfigRequest(config=config), timeout=60
        )


def start_modelserver(**overrides: object) -> RunningModelServer:
    options: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 0,
        "metrics_port": -1,
        "file_system_poll_wait_seconds": 0,
        "max_num_load_retries": 0,
        "batch_timeout_micros": 0,
        **overrides,
    }
    settings = ModelServerSettings(**options)  # type: ignore[arg-type]
    server, port = build_modelserver_server(settings)
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    return RunningModelServer(
        server,
        port,
        settings,
        channel,
        prediction_service_pb2_grpc.PredictionServiceStub(channel),
        model_service_pb2_grpc.ModelServiceStub(channel),
    )


def wait_for(condition: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or condition}")


def output(response: predict_pb2.PredictResponse, name: str = VARIABLE) -> np.ndarray:
    array: np.ndarray = tf.make_ndarray(response.outputs[name])
    return array


class LoadLoop(threading.Thread):
    """Asks in a loop (seeds 1, 2, ...) until finished: `ask(seed)` returns the version that
    answered and whether its numbers were that version's, or raises grpc.RpcError. Records the
    answering versions, the versions that answered wrongly, and the errors."""

    def __init__(self, ask: Callable[[int], tuple[int, bool]], close: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self._ask = ask
        self._close = close
        self.halt = threading.Event()
        self.answers: list[int] = []
        self.wrong: list[int] = []
        self.errors: list[str] = []

    def run(self) -> None:
        seed = 0
        while not self.halt.is_set():
            seed += 1
            try:
                version, right = self._ask(seed)
            except grpc.RpcError as exc:
                self.errors.append(f"{exc.code().name}: {exc.details()}")
                continue
            if not right:
                self.wrong.append(version)
            self.answers.append(version)

    def finish(self) -> None:
        """Stops asking (the request in flight completes) and closes the channel."""
        self.halt.set()
        self.join(10)
        self._close()


def label_load(port: int, model: str, label: str | None = None) -> LoadLoop:
    """A LoadLoop predicting on the model server by version label (None: the latest version)
    on its own channel; an answer is right when it is the answering version's scale."""
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

    def ask(seed: int) -> tuple[int, bool]:
        arrays = inputs(seed=seed)
        response = stub.Predict(predict_request(model, arrays, label=label), timeout=10)
        version = int(response.model_spec.version.value)
        want = expected(arrays[VARIABLE], arrays["init_time"], arrays["lead_hours"], version)
        return version, bool(np.allclose(output(response), want, rtol=1e-6))

    return LoadLoop(ask, channel.close)
