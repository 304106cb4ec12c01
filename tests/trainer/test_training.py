"""train(): a tiny network end to end, epochs reported, cancel, resume after a killed process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.trainer.conftest import tiny_spec
from weather_data.archive import Archive
from weather_runtime.operations import Cancelled
from weather_trainer import export
from weather_trainer.fitting import CHECKPOINTS, HISTORY
from weather_trainer.spec import Epoch, Hooks
from weather_trainer.training import train

ROOT = Path(__file__).resolve().parents[2]


def test_a_tiny_network_trains_scores_and_exports(archive: Archive, tmp_path: Path) -> None:
    stages: list[str] = []
    epochs: list[tuple[Epoch, int]] = []
    hooks = Hooks(
        on_stage=lambda stage, done: stages.append(stage),
        on_epoch=lambda epoch, total: epochs.append((epoch, total)),
    )
    outcome = train(tiny_spec(), archive, tmp_path / "job", hooks)
    assert [e.epoch for e, _ in epochs] == [1, 2] and all(total == 2 for _, total in epochs)
    assert all(np.isfinite(e.train_loss) and np.isfinite(e.validation_loss) for e, _ in epochs)
    assert stages[0] == "preparing" and stages[-1] == "done" and "scoring" in stages
    assert outcome.resumed_from_epoch == 0
    assert [round(s.lead_seconds) for s in outcome.scores] == [3600, 7200, 10800]
    for scores in outcome.scores:
        assert scores.samples == 168 - round(scores.lead_seconds / 3600)
        assert 0 < scores.model.rmse < 5 and scores.persistence.rmse > 0
    assert outcome.scores[0].persistence.rmse == pytest.approx(0.578, abs=5e-4)
    assert outcome.stats_hash.startswith("sha256:") and outcome.recipe_hash.startswith("sha256:")
    assert outcome.metadata["family"] == "cnn" and outcome.metadata["lead_hours"] == [1, 2, 3]
    saved = Path(outcome.saved_model_dir)
    assert saved == tmp_path / "job" / "saved_model" and (saved / "saved_model.pb").exists()
    assert not (tmp_path / "job" / CHECKPOINTS).exists()
    window = np.full((2, 4, 33, 49), 280.0, dtype=np.float32)
    forecast = export.load_forecast(saved)(
        t2m=tf.constant(window),
        init_time=tf.constant([1553472000, 1553515200], dtype=tf.int64),
        lead_hours=tf.constant([1.0, 3.0]),
    )["t2m"].numpy()
    assert forecast.shape == (2, 33, 49) and np.all(np.abs(forecast - 280) < 15)


def test_cancel_stops_training_promptly(archive: Archive, tmp_path: Path) -> None:
    seen: list[int] = []
    hooks = Hooks()

    def cancel_after(epoch: Epoch, total: int) -> None:
        seen.append(epoch.epoch)
        hooks.cancel.set()

    hooks.on_epoch = cancel_after
    with pytest.raises(Cancelled):
        train(tiny_spec(epochs=20), archive, tmp_path / "job", hooks)
    assert seen == [1]
    assert not (tmp_path / "job" / "saved_model").exists()


def test_a_set_cancel_stops_before_training(archive: Archive, tmp_path: Path) -> None:
    hooks = Hooks()
    hooks.cancel.set()
    with pytest.raises(Cancelled):
        train(tiny_spec(), archive, tmp_path / "job", hooks)


CHILD = """
import pathlib, sys, time
from tests.trainer.conftest import tiny_spec
from weather_data.archive import Archive
from weather_trainer.spec import Hooks
from weather_trainer.training import train

def slow(epoch, total):
    print("epoch", epoch.epoch, flush=True)
    time.sleep(60)  # killed in here

train(tiny_spec(epochs=4), Archive(sys.argv[1]), pathlib.Path(sys.argv[2]), Hooks(on_epoch=slow))
"""


def test_a_killed_training_resumes_after_its_last_finished_epoch(
    demo_archive: Path, archive: Archive, tmp_path: Path
) -> None:
    workdir = tmp_path / "job"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(demo_archive), str(workdir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None
        deadline = time.monotonic() + 120
        line = ""
        while time.monotonic() < deadline and not line.startswith("epoch"):
            line = child.stdout.readline()
        assert line.strip() == "epoch 1"
        metadata = workdir / CHECKPOINTS / "training_metadata.json"
        while time.monotonic() < deadline and not metadata.exists():
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert json.loads(metadata.read_text())["epoch"] == 1
    assert len(json.loads((workdir / CHECKPOINTS / HISTORY).read_text())) == 1
    reported: list[int] = []
    stop = threading.Event()
    outcome = train(
        tiny_spec(epochs=4),
        archive,
        workdir,
        Hooks(on_epoch=lambda epoch, total: reported.append(epoch.epoch), cancel=stop),
    )
    assert outcome.resumed_from_epoch == 1
    assert outcome.metadata["resumed_from_epoch"] == 1
    assert reported == [2, 3, 4]
    assert [e.epoch for e in outcome.epochs] == [1, 2, 3, 4]
