"""The served state as TF Serving's ModelServerConfig, and its --model_config_file."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from weather_predictor.sync.settings import SyncSettings


@dataclass(frozen=True)
class ModelState:
    """What one model serves: the versions of its specific policy and its labels."""

    versions: frozenset[int] = frozenset()
    labels: dict[str, int] = field(default_factory=dict)


State = dict[str, ModelState]


def to_proto(state: State, settings: SyncSettings) -> model_server_config_pb2.ModelServerConfig:
    """The config serving state: models by name, each with specific versions and labels. A model
    without versions is left out (TF Serving refuses an empty specific policy)."""
    message = model_server_config_pb2.ModelServerConfig()
    configs = message.model_config_list.config
    for name in sorted(state):
        model = state[name]
        if not model.versions:
            continue
        entry = configs.add(
            name=name, base_path=settings.served_base(name), model_platform="tensorflow"
        )
        entry.model_version_policy.specific.versions.extend(sorted(model.versions))
        for label in sorted(model.labels):
            entry.version_labels[label] = model.labels[label]
    if not configs:
        message.model_config_list.SetInParent()  # an empty list, still a model_config_list
    return message


def from_proto(message: model_server_config_pb2.ModelServerConfig) -> State:
    """The serving state a config describes (versions of specific policies, labels)."""
    state: State = {}
    for entry in message.model_config_list.config:
        versions = frozenset(entry.model_version_policy.specific.versions)
        state[entry.name] = ModelState(versions, dict(entry.version_labels))
    return state


def write_file(path: Path, message: model_server_config_pb2.ModelServerConfig) -> None:
    """Writes the config in text format, atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}"
    partial.write_text(text_format.MessageToString(message))
    os.replace(partial, path)


def read_file(path: Path) -> State | None:
    """The state in a config file this sync wrote; None when absent or unreadable."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    message = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(text, message)
    except text_format.ParseError:
        return None
    return from_proto(message)
