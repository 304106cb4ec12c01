"""The serving sync over real gRPC: a registry, the embedded model server, tiny SavedModels."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import fsspec
import grpc
import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from tests.conftest import start_registry
from tests.modelserver.support import build_saved_model, label_load, predict_request, wait_for
from tests.object_store import s3_endpoint
from tests.predictor.sync_support import MODEL, Stack, start_stack
from tests.registry.helpers import rpc_error, version_request
from weather_predictor.sync.config import ModelState
from weather_predictor.sync.service import ServingSync
from weather_runtime.artifacts import directory_digest

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """SavedModels answering with scale 1, 2 and 3: registered in that order as versions 1, 2,
    3, the answering version shows in the numbers."""
    root = tmp_path_factory.mktemp("artifacts")
    return {scale: build_saved_model(root / f"scale-{scale}", float(scale)) for scale in (1, 2, 3)}


@pytest.fixture
def stack(tmp_path: Path, artifacts: dict[int, Path]) -> Iterator[Stack]:
    running = start_stack(tmp_path, artifacts[1].parent)
    yield running
    running.stop()


def _config(stack: Stack) -> model_server_config_pb2.ModelServerConfig:
    message = model_server_config_pb2.ModelServerConfig()
    text_format.Parse((stack.base / "models.config").read_text(), message)
    return message


def test_start_serves_each_alias_as_a_label_and_writes_the_config_file(
    stack: Stack, artifacts: dict[int, Path]
) -> None:
    assert [stack.register(artifacts[s]) for s in (1, 2, 3)] == [1, 2, 3]
    stack.set_alias("production", 1)
    stack.set_alias("staging", 2)
    stack.set_alias("experiment", 3)  # not an alias the sync serves
    stack.start_sync()

    assert stack.answer("production") == 1
    assert stack.answer("staging") == 2
    assert stack.modelserver.states(MODEL) == {2: "AVAILABLE", 1: "AVAILABLE"}
    error = rpc_error(
        stack.modelserver.predict.Predict, predict_request(MODEL, label="experiment"), timeout=10
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    # verified copies in TF Serving's layout, nothing else
    for version in (1, 2):
        copy = stack.base / MODEL / str(version)
        assert (copy / "saved_model.pb").is_file()
        assert (
            directory_digest(str(copy)).digest == directory_digest(str(artifacts[version])).digest
        )
    assert sorted(p.name for p in (stack.base / MODEL).iterdir()) == ["1", "2"]
    # the --model_config_file a restarted TF Serving would read
    [entry] = _config(stack).model_config_list.config
    assert entry.name == MODEL
    assert entry.base_path == str(stack.base / MODEL)
    assert list(entry.model_version_policy.specific.versions) == [1, 2]
    assert dict(entry.version_labels) == {"production": 1, "staging": 2}


def test_promotion_under_load_fails_no_request(stack: Stack, artifacts: dict[int, Path]) -> None:
    for scale in (1, 2):
        stack.register(artifacts[scale])
    stack.set_alias("production", 1)
    stack.start_sync()
    client = label_load(stack.modelserver.port, MODEL, "production")
    client.start()
    try:
        wait_for(lambda: len(client.answers) > 20, what="traffic on version 1")
        stack.set_alias("production", 2)
        wait_for(lambda: client.answers[-1:] == [2], timeout=5, what="answers from version 2")
        switched = len(client.answers)
        wait_for(lambda: len(client.answers) > switched + 20, what="traffic on version 2")
        # version 1 leaves the policy, is unloaded, then its folder goes
        wait_for(lambda: stack.modelserver.states(MODEL).get(1) == "END", what="v1 unloaded")
        wait_for(lambda: not (stack.base / MODEL / "1").exists(), what="v1 folder removed")
    finally:
        client.finish()
    assert client.errors == []
    assert client.wrong == []
    assert client.answers[0] == 1
    assert client.answers == sorted(client.answers)  # 1 ... 1 2 ... 2, never back
    assert stack.modelserver.states(MODEL) == {2: "AVAILABLE", 1: "END"}
    [entry] = _config(stack).model_config_list.config
    assert list(entry.model_version_policy.specific.versions) == [2]
    assert dict(entry.version_labels) == {"production": 2}


def test_a_canary_label_appears_then_disappears(stack: Stack, artifacts: dict[int, Path]) -> None:
    for scale in (1, 2):
        stack.register(artifacts[scale])
    stack.set_alias("production", 1)
    sync = stack.start_sync()
    canary = predict_request(MODEL, label="canary")
    assert rpc_error(stack.modelserver.predict.Predict, canary, timeout=10).code() == (
        grpc.StatusCode.NOT_FOUND
    )

    stack.set_alias("canary", 2)
    wait_for(lambda: sync.served.get(MODEL) is not None and "canary" in sync.served[MODEL].labels)
    assert stack.answer("canary") == 2
    assert stack.answer("production") == 1
    assert dict(_config(stack).model_config_list.config[0].version_labels) == {
        "production": 1,
        "canary": 2,
    }

    stack.delete_alias("canary")
    wait_for(lambda: "canary" not in sync.served[MODEL].labels, what="the label to go")
    assert rpc_error(stack.modelserver.predict.Predict, canary, timeout=10).code() == (
        grpc.StatusCode.NOT_FOUND
    )
    assert stack.answer("production") == 1
    wait_for(lambda: not (stack.base / MODEL / "2").exists(), what="v2 folder removed")
    assert dict(_config(stack).model_config_list.config[0].version_labels) == {"production": 1}


def test_a_version_whose_artifact_does_not_match_its_digest_is_not_served(
    stack: Stack, artifacts: dict[int, Path]
) -> None:
    stack.register(artifacts[1])
    wrong = directory_digest(str(artifacts[3])).digest  # the digest of another SavedModel
    assert stack.register(artifacts[2], digest=wrong) == 2
    stack.set_alias("production", 1)
    sync = stack.start_sync()
    before = _config(stack)

    stack.set_alias("production", 2)
    # the move's own reconciliation may begin before set_alias returns: ask for one that
    # surely begins after the move was committed
    moved = time.monotonic()
    sync.request_reconcile()
    wait_for(lambda: sync.reconciled_since(moved), what="a reconciliation after the move")
    assert stack.answer("production") == 1
    assert stack.modelserver.states(MODEL) == {1: "AVAILABLE"}
    assert _config(stack) == before
    assert sorted(p.name for p in (stack.base / MODEL).iterdir()) == ["1"]  # no partial copy

    # the registry moves the alias to a good version: the sync follows again
    stack.register(artifacts[3])
    stack.set_alias("production", 3)
    wait_for(lambda: stack.answer("production") == 3, what="production on version 3")


def test_a_restarted_sync_reconciles_without_disturbing_serving(
    stack: Stack, artifacts: dict[int, Path]
) -> None:
    for scale in (1, 2, 3):
        stack.register(artifacts[scale])
    stack.set_alias("production", 1)
    stack.set_alias("staging", 2)
    first = stack.start_sync()
    client = label_load(stack.modelserver.port, MODEL, "production")
    client.start()
    try:
        wait_for(lambda: len(client.answers) > 20, what="traffic")
        first.stop()
        stack.set_alias("canary", 3)  # while no sync runs
        config_before = _config(stack)
        second = stack.start_sync()
        count = len(client.answers)
        wait_for(lambda: len(client.answers) > count + 20, what="traffic after the restart")
        # a third start without the config file (a fresh volume) does not drop a label either
        second.stop()
        (stack.base / "models.config").unlink()
        third = stack.start_sync()
        count = len(client.answers)
        wait_for(lambda: len(client.answers) > count + 20, what="traffic after the third start")
    finally:
        client.finish()
    assert client.errors == [] and client.wrong == []
    assert set(client.answers) == {1}
    assert stack.answer("canary") == 3  # the start caught up with the missed event
    assert stack.modelserver.states(MODEL) == {3: "AVAILABLE", 2: "AVAILABLE", 1: "AVAILABLE"}
    labels = dict(_config(stack).model_config_list.config[0].version_labels)
    assert labels == {**dict(config_before.model_config_list.config[0].version_labels), "canary": 3}
    assert third.served[MODEL].labels == {"production": 1, "staging": 2, "canary": 3}
    # and it follows events
    stack.set_alias("staging", 3)
    wait_for(lambda: stack.answer("staging") == 3, what="staging on version 3")
    wait_for(lambda: not (stack.base / MODEL / "2").exists(), what="v2 folder removed")


def test_a_lost_registry_is_retried_with_backoff_then_followed_again(
    stack: Stack, artifacts: dict[int, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for scale in (1, 2):
        stack.register(artifacts[scale])
    stack.set_alias("production", 1)
    sync = stack.start_sync(backoff_initial_seconds=0.2, backoff_max_seconds=1)
    port = stack.registry.port
    caplog.set_level(logging.WARNING, logger="weather_predictor.sync.service")
    stack.registry.channel.close()
    stack.registry.server.stop(0)  # the stream ends; reconciliations fail while it is away
    gone = time.monotonic()
    time.sleep(3)
    failures = [r for r in caplog.records if "reconciliation failed" in r.getMessage()]
    assert 2 <= len(failures) <= 6, [r.getMessage() for r in failures]  # backoff, no busy loop
    assert not sync.reconciled_since(gone)
    assert stack.answer("production") == 1  # serving is untouched meanwhile

    stack.registry = start_registry(
        f"sqlite:///{tmp_path / 'registry.db'}",
        stack.registry.artifact_root,
        gated_aliases=[],
        port=port,
    )
    back = time.monotonic()
    wait_for(lambda: sync.reconciled_since(back), what="a reconciliation after the return")
    stack.set_alias("production", 2)
    wait_for(lambda: stack.answer("production") == 2, what="production on version 2")


def test_the_sidecar_runs_from_the_environment_until_sigterm(
    stack: Stack, artifacts: dict[int, Path]
) -> None:
    stack.register(artifacts[1])
    stack.set_alias("production", 1)
    source = Path(__file__).resolve().parents[2] / "services" / "predictor" / "src"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(source), os.environ.get("PYTHONPATH")) if p),
        "SERVING_SYNC_REGISTRY_ADDRESS": f"127.0.0.1:{stack.registry.port}",
        "SERVING_SYNC_MODEL_SERVER_ADDRESS": f"127.0.0.1:{stack.modelserver.port}",
        "SERVING_SYNC_SERVING_BASE_PATH": str(stack.base),
        "SERVING_SYNC_MODEL_NAMES": f" {MODEL} ,",
        "SERVING_SYNC_ALIASES": "production",
    }
    bad = subprocess.run(
        [sys.executable, "-m", "weather_predictor.sync"],
        env={**env, "SERVING_SYNC_LOAD_TIMEOUT_SECONDS": "-1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "SERVING_SYNC_LOAD_TIMEOUT_SECONDS" in bad.stderr

    process = subprocess.Popen(
        [sys.executable, "-m", "weather_predictor.sync"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        config_file = stack.base / "models.config"
        wait_for(
            lambda: config_file.exists() and "production" in config_file.read_text(),
            timeout=60,
            what="a config with the production label",
        )
        assert stack.answer("production") == 1
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any(line["message"] == "model server config reloaded" for line in lines)
    assert lines[-1]["message"] == "serving sync stopped"
    assert lines[-1]["service"] == "serving-sync"


def test_a_version_that_fails_to_load_leaves_the_alias_on_the_old_one(
    stack: Stack, artifacts: dict[int, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = artifacts[1].parent / "broken"
    broken.mkdir(exist_ok=True)
    (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
    stack.register(artifacts[1])
    assert stack.register(broken) == 2  # its digest is right, it just does not load
    stack.set_alias("production", 1)
    sync = stack.start_sync()
    caplog.set_level(logging.ERROR, logger="weather_predictor.sync.service")

    stack.set_alias("production", 2)
    # the move's own reconciliation may begin before set_alias returns: ask for one that
    # surely begins after the move was committed
    moved = time.monotonic()
    sync.request_reconcile()
    wait_for(lambda: sync.reconciled_since(moved), what="a reconciliation after the move")
    assert stack.answer("production") == 1
    assert any("version 2 did not become available" in r.getMessage() for r in caplog.records)
    assert sync.served[MODEL].labels == {"production": 1}
    assert sync.served[MODEL].versions == {1}
    [entry] = _config(stack).model_config_list.config
    assert list(entry.model_version_policy.specific.versions) == [1]
    assert stack.modelserver.states(MODEL)[2] == "END"
    wait_for(lambda: not (stack.base / MODEL / "2").exists(), what="the failed copy removed")


def test_an_artifact_on_an_object_store_is_copied_and_served(
    tmp_path: Path, artifacts: dict[int, Path]
) -> None:
    with s3_endpoint("models"):
        fsspec.filesystem("s3").put(str(artifacts[2]), "models/t2m/v2", recursive=True)
        remote = "s3://models/t2m/v2"
        digest = directory_digest(remote).digest
        assert digest == directory_digest(str(artifacts[2])).digest
        root = artifacts[1].parent
        stack = start_stack(tmp_path, root, artifact_roots=[str(root), "s3://models"])
        try:
            stack.register(artifacts[1])
            request = version_request(MODEL, artifacts[2], digest)
            request.artifact_uri = remote
            assert stack.registry.stub.CreateModelVersion(request, timeout=10).version.version == 2
            stack.set_alias("production", 1)
            stack.start_sync()
            assert stack.answer("production") == 1
            stack.set_alias("production", 2)
            wait_for(lambda: stack.answer("production") == 2, what="production on the S3 copy")
            assert directory_digest(str(stack.base / MODEL / "2")).digest == digest
        finally:
            stack.stop()


def test_a_rollback_during_a_slow_load_is_applied_at_once(
    tmp_path: Path, artifacts: dict[int, Path]
) -> None:
    """Version 2 keeps failing and being retried by the server (LOADING for a long time); the
    alias going back to version 1 meanwhile stops the wait and drops version 2 at once."""
    root = artifacts[1].parent
    stack = start_stack(
        tmp_path,
        root,
        modelserver_settings={"max_num_load_retries": 20, "load_retry_interval_micros": 2_000_000},
    )
    try:
        slow = root / "slow"
        slow.mkdir(exist_ok=True)
        (slow / "saved_model.pb").write_bytes(b"never loads")
        stack.register(artifacts[1])
        stack.register(slow)
        stack.set_alias("production", 1)
        sync = stack.start_sync(load_timeout_seconds=60)
        stack.set_alias("production", 2)
        wait_for(lambda: stack.modelserver.states(MODEL).get(2) == "LOADING", what="v2 loading")
        assert sync.served[MODEL] == ModelState(frozenset({1, 2}), {"production": 1})
        started = time.monotonic()
        stack.set_alias("production", 1)
        wait_for(lambda: sync.served[MODEL].versions == {1}, timeout=10, what="v2 dropped")
        assert time.monotonic() - started < 10  # not the 60 s load timeout
        assert sync.served[MODEL].labels == {"production": 1}
        assert stack.answer("production") == 1
        [entry] = _config(stack).model_config_list.config
        assert list(entry.model_version_policy.specific.versions) == [1]
        wait_for(lambda: not (stack.base / MODEL / "2").exists(), what="v2 folder removed")
    finally:
        stack.stop()


def test_an_alias_moved_before_the_event_stream_opens_is_followed(
    stack: Stack, artifacts: dict[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first stream replays stored events: a move between the first reconciliation and the
    stream opening is not left to the periodic resync (an hour here)."""
    stack.register(artifacts[1])
    stack.register(artifacts[2])
    stack.set_alias("production", 1)
    release = threading.Event()
    watch = ServingSync._watch

    def late_watch(self: ServingSync) -> None:
        release.wait(30)
        watch(self)

    monkeypatch.setattr(ServingSync, "_watch", late_watch)
    sync = stack.start_sync(resync_seconds=3600)
    assert stack.answer("production") == 1
    stack.set_alias("production", 2)  # the stream is not open yet
    release.set()
    wait_for(
        lambda: sync.served.get(MODEL, ModelState()).labels.get("production") == 2,
        timeout=60,
        what="production moved to version 2",
    )
    assert stack.answer("production") == 2


