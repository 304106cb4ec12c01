"""Benchmarks the predictor's Predict against calling the model server directly (TF Serving stub).

Both services run as their own processes on loopback (`python -m weather_modelserver`,
`python -m weather_predictor`), serving two cheap SavedModels with the trainer's signature: one on
an ERA5 regional grid (33x49) and one on the global 0.25-degree grid (721x1440). The clients live
in this process and send the same field values on both paths, built once. Per field and path:
sequential latency (p50, p99) and throughput with a fixed number of requests in flight, with the
order of the paths alternated between repeats and the best of the repeats kept. Unless
`--no-traced`, a second model server + predictor pair started the same way but with
WEATHER_TRACES_DIR set (every call's spans recorded and written to files) is the `traced` path,
and the spans it wrote are counted after the run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import psutil
from google.protobuf import duration_pb2, timestamp_pb2
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_service_pb2_grpc
from weather.common.v1 import field_pb2
from weather.predictor.v1 import predictor_service_pb2 as pb
from weather.predictor.v1 import predictor_service_pb2_grpc as pb_grpc

from weather_modelserver.settings import ModelServerSettings
from weather_runtime.trace_client import CLIENT_SPANS_VARIABLE
from weather_runtime.trace_files import TRACES_DIR_VARIABLE, read_spans

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
PACKAGES = ("tensorflow", "tensorflow-serving-api", "grpcio", "protobuf", "numpy", "psutil")
VARIABLE = "t2m"
SIGNATURE = "serving_default"
LABEL = "production"
INIT = 1_553_472_000  # 2019-03-25T00:00Z
LEAD_HOURS = 1.0
MESSAGE_BYTES = 256 * 1024 * 1024
PATHS = ("direct", "passthrough", "predictor")
TRACED = "traced"  # the predictor path again, through the pair that records and exports spans
PROCESSES = ("modelserver", "passthrough", "predictor", "client")
TRACED_SUFFIX = "-traced"  # the traced pair's processes: modelserver-traced, predictor-traced
PREDICT = "/weather.predictor.v1.PredictorService/Predict"
MODEL_PREDICT = "/tensorflow.serving.PredictionService/Predict"
SERVER, CLIENT = 2, 3  # OTLP span kinds

# Targets of issue 5.
SMALL_ADDED_MS = 1.0  # the proxy adds at most 1 ms at p50 on the small field
GLOBAL_P50_RATIO = 1.3  # at most 1.3x the direct p50 on the global field
THROUGHPUT_RATIO = 0.5  # at least 0.5x the direct requests/s with `inflight` requests in flight
# Target of issue 10.
TRACED_THROUGHPUT_RATIO = 0.9  # traced at least 0.9x the predictor's requests/s


@dataclass(frozen=True)
class Grid:
    """A field size: model name, latitudes and longitudes."""

    model: str
    title: str
    latitudes: list[float]
    longitudes: list[float]
    global_grid: bool

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.latitudes), len(self.longitudes)


def _axis(start: float, count: int, step: float = 0.25) -> list[float]:
    return [start + i * step for i in range(count)]


GRIDS = {
    "era5": Grid("era5", "ERA5 field 33x49", _axis(49.0, 33), _axis(-8.0, 49), False),
    "global": Grid(
        "global", "global 0.25-degree field 721x1440", _axis(-90.0, 721), _axis(-180.0, 1440), True
    ),
}


# ---- models -------------------------------------------------------------------------------------


def build_model(target: Path, steps: int, grid: Grid) -> None:
    """A SavedModel with the trainer's serving signature: mean of the window + lead hours +
    init_time % 7, so the model costs little and the serving path is what is measured."""
    import tensorflow as tf

    lat, lon = grid.shape

    class Forecast(tf.Module):  # type: ignore[misc]
        @tf.function(  # type: ignore[untyped-decorator]
            input_signature=[
                tf.TensorSpec([None, steps, lat, lon], tf.float32, name=VARIABLE),
                tf.TensorSpec([None], tf.int64, name="init_time"),
                tf.TensorSpec([None], tf.float32, name="lead_hours"),
            ]
        )
        def forecast(self, t2m: Any, init_time: Any, lead_hours: Any) -> dict[str, Any]:
            offset = lead_hours + tf.cast(init_time % 7, tf.float32)
            return {VARIABLE: tf.reduce_mean(t2m, axis=1) + offset[:, None, None]}

    module = Forecast()
    tf.saved_model.save(
        module, str(target), signatures={SIGNATURE: module.forecast.get_concrete_function()}
    )
    assets = target / "assets"
    assets.mkdir(exist_ok=True)
    meta = {  # assets/metadata.json as the trainer writes it (the fields the predictor reads)
        "family": "bench-mean",
        "variables": [{"name": VARIABLE, "units": "K"}],
        "latitude": grid.latitudes,
        "longitude": grid.longitudes,
        "global_grid": grid.global_grid,
        "time_step_seconds": 3600.0,
        "input_steps": steps,
        "lead_hours": [1.0, 2.0, 3.0, 6.0],
        "dataset_id": f"bench-{grid.model}",
        "dataset_version": 1,
        "dataset_hash": "sha256:" + "d" * 64,
        "recipe_hash": "sha256:" + "r" * 64,
        "stats_hash": "sha256:" + "5" * 64,
        "signature": SIGNATURE,
    }
    (assets / "metadata.json").write_text(json.dumps(meta, indent=1, sort_keys=True))


def write_models(base: Path, steps: int, grids: list[Grid]) -> Path:
    """<base>/<model>/1/ per grid and a model config file labelling version 1 production."""
    entries = []
    for grid in grids:
        build_model(base / grid.model / "1", steps, grid)
        entries.append(
            f'  config {{ name: "{grid.model}" base_path: "{base / grid.model}" '
            f'model_platform: "tensorflow" version_labels {{ key: "{LABEL}" value: 1 }} }}'
        )
    config = base / "models.config"
    config.write_text("model_config_list {\n" + "\n".join(entries) + "\n}\n")
    return config


# ---- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start(
    name: str,
    module: str,
    env: dict[str, str],
    folder: Path,
    argv: list[str] | None = None,
    suffix: str = "",
) -> Service:
    """A service as its own process: `python -m module`, or `python *argv` when argv is given
    (its port then in env as <NAME>_PORT all the same); suffix tells a second instance apart."""
    port = int(env[f"{name.upper()}_PORT"])
    name += suffix
    log = folder / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *(argv or ["-m", module])],
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    return Service(name, process, port, log)


def wait_until(service: Service, call: Callable[[], object], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if service.process.poll() is not None:
            raise RuntimeError(f"{service.name} exited:\n{service.log.read_text()[-3000:]}")
        try:
            call()
            return
        except grpc.RpcError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{service.name} not ready in {timeout} s:\n{service.log.read_text()[-3000:]}"
                ) from None
            time.sleep(0.5)


def start_pair(
    folder: Path,
    ports: dict[str, int],
    config: Path,
    batch_timeout: int,
    extra: dict[str, str],
    suffix: str = "",
) -> tuple[Service, Service]:
    """A model server and a predictor calling it, serving the models of config; suffix names
    the ports, logs and CPU figures of a second pair."""
    modelserver = start(
        "modelserver",
        "weather_modelserver",
        {
            "MODELSERVER_HOST": "127.0.0.1",
            "MODELSERVER_PORT": str(ports[f"modelserver{suffix}"]),
            "MODELSERVER_METRICS_PORT": "-1",
            "MODELSERVER_MODEL_CONFIG_FILE": str(config),
            "MODELSERVER_MAX_MESSAGE_BYTES": str(MESSAGE_BYTES),
            "MODELSERVER_BATCH_TIMEOUT_MICROS": str(batch_timeout),
            **extra,
        },
        folder,
        suffix=suffix,
    )
    try:
        predictor = start(
            "predictor",
            "weather_predictor",
            {
                "PREDICTOR_HOST": "127.0.0.1",
                "PREDICTOR_PORT": str(ports[f"predictor{suffix}"]),
                "PREDICTOR_METRICS_PORT": "-1",
                "PREDICTOR_MODELSERVER_ADDRESS": f"127.0.0.1:{ports[f'modelserver{suffix}']}",
                "PREDICTOR_MODEL_ROOT": str(config.parent),
                "PREDICTOR_ARCHIVE_URL": str(folder / f"archive{suffix}"),
                "PREDICTOR_MAX_MESSAGE_BYTES": str(MESSAGE_BYTES),
                **extra,
            },
            folder,
            suffix=suffix,
        )
    except BaseException:
        modelserver.stop()
        raise
    return modelserver, predictor


def wait_ready(modelserver: Service, predictor: Service, probe: Grid, values: np.ndarray) -> None:
    """Until the model server and then the predictor answer a Predict on the probe grid."""
    with channel(modelserver.port) as c:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(c)
        request = direct_request(probe, values)
        wait_until(modelserver, lambda: stub.Predict(request, timeout=10))
    with channel(predictor.port) as c:
        p_stub = pb_grpc.PredictorServiceStub(c)
        p_request = predictor_request(probe, values)
        wait_until(predictor, lambda: p_stub.Predict(p_request, timeout=10))


def channel(port: int) -> grpc.Channel:
    return grpc.insecure_channel(
        f"127.0.0.1:{port}",
        options=[
            ("grpc.max_send_message_length", MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MESSAGE_BYTES),
        ],
    )


# ---- payloads -----------------------------------------------------------------------------------


def window(steps: int, grid: Grid, seed: int = 0) -> np.ndarray:
    values: np.ndarray = (
        np.random.default_rng(seed).normal(280.0, 5.0, (steps, *grid.shape)).astype("<f4")
    )
    return values


def tensor(array: np.ndarray, dtype: int) -> tensor_pb2.TensorProto:
    return tensor_pb2.TensorProto(
        dtype=dtype,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=int(n)) for n in array.shape]
        ),
        tensor_content=np.ascontiguousarray(array).tobytes(),
    )


def direct_request(grid: Grid, values: np.ndarray) -> predict_pb2.PredictRequest:
    """TF Serving's PredictRequest: the window as one tensor_content buffer, batch of one."""
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(
            name=grid.model, signature_name=SIGNATURE, version_label=LABEL
        )
    )
    request.inputs[VARIABLE].CopyFrom(tensor(values[np.newaxis], types_pb2.DT_FLOAT))
    request.inputs["init_time"].CopyFrom(tensor(np.array([INIT], "<i8"), types_pb2.DT_INT64))
    request.inputs["lead_hours"].CopyFrom(tensor(np.array([LEAD_HOURS], "<f4"), types_pb2.DT_FLOAT))
    return request


