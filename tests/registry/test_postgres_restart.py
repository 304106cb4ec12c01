"""Fault: PostgreSQL restarts under registry load; the registry reconnects, no acknowledged write
is lost, and every failure is a clean UNAVAILABLE."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.registry.postgres_fault import MODES, run_trial
from tests.registry.private_postgres import PrivatePostgres

pytestmark = pytest.mark.timeout(300)
CLIENTS = 12


@pytest.fixture(scope="module")
def private_postgres(postgres_base_url: str) -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of this module's own (the shared test server is never restarted);
    like every PostgreSQL test it runs when the test PostgreSQL is set up."""
    server = PrivatePostgres().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("mode", MODES)
def test_the_registry_rides_out_a_postgres_restart(
    private_postgres: PrivatePostgres, tmp_path: Path, mode: str
) -> None:
    trial = run_trial(private_postgres, tmp_path, mode, CLIENTS)
    print(json.dumps(dataclasses.asdict(trial)))
    assert trial.server_restarted, "the fault was not injected"
    assert trial.calls_during_fault > 0
    assert trial.unclean == [], trial.unclean[:5]
    assert trial.acknowledged_writes > 0
    assert trial.lost == []
    assert trial.duplicates == []
    assert trial.recovery_seconds < 30
    if mode == "outage":  # down longer than the registry retries: clients are told so
        assert trial.failures.get("UNAVAILABLE", 0) > 0
