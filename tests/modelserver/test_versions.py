"""Version policies, the filesystem poll, warm-up, and versions that fail to load."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from google.protobuf import text_format
from prometheus_client import REGISTRY
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.config import model_server_config_pb2

from tests.modelserver.support import (
    WARMUP,
    RunningModelServer,
    model_config,
    model_spec,
    predict_request,
    server_config,
    wait_for,
)
from tests.registry.helpers import rpc_error


@pytest.mark.parametrize(
    ("policy", "served_versions"),
    [
        ("", {3}),  # the default: latest {1}
        ("latest { num_versions: 2 }", {3, 2}),
        ("all {}", {3, 2, 1}),
        ("specific { versions: 1 versions: 3 versions: 9 }", {3, 1}),
    ],
)
def test_version_policy(
    modelservers: Callable[..., RunningModelServer],
    tmp_path: Path,
    install,
    policy: str,
    served_versions: set[int],
) -> None:
    for version in (1, 2, 3):
        install(tmp_path / "m", version)
    config_file = tmp_path / "models.config"
    config_file.write_text(
        text_format.MessageToString(server_config(model_config("m", Path("m"), policy=policy)))
    )  # a relative base path is taken from the config file's folder
    running = modelservers(model_config_file=str(config_file))
    assert running.states("m") == dict.fromkeys(served_versions, "AVAILABLE")
    for version in (1, 2, 3):
        call = running.predict.Predict
        if version in served_versions:
            assert (
                call(predict_request("m", version=version), timeout=10).model_spec.version.value
                == version
            )
        else:
            assert rpc_error(call, predict_request("m", version=version), timeout=10).code() == (
                grpc.StatusCode.NOT_FOUND
            )
    latest = running.predict.Predict(predict_request("m"), timeout=10)
    assert latest.model_spec.version.value == max(served_versions)


def test_poll_picks_up_new_versions_and_drops_removed_ones(
    modelservers: Callable[..., RunningModelServer], tmp_path: Path, install
) -> None:
    base = tmp_path / "m"
    install(base, 1)
    running = modelservers(
        model_name="m", model_base_path=str(base), file_system_poll_wait_seconds=0.1
    )
    assert running.states("m") == {1: "AVAILABLE"}

    # A folder without saved_model.pb is not a version yet (a copy in progress).
    (base / "5" / "variables").mkdir(parents=True)
    install(base, 2)
    wait_for(lambda: running.states("m") == {2: "AVAILABLE", 1: "END"}, what="swap to 2")
    assert running.predict.Predict(predict_request("m"), timeout=10).model_spec.version.value == 2

    # Version 2 deleted: version 1 is the latest again and is loaded back.
    shutil.rmtree(base / "2")
    wait_for(lambda: running.states("m") == {2: "END", 1: "AVAILABLE"}, what="back to 1")
    assert running.predict.Predict(predict_request("m"), timeout=10).model_spec.version.value == 1


def test_without_poll_new_versions_wait_for_a_config_reload(
    modelservers: Callable[..., RunningModelServer], tmp_path: Path, install
) -> None:
    base = tmp_path / "m"
    install(base, 1)
    running = modelservers(
        model_name="m", model_base_path=str(base), file_system_poll_wait_seconds=0
    )
    install(base, 2)
    assert running.states("m") == {1: "AVAILABLE"}
    running.reload(server_config(model_config("m", base)))
    wait_for(lambda: running.states("m") == {2: "AVAILABLE", 1: "END"}, what="swap to 2")


def test_a_version_that_fails_to_load_hurts_no_other(
    modelservers: Callable[..., RunningModelServer], tmp_path: Path, install
) -> None:
    base = tmp_path / "m"
    install(base, 1)
    (base / "2").mkdir()
    (base / "2" / "saved_model.pb").write_bytes(b"\x00garbage")
    install(base, 3)
    (base / "3" / WARMUP).write_bytes(b"not a TFRecord file")
    running = modelservers(
        model_config_file=_config_file(tmp_path, model_config("m", base, policy="all {}"))
    )
    statuses = {
        s.version: s
        for s in running.models.GetModelStatus(
            get_model_status_pb2.GetModelStatusRequest(model_spec=model_spec("m")), timeout=10
        ).model_version_status
    }
    states = get_model_status_pb2.ModelVersionStatus
    assert statuses[1].state == states.AVAILABLE and statuses[1].status.error_code == 0
    assert statuses[2].state == states.END and statuses[2].status.error_code != 0
    assert "saved_model.pb" in statuses[2].status.error_message
    assert statuses[3].state == states.END and statuses[3].status.error_code != 0
    assert "tf_serving_warmup_requests" in statuses[3].status.error_message
    # Version 1 serves, and is the latest available.
    assert running.predict.Predict(predict_request("m"), timeout=10).model_spec.version.value == 1
    error = rpc_error(running.predict.Predict, predict_request("m", version=3), timeout=10)
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_a_new_version_that_fails_leaves_the_old_one_serving(
    modelservers: Callable[..., RunningModelServer], tmp_path: Path, install
) -> None:
    base = tmp_path / "m"
    install(base, 1)
    running = modelservers(
        model_name="m", model_base_path=str(base), file_system_poll_wait_seconds=0.1
    )
    (base / ".partial").mkdir()
    (base / ".partial" / "saved_model.pb").write_bytes(b"broken")
    (base / ".partial").rename(base / "2")
    wait_for(lambda: running.states("m").get(2) == "END", what="version 2 to fail")
    assert running.states("m") == {2: "END", 1: "AVAILABLE"}
    assert running.predict.Predict(predict_request("m"), timeout=10).model_spec.version.value == 1


def test_warmup_requests_are_replayed_before_a_version_serves(
    modelservers: Callable[..., RunningModelServer], tmp_path: Path, install
) -> None:
    def replayed(version: int) -> float:
        labels = {"model": "warm", "version": str(version)}
        return REGISTRY.get_sample_value("weather_modelserver_warmup_requests_total", labels) or 0.0

    before = replayed(1)
    install(tmp_path / "warm", 1)
    modelservers(model_name="warm", model_base_path=str(tmp_path / "warm"))
    assert replayed(1) == before + 1  # the trainer-style file holds one PredictionLog
    off_before = replayed(1)
    modelservers(
        model_name="warm", model_base_path=str(tmp_path / "warm"), enable_model_warmup=False
    )
    assert replayed(1) == off_before


def _config_file(root: Path, *models: model_server_config_pb2.ModelConfig) -> str:
    path = root / "models.config"
    path.write_text(text_format.MessageToString(server_config(*models)))
    return str(path)


def test_a_failed_load_is_retried(
    modelservers: Callable[..., RunningModelServer],
    tmp_path: Path,
    install,
    saved_models: dict[int, Path],
) -> None:
    """A version whose first load fails (a copy not finished) is retried after the interval
    (TF Serving's max_num_load_retries / load_retry_interval_micros) and then serves."""
    base = tmp_path / "m"
    install(base, 1)
    running = modelservers(
        model_name="m",
        model_base_path=str(base),
        file_system_poll_wait_seconds=0.05,
        max_num_load_retries=3,
        load_retry_interval_micros=500_000,
    )
    (base / ".partial").mkdir()
    (base / ".partial" / "saved_model.pb").write_bytes(b"half copied")
    (base / ".partial").rename(base / "2")
    wait_for(lambda: running.states("m") == {2: "LOADING", 1: "AVAILABLE"}, what="first attempt")
    time.sleep(0.2)  # the first attempt (on garbage) has failed; the retry is 0.5 s away
    assert running.states("m")[2] == "LOADING"
    shutil.copytree(saved_models[2], base / "2", dirs_exist_ok=True)  # the copy completes
    wait_for(lambda: running.states("m") == {2: "AVAILABLE", 1: "END"}, what="the retry")
    assert running.predict.Predict(predict_request("m"), timeout=10).model_spec.version.value == 2