def predictor_request(grid: Grid, values: np.ndarray) -> pb.PredictRequest:
    """weather.predictor.v1 PredictRequest with the same values as one GriddedField."""
    data = field_pb2.GriddedField(
        variable=VARIABLE,
        units="K",
        shape=list(values.shape),
        dtype=field_pb2.DATA_TYPE_FLOAT32,
        data=np.ascontiguousarray(values).tobytes(),
    )
    return pb.PredictRequest(
        model=pb.ModelSelector(name=grid.model, alias=LABEL),
        inputs=[data],
        init_time=timestamp_pb2.Timestamp(seconds=INIT),
        lead_time=duration_pb2.Duration(seconds=round(LEAD_HOURS * 3600)),
    )


def direct_output(response: predict_pb2.PredictResponse, grid: Grid) -> np.ndarray:
    out: np.ndarray = np.frombuffer(response.outputs[VARIABLE].tensor_content, "<f4")
    return out.reshape(grid.shape)


def predictor_output(response: pb.PredictResponse, grid: Grid) -> np.ndarray:
    out: np.ndarray = np.frombuffer(response.outputs[0].data, "<f4")
    return out.reshape(grid.shape)


# ---- measurements -------------------------------------------------------------------------------


def latency(call: Callable[[], object], calls: int, warmup: int) -> dict[str, Any]:
    """Sequential calls: p50 and p99 in ms over `calls` after `warmup`."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    ms = np.array(times) * 1000
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
        "calls": calls,
    }


class Machine:
    """CPU seconds of the benchmark's processes and of the whole machine."""

    def __init__(self, services: list[Service]) -> None:
        self.services = services
        self.me = psutil.Process()

    def sample(self) -> dict[str, float]:
        now = {s.name: s.cpu_seconds() for s in self.services}
        mine = self.me.cpu_times()
        now["client"] = float(mine.user + mine.system)
        total = psutil.cpu_times()
        now["machine_busy"] = float(
            total.user + total.system + total.nice + total.irq + total.softirq + total.steal
        )
        now["wall"] = time.monotonic()
        return now


