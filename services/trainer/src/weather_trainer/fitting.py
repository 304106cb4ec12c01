"""Fitting a Keras family: seeded, distributed, checkpointed every epoch, resumable, cancellable."""

from __future__ import annotations

import json
import pathlib
import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from weather_runtime.operations import Cancelled
from weather_scores.grid import latitude_weights, mse
from weather_trainer import distribute, pipeline, scoring
from weather_trainer.model import FitJob, Fitted, Hyperparameter, ModelFamily
from weather_trainer.spec import Epoch, Hooks

LEARNING_RATE = Hyperparameter("learning_rate", 3e-3, 1e-5, 1.0, log=True)
LEADS_PER_INIT = Hyperparameter("leads_per_init", 6, 0, 1000, integer=True)
CHECKPOINTS = "checkpoints"
HISTORY = "epochs.json"


def resumed_epoch(checkpoints: pathlib.Path) -> int:
    """The epoch a fit in this checkpoint folder continues from (0: from scratch)."""
    metadata = checkpoints / "training_metadata.json"
    if not metadata.exists() or not (checkpoints / "latest.weights.h5").exists():
        return 0
    return int(json.loads(metadata.read_text())["epoch"])


class Reporter(keras.callbacks.Callback):  # type: ignore[misc]
    """Records finished epochs beside the checkpoint, reports them, stops on cancel."""

    def __init__(
        self, history: pathlib.Path, epochs: list[Epoch], hooks: Hooks, total: int, report: bool
    ) -> None:
        super().__init__()
        self.history_path = history
        self.epochs = epochs
        self.hooks = hooks
        self.total = total
        self.report = report
        self.started = time.monotonic()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.started = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        finished = Epoch(
            epoch + 1,
            float(logs.get("loss", float("nan"))),
            float(logs.get("val_loss", float("nan"))),
            time.monotonic() - self.started,
        )
        self.epochs[:] = [e for e in self.epochs if e.epoch < finished.epoch] + [finished]
        self.history_path.parent.mkdir(parents=True, exist_ok=True)
        self.history_path.write_text(json.dumps([e.__dict__ for e in self.epochs]))
        if self.report:
            self.hooks.on_epoch(finished, self.total)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._stop_if_cancelled()

    def on_test_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._stop_if_cancelled()

    def _stop_if_cancelled(self) -> None:
        """Leaves fit at once: the epoch under way is neither validated nor checkpointed."""
        if self.hooks.cancel.is_set():
            if self.model is not None:
                self.model.stop_training = True
            raise Cancelled()


def _history(path: pathlib.Path) -> list[Epoch]:
    if not path.exists():
        return []
    return [Epoch(**e) for e in json.loads(path.read_text())]


class LatitudeWeightedMSE(keras.losses.Loss):  # type: ignore[misc]
    """Per-sample mean over the grid of cos(lat)-weighted (weights of mean 1) squared errors."""

    def __init__(self, latitude: np.ndarray) -> None:
        super().__init__(name="latitude_weighted_mse")
        self.weights = latitude_weights(latitude).astype(np.float32)[:, None]

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(self.weights * tf.square(y_pred - y_true), axis=[1, 2])


def compile_model(family: ModelFamily, job: FitJob, steps: int) -> keras.Model:
    """The family's model with its optimiser and the normalised loss (inside the strategy)."""
    hp = family.resolved(job.hyperparameters)
    model = family.build(job.context, hp)
    schedule = keras.optimizers.schedules.CosineDecay(
        hp["learning_rate"], decay_steps=max(1, steps * job.spec.epochs), alpha=0.05
    )
    names = job.context.variables
    model.compile(
        optimizer=keras.optimizers.Adam(schedule, use_ema=True, ema_momentum=0.99),
        loss={name: LatitudeWeightedMSE(job.context.latitude) for name in names},
    )
    return model


