"""Fuzzes every RPC of the trainer (hypothesis; the ci profile unless WEATHER_FUZZ_PROFILE)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fuzz import services
from tests.fuzz.conftest import cases, run


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.Running]:
    started = services.start_trainer(tmp_path_factory.mktemp("fuzz-trainer"))
    yield started
    started.stop()


@pytest.mark.parametrize(("service", "method", "kind"), cases("trainer", frozenset()))
def test_rpc(running: services.Running, service: str, method: str, kind: str) -> None:
    run(running.target(service), method, kind)