def throughput(
    launch: Callable[[], grpc.Future], seconds: float, inflight: int, machine: Machine
) -> dict[str, Any]:
    """Requests/s with `inflight` calls always outstanding (each completion starts the next)
    for `seconds`, and the CPU seconds each process used meanwhile."""
    lock = threading.Lock()
    finished = threading.Event()
    state = {"done": 0, "errors": 0, "outstanding": 0}
    end = 0.0
    first_error: list[str] = []

    def on_done(future: grpc.Future) -> None:
        error = future.exception()
        now = time.perf_counter()
        relaunch = now < end
        with lock:
            if error is not None:
                state["errors"] += 1
                if not first_error:
                    first_error.append(repr(error))
            elif now <= end:
                state["done"] += 1
            if not relaunch:
                state["outstanding"] -= 1
                if state["outstanding"] == 0:
                    finished.set()
        if relaunch:
            launch().add_done_callback(on_done)

    before = machine.sample()
    started = time.perf_counter()
    end = started + seconds
    state["outstanding"] = inflight
    for _ in range(inflight):
        launch().add_done_callback(on_done)
    finished.wait(seconds + 120)
    after = machine.sample()
    wall = after["wall"] - before["wall"]
    cpu = {k: after[k] - before[k] for k in after if k not in ("wall", "machine_busy")}
    ours = sum(cpu.values())
    others = max(after["machine_busy"] - before["machine_busy"] - ours, 0.0)
    done = state["done"]
    return {
        "rps": done / seconds,
        "completed": done,
        "errors": state["errors"],
        "first_error": first_error[0] if first_error else "",
        "seconds": seconds,
        "cpu_seconds": cpu,
        "cpu_ms_per_request": {k: 1000 * v / done if done else 0.0 for k, v in cpu.items()},
        "other_processes_cpu_share": others / (wall * psutil.cpu_count()),
    }


