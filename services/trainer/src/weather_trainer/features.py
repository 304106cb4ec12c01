"""In-graph model inputs: normalisation, the baselines as features, time encodings, output.

Every family's Keras model takes the serving inputs (physical values) and returns physical values:
`serving_inputs` declares them, `Features` turns them into normalised channels and `ToPhysical`
turns a normalised residual back into physical values at init + lead.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from weather_trainer.data import DAY_SECONDS, day_slots
from weather_trainer.model import HOUR_SECONDS, ForecastContext

INIT_TIME, LEAD_HOURS = "init_time", "lead_hours"
# Training-only input: which cross-fitted climatology a training sample sees (-1: the whole
# training split's, what validation, test and serving use).
CLIMATOLOGY_FOLD = "climatology_fold"
YEAR_SECONDS = 365.2425 * DAY_SECONDS
# scalars: lead, time of day (init, target), day of year (init), then static fields: latitude,
# longitude, and per variable the climatology's diurnal range and mean
LEAD, TIME_OF_DAY, DAY_OF_YEAR, STATIC_START = 0, slice(1, 5), (5, 6), 7


def serving_inputs(context: ForecastContext) -> dict[str, keras.KerasTensor]:
    """Keras inputs: one [batch, input_steps, lat, lon] window per variable, init time, lead,
    and the training-only climatology fold (the export feeds -1)."""
    lat, lon = context.grid_shape
    inputs = {
        name: keras.Input((context.input_steps, lat, lon), name=name, dtype="float32")
        for name in context.variables
    }
    inputs[INIT_TIME] = keras.Input((), name=INIT_TIME, dtype="int64")
    inputs[LEAD_HOURS] = keras.Input((), name=LEAD_HOURS, dtype="float32")
    inputs[CLIMATOLOGY_FOLD] = keras.Input((), name=CLIMATOLOGY_FOLD, dtype="int32")
    return inputs


def _cyclic(seconds: tf.Tensor, period: float) -> list[tf.Tensor]:
    angle = 2.0 * math.pi * tf.math.floormod(seconds, period) / period
    return [tf.cast(tf.sin(angle), tf.float32), tf.cast(tf.cos(angle), tf.float32)]


class Features(keras.layers.Layer):  # type: ignore[misc]
    """Normalised channels [batch, lat, lon, channel] from physical serving inputs.

    Returns (window, last, same_hour, clim_target, clim_init, scalars, lead_steps): the window is
    every input step of every variable (steps x variables channels, oldest first), last is the init
    value, same_hour the latest window value at the target's time of day (the value 24 h before
    the target for leads up to a day), clim_* the training-split climatology of the target's and
    the init's time of day, scalars the lead (days), time encodings and position; lead_steps
    is the lead in model steps (int32 [batch]).
    """

    def __init__(self, context: ForecastContext, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.context = context
        self.slots = day_slots(context.step_seconds)
        self._mean = np.asarray(context.mean, dtype=np.float32)
        self._std = np.asarray(context.std, dtype=np.float32)
        lat, lon = context.grid_shape
        lat_norm = (context.latitude - context.latitude.mean()) / 90.0
        lon_norm = (context.longitude - context.longitude.mean()) / 180.0
        clim = (context.climatology - self._mean) / self._std  # [slot, lat, lon, variable]
        self._position = np.concatenate(
            [
                np.broadcast_to(lat_norm[:, None, None], (lat, lon, 1)),
                np.broadcast_to(lon_norm[None, :, None], (lat, lon, 1)),
                clim.max(axis=0) - clim.min(axis=0),  # diurnal range: land or sea
                clim.mean(axis=0),
            ],
            axis=-1,
        ).astype(np.float32)

    def build(self, input_shape: Any) -> None:
        every = np.concatenate(
            [self.context.fold_climatology, self.context.climatology[None]], axis=0
        )
        clim = (every - self._mean) / self._std  # [fold + 1, slot, lat, lon, variable]
        self.climatology = self.add_weight(
            shape=clim.shape,
            initializer=keras.initializers.Constant(clim.astype(np.float32)),
            trainable=False,
            name="climatology",
        )
        self.built = True

    def _slot(self, seconds: tf.Tensor) -> tf.Tensor:
        return tf.cast(
            tf.math.floordiv(tf.math.floormod(seconds, DAY_SECONDS), DAY_SECONDS // self.slots),
            tf.int32,
        )

    def call(self, inputs: dict[str, tf.Tensor]) -> tuple[tf.Tensor, ...]:
        context = self.context
        steps = context.input_steps
        stacked = tf.stack([inputs[name] for name in context.variables], axis=-1)
        stacked = (stacked - self._mean) / self._std  # [B, S, lat, lon, V]
        init = tf.cast(inputs[INIT_TIME], tf.int64)
        lead_hours = tf.cast(inputs[LEAD_HOURS], tf.float32)
        lead_seconds = tf.cast(tf.round(lead_hours * HOUR_SECONDS), tf.int64)
        target = init + lead_seconds
        lead_steps = tf.cast(tf.round(lead_hours * HOUR_SECONDS / context.step_seconds), tf.int32)
        offset = tf.math.floormod(self.slots - tf.math.floormod(lead_steps, self.slots), self.slots)
        same_index = tf.clip_by_value(steps - 1 - offset, 0, steps - 1)
        same_hour = tf.gather(stacked, same_index, axis=1, batch_dims=1)
        last = stacked[:, -1]
        folds = len(self.context.fold_climatology)
        fold = tf.cast(inputs[CLIMATOLOGY_FOLD], tf.int32)
        fold = tf.where((fold < 0) | (fold >= folds), folds, fold)
        clim_target = tf.gather_nd(self.climatology, tf.stack([fold, self._slot(target)], -1))
        clim_init = tf.gather_nd(self.climatology, tf.stack([fold, self._slot(init)], -1))
        shape = tf.shape(last)
        window = tf.transpose(stacked, [0, 2, 3, 1, 4])
        window = tf.reshape(window, [shape[0], shape[1], shape[2], steps * len(context.variables)])
        init_f, target_f = tf.cast(init, tf.float64), tf.cast(target, tf.float64)
        per_sample = tf.stack(
            [
                lead_hours / 24.0,
                *_cyclic(init_f, DAY_SECONDS),
                *_cyclic(target_f, DAY_SECONDS),
                *_cyclic(init_f, YEAR_SECONDS),
            ],
            axis=-1,
        )
        per_sample = tf.broadcast_to(
            per_sample[:, None, None, :], [shape[0], shape[1], shape[2], 7]
        )
        position = tf.broadcast_to(
            self._position[None], [shape[0], shape[1], shape[2], self._position.shape[-1]]
        )
        scalars = tf.concat([per_sample, position], axis=-1)
        return window, last, same_hour, clim_target, clim_init, scalars, lead_steps


class LeadLinear(keras.layers.Layer):  # type: ignore[misc]
    """A pointwise linear map with its own weights for every lead (1 to max_lead steps) and,
    when per_point, for every grid point too."""

    def __init__(self, max_lead: int, outputs: int, per_point: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_lead = max_lead
        self.outputs = outputs
        self.per_point = per_point

    def build(self, input_shape: Any) -> None:
        features = int(input_shape[-1])
        grid = tuple(int(n) for n in input_shape[1:3]) if self.per_point else ()
        self.kernel = self.add_weight(
            shape=(self.max_lead, *grid, features, self.outputs),
            initializer="zeros",
            name="kernel",
        )
        self.bias = self.add_weight(
            shape=(self.max_lead, *grid, self.outputs), initializer="zeros", name="bias"
        )
        self.built = True

    def call(self, features: tf.Tensor, lead_steps: tf.Tensor) -> tf.Tensor:
        index = tf.clip_by_value(lead_steps - 1, 0, self.max_lead - 1)
        kernel = tf.gather(self.kernel, index)  # [B, (lat, lon,) F, V]
        bias = tf.gather(self.bias, index)
        if self.per_point:
            return tf.einsum("bhwf,bhwfv->bhwv", features, kernel) + bias
        return tf.einsum("bhwf,bfv->bhwv", features, kernel) + bias[:, None, None, :]


class Pointwise(keras.layers.Layer):  # type: ignore[misc]
    """Per-point predictors relative to the init value: recent steps, baselines, time of day."""

    def __init__(
        self, variables: int, recent: int, time_of_day: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.variable_count = variables
        self.recent = recent
        self.time_of_day = time_of_day

    def call(
        self,
        window: tf.Tensor,
        last: tf.Tensor,
        same_hour: tf.Tensor,
        clim_target: tf.Tensor,
        clim_init: tf.Tensor,
        scalars: tf.Tensor,
    ) -> tf.Tensor:
        v = self.variable_count
        steps = int(window.shape[-1]) // v
        recent = [
            window[..., (steps - 1 - k) * v : (steps - k) * v] - last
            for k in range(1, min(self.recent, steps))
        ]
        shape = tf.shape(window)
        mean = tf.reduce_mean(tf.reshape(window, [shape[0], shape[1], shape[2], steps, v]), axis=3)
        return tf.concat(
            [
                same_hour - last,
                clim_target - last,
                clim_init - last,
                mean - last,
                *recent,
                *([scalars[..., TIME_OF_DAY]] if self.time_of_day else []),
            ],
            axis=-1,
        )


class Channels(keras.layers.Layer):  # type: ignore[misc]
    """Some channels (last axis) of a tensor."""

    def __init__(self, keep: tuple[int, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keep = keep

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return tf.gather(x, list(self.keep), axis=-1)


class ToPhysical(keras.layers.Layer):  # type: ignore[misc]
    """Physical values per variable from the normalised init value and predicted residual."""

    def __init__(self, context: ForecastContext, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.context = context
        self._mean = np.asarray(context.mean, dtype=np.float32)
        self._std = np.asarray(context.std, dtype=np.float32)

    def call(self, last: tf.Tensor, residual: tf.Tensor) -> dict[str, tf.Tensor]:
        physical = (last + residual) * self._std + self._mean
        return {name: physical[..., i] for i, name in enumerate(self.context.variables)}
