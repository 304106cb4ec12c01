"""ModelService: GetModelStatus, and HandleReloadConfigRequest changing models and labels live."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import grpc
import numpy as np
from google.rpc import error_details_pb2
from tensorflow_serving.apis import get_model_status_pb2

from tests.modelserver.conftest import SERVED
from tests.modelserver.support import (
    VARIABLE,
    RunningModelServer,
    expected,
    inputs,
    model_config,
    model_spec,
    output,
    predict_request,
    server_config,
)
from tests.registry.helpers import rpc_error, status_details

Status = get_model_status_pb2.ModelVersionStatus


def test_get_model_status_lists_every_version(served: RunningModelServer) -> None:
    response = served.models.GetModelStatus(
        get_model_status_pb2.GetModelStatusRequest(model_spec=model_spec(SERVED)), timeout=10
    )
    assert [s.version for s in response.model_version_status] == [2, 1]
    for status in response.model_version_status:
        assert status.state == Status.AVAILABLE
        assert status.status.error_code == 0
        assert status.status.error_message == ""
    one = served.models.GetModelStatus(
        get_model_status_pb2.GetModelStatusRequest(model_spec=model_spec(SERVED, version=1)),
        timeout=10,
    )
    assert [(s.version, s.state) for s in one.model_version_status] == [(1, Status.AVAILABLE)]


def _answer(
    running: RunningModelServer, name: str, label: str | None = None
) -> tuple[int, np.ndarray]:
    arrays = inputs(seed=3)
    response = running.predict.Predict(predict_request(name, arrays, label=label), timeout=10)
    version = response.model_spec.version.value
    want = expected(arrays[VARIABLE], arrays["init_time"], arrays["lead_hours"], version)
    np.testing.assert_allclose(output(response), want, rtol=1e-6)
    return version, output(response)


def test_reload_adds_a_model_moves_a_label_and_removes_a_model(
    modelservers: Callable[..., RunningModelServer], tmp_path: Path, install
) -> None:
    for version in (1, 2):
        install(tmp_path / "alpha", version)
    install(tmp_path / "beta", 3)
    running = modelservers(model_name="alpha", model_base_path=str(tmp_path / "alpha"))
    assert running.states("alpha") == {2: "AVAILABLE"}  # latest {1} by default

    # All versions of alpha, label stable on 2; beta is new.
    response = running.reload(
        server_config(
            model_config("alpha", tmp_path / "alpha", policy="all {}", labels={"stable": 2}),
            model_config("beta", tmp_path / "beta"),
        )
    )
    assert response.status.error_code == 0
    assert running.states("beta") == {3: "AVAILABLE"}  # loaded before the reload answered
    assert _answer(running, "beta")[0] == 3
    assert running.states("alpha") == {2: "AVAILABLE", 1: "AVAILABLE"}
    assert _answer(running, "alpha", label="stable")[0] == 2

    # Move the label to version 1 (available now).
    running.reload(
        server_config(
            model_config("alpha", tmp_path / "alpha", policy="all {}", labels={"stable": 1}),
            model_config("beta", tmp_path / "beta"),
        )
    )
    assert _answer(running, "alpha", label="stable")[0] == 1

    # Remove alpha: its requests fail NOT_FOUND, its versions end, beta keeps serving.
    running.reload(server_config(model_config("beta", tmp_path / "beta")))
    error = rpc_error(running.predict.Predict, predict_request("alpha"), timeout=10)
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert "'alpha'" in error.details()
    assert running.states("alpha") == {2: "END", 1: "END"}
    assert _answer(running, "beta")[0] == 3


def test_label_on_an_unavailable_version_is_refused(
    modelservers: Callable[..., RunningModelServer], tmp_path: Path, install
) -> None:
    install(tmp_path / "m", 1)
    running = modelservers(model_name="m", model_base_path=str(tmp_path / "m"))
    running.reload(server_config(model_config("m", tmp_path / "m", labels={"stable": 1})))
    error = rpc_error(
        running.reload,
        server_config(model_config("m", tmp_path / "m", labels={"stable": 1, "canary": 2})),
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "not currently available for inference" in error.details()
    failure = next(
        d for d in status_details(error) if isinstance(d, error_details_pb2.PreconditionFailure)
    )
    assert [v.subject for v in failure.violations] == [
        "config.model_config_list.config[0].version_labels['canary']"
    ]
    # The refused config changed nothing.
    assert _answer(running, "m", label="stable")[0] == 1
    assert (
        rpc_error(running.predict.Predict, predict_request("m", label="canary"), timeout=10).code()
        == grpc.StatusCode.NOT_FOUND
    )


def test_allow_labels_for_unavailable_versions(
    modelservers: Callable[..., RunningModelServer], tmp_path: Path, install
) -> None:
    """As TF Serving's --allow_version_labels_for_unavailable_models: a new label may point to a
    version not loaded yet; an existing label still only moves to an available version."""
    install(tmp_path / "m", 1)
    running = modelservers(
        model_name="m",
        model_base_path=str(tmp_path / "m"),
        allow_version_labels_for_unavailable_models=True,
    )
    running.reload(
        server_config(model_config("m", tmp_path / "m", labels={"stable": 1, "next": 2}))
    )
    error = rpc_error(running.predict.Predict, predict_request("m", label="next"), timeout=10)
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert "version 2" in error.details()
    moved = rpc_error(
        running.reload,
        server_config(model_config("m", tmp_path / "m", labels={"stable": 3, "next": 2})),
    )
    assert moved.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "version_labels['stable']" in moved.details()


def test_reload_with_a_broken_new_model(
    modelservers: Callable[..., RunningModelServer], tmp_path: Path, install
) -> None:
    """A new model that fails to load: the reload says so (UNAVAILABLE), its status carries the
    error, the other model serves on."""
    install(tmp_path / "good", 1)
    (tmp_path / "bad" / "4").mkdir(parents=True)
    (tmp_path / "bad" / "4" / "saved_model.pb").write_bytes(b"not a SavedModel")
    running = modelservers(model_name="good", model_base_path=str(tmp_path / "good"))
    error = rpc_error(
        running.reload,
        server_config(
            model_config("good", tmp_path / "good"), model_config("bad", tmp_path / "bad")
        ),
    )
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert "bad: version 4 failed to load" in error.details()
    status = running.models.GetModelStatus(
        get_model_status_pb2.GetModelStatusRequest(model_spec=model_spec("bad")), timeout=10
    ).model_version_status
    assert [(s.version, s.state) for s in status] == [(4, Status.END)]
    assert status[0].status.error_code != 0
    assert "saved_model.pb" in status[0].status.error_message
    assert _answer(running, "good")[0] == 1
