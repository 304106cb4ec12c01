"""Predictor settings come from PREDICTOR_* variables; bad values stop the start with a clear line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from weather_predictor.settings import PredictorSettings
from weather_runtime.settings import SettingsError, load_settings


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = PredictorSettings()
    assert (defaults.port, defaults.metrics_port, defaults.canary_share) == (50055, 9106, 0.0)
    monkeypatch.setenv("PREDICTOR_CANARY_SHARE", "0.25")
    monkeypatch.setenv("PREDICTOR_MODELSERVER_ADDRESS", "serving:8500")
    monkeypatch.setenv("PREDICTOR_MAX_IN_FLIGHT", "7")
    settings = load_settings(PredictorSettings)
    assert (settings.canary_share, settings.modelserver_address, settings.max_in_flight) == (
        0.25,
        "serving:8500",
        7,
    )


def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREDICTOR_CANARY_SHARE", "1.5")
    with pytest.raises(SettingsError, match="PREDICTOR_CANARY_SHARE"):
        load_settings(PredictorSettings)


def test_module_entry_point_exits_2_on_bad_settings() -> None:
    env = {**os.environ, "PREDICTOR_RETRY_ATTEMPTS": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "weather_predictor"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "PREDICTOR_RETRY_ATTEMPTS" in done.stderr
