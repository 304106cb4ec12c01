"""weatherctl's preprocess commands against a real preprocess server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.preprocess.conftest import RunningPreprocess
from weatherctl.main import main


def test_build_from_yaml_and_analyse(
    preprocess: RunningPreprocess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "source: {dataset_id: era5}\n"
        "split:\n"
        "  train: {start: '2019-03-01T00:00:00Z', end: '2019-03-20T00:00:00Z'}\n"
        "  test: {start: '2019-03-20T00:00:00Z', end: '2019-04-01T00:00:00Z'}\n"
        "output_dataset_id: cli-train\n"
    )
    address = f"127.0.0.1:{preprocess.port}"
    assert main(["--preprocess", address, "preprocess", "build", str(recipe), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "cli-train v1" in out and "splits: train 456, validation 0, test 288 steps" in out
    args = [
        "--preprocess",
        address,
        "preprocess",
        "analyse",
        "navy",
        "--kind",
        "area-mean",
        "--region",
        "nino3.4",
        "--anomalies",
        "--variable",
        "UWND",
        "--quiet",
    ]
    assert main(args) == 0
    assert "UWND_mean" in capsys.readouterr().out
