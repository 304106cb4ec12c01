"""The tf.distribute strategy of a job (default, mirrored, multi-worker) and its training loop."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import tensorflow as tf

from weather_runtime.errors import InvalidArgument
from weather_trainer.spec import STRATEGIES


def tf_config() -> dict[str, object]:
    """The parsed TF_CONFIG environment variable ({} when unset)."""
    text = os.environ.get("TF_CONFIG", "")
    if not text:
        return {}
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidArgument.field("spec.strategy", f"TF_CONFIG is not JSON: {error}") from None
    return parsed if isinstance(parsed, dict) else {}


def check_strategy(name: str) -> None:
    """InvalidArgument when the strategy is unknown or its environment is missing."""
    if name not in STRATEGIES:
        raise InvalidArgument.field(
            "spec.strategy", f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}"
        )
    if name == "multi_worker_mirrored" and not tf_config().get("cluster"):
        raise InvalidArgument.field(
            "spec.strategy",
            "multi_worker_mirrored needs TF_CONFIG with the cluster and this worker's task",
        )


def strategy_for(name: str) -> tf.distribute.Strategy:
    """The strategy of a spec: "default" (one device), "mirrored" (every local device) or
    "multi_worker_mirrored" (the workers of TF_CONFIG, in sync over collective ops; it must be
    created before the process runs any other TensorFlow operation)."""
    check_strategy(name)
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker_mirrored":
        resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
        return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
    return tf.distribute.get_strategy()


def is_chief() -> bool:
    """Whether this process writes shared outputs (the chief, or worker 0 without a chief)."""
    config = tf_config()
    task = config.get("task")
    if not isinstance(task, dict):
        return True
    cluster = config.get("cluster")
    has_chief = isinstance(cluster, dict) and "chief" in cluster
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    return kind == "chief" or (not has_chief and kind == "worker" and index == 0)


@dataclass
class LoopState:
    """How far a custom-loop fit got: finished epochs and their mean training losses."""

    epoch: int
    losses: list[float]


def run_epochs(
    model: keras.Model,
    strategy: tf.distribute.Strategy,
    data: tf.data.Dataset,
    batch: int,
    steps: int,
    first_epoch: int,
    epochs: int,
    end_of_epoch: Callable[[int, float], bool],
    cancelled: Callable[[], bool],
) -> None:
    """Trains epochs first_epoch..epochs-1 with a custom loop under a strategy (Keras 3's fit
    does not run under MultiWorkerMirroredStrategy: keras-team/keras#20585): each replica
    computes its share of the global batch's loss (the compiled per-output losses, sample
    weights, regularisation), the optimizer all-reduces the gradients. end_of_epoch(epoch,
    mean loss) returns False to stop; cancelled() is checked between steps."""
    losses = dict(model.loss)  # compiled with one loss per output name
    outputs = list(losses)
    replicas = strategy.num_replicas_in_sync
    iterator = iter(strategy.experimental_distribute_dataset(data))

    def replica_step(inputs: Any, targets: Any, weights: Any) -> tf.Tensor:
        with tf.GradientTape() as tape:
            predictions = model(inputs, training=True)
            per_sample = tf.add_n(
                [
                    losses[name].call(targets[name], predictions[name]) * weights[name]
                    for name in outputs
                ]
            )
            loss = tf.nn.compute_average_loss(per_sample, global_batch_size=batch)
            if model.losses:
                loss += tf.add_n(model.losses) / replicas
        gradients = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return loss

    @tf.function  # type: ignore[untyped-decorator]
    def train_step(iterator: Any) -> tf.Tensor:
        inputs, targets, weights = next(iterator)
        per_replica = strategy.run(replica_step, args=(inputs, targets, weights))
        return strategy.reduce("SUM", per_replica, axis=None)

    for epoch in range(first_epoch, epochs):
        total = 0.0
        for _ in range(steps):
            if cancelled():
                return
            total += float(train_step(iterator))
        if not end_of_epoch(epoch, total / steps):
            return
