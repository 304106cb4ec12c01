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


def _normal_equations(rng: np.random.Generator, leads: int, grid: tuple[int, int]) -> np.ndarray:
    """Summed normal equations [lead, lat, lon, F, F + V + 1] of random per-point regressions
    (two predictors and the intercept column, one variable), each point its own slope."""
    samples = 40
    out = np.zeros((leads, *grid, 3, 5))
    for index in np.ndindex(leads, *grid):
        x = np.concatenate([rng.normal(size=(samples, 2)), np.ones((samples, 1))], axis=1)
        y = x @ np.array([1.0 + index[1], -2.0, 0.5 * index[2]]) + rng.normal(size=samples)
        out[index][:, :3] = x.T @ x
        out[index][:, 3] = x.T @ y
        out[index][:, 4] = samples
    return out


def _weights(kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """[lead, lat, lon, F, V] weights with the intercept row, as the normal equations order them."""
    return np.concatenate([kernel, bias[..., None, :]], axis=-2).astype(np.float64)


def test_pooling_draws_every_point_from_its_own_fit_to_the_domain_wide_one() -> None:
    summed = _normal_equations(np.random.default_rng(3), leads=2, grid=(3, 4))
    own_kernel, own_bias = ridge._solve(summed, 1e-6, 1)
    shared_kernel, shared_bias = ridge._solve(summed.sum(axis=(1, 2)), 1e-6, 1)
    # pooling 0 is the points' own fits: each point's slope is its own (1 + its row)
    np.testing.assert_allclose(own_kernel, ridge._solve(summed, 1e-6, 1, 0.0)[0])
    np.testing.assert_allclose(own_kernel[0, :, 0, 0, 0], [1.0, 2.0, 3.0], atol=0.5)
    # a very strong pooling is the domain-wide fit at every point
    kernel, bias = ridge._solve(summed, 1e-6, 1, 1e6)
    np.testing.assert_allclose(
        kernel, np.broadcast_to(shared_kernel[:, None, None], kernel.shape), atol=1e-4
    )
    np.testing.assert_allclose(
        bias, np.broadcast_to(shared_bias[:, None, None], bias.shape), atol=1e-4
    )
    # pooling 1 (the prior weighs as much as a point's own data) minimises, at every point,
    # the squared error plus the squared distance from the domain-wide fit (times the count):
    # lower than either the point's own fit or the domain-wide one, different from both
    middle = _weights(*ridge._solve(summed, 1e-6, 1, 1.0))
    own, shared = _weights(own_kernel, own_bias), _weights(kernel, bias)

    def objective(w: np.ndarray) -> np.ndarray:
        xtx, xty, count = summed[..., :3], summed[..., 3:4], summed[..., 0, 4]
        fit = np.einsum("...fv,...fg,...gv->...", w, xtx, w) - 2 * np.einsum(
            "...fv,...fv->...", w, xty
        )
        return np.asarray(fit + count * np.square(w - shared).sum(axis=(-2, -1)))

    assert np.all(objective(middle) < objective(own)) and np.all(
        objective(middle) < objective(shared)
    )
    assert np.abs(middle - own).max() > 0.1 and np.abs(middle - shared).max() > 0.1
    # a domain-wide (not per point) solve ignores pooling
    flat = summed.sum(axis=(1, 2))
    np.testing.assert_allclose(ridge._solve(flat, 1e-6, 1, 5.0)[0], ridge._solve(flat, 1e-6, 1)[0])
