"""Predictor fixtures: tiny trainer-format models on a real embedded model server, predictors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from google.protobuf import text_format

from tests.modelserver.support import (
    RunningModelServer,
    build_saved_model,
    model_config,
    server_config,
    start_modelserver,
)
from tests.predictor.support import (
    FakeModelServer,
    RunningPredictor,
    install_model,
    start_predictor,
)
from weather_runtime.telemetry import init_tracing

# Model "forecast": versions 1 (scale 1) and 2 (scale 2); production -> 1, staging and canary -> 2.
# Model "solo": version 1 only, production -> 1, no canary.
FORECAST = "forecast"
SOLO = "solo"


@pytest.fixture(scope="session")
def model_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """<root>/<model>/<version>/ with saved_model.pb and assets/metadata.json."""
    build = tmp_path_factory.mktemp("predictor-build")
    root = tmp_path_factory.mktemp("predictor-models")
    sources = {scale: build_saved_model(build / f"scale-{scale}", float(scale)) for scale in (1, 2)}
    install_model(root / FORECAST, 1, sources[1])
    install_model(root / FORECAST, 2, sources[2])
    install_model(root / SOLO, 1, sources[1])
    return root


@pytest.fixture(scope="session")
def modelserver(model_root: Path) -> Iterator[RunningModelServer]:
    """The embedded model server with the labels the registry's sync would set."""
    config = server_config(
        model_config(
            FORECAST,
            model_root / FORECAST,
            policy="all {}",
            labels={"production": 1, "staging": 2, "canary": 2},
        ),
        model_config(SOLO, model_root / SOLO, policy="all {}", labels={"production": 1}),
    )
    config_file = model_root / "models.config"
    config_file.write_text(text_format.MessageToString(config))
    running = start_modelserver(model_config_file=str(config_file))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def predictor(
    modelserver: RunningModelServer, model_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningPredictor]:
    """A predictor with default behaviour (no canary share) shared by read-only tests."""
    init_tracing("weather-tests")  # so responses carry trace ids
    running = start_predictor(
        modelserver_address=f"127.0.0.1:{modelserver.port}",
        model_root=str(model_root),
        archive_url=str(tmp_path_factory.mktemp("predictor-archive")),
    )
    yield running
    running.stop()


@pytest.fixture
def predictors(
    modelserver: RunningModelServer, model_root: Path, tmp_path: Path
) -> Iterator[Callable[..., RunningPredictor]]:
    """Starts predictors (settings as keyword arguments) and stops them after the test."""
    started: list[RunningPredictor] = []

    def _start(**overrides: object) -> RunningPredictor:
        options: dict[str, object] = {
            "modelserver_address": f"127.0.0.1:{modelserver.port}",
            "model_root": str(model_root),
            "archive_url": str(tmp_path / "archive"),
            **overrides,
        }
        running = start_predictor(**options)
        started.append(running)
        return running

    yield _start
    for running in started:
        running.stop()


@pytest.fixture
def fake_modelserver(
    modelserver: RunningModelServer,
) -> Iterator[Callable[..., FakeModelServer]]:
    """Fault-injecting model servers in front of the real one, stopped after the test."""
    started: list[FakeModelServer] = []

    def _start(**options: object) -> FakeModelServer:
        fake = FakeModelServer(f"127.0.0.1:{modelserver.port}", **options)  # type: ignore[arg-type]
        started.append(fake)
        return fake

    yield _start
    for fake in started:
        fake.stop()
