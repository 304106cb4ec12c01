"""What a training job asks for and what it produces, as plain data (no gRPC, no TensorFlow)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from weather_scores.skill import skill_against_best

STRATEGIES = ("default", "mirrored", "multi_worker_mirrored")
MAX_SCORED_HOURS = 720  # the longest lead a job may score (30 days)


@dataclass(frozen=True)
class ParameterRange:
    """Search space of one hyperparameter: listed values, or a (log-)uniform interval."""

    name: str
    values: tuple[float, ...] = ()
    low: float = 0.0
    high: float = 0.0
    log: bool = False


@dataclass(frozen=True)
class SearchSpec:
    """A hyperparameter search: "grid" or "random", its space, trial count and parallelism."""

    method: str
    parameters: tuple[ParameterRange, ...]
    max_trials: int = 0
    parallel_trials: int = 0


@dataclass(frozen=True)
class TrainSpec:
    """A training job, with every default filled in (see JobSpec in trainer_service.proto)."""

    dataset_id: str
    content_hash: str
    model_family: str
    hyperparameters: dict[str, float] = field(default_factory=dict)
    input_steps: int = 1
    time_step_seconds: float = 0.0  # 0: the dataset's own step
    lead_steps: tuple[int, ...] = ()  # in model time steps; empty: every step up to 24 hours
    epochs: int = 1
    early_stopping_patience: int = 0
    seed: int = 0
    batch_size: int = 0  # 0: the family's default
    strategy: str = "default"
    search: SearchSpec | None = None
    variables: tuple[str, ...] = ()
    model_name: str = ""
    description: str = ""
    # the longest lead scored on the test split, in hours; leads beyond the longest trained one
    # are rolled out (weather_scores.rollout); 0: the longest trained lead
    max_lead_hours: int = 0


@dataclass(frozen=True)
class Epoch:
    """One finished epoch of the final model."""

    epoch: int
    train_loss: float
    validation_loss: float
    seconds: float


@dataclass(frozen=True)
class TrialResult:
    """One finished search trial."""

    number: int
    hyperparameters: dict[str, float]
    validation_loss: float
    epochs: int
    seconds: float
    worker: str


@dataclass(frozen=True)
class SystemScores:
    """WeatherBench 2 scores of one forecast system at one lead time."""

    rmse: float
    bias: float
    mae: float
    acc: float


@dataclass(frozen=True)
class LeadScores:
    """Model, persistence and climatology scores of one variable at one lead time."""

    variable: str
    lead_seconds: float
    model: SystemScores
    persistence: SystemScores
    climatology: SystemScores
    samples: int
    method: str = "direct"  # "direct" (one call at a trained lead) or "rollout"

    @property
    def skill_score(self) -> float:
        """1 - rmse / min(persistence rmse, climatology rmse)."""
        return skill_against_best(self.model.rmse, (self.persistence.rmse, self.climatology.rmse))


@dataclass(frozen=True)
class TensorInfo:
    """One input or output of the serving signature."""

    name: str
    dtype: str  # "float32", "int64"...
    shape: tuple[int, ...]  # -1 for the batch dimension


@dataclass(frozen=True)
class Outcome:
    """What a finished training produced: the exported SavedModel, its scores and lineage."""

    saved_model_dir: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    scores: tuple[LeadScores, ...]
    epochs: tuple[Epoch, ...]
    trials: tuple[TrialResult, ...]
    dataset_hash: str
    recipe_hash: str
    stats_hash: str
    metadata: dict[str, object]
    resumed_from_epoch: int = 0  # the epoch training continued from (0: from scratch)


@dataclass
class Hooks:
    """How a training reports back and is stopped; every callback must be cheap and thread-safe."""

    on_stage: Callable[[str, float], None] = lambda stage, fraction: None
    on_epoch: Callable[[Epoch, int], None] = lambda epoch, total: None  # (epoch, planned epochs)
    on_trial: Callable[[TrialResult], None] = lambda trial: None
    cancel: threading.Event = field(default_factory=threading.Event)
