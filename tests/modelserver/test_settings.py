"""Model server settings (MODELSERVER_*) and the `python -m weather_modelserver` entry point."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from tensorflow_serving.apis import prediction_service_pb2_grpc

from tests.modelserver.support import predict_request
from weather_modelserver.config import VersionPolicy
from weather_modelserver.settings import ModelServerSettings
from weather_runtime.settings import SettingsError, load_settings

CONFIG = """
model_config_list {
  config {
    name: "t2m"
    base_path: "models/t2m"
    model_platform: "tensorflow"
    model_version_policy { latest { num_versions: 2 } }
    version_labels { key: "stable" value: 1 }
  }
}
"""


def test_environment_is_read_with_the_prefix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "models.config").write_text(CONFIG)
    monkeypatch.setenv("MODELSERVER_MODEL_CONFIG_FILE", str(tmp_path / "models.config"))
    monkeypatch.setenv("MODELSERVER_MAX_BATCH_SIZE", "64")
    monkeypatch.setenv("MODELSERVER_BATCH_TIMEOUT_MICROS", "0")
    monkeypatch.setenv("MODELSERVER_ENABLE_BATCHING", "false")
    monkeypatch.setenv("MODELSERVER_FILE_SYSTEM_POLL_WAIT_SECONDS", "0")
    settings = load_settings(ModelServerSettings)
    assert settings.port == 8500  # TF Serving's
    assert (settings.max_batch_size, settings.batch_timeout_micros) == (64, 0)
    assert settings.enable_batching is False
    model = settings.server_config().models[0]
    assert model.name == "t2m"
    assert model.base_path == str(tmp_path / "models" / "t2m")  # relative to the file
    assert model.policy == VersionPolicy("latest", num_versions=2)
    assert model.labels == {"stable": 1}


def test_single_model_base_path_is_made_absolute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSERVER_MODEL_NAME", "t2m")
    monkeypatch.setenv("MODELSERVER_MODEL_BASE_PATH", "var/models/t2m")
    config = load_settings(ModelServerSettings).server_config()
    assert [(m.name, m.base_path) for m in config.models] == [
        ("t2m", str(Path("var/models/t2m").absolute()))
    ]


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({}, "MODELSERVER_MODEL_CONFIG_FILE"),
        (
            {"MODELSERVER_MODEL_BASE_PATH": "/m", "MODELSERVER_MODEL_CONFIG_FILE": "/c"},
            "MODELSERVER_MODEL_CONFIG_FILE",
        ),
        ({"MODELSERVER_MODEL_CONFIG_FILE": "{bad}"}, "MODELSERVER_MODEL_CONFIG_FILE"),
        ({"MODELSERVER_MODEL_CONFIG_FILE": "/no/such/file"}, "MODELSERVER_MODEL_CONFIG_FILE"),
        ({"MODELSERVER_MODEL_BASE_PATH": "s3://bucket/m"}, "MODELSERVER_MODEL_BASE_PATH"),
        (
            {"MODELSERVER_MODEL_BASE_PATH": "/m", "MODELSERVER_MAX_BATCH_SIZE": "0"},
            "MODELSERVER_MAX_BATCH_SIZE",
        ),
        (
            {"MODELSERVER_MODEL_BASE_PATH": "/m", "MODELSERVER_BATCH_TIMEOUT_MICROS": "-1"},
            "MODELSERVER_BATCH_TIMEOUT_MICROS",
        ),
    ],
)
def test_bad_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variables: dict[str, str], named: str
) -> None:
    bad_file = tmp_path / "bad.config"
    bad_file.write_text("model_config_list { config { name: 1 2 3 } }")
    for key, value in variables.items():
        monkeypatch.setenv(key, value.replace("{bad}", str(bad_file)))
    with pytest.raises(SettingsError, match=named):
        load_settings(ModelServerSettings)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_entry_point_serves_and_stops_on_sigterm(
    tmp_path: Path, install: Callable[[Path, int], Path]
) -> None:
    install(tmp_path / "t2m", 1)
    port = _free_port()
    env = {
        **os.environ,
        "MODELSERVER_HOST": "127.0.0.1",
        "MODELSERVER_PORT": str(port),
        "MODELSERVER_METRICS_PORT": "-1",
        "MODELSERVER_MODEL_NAME": "t2m",
        "MODELSERVER_MODEL_BASE_PATH": str(tmp_path / "t2m"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "weather_modelserver"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=60)
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            response = stub.Predict(predict_request("t2m"), timeout=10)
            assert response.model_spec.version.value == 1
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    messages = [line["message"] for line in lines]
    assert "modelserver serving" in messages and "modelserver stopped" in messages
