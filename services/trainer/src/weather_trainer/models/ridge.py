"""The "Dask model": a pointwise ridge regression per lead (and grid point), by normal equations.

Predictors per grid point are the network's pointwise ones (init value, the value 24 h before the
target, the target's and init's climatology, the window mean and recent steps relative to the
init value, time of day), the target is (target - init value) / std. X^T X and X^T y are
accumulated per block of init times on the Dask cluster over the whole training split (each
task reads its block from the archive and computes the predictors with the same in-graph layer
the exported model uses), summed with dask.array, and solved with a ridge penalty; with pooling,
each grid point's weights are drawn towards the domain-wide solution rather than towards zero.
The solution becomes the weights of a Keras model behind the same serving signature as the
network.
"""

from __future__ import annotations

import time
from typing import ClassVar

import dask
import dask.array as da
import keras
import numpy as np
from dask.delayed import delayed

from weather_data.archive import Archive
from weather_runtime import spans
from weather_trainer import fitting, pipeline, scoring
from weather_trainer.data import open_training_data
from weather_trainer.features import Features, LeadLinear, Pointwise, ToPhysical, serving_inputs
from weather_trainer.model import FitJob, Fitted, ForecastContext, Hyperparameter, ModelFamily
from weather_trainer.spec import Epoch, TrainSpec

RIDGE_L2 = 1e-2


def _predictor_model(context: ForecastContext, recent: int, time_of_day: bool) -> keras.Model:
    inputs = serving_inputs(context)
    window, last, same_hour, clim_target, clim_init, scalars, _ = Features(context)(inputs)
    predictors = Pointwise(len(context.variables), recent, time_of_day)(
        window, last, same_hour, clim_target, clim_init, scalars
    )
    return keras.Model(inputs, [predictors, last])


def block_normal_equations(
    archive_url: str,
    spec: TrainSpec,
    context: ForecastContext,
    pairs: np.ndarray,
    recent: int,
    per_point: bool,
    time_of_day: bool,
) -> np.ndarray:
    """X^T X | X^T y | count (X with an intercept column) of one block of training pairs:
    [lead, (lat, lon,) F + 1, F + 1 + V + 1] float64. Reads and computes one lead at a time so
    a task holds one lead's windows, not the block's."""
    predictor_model = _predictor_model(context, recent, time_of_day)
    mean, std = np.asarray(context.mean), np.asarray(context.std)
    out: np.ndarray | None = None
    with dask.config.set(scheduler="synchronous"):  # inside a task: read here, no nested graph
        data = open_training_data(Archive(archive_url), spec.dataset_id, spec.content_hash)
        samples = pipeline.Samples(data, context, pairs, len(pairs), cross_fit=True)
        for lead in np.unique(pairs[:, 1]):
            chosen = pairs[pairs[:, 1] == lead]
            inputs, targets = samples.read_block(chosen)
            predictors, last = predictor_model(inputs, training=False)
            x = np.asarray(predictors, dtype=np.float64)
            x = np.concatenate([x, np.ones((*x.shape[:-1], 1))], axis=-1)
            observed = np.stack([targets[v] for v in context.variables], axis=-1)
            y = (observed - mean) / std - np.asarray(last, dtype=np.float64)
            features = x.shape[-1]
            if out is None:
                grid = x.shape[1:3] if per_point else ()
                out = np.zeros(
                    (max(context.lead_steps), *grid, features, features + y.shape[-1] + 1)
                )
            row = out[lead - 1]
            if per_point:
                row[..., :features] += np.einsum("nhwf,nhwg->hwfg", x, x)
                row[..., features:-1] += np.einsum("nhwf,nhwv->hwfv", x, y)
                row[..., -1] += len(chosen)
            else:
                row[:, :features] += np.einsum("nhwf,nhwg->fg", x, x)
                row[:, features:-1] += np.einsum("nhwf,nhwv->fv", x, y)
                row[:, -1] += len(chosen) * x.shape[1] * x.shape[2]
    if out is None:
        return np.zeros(_shape(context, recent, per_point, time_of_day))
    return out


