"""weather_scores.rollout: which leads roll out, blocks, the window shift, shared model calls."""

from __future__ import annotations

import numpy as np
import pytest

from weather_scores.rollout import Rollout, advance, block_size, method, rollout_steps, split


def test_rollout_steps_direct_rolled_and_impossible() -> None:
    trained = {1, 2, 3}
    assert rollout_steps(2, trained, 1) == 0
    assert rollout_steps(7, trained, 1) == 7
    assert rollout_steps(7, set(), 1) == 0  # no trained leads known: any lead is direct
    assert rollout_steps(7, {2, 4}, 2) is None  # not a multiple of the step
    assert rollout_steps(8, {2, 4}, 2) == 4
    assert rollout_steps(8, {4}, 2) is None  # the step is not trained
    assert rollout_steps(3, {1, 2, 4}, 1) is None  # inside the trained range, not trained
    assert rollout_steps(7, trained, 1, window_steps=1) == 7  # one-step blocks
    assert (method(0), method(5)) == ("direct", "rollout")


def test_blocks_are_the_run_of_trained_leads_within_the_window() -> None:
    assert block_size({1, 2, 3, 5}) == 3
    assert block_size({1, 2, 3, 5}, window_steps=2) == 2
    assert block_size({2, 3}) == 0
    hourly_day = set(range(1, 25))
    assert split(25, hourly_day, 24) == (1, 1)
    assert split(48, hourly_day, 24) == (1, 24)
    assert split(72, hourly_day, 24) == (2, 24)
    assert split(73, hourly_day, 24) == (3, 1)
    assert split(7, {1, 2, 6}, 2) == (3, 1)  # the fewest blocks leaving a trained lead
    assert split(7, {1, 2, 3}, 1) == (4, 3)
    assert split(5, {2}, 0) is None


def test_advance_moves_single_and_batched_windows_by_one_step_or_a_block() -> None:
    single = {"t": np.arange(3 * 2 * 2, dtype=np.float32).reshape(3, 2, 2)}
    out = advance(single, {"t": np.full((2, 2), -1.0, np.float32)})
    assert out["t"].shape == (3, 2, 2) and out["t"].dtype == np.float32
    np.testing.assert_array_equal(out["t"][:2], single["t"][1:])
    np.testing.assert_array_equal(out["t"][2], -1.0)
    block = np.stack([np.full((2, 2), -1.0), np.full((2, 2), -2.0)]).astype(np.float32)
    out = advance(single, {"t": block})
    np.testing.assert_array_equal(out["t"][0], single["t"][2])
    np.testing.assert_array_equal(out["t"][1:], block)
    batched = {"t": np.stack([single["t"], single["t"] + 100])}
    out = advance(batched, {"t": np.stack([np.zeros((2, 2)), np.ones((2, 2))])})
    np.testing.assert_array_equal(out["t"][1, :2], batched["t"][1, 1:])
    np.testing.assert_array_equal(out["t"][:, 2], [np.zeros((2, 2)), np.ones((2, 2))])


def test_a_rollout_feeds_blocks_of_direct_forecasts_back_and_calls_each_once() -> None:
    """Leads 1 and 2 trained on a two-step window (blocks of two): a model answering the
    window's sum + 10 k + j; every lead computed by hand from the same rule."""
    calls: list[tuple[int, int]] = []

    def direct(window: dict[str, np.ndarray], k: int, j: int) -> dict[str, np.ndarray]:
        calls.append((k, j))
        return {"t": window["t"].sum(axis=-3) + 10 * k + j}

    start = {"t": np.ones((2, 1, 1))}
    rollout = Rollout(start, direct, {1, 2})
    assert rollout.block == 2
    assert rollout.forecast(1)["t"].item() == 3  # 1 + 1 + 1
    assert rollout.forecast(2)["t"].item() == 4
    # one block on: the window is [3, 4] (k = 2); +3 is its lead 1, +4 its lead 2
    assert rollout.forecast(4)["t"].item() == 7 + 20 + 2
    assert rollout.forecast(3)["t"].item() == 7 + 20 + 1
    # two blocks on: [28, 29] (k = 4)
    assert rollout.forecast(5)["t"].item() == 57 + 40 + 1
    assert rollout.forecast(4)["t"].item() == 29
    assert calls == [(0, 1), (0, 2), (2, 2), (2, 1), (4, 1)]  # each once, blocks shared
    assert len(calls) == len(set(calls))  # nothing asked twice
    assert rollout.window(0) is start
    with pytest.raises(ValueError):
        rollout.forecast(0)


def test_a_one_step_rollout_is_the_chain_of_one_step_forecasts() -> None:
    """Only the time step trained: each forecast becomes the newest window step."""
    rollout = Rollout({"t": np.zeros((3, 1, 1))}, lambda w, k, j: {"t": w["t"][-1] + 1}, {1})
    assert rollout.block == 1
    assert [rollout.forecast(k)["t"].item() for k in (4, 2, 6)] == [4, 2, 6]


def test_a_rollout_without_keeping_windows_refuses_an_earlier_block() -> None:
    rollout = Rollout(
        {"t": np.zeros((1, 1, 1))}, lambda w, k, j: {"t": w["t"][-1] + j}, {1}, keep=False
    )
    assert rollout.forecast(3)["t"].item() == 3
    assert rollout.forecast(3)["t"].item() == 3
    with pytest.raises(ValueError, match="dropped"):
        rollout.forecast(2)
