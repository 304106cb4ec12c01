"""`weatherctl train start` against a real trainer: progress of a tiny network's epochs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.trainer.service_support import DATASET, start_trainer
from weatherctl.main import main

pytestmark = pytest.mark.timeout(600)


def test_train_start_shows_epochs_losses_and_time_left_as_plain_lines(
    demo_archive: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WEATHERCTL_PROGRESS", raising=False)
    spec = tmp_path / "tiny.yaml"
    spec.write_text(
        f"dataset: {{dataset_id: {DATASET}}}\n"
        "model_family: cnn\n"
        "input_steps: 24\n"
        "epochs: 3\n"
        "early_stopping_patience: 0\n"
        "seed: 7\n"
        "lead_times: [3600s, 21600s]\n"
        "hyperparameters: {filters: 4, depth: 1, kernel_size: 3}\n"
    )
    trainer = start_trainer(demo_archive, tmp_path / "work", None)
    try:
        address = f"127.0.0.1:{trainer.port}"
        assert main(["--trainer", address, "train", "start", str(spec)]) == 0
    finally:
        trainer.stop()
    printed = capsys.readouterr()
    assert "\r" not in printed.err and "\x1b" not in printed.err
    lines = printed.err.splitlines()
    assert all(line.startswith("  train cnn ") for line in lines), lines
    epochs = [line for line in lines if re.search(r" training  \d/3 epochs ", line)]
    done = [re.search(r" (\d)/3 epochs ", line).group(1) for line in epochs]  # type: ignore[union-attr]
    assert {"1", "2", "3"} <= set(done) and done == sorted(done)
    finished = [line for line in epochs if " 1/3 epochs " in line]
    assert re.search(r"loss \d+\.\d{4}  val loss \d+\.\d{4}", finished[-1]), finished
    assert any(" left 0:" in line for line in epochs[:-1]), epochs
    assert "3/3 epochs" in lines[-1]
    job_lines = [line for line in printed.out.splitlines() if "SUCCEEDED" in line]
    assert len(job_lines) == 1 and "epoch 3/3" in job_lines[0]
    assert "beats both" in printed.out  # the score table follows
