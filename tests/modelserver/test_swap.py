"""Version swaps under load fail no request: new versions, moved labels, drained unloads."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from tests.modelserver.support import (
    VARIABLE,
    RunningModelServer,
    expected,
    inputs,
    label_load,
    model_config,
    output,
    predict_request,
    server_config,
    wait_for,
)


def test_swap_under_load_fails_no_request(
    modelservers: Callable[..., RunningModelServer], tmp_path: Path, install
) -> None:
    base = tmp_path / "swap"
    install(base, 1)

    def config(stable: int) -> model_server_config_pb2.ModelServerConfig:
        return server_config(
            model_config(
                "swap", base, policy="latest { num_versions: 2 }", labels={"stable": stable}
            )
        )

    config_file = tmp_path / "models.config"
    config_file.write_text(text_format.MessageToString(config(1)))
    running = modelservers(
        model_config_file=str(config_file),
        file_system_poll_wait_seconds=0.05,
        batch_timeout_micros=500,
    )
    by_label = label_load(running.port, "swap", "stable")
    latest = label_load(running.port, "swap")
    for client in (by_label, latest):
        client.start()
    try:
        wait_for(lambda: len(by_label.answers) > 20 and len(latest.answers) > 20, what="traffic")

        install(base, 2)  # picked up by the poll, warmed up, then served as the latest
        wait_for(lambda: latest.answers[-1:] == [2], what="latest to answer with version 2")
        assert running.states("swap") == {2: "AVAILABLE", 1: "AVAILABLE"}

        running.reload(config(2))  # the label moves to the new version
        moved_at = len(by_label.answers) + 1  # one request may have been in flight
        wait_for(lambda: len(by_label.answers) > moved_at + 20, what="traffic on the moved label")

        install(base, 3)  # latest {2}: version 1 leaves the policy and is unloaded
        wait_for(lambda: running.states("swap") == {3: "AVAILABLE", 2: "AVAILABLE", 1: "END"})
        count = len(latest.answers)
        wait_for(lambda: len(latest.answers) > count + 20, what="traffic after the unload")
        time.sleep(0.1)
    finally:
        for client in (by_label, latest):
            client.halt.set()
        for client in (by_label, latest):
            client.finish()

    assert by_label.errors == [] and latest.errors == []
    assert by_label.wrong == [] and latest.wrong == []
    # The label answered from version 1, then (after the move) only from version 2.
    assert by_label.answers[0] == 1
    assert set(by_label.answers[moved_at:]) == {2}
    # Latest went 1 -> 2 -> 3 and never back.
    assert latest.answers == sorted(latest.answers)
    assert {1, 2, 3} <= set(latest.answers)


def test_an_old_version_is_unloaded_only_after_its_in_flight_requests(
    modelservers: Callable[..., RunningModelServer], tmp_path: Path, install
) -> None:
    """A request held in the batch queue (long batch timeout) keeps version 1 UNLOADING after
    version 2 replaced it; it still gets version 1's answer, then version 1 ends."""
    base = tmp_path / "swap"
    install(base, 1)
    running = modelservers(
        model_name="swap",
        model_base_path=str(base),
        file_system_poll_wait_seconds=0.05,
        batch_timeout_micros=3_000_000,
        max_batch_size=64,
    )
    arrays = inputs(seed=5)
    pending = running.predict.Predict.future(predict_request("swap", arrays), timeout=30)
    time.sleep(0.2)  # the request is queued, holding version 1
    install(base, 2)
    wait_for(lambda: running.states("swap") == {2: "AVAILABLE", 1: "UNLOADING"}, what="drain")
    assert not pending.done()
    response = pending.result()
    assert response.model_spec.version.value == 1
    want = expected(arrays[VARIABLE], arrays["init_time"], arrays["lead_hours"], 1)
    np.testing.assert_allclose(output(response), want, rtol=1e-6)
    wait_for(lambda: running.states("swap") == {2: "AVAILABLE", 1: "END"}, what="unload")


def test_latest_one_swaps_without_a_gap(
    modelservers: Callable[..., RunningModelServer], tmp_path: Path, install
) -> None:
    """With the default policy (latest {1}) the old version serves until the new one is warm,
    so clients asking for the latest never see an error."""
    base = tmp_path / "swap"
    install(base, 1)
    running = modelservers(
        model_name="swap", model_base_path=str(base), file_system_poll_wait_seconds=0.05
    )
    client = label_load(running.port, "swap")
    client.start()
    try:
        install(base, 2)
        wait_for(lambda: client.answers[-1:] == [2], what="version 2")
        install(base, 3)
        wait_for(lambda: client.answers[-1:] == [3], what="version 3")
        wait_for(lambda: running.states("swap") == {3: "AVAILABLE", 2: "END", 1: "END"})
    finally:
        client.finish()
    assert client.errors == [] and client.wrong == []
    assert client.answers == sorted(client.answers) and {1, 2, 3} <= set(client.answers)
