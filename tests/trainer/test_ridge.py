"""The ridge regression: normal equations summed over blocks on real Dask workers."""

from __future__ import annotations

from pathlib import Path

import distributed
import numpy as np

from tests.trainer.conftest import tiny_spec
from weather_data.archive import Archive
from weather_data.cluster import DaskRuntime
from weather_trainer import export
from weather_trainer.data import TrainingData
from weather_trainer.model import FitJob, ForecastContext
from weather_trainer.models import ridge
from weather_trainer.spec import Hooks
from weather_trainer.training import train


def _solve(
    data: TrainingData, context: ForecastContext, tmp: Path, client: distributed.Client | None
) -> tuple[np.ndarray, np.ndarray]:
    job = FitJob(
        data,
        context,
        tiny_spec(model_family="ridge", hyperparameters={}),
        {},
        tmp,
        Hooks(),
        dask_client=client,
    )
    return ridge.solve(job, recent=3, per_point=True, time_of_day=False, l2=1e-2)


def test_the_cluster_and_local_threads_solve_the_same_normal_equations(
    training_data: TrainingData,
    tiny_context: ForecastContext,
    dask_runtime: DaskRuntime,
    tmp_path: Path,
) -> None:
    on_cluster = _solve(training_data, tiny_context, tmp_path, dask_runtime.client())
    local = _solve(training_data, tiny_context, tmp_path, None)
    kernel, bias = on_cluster
    assert kernel.shape == (3, 33, 49, 6, 1) and bias.shape == (3, 33, 49, 1)
    np.testing.assert_allclose(kernel, local[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bias, local[1], rtol=1e-4, atol=1e-5)


def test_the_ridge_beats_persistence_and_serves_the_same_signature(
    archive: Archive, dask_runtime: DaskRuntime, tmp_path: Path
) -> None:
    epochs = []
    outcome = train(
        tiny_spec(model_family="ridge", hyperparameters={}),
        archive,
        tmp_path / "job",
        Hooks(on_epoch=lambda epoch, total: epochs.append((epoch.epoch, total))),
        dask_client=dask_runtime.client(),
    )
    assert epochs == [(1, 1)]
    for scores in outcome.scores:
        assert scores.model.rmse < min(scores.persistence.rmse, scores.climatology.rmse)
    assert [i.name for i in outcome.inputs] == ["t2m", "init_time", "lead_hours"]
    assert outcome.metadata["family"] == "ridge"
    forecast = export.load_forecast(Path(outcome.saved_model_dir))
    assert set(forecast.structured_outputs) == {"t2m"}
