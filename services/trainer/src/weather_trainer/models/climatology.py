"""Climatology: the training split's mean at the target's time of day (hour-of-day climatology)."""

from __future__ import annotations

from typing import ClassVar

import keras

from weather_trainer.features import Features, ToPhysical, serving_inputs
from weather_trainer.model import FitJob, Fitted, ForecastContext, ModelFamily


class ClimatologyFamily(ModelFamily):
    name: ClassVar[str] = "climatology"
    description: ClassVar[str] = "training-split mean at the target's time of day (reference)"

    def build(self, context: ForecastContext, hyperparameters: dict[str, float]) -> keras.Model:
        inputs = serving_inputs(context)
        _, _, _, clim_target, *_ = Features(context)(inputs)
        zero = keras.layers.Lambda(lambda x: x * 0.0)(clim_target)
        return keras.Model(inputs, ToPhysical(context)(clim_target, zero), name="climatology")

    def fit(self, job: FitJob) -> Fitted:
        return Fitted(self.build(job.context, {}))
