"""Retries with exponential backoff, an overall deadline, an attempt limit and a stop event.

Backoff gives the waits: initial, then multiplied by factor up to maximum, each shortened by up
to `jitter` of itself (0: exact). Retrier spends them: after a failed try, pause() waits the next
delay and returns True, or returns False at once when no try is left (the attempts are used up,
or the wait would end past the deadline); with clip_to_deadline the last wait is cut short to end
at the deadline instead, and one more try is made there. call() runs an operation until it
succeeds, fails with an error the predicate does not retry (raised as is) or no try is left
(GaveUp, with the last error). A set stop event ends a wait early with Interrupted.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class GaveUp(Exception):
    """No try is left; `last` is the error of the last one."""

    def __init__(self, last: BaseException) -> None:
        super().__init__(str(last))
        self.last = last


class Interrupted(Exception):
    """The stop event was set while waiting to try again."""


class Backoff:
    """Growing waits between tries: initial, times factor each time, at most maximum."""

    def __init__(
        self,
        initial: float,
        maximum: float = math.inf,
        factor: float = 2.0,
        jitter: float = 0.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if not 0.0 <= jitter <= 1.0:
            raise ValueError(f"jitter must lie within [0, 1], not {jitter}")
        self.initial = initial
        self.maximum = max(maximum, initial)
        self.factor = factor
        self.jitter = jitter
        self._rng = rng
        self._next = initial

    def peek(self) -> float:
        """The next wait before jitter (without spending it)."""
        return self._next

    def next(self) -> float:
        """The wait to make now; the one after it grows."""
        delay = self._next
        self._next = min(self._next * self.factor, self.maximum)
        if self.jitter:
            delay *= 1.0 - self.jitter * self._rng()
        return delay

    def reset(self) -> None:
        """Back to the initial wait (after a success)."""
        self._next = self.initial


class Retrier:
    """One retry budget: a backoff, an optional monotonic deadline, attempt limit, stop event."""

    def __init__(
        self,
        backoff: Backoff,
        deadline: float | None = None,
        attempts: int | None = None,
        stop: threading.Event | None = None,
        clip_to_deadline: bool = False,
        on_retry: Callable[[Exception | None, float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backoff = backoff
        self.deadline = deadline
        self.attempts = attempts
        self.clip_to_deadline = clip_to_deadline
        self.failures = 0
        self._on_retry = on_retry
        self._stop = stop
        self._clock = clock

    def remaining(self) -> float:
        """Seconds left before the deadline (inf without one)."""
        return math.inf if self.deadline is None else self.deadline - self._clock()

    def pause(self, error: Exception | None = None) -> bool:
        """After a failed try (with error): waits before the next one and returns True, or
        returns False at once when no try is left. on_retry(error, delay) is called before each
        wait. Raises Interrupted when the stop event is set meanwhile."""
        self.failures += 1
        if self.attempts is not None and self.failures >= self.attempts:
            return False
        left = self.remaining()
        if self.clip_to_deadline:
            if left <= 0:
                return False
            delay = min(self.backoff.next(), left)
        else:
            if self.backoff.peek() >= left:
                return False
            delay = self.backoff.next()
        if self._on_retry is not None:
            self._on_retry(error, delay)
        if self._stop is None:
            time.sleep(delay)
        elif self._stop.wait(delay):
            raise Interrupted()
        return True

    def call(self, operation: Callable[[], T], retryable: Callable[[Exception], bool]) -> T:
        """operation's result, trying again after the errors retryable accepts; GaveUp (with the
        last error) when no try is left."""
        while True:
            try:
                return operation()
            except Exception as exc:
                if not retryable(exc):
                    raise
                if not self.pause(exc):
                    raise GaveUp(exc) from exc
