"""The convolutional network: one direct model for every lead, predicting the normalised change.

A per-lead pointwise linear map of the baselines-as-predictors (init value, the value 24 h before
the target, the target's and the init's time-of-day climatology, recent steps, time of day) plus
a stack of convolutions over the whole window, the baselines, the lead, time-of-day / day-of-year
and position, each predicting (target - init value) / std. Regional grids pad with zeros
('same'), global grids wrap round in longitude.
"""

from __future__ import annotations

from typing import Any, ClassVar

import keras
import tensorflow as tf

from weather_trainer import fitting
from weather_trainer.features import (
    DAY_OF_YEAR,
    STATIC_START,
    Channels,
    Features,
    LeadLinear,
    Pointwise,
    ToPhysical,
    serving_inputs,
)
from weather_trainer.model import FitJob, Fitted, ForecastContext, Hyperparameter, ModelFamily
from weather_trainer.models import ridge


class WrapPad(keras.layers.Layer):  # type: ignore[misc]
    """Pads [batch, lat, lon, channel]: zeros in latitude, wrap round in longitude."""

    def __init__(self, size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = size

    def call(self, x: tf.Tensor) -> tf.Tensor:
        n = self.size
        if n == 0:
            return x
        x = tf.concat([x[:, :, -n:], x, x[:, :, :n]], axis=2)
        return tf.pad(x, [[0, 0], [n, n], [0, 0], [0, 0]])


class UpToLead(keras.layers.Layer):  # type: ignore[misc]
    """A correction kept at leads up to max_lead model steps and zero beyond."""

    def __init__(self, max_lead: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_lead = max_lead

    def call(self, x: tf.Tensor, lead_steps: tf.Tensor) -> tf.Tensor:
        keep = tf.cast(lead_steps <= self.max_lead, x.dtype)
        return x * keep[:, None, None, None]


def conv(x: Any, filters: int, kernel: int, wrap: bool, **kw: Any) -> Any:
    """A kernel x kernel convolution keeping the grid shape."""
    if not wrap:
        return keras.layers.Conv2D(filters, kernel, padding="same", **kw)(x)
    padded = WrapPad(kernel // 2)(x)
    return keras.layers.Conv2D(filters, kernel, padding="valid", **kw)(padded)


class ConvolutionalFamily(ModelFamily):
    name: ClassVar[str] = "cnn"
    description: ClassVar[str] = "convolutional network conditioned on lead time"
    trainable: ClassVar[bool] = True
    default_batch_size: ClassVar[int] = 32
    hyperparameters = (
        fitting.LEARNING_RATE,
        Hyperparameter("filters", 24, 4, 256, integer=True),
        Hyperparameter("depth", 2, 0, 8, integer=True),
        Hyperparameter("kernel_size", 3, 1, 7, integer=True),
        Hyperparameter("recent_steps", 3, 1, 48, integer=True),
        Hyperparameter("day_of_year", 0, 0, 1, integer=True),
        Hyperparameter("per_point", 1, 0, 1, integer=True),
        Hyperparameter("ridge_start", 1, 0, 1, integer=True),
        Hyperparameter("same_hour_base", 0, 0, 1, integer=True),
        Hyperparameter("window_summary", 4, 0, 64, integer=True),
        Hyperparameter("weight_decay", 3e-3, 0.0, 1.0),
        Hyperparameter("output_penalty", 3e-4, 0.0, 1.0),
        # the leads (model steps) up to which the convolutions correct the linear part; beyond,
        # the model is its per-lead linear part alone (0: every lead)
        Hyperparameter("network_leads", 0, 0, 100000, integer=True),
        # ridge_start's partial pooling of the grid points (see ridge.py)
        Hyperparameter("pooling", 0.0, 0.0, 1e6),
        fitting.LEADS_PER_INIT,
    )

    def build(self, context: ForecastContext, hyperparameters: dict[str, float]) -> keras.Model:
        hp = self.resolved(hyperparameters)
        inputs = serving_inputs(context)
        window, last, same_hour, clim_target, clim_init, scalars, lead_steps = Features(context)(
            inputs
        )
        outputs = len(context.variables)
        predictors = Pointwise(outputs, int(hp["recent_steps"]), time_of_day=False)(
            window, last, same_hour, clim_target, clim_init, scalars
        )
        linear = LeadLinear(
            max(context.lead_steps),
            outputs,
            bool(hp["per_point"]),
            trainable=not hp["ridge_start"],
            name="lead_linear",
        )(predictors, lead_steps)
        if int(hp["depth"]) == 0:
            return keras.Model(inputs, ToPhysical(context)(last, linear), name="cnn")
        decay = keras.regularizers.L2(hp["weight_decay"]) if hp["weight_decay"] else None
        static = tuple(range(STATIC_START, STATIC_START + 2 + 2 * len(context.variables)))
        keep = (0, 1, 2, 3, 4, *static) + (DAY_OF_YEAR if hp["day_of_year"] else ())
        inputs_used = [predictors, Channels(keep)(scalars), linear]
        if hp["window_summary"]:
            summary = keras.layers.Conv2D(
                int(hp["window_summary"]), 1, kernel_regularizer=decay, name="window_summary"
            )(window)
            inputs_used.insert(0, summary)
        channels = keras.layers.Concatenate()(inputs_used)
        filters = int(hp["filters"])
        hidden = keras.layers.Conv2D(
            filters, 1, activation="gelu", kernel_regularizer=decay, name="embed"
        )(channels)
        for _ in range(int(hp["depth"])):
            hidden = conv(
                hidden,
                filters,
                int(hp["kernel_size"]),
                context.global_grid,
                activation="gelu",
                kernel_regularizer=decay,
            )
        nonlinear = keras.layers.Conv2D(
            outputs, 1, kernel_initializer="zeros", kernel_regularizer=decay, name="head"
        )(hidden)
        if hp["output_penalty"]:
            nonlinear = keras.layers.ActivityRegularization(l2=hp["output_penalty"])(nonlinear)
        if hp["network_leads"]:
            nonlinear = UpToLead(int(hp["network_leads"]))(nonlinear, lead_steps)
        base = keras.layers.Subtract()([same_hour, last]) if hp["same_hour_base"] else None
        parts = [linear, nonlinear] + ([base] if base is not None else [])
        residual = keras.layers.Add()(parts)
        return keras.Model(inputs, ToPhysical(context)(last, residual), name="cnn")

    def fit(self, job: FitJob) -> Fitted:
        """Adam on the skill-normalised loss; with ridge_start the per-lead linear part is the
        ridge solution (normal equations on Dask), frozen, and the convolutions learn the rest.
        With network_leads, only the samples at those leads train (and validate) the network:
        the linear part of the longer leads is the ridge solution as it stands."""
        hp = self.resolved(job.hyperparameters)
        limit = int(hp["network_leads"])
        leads = tuple(n for n in job.context.lead_steps if n <= limit) if limit else None
        if limit and not leads:
            leads = None
        if not hp["ridge_start"]:
            return fitting.fit_keras(self, job, leads=leads)
        recent, per_point = int(hp["recent_steps"]), bool(hp["per_point"])
        kernel, bias = ridge.solve(
            job, recent, per_point, False, ridge.RIDGE_L2, float(hp["pooling"])
        )

        def start_from_ridge(model: keras.Model) -> None:
            model.get_layer("lead_linear").set_weights([kernel, bias])

        return fitting.fit_keras(self, job, start_from_ridge, leads)