def conversions(grid: Grid, values: np.ndarray, rounds: int) -> dict[str, float]:
    """Milliseconds of the predictor's per-request steps on its Predict path, in this process,
    one thread (weather_predictor's own functions, on the benchmark's messages)."""
    from weather_predictor import servicer, tensors

    request_bytes = predictor_request(grid, values).SerializeToString()
    light, data = servicer._split_request(request_bytes)
    field = light.inputs[0]
    spec = model_pb2.ModelSpec(name=grid.model, signature_name=SIGNATURE, version_label=LABEL)
    inputs = {
        VARIABLE: values[np.newaxis],
        "init_time": np.array([INIT], np.int64),
        "lead_hours": np.array([LEAD_HOURS], np.float32),
    }
    out = values.mean(axis=0)[np.newaxis]
    reply = predict_pb2.PredictResponse()
    reply.outputs[VARIABLE].CopyFrom(tensor(out, types_pb2.DT_FLOAT))
    reply_bytes = reply.SerializeToString()
    direct_bytes = direct_request(grid, values).SerializeToString()
    steps: dict[str, Callable[[], object]] = {
        "split the request (large: fields' bytes as views; small: parsed whole)": lambda: (
            servicer._split_request(request_bytes)
        ),
        "field_to_array (incl. NaN check)": lambda: tensors.field_to_array(
            field, "inputs[0]", values.shape, None if data is None else data[0]
        ),
        "model-server request bytes": lambda: tensors.predict_request_bytes(spec, inputs),
        "model-server response to arrays": lambda: tensors.predict_response_arrays(reply_bytes),
        "for scale: parse the predictor request with protobuf": lambda: (
            pb.PredictRequest.FromString(request_bytes)
        ),
        "for scale: parse the model-server request (what the model server does)": lambda: (
            predict_pb2.PredictRequest.FromString(direct_bytes)
        ),
    }
    result = {}
    for name, step in steps.items():
        step()
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            for _ in range(rounds):
                step()
            best = min(best, (time.perf_counter() - started) / rounds)
        result[name] = best * 1000
    return result


# ---- report -------------------------------------------------------------------------------------


