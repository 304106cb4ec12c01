"""Hyperparameter search: declared spaces, trials in parallel on Dask workers, the best kept."""

from __future__ import annotations

import os
from pathlib import Path

from tests.trainer.conftest import tiny_spec
from weather_data.archive import Archive
from weather_data.cluster import DaskRuntime
from weather_trainer import planning
from weather_trainer.models import FAMILIES
from weather_trainer.spec import Hooks, ParameterRange, SearchSpec, TrialResult
from weather_trainer.training import train


def test_grid_and_random_candidates() -> None:
    cnn = FAMILIES["cnn"]
    grid = SearchSpec(
        "grid", (ParameterRange("filters", (4, 8)), ParameterRange("depth", low=1, high=3))
    )
    assert planning.candidates(grid, cnn, 0) == [
        {"filters": f, "depth": d} for f in (4.0, 8.0) for d in (1.0, 2.0, 3.0)
    ]
    drawn = SearchSpec(
        "random",
        (
            ParameterRange("learning_rate", low=1e-4, high=1e-2, log=True),
            ParameterRange("filters", low=4, high=16),
        ),
        max_trials=5,
    )
    first = planning.candidates(drawn, cnn, 3)
    assert first == planning.candidates(drawn, cnn, 3) != planning.candidates(drawn, cnn, 4)
    assert len(first) == 5
    assert all(
        1e-4 <= t["learning_rate"] <= 1e-2 and t["filters"] == int(t["filters"]) for t in first
    )


def test_trials_run_on_dask_workers_and_the_best_is_the_final_model(
    archive: Archive, dask_runtime: DaskRuntime, tmp_path: Path
) -> None:
    space = SearchSpec("grid", (ParameterRange("learning_rate", (1e-5, 3e-3)),), parallel_trials=2)
    recorded: list[TrialResult] = []
    outcome = train(
        tiny_spec(epochs=1, search=space),
        archive,
        tmp_path / "job",
        Hooks(on_trial=recorded.append),
        dask_client=dask_runtime.client(),
    )
    assert sorted(t.number for t in recorded) == [1, 2]
    assert [t.number for t in outcome.trials] == [1, 2]
    workers = {t.worker for t in outcome.trials}
    assert all(not w.endswith(f":{os.getpid()}") for w in workers)  # not this process
    best = min(outcome.trials, key=lambda t: t.validation_loss)
    chosen = outcome.metadata["hyperparameters"]
    assert isinstance(chosen, dict)
    assert chosen["learning_rate"] == best.hyperparameters["learning_rate"]
    assert outcome.metadata["validation_loss"] == best.validation_loss
    assert (tmp_path / "job" / "search" / "trials.json").exists()
    again: list[TrialResult] = []
    rerun = train(
        tiny_spec(epochs=1, search=space), archive, tmp_path / "job", Hooks(on_trial=again.append)
    )
    assert [t.seconds for t in rerun.trials] == [t.seconds for t in outcome.trials]  # not rerun
