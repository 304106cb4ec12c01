"""Fuzzes every RPC of the model servers and the predictor (hypothesis; the ci profile unless WEATHER_FUZZ_PROFILE)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fuzz import services
from tests.fuzz.conftest import cases, run


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.Running]:
    started = services.start_modelserver_and_predictor(tmp_path_factory.mktemp("fuzz-serving"))
    yield started
    started.stop()


@pytest.mark.parametrize(
    ("service", "method", "kind"),
    cases("modelserver", frozenset({"Predict", "Forecast"}))
    + cases("predictor", frozenset({"Predict", "Forecast"})),
)
def test_rpc(running: services.Running, service: str, method: str, kind: str) -> None:
    run(running.target(service), method, kind)
