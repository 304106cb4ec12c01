"""Rollout beyond the direct leads (numpy): which leads roll out, and the windows they start from.

A model forecasts its trained (direct) leads in one call each. A lead beyond the longest trained
one, a multiple of the time step, is rolled out in blocks: the trained leads 1..B steps from the
window (B, the block, is the longest run of trained leads 1, 2, ... steps, at most the window's
length) become the newest B steps of the next window (the oldest B drop out), so each block moves
the window B steps on; from the window b blocks on, the lead L is the direct lead
r = L - b * B steps, b the fewest blocks that bring r within the trained leads. With leads +1..+24
h trained on a 24-step hourly window, +72 h is the +24 h forecast from the window two blocks on
(the +1..+24 h forecasts of the forecasts of the first day): three model calls deep instead of 72
one-step calls, and the block's calls are the direct leads a Forecast asks for anyway. With B = 1
(only the time step trained) this is the one-step rollout. The predictor's Forecast serves leads
this way and the trainer scores them the same way, with this one piece of code. A window holds,
per variable, the input steps on axis -3 ([steps, lat, lon], or [n, steps, lat, lon] for a batch
of init times); a forecast has that axis left out ([lat, lon] or [n, lat, lon]).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection

import numpy as np

DIRECT = "direct"
ROLLOUT = "rollout"

Window = dict[str, np.ndarray]
# (window, k, j) -> the forecast j steps after the window's newest step, the window's newest step
# lying k steps after the init time (j a trained lead in steps)
DirectFunction = Callable[[Window, int, int], dict[str, np.ndarray]]


def block_size(trained: Collection[int], window_steps: int | None = None) -> int:
    """The block of a rollout (in steps): the longest run 1, 2, ... of trained leads, at most
    window_steps (0 when the time step itself is not trained: no rollout)."""
    size = 0
    while size + 1 in trained and (window_steps is None or size < window_steps):
        size += 1
    return size


def split(lead: int, trained: Collection[int], block: int) -> tuple[int, int] | None:
    """(blocks, direct lead) producing a lead beyond the trained ones, all in steps: the fewest
    blocks after which the rest is a trained lead; None when there is none."""
    if block < 1 or not trained:
        return None
    blocks = max(1, math.ceil((lead - max(trained)) / block))
    while lead - blocks * block >= 1:
        if lead - blocks * block in trained:
            return blocks, lead - blocks * block
        blocks += 1
    return None


def rollout_steps(
    lead: int, trained: Collection[int], step: int, window_steps: int | None = None
) -> int | None:
    """How a lead is produced, all in the same unit (seconds, or model steps with step 1): 0 for
    a direct lead (a trained one, or any lead when trained is empty), the lead in time steps for a
    lead beyond the longest trained one that a block rollout reaches (a multiple of the time
    step, which must itself be trained), None when the lead can be produced neither way."""
    if not trained or lead in trained:
        return 0
    if lead <= max(trained) or step <= 0 or lead % step:
        return None
    steps = {t // step for t in trained if t % step == 0}
    if split(lead // step, steps, block_size(steps, window_steps)) is None:
        return None
    return lead // step


def method(steps: int) -> str:
    """The method label of a lead produced with `steps` rollout steps ("direct" when 0)."""
    return ROLLOUT if steps else DIRECT


def advance(window: Window, forecasts: dict[str, np.ndarray]) -> Window:
    """The window moved on by the forecasts' steps ([..., B, lat, lon], oldest first): the
    oldest B steps dropped, the forecasts appended (a single forecast [..., lat, lon] moves it
    one step)."""
    out = {}
    for name, values in window.items():
        new = forecasts[name]
        if new.ndim == values.ndim - 1:
            new = new[..., np.newaxis, :, :]
        steps = values.shape[-3]
        out[name] = np.concatenate([values, new], -3)[..., -steps:, :, :]
    return out


class Rollout:
    """Forecasts at any lead (in steps) from one initial window: trained leads directly, longer
    ones from the window b blocks on. Every model call is made once: a block's calls are the
    direct leads 1..B from its window, shared with the leads asked from it (keep=True keeps every
    window and forecast, so leads asked in any order share them; keep=False keeps only the
    newest window's, for leads asked in increasing order)."""

    def __init__(
        self,
        window: Window,
        direct: DirectFunction,
        trained: Collection[int],
        window_steps: int | None = None,
        *,
        keep: bool = True,
    ) -> None:
        self._direct = direct
        self._trained = frozenset(trained)
        self.block = block_size(self._trained, window_steps)
        self._keep = keep
        self._windows: dict[int, Window] = {0: window}  # by blocks moved on
        self._forecasts: dict[tuple[int, int], dict[str, np.ndarray]] = {}  # (blocks, lead)
        self._newest = 0

    def window(self, blocks: int) -> Window:
        """The window moved on by `blocks` blocks (its newest step blocks * block steps on)."""
        if blocks < 0:
            raise ValueError(f"rollout block {blocks} is negative")
        if blocks not in self._windows and blocks < self._newest:
            raise ValueError(
                f"rollout block {blocks} was dropped (keep=False); the newest is {self._newest}"
            )
        if blocks > 0 and self.block < 1:
            raise ValueError("the time step is not a trained lead: nothing rolls out")
        while self._newest < blocks:
            b = self._newest
            current = self._windows[b]
            made = [self._call(b, j) for j in range(1, self.block + 1)]
            stacked = {name: np.stack([m[name] for m in made], -3) for name in made[0]}
            following = advance(current, stacked)
            if not self._keep:
                del self._windows[b]
                self._forecasts = {key: v for key, v in self._forecasts.items() if key[0] > b}
            self._newest = b + 1
            self._windows[self._newest] = following
        return self._windows[blocks]

    def forecast(self, lead: int) -> dict[str, np.ndarray]:
        """The forecast `lead` steps after the init time (lead >= 1)."""
        if lead < 1:
            raise ValueError(f"a forecast needs a lead of at least one step, got {lead}")
        if lead in self._trained:
            return self._call(0, lead)
        parts = split(lead, self._trained, self.block)
        if parts is None:
            raise ValueError(f"lead {lead} steps is neither trained nor reached by a rollout")
        blocks, rest = parts
        self.window(blocks)
        return self._call(blocks, rest)

    def _call(self, blocks: int, lead: int) -> dict[str, np.ndarray]:
        key = (blocks, lead)
        if key not in self._forecasts:
            window = self.window(blocks)
            self._forecasts[key] = self._direct(window, blocks * self.block, lead)
        return self._forecasts[key]