def machine_facts() -> dict[str, str]:
    info = {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": platform.processor() or platform.machine(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    for name in PACKAGES:
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = "-"
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    info["commit"] = commit + (" (uncommitted changes)" if dirty else "")
    return info


def best_of(runs: list[dict[str, Any]], key: str, highest: bool) -> float:
    values = [float(r[key]) for r in runs]
    return max(values) if highest else min(values)


def summarise(field: dict[str, Any]) -> dict[str, Any]:
    best: dict[str, dict[str, float]] = {}
    for path in field["latency"]:
        best[path] = {
            "p50_ms": best_of(field["latency"][path], "p50_ms", False),
            "p99_ms": best_of(field["latency"][path], "p99_ms", False),
            "rps": best_of(field["throughput"][path], "rps", True),
        }
    d, p, f = best["direct"], best["predictor"], best["passthrough"]
    traced = {}
    if TRACED in best:
        t = best[TRACED]
        traced = {
            "traced_throughput_ratio": t["rps"] / p["rps"] if p["rps"] else 0.0,
            "traced_p50_ratio": t["p50_ms"] / p["p50_ms"],
            "traced_p99_ratio": t["p99_ms"] / p["p99_ms"],
            "traced_added_p50_ms": t["p50_ms"] - p["p50_ms"],
        }
    return {
        "best": best,
        "added_p50_ms": p["p50_ms"] - d["p50_ms"],
        "p50_ratio": p["p50_ms"] / d["p50_ms"],
        "p99_ratio": p["p99_ms"] / d["p99_ms"],
        "throughput_ratio": p["rps"] / d["rps"] if d["rps"] else 0.0,
        "floor_added_p50_ms": f["p50_ms"] - d["p50_ms"],
        "floor_p50_ratio": f["p50_ms"] / d["p50_ms"],
        "floor_throughput_ratio": f["rps"] / d["rps"] if d["rps"] else 0.0,
        **traced,
    }


def targets(fields: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    if "era5" in fields:
        s = fields["era5"]["summary"]
        found.append(
            {
                "target": f"era5: predictor adds <= {SMALL_ADDED_MS:g} ms at p50",
                "value": f"{s['added_p50_ms']:+.2f} ms",
                "met": s["added_p50_ms"] <= SMALL_ADDED_MS,
            }
        )
    if "global" in fields:
        s = fields["global"]["summary"]
        found.append(
            {
                "target": f"global: predictor p50 <= {GLOBAL_P50_RATIO:g}x direct",
                "value": f"{s['p50_ratio']:.2f}x",
                "met": s["p50_ratio"] <= GLOBAL_P50_RATIO,
            }
        )
    for name, field in fields.items():
        s = field["summary"]
        found.append(
            {
                "target": f"{name}: throughput >= {THROUGHPUT_RATIO:g}x direct "
                f"({field['inflight']} in flight)",
                "value": f"{s['throughput_ratio']:.2f}x",
                "met": s["throughput_ratio"] >= THROUGHPUT_RATIO,
            }
        )
    for name, field in fields.items():
        s = field["summary"]
        if "traced_throughput_ratio" in s:
            found.append(
                {
                    "target": f"{name}: traced throughput >= {TRACED_THROUGHPUT_RATIO:g}x "
                    f"predictor, every call traced (issue 10, {field['inflight']} in flight)",
                    "value": f"{s['traced_throughput_ratio']:.2f}x",
                    "met": s["traced_throughput_ratio"] >= TRACED_THROUGHPUT_RATIO,
                }
            )
    return found


def markdown(stamp: str, result: dict[str, Any]) -> str:
    settings = result["settings"]
    lines = [
        f"# Predictor benchmark {stamp}",
        "",
        f"Command: `{result['command']}`",
        "",
    ]
    if settings["quick"]:
        lines += ["**Smoke run (`--quick`): too few calls and seconds for figures to quote.**", ""]
    if result["warnings"]:
        lines += ["## Warnings", "", *[f"- {w}" for w in result["warnings"]], ""]
    lines += [
        "## Machine",
        "",
        "| fact | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in result["machine"].items()],
        "",
        "## Setup",
        "",
        "Model server (`python -m weather_modelserver`) and predictor (`python -m "
        "weather_predictor`) as separate processes on loopback; clients in the benchmark process. "
        f"Model: mean of a {settings['input_steps']}-step window + lead (cheap: the serving path "
        "is measured). direct: `PredictionServiceStub.Predict` (tensor_content, version label "
        f"`{LABEL}`); predictor: `PredictorService.Predict` (GriddedField, alias `{LABEL}`); both "
        "requests built once, same values. Latency: "
        f"{settings['calls']} sequential calls after {settings['warmup']} warm-up calls. "
        f"Throughput: {settings['inflight']} requests in flight (grpc futures, each completion "
        f"starts the next) for {settings['seconds']:g} s. {settings['repeat']} repeat(s), path "
        "order alternated, best kept (lowest p50/p99, highest req/s). Model server settings: "
        f"defaults except message size (batching on, {settings['batch_timeout_micros']} us "
        "batch timeout)."
        + (
            f" traced: `PredictorService.Predict` on a second model server + predictor pair "
            f"started the same way with `{TRACES_DIR_VARIABLE}` set (every call's spans recorded "
            "and written as OTLP JSON lines by a BatchSpanProcessor in both processes); the "
            "ratios compare it with the predictor path."
            + (
                ""
                if settings.get("client_spans", True)
                else f" `{CLIENT_SPANS_VARIABLE}=false` in the traced pair: the predictor records "
                "no CLIENT span of its model-server call (the model server's SERVER span records "
                "that call); every call still has its span."
            )
            if "traced_spans" in result
            else ""
        ),
        "",
        "## Targets",
        "",
        "| target | value | met |",
        "|---|---:|---|",
        *[
            f"| {t['target']} | {t['value']} | {'yes' if t['met'] else '**no**'} |"
            for t in result["targets"]
        ],
        "",
    ]
    for name, field in result["fields"].items():
        s = field["summary"]
        best = s["best"]
        mb = field["request_bytes"]
        traced = []
        if "traced_throughput_ratio" in s:
            met = s["traced_throughput_ratio"] >= TRACED_THROUGHPUT_RATIO
            traced = [
                f"Traced / predictor: throughput ratio **{s['traced_throughput_ratio']:.2f}x** "
                f"(goal >= {TRACED_THROUGHPUT_RATIO:g}x: {'met' if met else '**not met**'}); "
                f"p50 ratio **{s['traced_p50_ratio']:.2f}x** ({s['traced_added_p50_ms']:+.2f} "
                f"ms); p99 ratio {s['traced_p99_ratio']:.2f}x.",
                "",
            ]
        lines += [
            f"## {GRIDS[name].title}",
            "",
            f"Request bytes: direct {mb['direct']:,}, predictor {mb['predictor']:,}. "
            f"Response bytes: direct {mb['direct_response']:,}, predictor "
            f"{mb['predictor_response']:,}.",
            "",
            "| path | p50 ms | p99 ms | req/s |",
            "|---|---:|---:|---:|",
            *[
                f"| {path} | {best[path]['p50_ms']:.2f} | {best[path]['p99_ms']:.2f} "
                f"| {best[path]['rps']:.1f} |"
                for path in best
            ],
            "",
            f"Predictor: added at p50 **{s['added_p50_ms']:+.2f} ms**; p50 ratio "
            f"**{s['p50_ratio']:.2f}x**; p99 ratio {s['p99_ratio']:.2f}x; throughput ratio "
            f"**{s['throughput_ratio']:.2f}x**.",
            "",
            "Byte-forwarding proxy (`passthrough.py`: the direct request forwarded as opaque "
            "bytes, no parsing, checks, interceptors or tracing; the floor of any extra Python "
            f"gRPC hop here): added at p50 {s['floor_added_p50_ms']:+.2f} ms; p50 ratio "
            f"{s['floor_p50_ratio']:.2f}x; throughput ratio {s['floor_throughput_ratio']:.2f}x.",
            "",
            *traced,
            "CPU during the throughput phase (best run of each path), ms of CPU per completed "
            "request:",
            "",
            "| path | model server | passthrough | predictor | client | total | other processes "
            "(share of machine) |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        totals: dict[str, float] = {}
        for path in best:
            run = max(field["throughput"][path], key=lambda r: float(r["rps"]))
            c = run["cpu_ms_per_request"]
            lines.append(
                f"| {path} | "
                + " | ".join(f"{c.get(process(path, name), 0.0):.2f}" for name in PROCESSES)
                + f" | {sum(c.values()):.2f} | {run['other_processes_cpu_share']:.0%} |"
            )
            totals[path] = sum(c.values())
        if totals.get("predictor"):
            bound = totals["direct"] / totals["predictor"]
            lines += [
                "",
                "CPU-bound throughput ratio (direct total / predictor total, what the ratio "
                f"tends to when the cores are the limit): {bound:.2f}x.",
            ]
        if totals.get(TRACED):
            lines.append(
                f"CPU-bound traced ratio (predictor total / traced total): "
                f"{totals['predictor'] / totals[TRACED]:.2f}x."
            )
        lines += [
            "",
            "All runs (p50 ms / p99 ms / req/s): "
            + "; ".join(
                f"{path}: "
                + ", ".join(
                    f"{lat['p50_ms']:.2f}/{lat['p99_ms']:.2f}/{thr['rps']:.1f}"
                    for lat, thr in zip(
                        field["latency"][path], field["throughput"][path], strict=True
                    )
                )
                for path in best
            ),
            "",
        ]
        if field.get("conversions"):
            lines += [
                "Per-request steps of the predictor, timed alone in the benchmark process "
                "(one thread, ms):",
                "",
                "| step | ms |",
                "|---|---:|",
                *[f"| {k} | {v:.3f} |" for k, v in field["conversions"].items()],
                "",
            ]
    spans = result.get("traced_spans")
    if spans:
        client = result.get("settings", {}).get("client_spans", True)
        whole = "predictor SERVER + CLIENT" if client else "predictor SERVER"
        lines += [
            "## Spans of the traced pair",
            "",
            f"Predict requests sent to the traced predictor while measuring: "
            f"{spans['requests']:,}; traces they started: {spans['traces']:,}, complete "
            f"({whole} + model server SERVER): {spans['complete_traces']:,}; "
            f"spans in those traces: {spans['spans']:,}, **{spans['spans_per_request']:.2f} per "
            f"request**. All spans in the files (probes and background calls too): "
            f"{spans['spans_in_files']:,}.",
            "",
            "| service | kind | name | spans | per request |",
            "|---|---|---|---:|---:|",
            *[
                f"| {row['service']} | {row['kind']} | `{row['name']}` | {row['count']:,} "
                f"| {row['count'] / spans['requests']:.3f} |"
                for row in spans["by_span"]
            ],
            "",
        ]
    return "\n".join(lines)


def process(path: str, name: str) -> str:
    """The process whose CPU goes in a column: the traced pair's for the traced path."""
    traced = path == TRACED and name in ("modelserver", "predictor")
    return name + TRACED_SUFFIX if traced else name


def count_spans(
    folder: Path, since_ns: int, requests: int, client_spans: bool = True
) -> dict[str, Any]:
    """The traced pair's spans: the traces started by the Predict calls measured (their
    predictor SERVER span began at since_ns or later), and whether each is complete."""
    spans = read_spans(folder)
    measured = {
        s.trace_id for s in spans if s.kind == SERVER and s.name == PREDICT and s.start >= since_ns
    }
    ours = [s for s in spans if s.trace_id in measured]
    found: dict[str, set[tuple[int, str]]] = {}
    rows: dict[tuple[str, str, str], int] = {}
    for s in ours:
        found.setdefault(s.trace_id, set()).add((s.kind, s.name))
        key = (s.service, {SERVER: "SERVER", CLIENT: "CLIENT"}.get(s.kind, str(s.kind)), s.name)
        rows[key] = rows.get(key, 0) + 1
    whole = {(SERVER, PREDICT), (SERVER, MODEL_PREDICT)}
    if client_spans:
        whole.add((CLIENT, MODEL_PREDICT))
    return {
        "requests": requests,
        "traces": len(measured),
        "complete_traces": sum(1 for kinds in found.values() if whole <= kinds),
        "spans": len(ours),
        "spans_per_request": len(ours) / requests if requests else 0.0,
        "spans_in_files": len(spans),
        "files": sorted(p.name for p in folder.glob("*.jsonl")),
        "by_span": [
            {"service": k[0], "kind": k[1], "name": k[2], "count": n}
            for k, n in sorted(rows.items())
        ],
    }


# ---- main ---------------------------------------------------------------------------------------


def run_field(
    grid: Grid, steps: int, ports: dict[str, int], args: argparse.Namespace, machine: Machine
) -> dict[str, Any]:
    values = window(steps, grid)
    direct = direct_request(grid, values)
    proxied = predictor_request(grid, values)
    traced_port = ports.get("predictor" + TRACED_SUFFIX)
    paths = PATHS + ((TRACED,) if traced_port else ())
    sent = itertools.count()  # Predict calls made on the traced predictor (spans expected)

    def counted(call: Callable[[], Any]) -> Callable[[], Any]:
        def call_counted() -> Any:
            next(sent)
            return call()

        return call_counted

    with (
        channel(ports["modelserver"]) as c_direct,
        channel(ports["passthrough"]) as c_pass,
        channel(ports["predictor"]) as c_pred,
        channel(traced_port or ports["predictor"]) as c_traced,  # unused with --no-traced
    ):
        d_stub = prediction_service_pb2_grpc.PredictionServiceStub(c_direct)
        f_stub = prediction_service_pb2_grpc.PredictionServiceStub(c_pass)
        p_stub = pb_grpc.PredictorServiceStub(c_pred)
        t_stub = pb_grpc.PredictorServiceStub(c_traced)
        d_reply = d_stub.Predict(direct, timeout=60)
        f_reply = f_stub.Predict(direct, timeout=60)
        p_reply = p_stub.Predict(proxied, timeout=60)
        if not np.allclose(direct_output(d_reply, grid), predictor_output(p_reply, grid)):
            raise AssertionError(f"{grid.model}: the predictor answers differently")
        if not np.array_equal(direct_output(d_reply, grid), direct_output(f_reply, grid)):
            raise AssertionError(f"{grid.model}: the byte-forwarding proxy answers differently")
        if traced_port:
            t_reply = counted(lambda: t_stub.Predict(proxied, timeout=60))()
            if not np.array_equal(predictor_output(p_reply, grid), predictor_output(t_reply, grid)):
                raise AssertionError(f"{grid.model}: the traced predictor answers differently")
        calls: dict[str, Callable[[], object]] = {
            "direct": lambda: d_stub.Predict(direct, timeout=60),
            "passthrough": lambda: f_stub.Predict(direct, timeout=60),
            "predictor": lambda: p_stub.Predict(proxied, timeout=60),
            TRACED: counted(lambda: t_stub.Predict(proxied, timeout=60)),
        }
        futures: dict[str, Callable[[], grpc.Future]] = {
            "direct": lambda: d_stub.Predict.future(direct, timeout=60),
            "passthrough": lambda: f_stub.Predict.future(direct, timeout=60),
            "predictor": lambda: p_stub.Predict.future(proxied, timeout=60),
            TRACED: counted(lambda: t_stub.Predict.future(proxied, timeout=60)),
        }
        out: dict[str, Any] = {
            "shape": [steps, *grid.shape],
            "inflight": args.inflight,
            "request_bytes": {
                "direct": direct.ByteSize(),
                "predictor": proxied.ByteSize(),
                "direct_response": d_reply.ByteSize(),
                "predictor_response": p_reply.ByteSize(),
            },
            "latency": {p: [] for p in paths},
            "throughput": {p: [] for p in paths},
            "order": [],
            "load_average": [os.getloadavg()[0]],
        }
        for r in range(args.repeat):
            order = paths[r % len(paths) :] + paths[: r % len(paths)]  # each leads in turn
            out["order"].append(list(order))
            for path in order:
                out["latency"][path].append(latency(calls[path], args.calls, args.warmup))
                out["throughput"][path].append(
                    throughput(futures[path], args.seconds, args.inflight, machine)
                )
                out["load_average"].append(os.getloadavg()[0])
                print(
                    f"{grid.model} repeat {r + 1} {path}: "
                    f"p50 {out['latency'][path][-1]['p50_ms']:.2f} ms, "
                    f"p99 {out['latency'][path][-1]['p99_ms']:.2f} ms, "
                    f"{out['throughput'][path][-1]['rps']:.1f} req/s",
                    flush=True,
                )
    out["summary"] = summarise(out)
    if traced_port:
        out["traced_requests"] = next(sent)
    if not args.no_breakdown:
        rounds = 3 if grid.global_grid else 200
        out["conversions"] = conversions(grid, values, 1 if args.quick else rounds)
    return out


def warnings_for(result: dict[str, Any], nproc: int) -> list[str]:
    found = []
    start = tuple(float(x) for x in result["machine"]["load_average_at_start"].split())
    if start[0] > 0.5 * nproc:
        found.append(
            f"load average {start[0]:.2f} at start on {nproc} cores: other work was running; "
            "timings are distorted"
        )
    for name, field in result["fields"].items():
        peak = max(float(x) for x in field["load_average"])
        if peak > nproc + 1:  # the benchmark's own three processes account for about nproc
            found.append(
                f"{name}: 1-minute load average reached {peak:.2f} on {nproc} cores during the "
                "measurements"
            )
        worst = max(
            float(r["other_processes_cpu_share"])
            for path in field["throughput"]
            for r in field["throughput"][path]
        )
        if worst > 0.1:
            found.append(
                f"{name}: other processes used up to {worst:.0%} of the machine's CPU during a "
                "throughput phase"
            )
        for path in field["throughput"]:
            errors = sum(int(r["errors"]) for r in field["throughput"][path])
            if errors:
                first = next(r["first_error"] for r in field["throughput"][path] if r["errors"])
                found.append(f"{name} {path}: {errors} failed requests, e.g. {first}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=1000, help="sequential calls timed per run")
    parser.add_argument("--warmup", type=int, default=50, help="untimed calls before them")
    parser.add_argument("--seconds", type=float, default=10.0, help="throughput phase length")
    parser.add_argument("--inflight", type=int, default=16, help="requests in flight")
    parser.add_argument("--repeat", type=int, default=3, help="runs per path (order alternated)")
    parser.add_argument("--input-steps", type=int, default=2, help="window steps of the models")
    parser.add_argument("--fields", default="era5,global", help="comma list: era5, global")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the per-step timings")
    parser.add_argument(
        "--batch-timeout-micros",
        type=int,
        default=None,
        help="MODELSERVER_BATCH_TIMEOUT_MICROS (default: the model server's own default)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke test: 30 calls, 2 s, 2 repeats")
    parser.add_argument(
        "--no-traced", action="store_true", help="skip the traced pair (tracing on vs off)"
    )
    parser.add_argument(
        "--no-client-spans",
        action="store_true",
        help="the traced pair records no CLIENT spans (WEATHER_TRACE_CLIENT_SPANS=false): "
        "every call still has its SERVER span",
    )
    args = parser.parse_args(argv)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    command = shlex.join([".venv/bin/python", "bench/predictor/run.py", *(argv or sys.argv[1:])])
    if args.quick:
        args.calls, args.warmup, args.seconds, args.repeat = 30, 5, 2.0, 2
    grids = [GRIDS[name.strip()] for name in args.fields.split(",") if name.strip()]
    facts = machine_facts()
    nproc = int(facts["nproc"])
    result: dict[str, Any] = {"machine": facts, "command": command}
    batch_timeout = (
        args.batch_timeout_micros
        if args.batch_timeout_micros is not None
        else int(ModelServerSettings.model_fields["batch_timeout_micros"].default)
    )
    with tempfile.TemporaryDirectory(prefix="bench-predictor-") as temp:
        folder = Path(temp)
        config = write_models(folder / "models", args.input_steps, grids)
        ports = {"modelserver": free_port(), "passthrough": free_port(), "predictor": free_port()}
        if not args.no_traced:
            ports |= {name + TRACED_SUFFIX: free_port() for name in ("modelserver", "predictor")}
        traces = folder / "traces"
        services: list[Service] = []
        try:
            # no spans recorded by the first pair, whatever this process's environment says
            untraced = {TRACES_DIR_VARIABLE: "", "OTEL_TRACES_EXPORTER": "none"}
            modelserver, predictor = start_pair(folder, ports, config, batch_timeout, untraced)
            services += [modelserver, predictor]
            passthrough = start(
                "passthrough",
                "",
                {"PASSTHROUGH_PORT": str(ports["passthrough"])},
                folder,
                [
                    str(Path(__file__).resolve().parent / "passthrough.py"),
                    str(ports["passthrough"]),
                    f"127.0.0.1:{ports['modelserver']}",
                ],
            )
            services.append(passthrough)
            pairs = [(modelserver, predictor)]
            if not args.no_traced:  # the same pair again, every call's spans written to files
                traced = {
                    TRACES_DIR_VARIABLE: str(traces),
                    "OTEL_TRACES_EXPORTER": "none",
                    CLIENT_SPANS_VARIABLE: "false" if args.no_client_spans else "true",
                }
                pair = start_pair(folder, ports, config, batch_timeout, traced, TRACED_SUFFIX)
                services += pair
                pairs.append(pair)
            probe = grids[0]
            values = window(args.input_steps, probe)
            request = direct_request(probe, values)
            for pair in pairs:
                wait_ready(*pair, probe, values)
            with channel(ports["passthrough"]) as c:
                f_stub = prediction_service_pb2_grpc.PredictionServiceStub(c)
                wait_until(passthrough, lambda: f_stub.Predict(request, timeout=10))
            machine = Machine(services)
            result["settings"] = {
                "calls": args.calls,
                "warmup": args.warmup,
                "seconds": args.seconds,
                "inflight": args.inflight,
                "repeat": args.repeat,
                "input_steps": args.input_steps,
                "quick": args.quick,
                "batch_timeout_micros": batch_timeout,
                "traced": not args.no_traced,
                "client_spans": not args.no_client_spans,
            }
            since_ns = time.time_ns()
            result["fields"] = {
                grid.model: run_field(grid, args.input_steps, ports, args, machine)
                for grid in grids
            }
        finally:
            for service in reversed(services):
                service.stop()  # SIGTERM: the traced pair flushes its spans as it leaves
        if not args.no_traced:
            sent = sum(int(field["traced_requests"]) for field in result["fields"].values())
            result["traced_spans"] = count_spans(
                traces, since_ns, sent, client_spans=not args.no_client_spans
            )
    result["targets"] = targets(result["fields"])
    result["warnings"] = warnings_for(result, nproc)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stamp}.json").write_text(json.dumps(result, indent=1, default=str))
    text = markdown(stamp, result)
    (RESULTS / f"{stamp}.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
