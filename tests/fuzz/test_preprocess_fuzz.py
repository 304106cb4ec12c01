"""Fuzzes every RPC of the preprocess (hypothesis; the ci profile unless WEATHER_FUZZ_PROFILE)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fuzz import services
from tests.fuzz.conftest import cases, run
from weather_data.cluster import DaskRuntime


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory, fuzz_runtime: DaskRuntime
) -> Iterator[services.Running]:
    started = services.start_preprocess(tmp_path_factory.mktemp("fuzz-preprocess"), fuzz_runtime)
    yield started
    started.stop()


@pytest.mark.parametrize(("service", "method", "kind"), cases("preprocess", frozenset()))
def test_rpc(running: services.Running, service: str, method: str, kind: str) -> None:
    run(running.target(service), method, kind)
