"""The tf.distribute strategy of a job: default, MirroredStrategy, or multi-worker from TF_CONFIG."""

from __future__ import annotations

import json
import os

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
