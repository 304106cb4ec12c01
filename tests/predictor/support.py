"""Predictor test helpers: models in the trainer's layout, fake model servers, request builders."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np
from google.protobuf import duration_pb2, timestamp_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
)
from weather.common.v1 import field_pb2
from weather.predictor.v1 import predictor_service_pb2 as pb
from weather.predictor.v1 import predictor_service_pb2_grpc as pb_grpc

from tests.modelserver.support import LAT, LON, STEPS, VARIABLE, install_version
from weather_predictor.server import build_predictor_server
from weather_predictor.settings import PredictorSettings
from weather_runtime.server import ManagedServer

DATASET_HASH = "sha256:" + "d" * 64
STATS_HASH = "sha256:" + "5" * 64
LEAD_HOURS = (1.0, 2.0, 3.0)
LATITUDES = [50.0, 51.0, 52.0]
LONGITUDES = [-2.0, -1.0, 0.0, 1.0, 2.0]
INIT = 1_553_472_000  # 2019-03-25T00:00Z


def metadata(version: int) -> dict[str, object]:
    """assets/metadata.json as the trainer writes it (the fields the predictor reads)."""
    return {
        "family": "tiny",
        "variables": [{"name": VARIABLE, "units": "K"}],
        "latitude": LATITUDES,
        "longitude": LONGITUDES,
        "global_grid": False,
        "time_step_seconds": 3600.0,
        "input_steps": STEPS,
        "lead_hours": list(LEAD_HOURS),
        "dataset_id": "tiny-t2m",
        "dataset_version": 1,
        "dataset_hash": DATASET_HASH,
        "recipe_hash": "sha256:" + "r" * 64,
        "stats_hash": STATS_HASH,
        "signature": "serving_default",
        "version_marker": version,
    }


def install_model(base: Path, version: int, source: Path) -> Path:
    """Installs a SavedModel as base/<version> with the trainer's assets/metadata.json."""
    target = install_version(base, version, source)
    (target / "assets").mkdir(exist_ok=True)
    (target / "assets" / "metadata.json").write_text(json.dumps(metadata(version)))
    return target


def window(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(280.0, 5.0, (STEPS, LAT, LON)).astype(np.float32)


def gridded(values: np.ndarray, variable: str = VARIABLE) -> field_pb2.GriddedField:
    data = np.ascontiguousarray(values)
    dtype = {
        np.dtype(np.float32): field_pb2.DATA_TYPE_FLOAT32,
        np.dtype(np.float64): field_pb2.DATA_TYPE_FLOAT64,
    }[data.dtype]
    return field_pb2.GriddedField(
        variable=variable, units="K", shape=list(data.shape), dtype=dtype, data=data.tobytes()
    )


def selector(name: str, version: int = 0, alias: str = "") -> pb.ModelSelector:
    model = pb.ModelSelector(name=name)
    if version:
        model.version = version
    elif alias:
        model.alias = alias
    return model


def predict_request(
    name: str = "forecast",
    *,
    version: int = 0,
    alias: str = "",
    fields: list[field_pb2.GriddedField] | None = None,
    lead_hours: float = 1.0,
    init: int = INIT,
) -> pb.PredictRequest:
    return pb.PredictRequest(
        model=selector(name, version, alias),
        inputs=fields if fields is not None else [gridded(window())],
        init_time=timestamp_pb2.Timestamp(seconds=init),
        lead_time=duration_pb2.Duration(seconds=round(lead_hours * 3600)),
    )


def to_array(proto: field_pb2.GriddedField) -> np.ndarray:
    return np.frombuffer(proto.data, dtype="<f4").reshape(tuple(proto.shape))


def model_output(values: np.ndarray, init: int, lead_hours: float, scale: float) -> np.ndarray:
    """What tests.modelserver.support's model answers for one window."""
    result: np.ndarray = values.mean(axis=0) * scale + np.float32(lead_hours + init % 7)
    return result


def rolled_out(values: np.ndarray, lead_hours: int, scale: float = 1.0) -> np.ndarray:
    """The forecast at a lead beyond the trained ones (LEAD_HOURS, hourly), worked out by hand:
    blocks of the trained leads' forecasts become the newest steps of the next window until the
    rest of the lead is a trained one (weather_scores.rollout's rule)."""
    block = len(LEAD_HOURS)
    state, start = values.copy(), INIT
    while lead_hours > max(LEAD_HOURS):
        made = [model_output(state, start, float(h), scale) for h in range(1, block + 1)]
        state = np.concatenate([state, np.stack(made)])[-len(values) :]
        start += block * 3600
        lead_hours -= block
    return model_output(state, start, float(lead_hours), scale)


@dataclass
class RunningPredictor:
    server: ManagedServer
    port: int
    channel: grpc.Channel
    stub: pb_grpc.PredictorServiceStub

    def stop(self) -> None:
        self.channel.close()
        self.server.stop(0.5)


def start_predictor(**overrides: object) -> RunningPredictor:
    options: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 0,
        "metrics_port": -1,
        "retry_backoff_seconds": 0.01,
        **overrides,
    }
    settings = PredictorSettings(**options)  # type: ignore[arg-type]
    server, port = build_predictor_server(settings)
    server.start()
    channel = grpc.insecure_channel(
        f"127.0.0.1:{port}",
        options=[("grpc.max_send_message_length", 64 * 1024 * 1024)],
    )
    return RunningPredictor(server, port, channel, pb_grpc.PredictorServiceStub(channel))