def solve(
    job: FitJob,
    recent: int,
    per_point: bool,
    time_of_day: bool,
    l2: float,
    pooling: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """LeadLinear (kernel, bias) of the ridge solution over the training split, the normal
    equations summed over blocks on the Dask cluster (local threads without a client)."""
    train = pipeline.split_samples(job.data, job.context, "train")
    parts = [
        da.from_delayed(
            delayed(block_normal_equations)(
                job.data.archive_url, job.spec, job.context, pairs, recent, per_point, time_of_day
            ),
            shape=_shape(job.context, recent, per_point, time_of_day),
            dtype=np.float64,
        )
        for pairs in train.blocks()
    ]
    total = da.stack(parts).sum(axis=0)
    with spans.dask_compute("dask compute: ridge normal equations", total, blocks=len(parts)):
        if job.dask_client is not None:
            summed = np.asarray(job.dask_client.compute(total).result())
        else:
            summed = np.asarray(total.compute(scheduler="threads"))
    return _solve(summed, l2, len(job.context.variables), pooling)


class RidgeFamily(ModelFamily):
    name: ClassVar[str] = "ridge"
    description: ClassVar[str] = "pointwise ridge regression per lead, normal equations on Dask"
    hyperparameters = (
        Hyperparameter("l2", RIDGE_L2, 0.0, 1e6),
        Hyperparameter("recent_steps", 3, 1, 48, integer=True),
        Hyperparameter("per_point", 1, 0, 1, integer=True),
        Hyperparameter("time_of_day", 0, 0, 1, integer=True),
        Hyperparameter("pooling", 0.0, 0.0, 1e6),
    )

    def build(self, context: ForecastContext, hyperparameters: dict[str, float]) -> keras.Model:
        hp = self.resolved(hyperparameters)
        inputs = serving_inputs(context)
        window, last, same_hour, clim_target, clim_init, scalars, lead_steps = Features(context)(
            inputs
        )
        outputs = len(context.variables)
        predictors = Pointwise(outputs, int(hp["recent_steps"]), bool(hp["time_of_day"]))(
            window, last, same_hour, clim_target, clim_init, scalars
        )
        linear = LeadLinear(
            max(context.lead_steps), outputs, bool(hp["per_point"]), name="lead_linear"
        )(predictors, lead_steps)
        return keras.Model(inputs, ToPhysical(context)(last, linear), name="ridge")

    def fit(self, job: FitJob) -> Fitted:
        started = time.monotonic()
        hp = self.resolved(job.hyperparameters)
        job.hooks.on_stage("training", 0.1)
        kernel, bias = solve(
            job,
            int(hp["recent_steps"]),
            bool(hp["per_point"]),
            bool(hp["time_of_day"]),
            hp["l2"],
            hp["pooling"],
        )
        model = self.build(job.context, hp)
        model.get_layer("lead_linear").set_weights([kernel, bias])
        train = pipeline.split_samples(job.data, job.context, "train")
        validation = pipeline.split_samples(job.data, job.context, "validation")
        loss = fitting.evaluate_loss(model, validation, 1.0 / scoring.reference_mse(train))
        epoch = Epoch(1, float("nan"), loss, time.monotonic() - started)
        if job.report_epochs:
            job.hooks.on_epoch(epoch, 1)
        return Fitted(model, [epoch], loss)


def _shape(
    context: ForecastContext, recent: int, per_point: bool, time_of_day: bool
) -> tuple[int, ...]:
    steps = min(recent, context.input_steps)
    variables = len(context.variables)
    features = variables * (4 + max(0, steps - 1)) + 4 * time_of_day + 1
    grid = context.grid_shape if per_point else ()
    return (max(context.lead_steps), *grid, features, features + variables + 1)


def _solve(
    summed: np.ndarray, l2: float, variables: int, pooling: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """LeadLinear (kernel, bias) from summed normal equations [lead, (lat, lon,) F, F + V + 1].

    Per grid point with pooling > 0, every point's weights are drawn towards the domain-wide
    solution (the normal equations summed over the grid) instead of towards zero: a partial
    pooling that keeps the points' own fit where their data speak and the shared one where a
    few weeks of one point's data would only fit noise (long leads)."""
    features = summed.shape[-1] - variables - 1
    eye = np.eye(features)
    per_point = summed.ndim == 5  # [lead, lat, lon, F, F + V + 1]
    prior = np.zeros((*summed.shape[:-2], features, variables))
    if per_point and pooling > 0:
        pooled_kernel, pooled_bias = _solve(summed.sum(axis=(1, 2)), l2, variables)
        shared = np.concatenate([pooled_kernel, pooled_bias[:, None, :]], axis=1)
        prior = np.broadcast_to(shared[:, None, None], prior.shape).astype(np.float64)
    xtx = summed[..., :features]
    xty = summed[..., features:-1]
    count = np.maximum(summed[..., :1, -1:], 1.0)  # samples per lead (and point)
    penalty = l2 * count * eye  # ridge on the mean-square scale, intercept included
    pull = pooling * count * eye if per_point else 0.0 * eye
    solution = np.linalg.solve(  # [..., F, V]
        xtx + penalty + pull + 1e-9 * eye, xty + np.einsum("...fg,...gv->...fv", pull, prior)
    )
    kernel = solution[..., :-1, :].astype(np.float32)
    bias = solution[..., -1, :].astype(np.float32)
    return kernel, bias
