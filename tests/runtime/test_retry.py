"""weather_runtime.retry: backoff waits, attempt limits, deadlines (cut short or not), stop."""

from __future__ import annotations

import threading

import pytest

from weather_runtime.retry import Backoff, GaveUp, Interrupted, Retrier


class Flaky:
    """Fails `failures` times with the given error, then answers "ok"; each call advances a
    clock by `step` seconds (the deadlines are read on it, the waits are real but tiny)."""

    def __init__(self, failures: int, error: Exception | None = None, step: float = 0.0) -> None:
        self.failures = failures
        self.error = error or ConnectionError("down")
        self.step = step
        self.calls = 0
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def __call__(self) -> str:
        self.calls += 1
        self.now += self.step
        if self.calls <= self.failures:
            raise self.error
        return "ok"


def _retryable(exc: Exception) -> bool:
    return isinstance(exc, ConnectionError)


def test_backoff_grows_by_its_factor_up_to_its_maximum_and_resets() -> None:
    backoff = Backoff(1.0, 5.0)
    assert [backoff.next() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    backoff.reset()
    assert backoff.next() == 1.0
    tripled = Backoff(0.5, factor=3.0)
    assert [tripled.next() for _ in range(3)] == [0.5, 1.5, 4.5]
    assert Backoff(2.0, 1.0).maximum == 2.0  # never below the first wait


def test_jitter_shortens_each_wait_by_up_to_its_fraction() -> None:
    backoff = Backoff(1.0, 4.0, jitter=0.2, rng=lambda: 0.5)
    assert [backoff.next() for _ in range(3)] == pytest.approx([0.9, 1.8, 3.6])
    assert backoff.peek() == 4.0  # the growth itself has no jitter
    with pytest.raises(ValueError, match="jitter"):
        Backoff(1.0, jitter=1.5)


def test_a_flaky_operation_is_tried_until_it_answers() -> None:
    flaky = Flaky(failures=2)
    retrier = Retrier(Backoff(0.001), attempts=3)
    assert retrier.call(flaky, _retryable) == "ok"
    assert flaky.calls == 3 and retrier.failures == 2


def test_the_attempts_used_up_give_up_with_the_last_error() -> None:
    flaky = Flaky(failures=5)
    with pytest.raises(GaveUp) as raised:
        Retrier(Backoff(0.001), attempts=3).call(flaky, _retryable)
    assert flaky.calls == 3
    assert raised.value.last is flaky.error


def test_an_error_the_predicate_refuses_is_raised_at_once() -> None:
    flaky = Flaky(failures=1, error=KeyError("no"))
    with pytest.raises(KeyError):
        Retrier(Backoff(0.001), attempts=3).call(flaky, _retryable)
    assert flaky.calls == 1


def test_no_wait_ends_past_the_deadline() -> None:
    # each call takes 1 s of the clock: tried at 1 and 2 (0.5 s left, room for a 1 ms wait),
    # at 3 the deadline has passed
    flaky = Flaky(failures=10, step=1.0)
    retrier = Retrier(Backoff(0.001), deadline=2.5, clock=flaky.clock)
    with pytest.raises(GaveUp):
        retrier.call(flaky, _retryable)
    assert flaky.calls == 3


def test_a_wait_longer_than_what_is_left_ends_the_retries_or_is_cut_short() -> None:
    # 1 ms left after the first call, the next wait is 10 s
    whole = Flaky(failures=10, step=1.0)
    with pytest.raises(GaveUp):
        Retrier(Backoff(10.0), deadline=1.001, clock=whole.clock).call(whole, _retryable)
    assert whole.calls == 1
    clipped = Flaky(failures=10, step=1.0)
    retrier = Retrier(Backoff(10.0), deadline=1.001, clip_to_deadline=True, clock=clipped.clock)
    with pytest.raises(GaveUp):
        retrier.call(clipped, _retryable)
    assert clipped.calls == 2  # one more try at the deadline


def test_on_retry_sees_each_error_and_wait() -> None:
    seen: list[tuple[str, float]] = []
    flaky = Flaky(failures=2)
    retrier = Retrier(Backoff(0.001, 0.002), on_retry=lambda e, d: seen.append((str(e), d)))
    retrier.call(flaky, _retryable)
    assert seen == [("down", 0.001), ("down", 0.002)]


def test_a_set_stop_event_interrupts_the_wait() -> None:
    stop = threading.Event()
    stop.set()
    flaky = Flaky(failures=1)
    with pytest.raises(Interrupted):
        Retrier(Backoff(3600.0), stop=stop).call(flaky, _retryable)
    assert flaky.calls == 1