@dataclass
class FakeModelServer(prediction_service_pb2_grpc.PredictionServiceServicer):  # type: ignore[misc]
    """A PredictionService that forwards to a real model server, except that Predict can fail
    with UNAVAILABLE (`fail_predicts` times, -1 always) or freeze (sleep until cancelled)."""

    upstream: str
    fail_predicts: int = 0
    freeze: bool = False
    fail_code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    predict_calls: int = 0
    remaining: list[float | None] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._channel = grpc.insecure_channel(self.upstream)
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(self, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.stop(0)
        self._channel.close()

    def Predict(
        self, request: predict_pb2.PredictRequest, context: grpc.ServicerContext
    ) -> predict_pb2.PredictResponse:
        with self.lock:
            self.predict_calls += 1
            self.remaining.append(context.time_remaining())
            fail = self.fail_predicts != 0
            if self.fail_predicts > 0:
                self.fail_predicts -= 1
        if self.freeze:
            end = time.monotonic() + 10
            while context.is_active() and time.monotonic() < end:
                time.sleep(0.01)
            context.abort(grpc.StatusCode.INTERNAL, "frozen")
        if fail:
            context.abort(self.fail_code, "injected failure")
        response: predict_pb2.PredictResponse = self._stub.Predict(request, timeout=10)
        return response

    def GetModelMetadata(
        self, request: get_model_metadata_pb2.GetModelMetadataRequest, context: grpc.ServicerContext
    ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        try:
            response: get_model_metadata_pb2.GetModelMetadataResponse = self._stub.GetModelMetadata(
                request, timeout=10
            )
        except grpc.RpcError as exc:
            context.abort(exc.code(), exc.details() or "")
        return response


def rpc_error(call: Callable[..., object], request: object, **kwargs: object) -> grpc.RpcError:
    try:
        result = call(request, **kwargs)
        if not isinstance(result, pb.PredictResponse | pb.GetModelInfoResponse):
            list(result)  # type: ignore[call-overload]
    except grpc.RpcError as exc:
        return exc
    raise AssertionError("expected an RPC error")


def violations(error: grpc.RpcError) -> dict[str, str]:
    """field -> description of the BadRequest detail of an error."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    found: dict[str, str] = {}
    for detail in status.details if status is not None else []:
        request = error_details_pb2.BadRequest()
        if detail.Unpack(request):
            found.update({v.field: v.description for v in request.field_violations})
    return found
