"""SavedModel digests: the model server refuses a copy changed after registration, the sync
replaces (and reports) one on its next pass."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import text_format
from tensorflow_serving.apis import get_model_status_pb2

from tests.modelserver.support import (
    build_saved_model,
    inputs,
    install_version,
    model_config,
    model_spec,
    predict_request,
    server_config,
    start_modelserver,
    wait_for,
)
from tests.predictor.sync_support import MODEL, Stack, start_stack
from weather_predictor.sync import layout
from weather_runtime.artifacts import (
    digest_record_path,
    directory_digest,
    read_digest_record,
    write_digest_record,
)

pytestmark = pytest.mark.timeout(180)
DATA_LOSS = 15
FAILED_PRECONDITION = 9


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    root = tmp_path_factory.mktemp("artifacts")
    return {scale: build_saved_model(root / f"scale-{scale}", float(scale)) for scale in (1, 2, 3)}


def _tamper(version_dir: Path) -> None:
    """Changes a copy on disk the way an intruder could without breaking the SavedModel."""
    extra = version_dir / "assets" / "note.txt"
    extra.parent.mkdir(exist_ok=True)
    extra.write_text("changed after registration\n")


def _statuses(server: object, name: str) -> dict[int, get_model_status_pb2.ModelVersionStatus]:
    response = server.models.GetModelStatus(  # type: ignore[attr-defined]
        get_model_status_pb2.GetModelStatusRequest(model_spec=model_spec(name)), timeout=10
    )
    return {s.version: s for s in response.model_version_status}


def _answering_version(server: object, name: str) -> int:
    response = server.predict.Predict(predict_request(name, inputs(seed=1)), timeout=10)  # type: ignore[attr-defined]
    return int(response.model_spec.version.value)


def _install(base: Path, version: int, source: Path) -> Path:
    target = install_version(base, version, source)
    write_digest_record(target, directory_digest(str(source)).digest)
    return target


def test_the_model_server_refuses_a_changed_copy_and_keeps_the_previous_version(
    tmp_path: Path, artifacts: dict[int, Path], caplog: pytest.LogCaptureFixture
) -> None:
    base = tmp_path / "serving" / "m"
    _install(base, 1, artifacts[1])
    server = start_modelserver(
        model_base_path=str(base), model_name="m", file_system_poll_wait_seconds=0.1
    )
    try:
        wait_for(lambda: server.states("m") == {1: "AVAILABLE"}, what="v1 available")

        # v2 arrives with the registered digest recorded, but its files changed since
        v2 = install_version(tmp_path / "staging", 2, artifacts[2])
        _tamper(v2)
        write_digest_record(base / "2", directory_digest(str(artifacts[2])).digest)
        with caplog.at_level(logging.ERROR, logger="weather_modelserver.manager"):
            v2.rename(base / "2")
            wait_for(lambda: server.states("m").get(2) == "END", what="v2 refused")
        refused = _statuses(server, "m")[2].status
        assert refused.error_code == DATA_LOSS
        assert "does not match the registered" in refused.error_message
        assert any("changed after registration" in r.getMessage() for r in caplog.records)
        assert server.states("m")[1] == "AVAILABLE"
        assert _answering_version(server, "m") == 1  # the previous version keeps serving

        # a copy that matches its record loads as usual
        _install(base, 3, artifacts[3])
        wait_for(lambda: server.states("m").get(3) == "AVAILABLE", what="v3 available")
        assert _answering_version(server, "m") == 3
    finally:
        server.stop()


def test_a_required_record_refuses_a_version_without_one(
    tmp_path: Path, artifacts: dict[int, Path]
) -> None:
    base = tmp_path / "serving" / "m"
    install_version(base, 1, artifacts[1])  # no record
    _install(base, 2, artifacts[2])
    config = tmp_path / "models.config"
    config.write_text(
        text_format.MessageToString(server_config(model_config("m", base, policy="all {}")))
    )
    server = start_modelserver(model_config_file=str(config), require_digest_record=True)
    try:
        wait_for(lambda: server.states("m").get(2) == "AVAILABLE", what="v2 available")
        wait_for(lambda: server.states("m").get(1) == "END", what="v1 refused")
        status = _statuses(server, "m")[1].status
        assert status.error_code == FAILED_PRECONDITION
        assert "no digest record" in status.error_message
    finally:
        server.stop()


@pytest.fixture
def stack(tmp_path: Path, artifacts: dict[int, Path]) -> Iterator[Stack]:
    running = start_stack(tmp_path, artifacts[1].parent)
    yield running
    running.stop()


def test_the_sync_records_digests_and_replaces_a_changed_copy(
    stack: Stack, artifacts: dict[int, Path], caplog: pytest.LogCaptureFixture
) -> None:
    registered = directory_digest(str(artifacts[1])).digest
    assert stack.register(artifacts[1]) == 1
    stack.set_alias("production", 1)
    sync = stack.start_sync()
    copy = stack.base / MODEL / "1"
    assert read_digest_record(copy) == registered
    assert digest_record_path(copy) == stack.base / ".digests" / MODEL / "1"
    assert stack.answer("production") == 1

    before = layout.CHANGED_COPIES.labels(MODEL)._value.get()
    _tamper(copy)  # a background pass may find it first: either way it is found once
    with caplog.at_level(logging.ERROR, logger="weather_predictor.sync.layout"):
        sync.reconcile()  # the next resync
    assert directory_digest(str(copy)).digest == registered  # replaced by a verified copy
    assert not (copy / "assets" / "note.txt").exists()
    assert layout.CHANGED_COPIES.labels(MODEL)._value.get() == before + 1
    assert any("changed on disk after registration" in r.getMessage() for r in caplog.records)
    assert sorted(p.name for p in (stack.base / MODEL).iterdir()) == ["1"]  # nothing left over
    assert stack.answer("production") == 1

    # an untouched copy is left alone on the next pass
    sync.reconcile()
    assert layout.CHANGED_COPIES.labels(MODEL)._value.get() == before + 1
