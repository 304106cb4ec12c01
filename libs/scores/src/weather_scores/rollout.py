"""Rollout beyond the direct leads (numpy): which leads roll out, and the window after k steps.

A model forecasts its trained (direct) leads in one call. A lead beyond the longest trained one,
a multiple of the time step, is rolled out: the model forecasts one time step ahead, that
forecast becomes the newest step of the input window (the oldest drops out), and so on, k times
for a lead of k steps. The predictor's Forecast serves leads this way and the trainer scores
them the same way, with this one piece of code. A window holds, per variable, the input steps
on axis -3 ([steps, lat, lon], or [n, steps, lat, lon] for a batch of init times); a one-step
forecast has that axis left out ([lat, lon] or [n, lat, lon]).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import numpy as np

DIRECT = "direct"
ROLLOUT = "rollout"

Window = dict[str, np.ndarray]
# (window, k) -> the forecast one time step after the window's newest step, the window's newest
# step lying k steps after the init time
StepFunction = Callable[[Window, int], dict[str, np.ndarray]]


def rollout_steps(lead: int, trained: Collection[int], step: int) -> int | None:
    """How a lead is produced, all in the same unit (seconds, or model steps with step 1): 0 for
    a direct lead (a trained one, or any lead when trained is empty), the number of one-step
    forecasts for a lead beyond the longest trained one that is a multiple of the time step
    (which must itself be trained), None when the lead can be produced neither way."""
    if not trained or lead in trained:
        return 0
    if lead > max(trained) and step > 0 and lead % step == 0 and step in trained:
        return lead // step
    return None


def method(steps: int) -> str:
    """The method label of a lead produced with `steps` rollout steps ("direct" when 0)."""
    return ROLLOUT if steps else DIRECT


def advance(window: Window, forecast: dict[str, np.ndarray]) -> Window:
    """The window one time step later: the oldest step dropped, the forecast appended."""
    return {
        name: np.concatenate([values[..., 1:, :, :], forecast[name][..., np.newaxis, :, :]], -3)
        for name, values in window.items()
    }


class Rollout:
    """The windows after 0, 1, ... one-step forecasts from one initial window, each computed
    once (keep=True keeps every state, so leads asked in any order share them; keep=False keeps
    only the newest, for leads asked in increasing order)."""

    def __init__(self, window: Window, step: StepFunction, *, keep: bool = True) -> None:
        self._step = step
        self._keep = keep
        self._states: dict[int, Window] = {0: window}
        self._newest = 0

    def state(self, k: int) -> Window:
        """The window after k one-step forecasts (its newest step is the forecast at k steps)."""
        if k < 0:
            raise ValueError(f"rollout step {k} is negative")
        if k not in self._states and k < self._newest:
            raise ValueError(
                f"rollout step {k} was dropped (keep=False); the newest is {self._newest}"
            )
        while self._newest < k:
            current = self._states[self._newest]
            following = advance(current, self._step(current, self._newest))
            if not self._keep:
                del self._states[self._newest]
            self._newest += 1
            self._states[self._newest] = following
        return self._states[k]

    def forecast(self, k: int) -> dict[str, np.ndarray]:
        """The forecast k steps after the init time (k >= 1): the newest step of state(k)."""
        if k < 1:
            raise ValueError(f"a rollout forecast needs at least one step, got {k}")
        return {name: values[..., -1, :, :] for name, values in self.state(k).items()}
