"""weather_scores.rollout: which leads roll out, the window shift, and shared rollout states."""

from __future__ import annotations

import numpy as np
import pytest

from weather_scores.rollout import Rollout, advance, method, rollout_steps


def test_rollout_steps_direct_rolled_and_impossible() -> None:
    trained = {1, 2, 3}
    assert rollout_steps(2, trained, 1) == 0
    assert rollout_steps(7, trained, 1) == 7
    assert rollout_steps(7, set(), 1) == 0  # no trained leads known: any lead is direct
    assert rollout_steps(7, {2, 4}, 2) is None  # not a multiple of the step
    assert rollout_steps(8, {2, 4}, 2) == 4
    assert rollout_steps(8, {4}, 2) is None  # the step is not trained
    assert rollout_steps(3, {1, 2, 4}, 1) is None  # inside the trained range, not trained
    assert (method(0), method(5)) == ("direct", "rollout")


def test_advance_drops_the_oldest_step_of_single_and_batched_windows() -> None:
    single = {"t": np.arange(3 * 2 * 2, dtype=np.float32).reshape(3, 2, 2)}
    out = advance(single, {"t": np.full((2, 2), -1.0, np.float32)})
    assert out["t"].shape == (3, 2, 2) and out["t"].dtype == np.float32
    np.testing.assert_array_equal(out["t"][:2], single["t"][1:])
    np.testing.assert_array_equal(out["t"][2], -1.0)
    batched = {"t": np.stack([single["t"], single["t"] + 100])}
    out = advance(batched, {"t": np.stack([np.zeros((2, 2)), np.ones((2, 2))])})
    np.testing.assert_array_equal(out["t"][1, :2], batched["t"][1, 1:])
    np.testing.assert_array_equal(out["t"][:, 2], [np.zeros((2, 2)), np.ones((2, 2))])


def test_rollout_feeds_each_forecast_back_and_computes_each_step_once() -> None:
    """A step that forecasts the window's sum plus k: the forecast at k steps is computed by
    hand from the same rule; asking again (or an earlier lead) calls the model no more."""
    calls: list[int] = []

    def step(window: dict[str, np.ndarray], k: int) -> dict[str, np.ndarray]:
        calls.append(k)
        return {"t": window["t"].sum(axis=-3) + k}

    start = {"t": np.ones((2, 1, 1))}
    rollout = Rollout(start, step)
    history = [1.0, 1.0]
    for k in range(4):
        history.append(history[-1] + history[-2] + k)
    assert rollout.forecast(4)["t"].item() == history[5]
    assert rollout.forecast(2)["t"].item() == history[3]
    assert rollout.forecast(4)["t"].item() == history[5]
    assert calls == [0, 1, 2, 3]
    assert rollout.state(0) is start
    with pytest.raises(ValueError):
        rollout.forecast(0)


def test_rollout_without_keeping_states_refuses_an_earlier_step() -> None:
    rollout = Rollout({"t": np.zeros((1, 1, 1))}, lambda w, k: {"t": w["t"][-1] + 1}, keep=False)
    assert rollout.forecast(3)["t"].item() == 3
    assert rollout.forecast(3)["t"].item() == 3
    with pytest.raises(ValueError, match="dropped"):
        rollout.forecast(2)
