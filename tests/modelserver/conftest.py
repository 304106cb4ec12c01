"""Model server fixtures: tiny SavedModels built once per session, servers stopped after use."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from google.protobuf import text_format

from tests.modelserver.support import (
    RunningModelServer,
    build_saved_model,
    install_version,
    model_config,
    server_config,
    start_modelserver,
)

SERVED = "forecast"  # the shared server's model: versions 1 and 2, stable -> 1, canary -> 2


@pytest.fixture(scope="session")
def saved_models(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """SavedModels whose answers are scaled by 1, 2 and 3: installed as versions 1, 2, 3, the
    version that answered shows in the numbers."""
    root = tmp_path_factory.mktemp("saved-models")
    return {scale: build_saved_model(root / f"scale-{scale}", float(scale)) for scale in (1, 2, 3)}


@pytest.fixture
def install(saved_models: dict[int, Path]) -> Callable[[Path, int], Path]:
    """install(base, version): copies the model of scale `version` to base/<version>."""

    def _install(base: Path, version: int) -> Path:
        return install_version(base, version, saved_models[version])

    return _install


@pytest.fixture
def modelservers() -> Iterator[Callable[..., RunningModelServer]]:
    """Starts model servers (settings as keyword arguments) and stops them after the test."""
    started: list[RunningModelServer] = []

    def _start(**overrides: object) -> RunningModelServer:
        running = start_modelserver(**overrides)
        started.append(running)
        return running

    yield _start
    for running in started:
        running.stop()


@pytest.fixture(scope="session")
def served(
    saved_models: dict[int, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningModelServer]:
    """One server shared by the read-only tests: model 'forecast' (versions 1 and 2, both
    served, labels stable -> 1 and canary -> 2) from a model config file."""
    root = tmp_path_factory.mktemp("served")
    for version in (1, 2):
        install_version(root / SERVED, version, saved_models[version])
    config = server_config(
        model_config(SERVED, root / SERVED, policy="all {}", labels={"stable": 1, "canary": 2})
    )
    config_file = root / "models.config"
    config_file.write_text(text_format.MessageToString(config))
    running = start_modelserver(model_config_file=str(config_file))
    yield running
    running.stop()
