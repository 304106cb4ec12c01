"""Persistence: the forecast at every lead is the state at the init time."""

from __future__ import annotations

from typing import ClassVar

import keras

from weather_trainer.features import Features, ToPhysical, serving_inputs
from weather_trainer.model import FitJob, Fitted, ForecastContext, ModelFamily


class PersistenceFamily(ModelFamily):
    name: ClassVar[str] = "persistence"
    description: ClassVar[str] = "the init state at every lead (reference)"

    def build(self, context: ForecastContext, hyperparameters: dict[str, float]) -> keras.Model:
        inputs = serving_inputs(context)
        _, last, *_ = Features(context)(inputs)
        zero = keras.layers.Lambda(lambda x: x * 0.0)(last)
        return keras.Model(inputs, ToPhysical(context)(last, zero), name="persistence")

    def fit(self, job: FitJob) -> Fitted:
        return Fitted(self.build(job.context, {}))
