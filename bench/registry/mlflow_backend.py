"""The baseline: MLflow's model registry, in-process MlflowClient over a local SQLite file."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from workload import VersionPayload

PACKAGES = ("mlflow-skinny", "mlflow")
# Local runs only: no usage telemetry leaves the machine.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")


def installed_version() -> str:
    """The installed MLflow distribution and version, or "" when none is installed."""
    for package in PACKAGES:
        try:
            return f"{package} {importlib.metadata.version(package)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return ""


def _store_importable() -> bool:
    probe = "from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, check=False)
    return done.returncode == 0


def _pip_install(*packages: str) -> None:
    print(f"installing {' '.join(packages)} into {sys.prefix}", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *packages], check=True)


def ensure_mlflow() -> str:
    """Installs MLflow (skinny first, full if skinny lacks the SQL store); returns its version."""
    if not _store_importable():
        _pip_install("mlflow-skinny", "sqlalchemy", "alembic")
    if not _store_importable():
        _pip_install("mlflow")
    importlib.invalidate_caches()
    return installed_version()


def payload_tags(payload: VersionPayload) -> dict[str, str]:
    """The version's digest, metrics and baselines as tags: MLflow versions have no metrics."""
    tags = dict(payload.tags)
    tags["artifact_digest"] = payload.digest
    for score in payload.scores:
        key = f"metric/{score.spec.name}/{score.spec.variable}/{score.spec.lead_hours}h"
        tags[key] = json.dumps({"value": score.value, "goal": score.spec.goal})
        for baseline, value in score.baselines.items():
            tags[f"{key}/baseline/{baseline}"] = repr(value)
    return tags


class MlflowRegistryClient:
    """One thread's MlflowClient; all clients of a URI share MLflow's engine for it."""

    def __init__(self, uri: str) -> None:
        from mlflow import MlflowClient

        self._client: Any = MlflowClient(tracking_uri=uri, registry_uri=uri)

    def create_model(self, model: str) -> None:
        self._client.create_registered_model(model)

    def create_version(self, model: str, payload: VersionPayload) -> int:
        tags = payload_tags(payload)
        created = self._client.create_model_version(model, payload.artifact_uri, tags=tags)
        return int(created.version)

    def get_version(self, model: str, version: int) -> int:
        return int(self._client.get_model_version(model, str(version)).version)

    def list_versions(self, model: str, page_size: int) -> int:
        found = self._client.search_model_versions(
            filter_string=f"name='{model}'", max_results=page_size
        )
        return len(found)

    def set_alias(self, model: str, alias: str, version: int) -> None:
        self._client.set_registered_model_alias(model, alias, str(version))

    def version_numbers(self, model: str) -> list[int]:
        numbers: list[int] = []
        token = None
        while True:
            page = self._client.search_model_versions(
                filter_string=f"name='{model}'", max_results=1000, page_token=token
            )
            numbers.extend(int(v.version) for v in page)
            token = page.token
            if not token:
                return numbers

    def close(self) -> None:
        """Nothing to release: the engine belongs to MLflow's per-URI cache."""


class MlflowBackend:
    """MLflow's SQLAlchemy registry store over the SQLite file at path."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.uri = f"sqlite:///{path.resolve()}"

    def new_client(self) -> MlflowRegistryClient:
        return MlflowRegistryClient(self.uri)

    def describe_error(self, exc: Exception) -> str:
        text = str(exc)
        if "database is locked" in text:
            return "database is locked"
        if "QueuePool limit" in text:
            return "connection pool timeout"
        first = text.splitlines()[0] if text else ""
        return f"{type(exc).__name__}: {first[:100]}"
