"""A registry, an embedded model server and a serving sync on loopback, and a predicting client."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from weather.registry.v1 import registry_service_pb2 as rpb

from tests.conftest import RunningRegistry, start_registry
from tests.modelserver.support import (
    VARIABLE,
    RunningModelServer,
    expected,
    inputs,
    output,
    predict_request,
    start_modelserver,
)
from tests.registry.helpers import version_request
from weather_predictor.sync import ServingSync, SyncSettings
from weather_runtime.artifacts import directory_digest

MODEL = "t2m-forecast"


@dataclass
class Stack:
    """The three processes' parts of a sync test, in one place."""

    registry: RunningRegistry
    modelserver: RunningModelServer
    base: Path
    syncs: list[ServingSync] = field(default_factory=list)

    def settings(self, **overrides: object) -> SyncSettings:
        options: dict[str, object] = {
            "registry_address": f"127.0.0.1:{self.registry.port}",
            "model_server_address": f"127.0.0.1:{self.modelserver.port}",
            "serving_base_path": self.base,
            "model_names": [MODEL],
            "rpc_timeout_seconds": 10,
            "reload_timeout_seconds": 30,
            "load_timeout_seconds": 20,
            "status_poll_seconds": 0.05,
            "unload_poll_seconds": 0.2,
            "backoff_initial_seconds": 0.1,
            "backoff_max_seconds": 1,
            **overrides,
        }
        return SyncSettings(**options)  # type: ignore[arg-type]

    def start_sync(self, **overrides: object) -> ServingSync:
        sync = ServingSync(self.settings(**overrides))
        sync.start()
        self.syncs.append(sync)
        assert sync.wait_reconciled(1, timeout=60), "the first reconciliation did not finish"
        return sync

    def register(self, artifact: Path, digest: str | None = None) -> int:
        """Registers a version of MODEL (its digest computed unless given); returns its number."""
        digest = digest or directory_digest(str(artifact)).digest
        return int(
            self.registry.stub.CreateModelVersion(
                version_request(MODEL, artifact, digest), timeout=10
            ).version.version
        )

    def set_alias(self, alias: str, version: int) -> None:
        self.registry.stub.SetAlias(
            rpb.SetAliasRequest(model_name=MODEL, alias=alias, version=version), timeout=10
        )

    def delete_alias(self, alias: str) -> None:
        self.registry.stub.DeleteAlias(
            rpb.DeleteAliasRequest(model_name=MODEL, alias=alias, reason="test"), timeout=10
        )

    def answer(self, label: str, seed: int = 3) -> int:
        """Predicts by label; checks the numbers against the version that answered (its scale)."""
        arrays = inputs(seed=seed)
        response = self.modelserver.predict.Predict(
            predict_request(MODEL, arrays, label=label), timeout=10
        )
        version = int(response.model_spec.version.value)
        want = expected(arrays[VARIABLE], arrays["init_time"], arrays["lead_hours"], version)
        np.testing.assert_allclose(output(response), want, rtol=1e-6)
        return version

    def stop(self) -> None:
        for sync in self.syncs:
            sync.stop()
        self.modelserver.stop()
        self.registry.channel.close()
        self.registry.server.stop(1)


def start_stack(
    tmp_path: Path,
    artifact_root: Path,
    modelserver_settings: dict[str, object] | None = None,
    **registry_settings: object,
) -> Stack:
    """A registry (SQLite, no gated alias) whose artefacts live under artifact_root, an embedded
    model server started on an empty model config, and a serving base for the sync."""
    registry = start_registry(
        f"sqlite:///{tmp_path / 'registry.db'}",
        artifact_root,
        **{"gated_aliases": [], **registry_settings},
    )
    registry.stub.CreateRegisteredModel(rpb.CreateRegisteredModelRequest(name=MODEL), timeout=10)
    empty = tmp_path / "empty.config"
    empty.write_text("model_config_list {}\n")
    modelserver = start_modelserver(model_config_file=str(empty), **(modelserver_settings or {}))
    return Stack(registry, modelserver, tmp_path / "serving")
