"""MultiWorkerMirroredStrategy from TF_CONFIG: two worker processes on loopback train in sync."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import pathlib, sys
import numpy as np
import tensorflow as tf
from tests.trainer.conftest import tiny_spec
from weather_data.archive import Archive
from weather_trainer import export
from weather_trainer.spec import Hooks
from weather_trainer.training import train

spec = tiny_spec(strategy="multi_worker_mirrored", epochs=2, lead_steps=(1, 2))
workdir = pathlib.Path(sys.argv[2])
outcome = train(spec, Archive(sys.argv[1]), workdir, Hooks())
forecast = export.load_forecast(pathlib.Path(outcome.saved_model_dir))
window = np.linspace(270, 290, 4 * 33 * 49, dtype=np.float32).reshape(1, 4, 33, 49)
out = forecast(t2m=tf.constant(window), init_time=tf.constant([1553472000], tf.int64),
               lead_hours=tf.constant([2.0]))["t2m"].numpy()
np.save(workdir / "forecast.npy", out)
print("losses", [e.train_loss for e in outcome.epochs], flush=True)
"""


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.timeout(120)
def test_two_workers_train_in_sync(demo_archive: Path, tmp_path: Path) -> None:
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    children = []
    for index in range(2):
        config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(config), "PYTHONPATH": str(ROOT)}
        env["CUDA_VISIBLE_DEVICES"] = ""
        children.append(
            subprocess.Popen(
                [sys.executable, "-c", CHILD, str(demo_archive), str(tmp_path / f"w{index}")],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = []
    try:
        for child in children:
            out, _ = child.communicate(timeout=100)
            outputs.append(out)
            assert child.returncode == 0, out[-3000:]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    losses = [next(line for line in o.splitlines() if line.startswith("losses")) for o in outputs]
    assert losses[0] == losses[1]  # the same all-reduced losses every epoch
    first, second = (np.load(tmp_path / f"w{i}" / "forecast.npy") for i in range(2))
    np.testing.assert_array_equal(first, second)  # identical weights after training
    assert np.all(np.isfinite(first))
