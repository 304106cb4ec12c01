"""`weatherctl train start` against a real trainer (registering in a real registry): progress
of a tiny network's epochs, then `weatherctl plot rmse` from the registered scores."""

from __future__ import annotations

import re
from pathlib import Path

import grpc
import pytest
from _pytest.capture import CaptureResult
from weather.registry.v1 import registry_service_pb2_grpc as rpb_grpc

from tests.cli.test_plots import assert_png
from tests.trainer.service_support import DATASET, start_process, start_trainer
from weatherctl.main import main
from weatherctl.plot_commands import rmse_from_registry

pytestmark = pytest.mark.timeout(600)


def test_train_start_shows_epoch_progress_and_plot_rmse_draws_the_registered_scores(
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
        "model_name: t2m-tiny\n"
        "input_steps: 24\n"
        "epochs: 3\n"
        "early_stopping_patience: 0\n"
        "seed: 7\n"
        "lead_times: [3600s, 21600s]\n"
        "hyperparameters: {filters: 4, depth: 1, kernel_size: 3}\n"
    )
    registry = start_process(
        "weather_registry",
        "REGISTRY_",
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'registry.db'}", "ARTIFACT_ROOTS": str(tmp_path)},
        tmp_path / "registry.log",
    )
    try:
        trainer = start_trainer(
            demo_archive, tmp_path / "work", None, registry_address=registry.address
        )
        try:
            address = f"127.0.0.1:{trainer.port}"
            assert main(["--trainer", address, "train", "start", str(spec)]) == 0
        finally:
            trainer.stop()
        printed = capsys.readouterr()
        _check_progress(printed)
        # the registered scores as a picture: the version and both references by lead
        with grpc.insecure_channel(registry.address) as channel:
            stub = rpb_grpc.RegistryServiceStub(channel)
            series = rmse_from_registry(stub, "t2m-tiny", [1], "t2m")
        assert list(series) == ["v1 cnn", "persistence", "climatology"]
        rows = [line.split() for line in printed.out.splitlines() if line.startswith("t2m  +")]
        for _, lead, _h, method, model, persistence, climatology, *_ in rows:
            assert method == "direct"  # a job scoring its trained leads only
            hours = float(lead.removeprefix("+"))
            assert f"{series['v1 cnn'][hours]:.3f}" == model
            assert f"{series['persistence'][hours]:.3f}" == persistence
            assert f"{series['climatology'][hours]:.3f}" == climatology
        assert len(rows) == 2 and set(series["v1 cnn"]) == {1.0, 6.0}
        out = tmp_path / "rmse.png"
        command = ["--registry", registry.address, "plot", "rmse", "--model", "t2m-tiny"]
        assert main([*command, "--version", "1", "--out", str(out)]) == 0
        assert capsys.readouterr().out.strip() == f"wrote {out}"
        assert_png(out)
    finally:
        registry.terminate()


def _check_progress(printed: CaptureResult[str]) -> None:
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