def fit_keras(
    family: ModelFamily,
    job: FitJob,
    prepare: Callable[[keras.Model], None] | None = None,
    leads: tuple[int, ...] | None = None,
) -> Fitted:
    """Fits with BackupAndRestore under workdir/checkpoints: a rerun resumes after the last
    finished epoch. The loss of a sample is its squared error over the training split's mean
    squared error of the better reference (persistence or climatology) at its lead: 1 matches
    the better reference. With leads (model steps), only those leads are trained and validated
    (a family whose trainable part covers some of its leads). Raises Cancelled when the job's
    cancel event was set."""
    spec, hp = job.spec, family.resolved(job.hyperparameters)
    keras.utils.set_random_seed(spec.seed)
    batch = spec.batch_size or family.default_batch_size
    leads_per_init = int(hp.get("leads_per_init", 0))
    train = pipeline.split_samples(job.data, job.context, "train", leads)
    validation = pipeline.split_samples(job.data, job.context, "validation", leads)
    steps = pipeline.steps_per_pass(train, batch, leads_per_init)
    strategy = job.strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = compile_model(family, job, steps)
        if prepare is not None:
            prepare(model)
    weights = 1.0 / scoring.reference_mse(train)
    train_data = pipeline.dataset(
        train,
        batch,
        shuffle=True,
        seed=spec.seed,
        leads_per_init=leads_per_init,
        lead_weights=weights,
    ).repeat()
    validation_data = pipeline.dataset(
        validation, 64, shuffle=False, seed=spec.seed, lead_weights=weights
    )
    checkpoints = job.workdir / CHECKPOINTS
    resumed = resumed_epoch(checkpoints)
    epochs = _history(checkpoints / HISTORY)[:resumed]
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.BackupAndRestore(str(checkpoints), delete_checkpoint=False),
        Reporter(checkpoints / HISTORY, epochs, job.hooks, spec.epochs, job.report_epochs),
    ]
    if spec.early_stopping_patience > 0:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                patience=spec.early_stopping_patience, restore_best_weights=True
            )
        )
    if job.hooks.cancel.is_set():
        raise Cancelled()
    if job.strategy is not None:
        _fit_with_strategy(model, job, strategy, train_data, batch, steps, validation, weights)
        return _fitted(model, job, resumed)
    with strategy.scope():
        model.fit(
            train_data,
            epochs=spec.epochs,
            steps_per_epoch=steps,
            validation_data=validation_data,
            callbacks=callbacks,
            verbose=0,
        )
    return _fitted(model, job, resumed)


def _fitted(model: keras.Model, job: FitJob, resumed: int) -> Fitted:
    if job.hooks.cancel.is_set():
        raise Cancelled()
    epochs = _history(job.workdir / CHECKPOINTS / HISTORY)
    losses = [e.validation_loss for e in epochs if e.validation_loss == e.validation_loss]
    return Fitted(model, epochs, min(losses, default=float("nan")), resumed)


def _fit_with_strategy(
    model: keras.Model,
    job: FitJob,
    strategy: tf.distribute.Strategy,
    train_data: tf.data.Dataset,
    batch: int,
    steps: int,
    validation: pipeline.Samples,
    weights: np.ndarray,
) -> None:
    """The same fit as model.fit with its callbacks, as a custom loop under a strategy: the
    checkpoint files are BackupAndRestore's, so either resumes the other's."""
    checkpoints = job.workdir / CHECKPOINTS
    resumed = resumed_epoch(checkpoints)
    with strategy.scope():
        if resumed:
            model.optimizer.build(model.trainable_variables)
            model.load_weights(str(checkpoints / "latest.weights.h5"))
    reporter = Reporter(
        checkpoints / HISTORY,
        _history(checkpoints / HISTORY)[:resumed],
        job.hooks,
        job.spec.epochs,
        job.report_epochs,
    )
    reporter.set_model(model)
    patience = job.spec.early_stopping_patience
    best = [float("inf"), 0]  # best validation loss, epochs since

    def end_of_epoch(epoch: int, loss: float) -> bool:
        validation_loss = evaluate_loss(model, validation, weights)
        checkpoints.mkdir(parents=True, exist_ok=True)
        model.save_weights(str(checkpoints / "latest.weights.h5"))
        (checkpoints / "training_metadata.json").write_text(
            json.dumps({"epoch": epoch + 1, "batch": 0})
        )
        reporter.on_epoch_end(epoch, {"loss": loss, "val_loss": validation_loss})
        reporter.started = time.monotonic()
        if validation_loss < best[0]:
            best[:] = [validation_loss, 0]
        else:
            best[1] += 1
        return not (patience and best[1] >= patience)

    with strategy.scope():
        distribute.run_epochs(
            model,
            strategy,
            train_data,
            batch,
            steps,
            resumed,
            job.spec.epochs,
            end_of_epoch,
            job.hooks.cancel.is_set,
        )
    if model.optimizer.use_ema:
        model.optimizer.finalize_variable_values(model.trainable_variables)


def evaluate_loss(model: keras.Model, samples: pipeline.Samples, lead_weights: np.ndarray) -> float:
    """The training loss (summed over variables) of a model on samples, e.g. the validation
    split's: latitude-weighted MSE over the reference MSE at each sample's lead."""
    weights = latitude_weights(samples.context.latitude)
    total, count = 0.0, 0
    for pairs, (inputs, targets) in samples.iter_blocks():
        forecast = scoring.predict(model, inputs)
        for v, name in enumerate(samples.context.variables):
            error = mse(forecast[name] - targets[name], weights)
            total += float((error * lead_weights[pairs[:, 1], v]).sum())
        count += len(pairs)
    return total / max(count, 1)