def test_a_version_that_failed_to_load_is_tried_again_after_the_retry_interval(
    stack: Stack, artifacts: dict[int, Path], caplog: pytest.LogCaptureFixture
) -> None:
    broken = artifacts[1].parent / "broken-again"
    broken.mkdir(exist_ok=True)
    (broken / "saved_model.pb").write_bytes(b"not a SavedModel either")
    stack.register(artifacts[1])
    assert stack.register(broken) == 2
    stack.set_alias("production", 1)
    caplog.set_level(logging.INFO, logger="weather_predictor.sync.service")
    sync = stack.start_sync(failed_load_retry_seconds=0.5)

    def messages() -> list[str]:
        return [r.getMessage() for r in caplog.records]

    stack.set_alias("production", 2)
    wait_for(
        lambda: any("version 2 did not become available" in m for m in messages()),
        timeout=60,
        what="the failed load",
    )
    time.sleep(0.6)
    stack.set_alias("canary", 1)  # any relevant event reconciles again
    wait_for(
        lambda: any("version 2 failed to load before; trying it again" in m for m in messages()),
        timeout=60,
        what="the second try",
    )
    wait_for(
        lambda: sum("version 2 did not become available" in m for m in messages()) >= 2,
        timeout=60,
        what="the second failure",
    )
    assert stack.answer("production") == 1
    assert sync.served[MODEL].labels["production"] == 1
