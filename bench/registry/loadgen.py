"""Runs one operation from many threads for a fixed wall time; counts ops, errors and latency."""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

C = TypeVar("C")
Op = Callable[[C, random.Random], object]
Describe = Callable[[Exception], str]


@dataclass(frozen=True)
class Measurement:
    """What one timed run of an operation produced."""

    ops: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    warmup_ops: int
    warmup_errors: int
    error_kinds: dict[str, int]

    @property
    def ops_per_second(self) -> float:
        """Completed operations per second of measured wall time."""
        return self.ops / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    warmup_ops: int = 0
    warmup_errors: int = 0
    last_end: float = 0.0


@dataclass
class _Window:
    start: float = 0.0
    end: float = 0.0

    def open(self, warmup: float, duration: float) -> None:
        self.start = time.perf_counter() + warmup
        self.end = self.start + duration


@dataclass(frozen=True)
class _Job(Generic[C]):
    op: Op[C]
    describe: Describe
    barrier: threading.Barrier
    window: _Window


def measure(
    clients: Sequence[C], op: Op[C], describe: Describe, duration: float, warmup: float
) -> Measurement:
    """Runs op on one thread per client: warm-up, then duration seconds of counted ops.

    An op counts when it starts inside the window; the window closes when the last such op
    ends, so throughput is counted ops over that span.
    """
    window = _Window()
    barrier = threading.Barrier(len(clients) + 1, action=lambda: window.open(warmup, duration))
    job = _Job(op, describe, barrier, window)
    tallies = [_Tally() for _ in clients]
    threads = [
        threading.Thread(target=_run, args=(job, client, tally, seed), daemon=True)
        for seed, (client, tally) in enumerate(zip(clients, tallies, strict=True))
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    for thread in threads:
        thread.join()
    return _combine(tallies, window)


def _run(job: _Job[C], client: C, tally: _Tally, seed: int) -> None:
    rng = random.Random(seed)
    job.barrier.wait()
    while time.perf_counter() < job.window.start:
        try:
            job.op(client, rng)
            tally.warmup_ops += 1
        except Exception:
            tally.warmup_errors += 1
    while (began := time.perf_counter()) < job.window.end:
        try:
            job.op(client, rng)
        except Exception as exc:
            tally.errors[job.describe(exc)] += 1
        else:
            tally.latencies.append(time.perf_counter() - began)
        tally.last_end = time.perf_counter()


def _combine(tallies: Sequence[_Tally], window: _Window) -> Measurement:
    latencies = sorted(value for tally in tallies for value in tally.latencies)
    errors: Counter[str] = Counter()
    for tally in tallies:
        errors.update(tally.errors)
    end = max((tally.last_end for tally in tallies), default=window.end)
    return Measurement(
        ops=len(latencies),
        errors=sum(errors.values()),
        seconds=max(end, window.end) - window.start,
        p50_ms=_percentile(latencies, 50) * 1000,
        p99_ms=_percentile(latencies, 99) * 1000,
        warmup_ops=sum(tally.warmup_ops for tally in tallies),
        warmup_errors=sum(tally.warmup_errors for tally in tallies),
        error_kinds=dict(errors.most_common()),
    )


def _percentile(ordered: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending sequence; 0 when empty."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]
