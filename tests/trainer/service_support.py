"""Trainer service test support: a built demo archive, trainer servers in-process or as processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
from weather.trainer.v1 import trainer_service_pb2 as pb
from weather.trainer.v1 import trainer_service_pb2_grpc as pb_grpc

from tests.preprocess.conftest import ingest_into
from weather_data.archive import Archive
from weather_data.cluster import DaskRuntime
from weather_preprocess.build import Builder
from weather_preprocess.convert import recipe_from_pb
from weather_runtime.identity import with_actor
from weather_runtime.server import ManagedServer
from weather_trainer.server import build_trainer_server
from weather_trainer.settings import TrainerSettings
from weatherctl.launcher import free_port, wait_serving
from weatherctl.recipes import recipe_from_yaml

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
DATASET = "era5-t2m-train"
ENDED = (
    pb.JOB_STATE_SUCCEEDED,
    pb.JOB_STATE_FAILED,
    pb.JOB_STATE_CANCELLED,
    pb.JOB_STATE_INTERRUPTED,
)


def build_demo_archive(folder: Path, runtime: DaskRuntime) -> Path:
    """The demo's training dataset (recipe data/recipes/era5-t2m.yaml) in a new archive."""
    archive = Archive(str(folder))
    ingest_into(folder, runtime, DATA / "demo" / "era5-2mt-2019-03-uk.grib", "era5-t2m")
    recipe = recipe_from_pb(recipe_from_yaml((DATA / "recipes" / "era5-t2m.yaml").read_text()))
    Builder(archive, runtime).run(recipe, "fixture", lambda stage, done: None, threading.Event())
    return folder


@dataclass
class RunningTrainer:
    """A trainer server on loopback (in this process) and its stub."""

    server: ManagedServer
    port: int
    stub: pb_grpc.TrainerServiceStub
    channel: grpc.Channel
    work_root: Path

    def follow(self, job_id: str, timeout: float = 300) -> list[pb.Job]:
        """Every watch message of a job until it ends."""
        return [
            m.job for m in self.stub.WatchJob(pb.WatchJobRequest(job_id=job_id), timeout=timeout)
        ]

    def stop(self) -> None:
        self.channel.close()
        self.server.stop(10)


def start_trainer(
    archive: Path, work_root: Path, runtime: DaskRuntime | None, **overrides: object
) -> RunningTrainer:
    """An in-process trainer on archive, keeping its jobs under work_root."""
    options: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 0,
        "metrics_port": -1,
        "archive_url": str(archive),
        "work_root": str(work_root),
        "use_dask": runtime is not None,
        **overrides,
    }
    settings = TrainerSettings(**options)  # type: ignore[arg-type]
    server, port = build_trainer_server(settings, runtime=runtime)
    server.start()
    channel = with_actor(grpc.insecure_channel(f"127.0.0.1:{port}"), "tester")
    return RunningTrainer(server, port, pb_grpc.TrainerServiceStub(channel), channel, work_root)


@dataclass
class ServiceProcess:
    """A service started as `python -m <module>` with its settings in the environment."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL: no drain, no cleanup, as when a node dies."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def terminate(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait(timeout=30)


def start_process(
    module: str,
    prefix: str,
    settings: dict[str, str],
    log: Path,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> ServiceProcess:
    """Starts a service process on a free loopback port (extra environment in env) and waits
    until it serves."""
    port = free_port()
    env = {
        **os.environ,
        **(env or {}),
        **{prefix + k: v for k, v in settings.items()},
        prefix + "HOST": "127.0.0.1",
        prefix + "PORT": str(port),
        prefix + "METRICS_PORT": "-1",
    }
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", module], env=env, stdout=out, stderr=out)
    running = ServiceProcess(process, port, log)
    try:
        wait_serving(running.address, process, timeout)
    except (RuntimeError, TimeoutError):
        running.terminate()
        raise AssertionError(log.read_text(errors="replace")[-3000:]) from None
    return running


def wait_for(
    stub: pb_grpc.TrainerServiceStub,
    job_id: str,
    test: Callable[[pb.Job], bool],
    timeout: float = 300,
) -> pb.Job:
    """Polls GetJob until test(job) holds; returns that job."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: pb.Job = stub.GetJob(pb.GetJobRequest(job_id=job_id), timeout=10).job
        if test(job):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} never reached the expected state")


def terminate_all(processes: Iterator[ServiceProcess]) -> None:
    for process in processes:
        process.terminate()


def saved_model_forecast(saved_model: Path, init_time: int, lead_hours: float) -> np.ndarray:
    """The serving signature's t2m forecast for a fixed 4-step window (a smooth ramp in K)."""
    import tensorflow as tf

    signature = tf.saved_model.load(str(saved_model)).signatures["serving_default"]
    window = np.linspace(270, 290, 4 * 33 * 49, dtype=np.float32).reshape(1, 4, 33, 49)
    out = signature(
        t2m=tf.constant(window),
        init_time=tf.constant([init_time], tf.int64),
        lead_hours=tf.constant([lead_hours], tf.float32),
    )
    return np.asarray(out["t2m"].numpy())
