"""The model-family interface: declared hyperparameters and a fit producing a physical model."""

from __future__ import annotations

import pathlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import distributed
import keras
import numpy as np
import tensorflow as tf

from weather_trainer.data import TrainingData
from weather_trainer.spec import Epoch, Hooks, TrainSpec

HOUR_SECONDS = 3600.0


@dataclass(frozen=True)
class Hyperparameter:
    """One tunable setting of a family: default and valid closed range."""

    name: str
    default: float
    low: float
    high: float
    integer: bool = False
    log: bool = False

    def check(self, value: float) -> str:
        """Why a value is invalid ("" when it is valid)."""
        if not np.isfinite(value) or not self.low <= value <= self.high:
            return f"must be within [{self.low:g}, {self.high:g}], got {value:g}"
        if self.integer and value != int(value):
            return f"must be an integer, got {value:g}"
        return ""


@dataclass(frozen=True)
class ForecastContext:
    """What every model graph is built from: variables, grid, steps and normalisation."""

    variables: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    climatology: np.ndarray  # [slot, lat, lon, variable], physical, training split
    fold_climatology: np.ndarray  # [fold, slot, lat, lon, variable]: each leaves its fold out
    latitude: np.ndarray
    longitude: np.ndarray
    global_grid: bool
    step_seconds: float  # the model's time step
    stride: int  # dataset steps per model step
    input_steps: int
    lead_steps: tuple[int, ...]  # model steps

    @property
    def lead_hours(self) -> tuple[float, ...]:
        return tuple(step * self.step_seconds / HOUR_SECONDS for step in self.lead_steps)

    @property
    def grid_shape(self) -> tuple[int, int]:
        return int(self.latitude.size), int(self.longitude.size)


@dataclass
class FitJob:
    """One fit of one family: data, context, spec, hyperparameters and where to keep state."""

    data: TrainingData
    context: ForecastContext
    spec: TrainSpec
    hyperparameters: dict[str, float]
    workdir: pathlib.Path
    hooks: Hooks
    strategy: tf.distribute.Strategy | None = None
    dask_client: distributed.Client | None = None
    report_epochs: bool = True  # False for search trials


@dataclass
class Fitted:
    """A fitted model taking and returning physical values, and how its fit went."""

    model: keras.Model
    epochs: list[Epoch] = field(default_factory=list)
    validation_loss: float = float("nan")
    resumed_from_epoch: int = 0


class ModelFamily(ABC):
    """A kind of forecast model; every family's model has the same physical signature."""

    name: ClassVar[str]
    description: ClassVar[str]
    hyperparameters: ClassVar[tuple[Hyperparameter, ...]] = ()
    trainable: ClassVar[bool] = False  # trained by epochs (checkpoints, early stopping)
    default_batch_size: ClassVar[int] = 32

    def resolved(self, given: dict[str, float]) -> dict[str, float]:
        """Declared defaults overridden by the given values (assumed checked)."""
        values = {p.name: p.default for p in self.hyperparameters}
        values.update(given)
        return values

    @abstractmethod
    def build(self, context: ForecastContext, hyperparameters: dict[str, float]) -> keras.Model:
        """The untrained (or parameter-free) model graph."""

    @abstractmethod
    def fit(self, job: FitJob) -> Fitted:
        """Fits the model on the training split, judged on the validation split."""
