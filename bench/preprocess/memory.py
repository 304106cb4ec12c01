"""Resident memory of the client process and the Dask worker processes, sampled in a thread."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from distributed import Client

INTERVAL_SECONDS = 0.2
MB = 1e6
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Peaks:
    """Resident set sizes in bytes during one stage: the peaks, and the sizes to compare them to.

    The bases are taken on the fresh cluster after warm-up, before any stage: a worker holding
    no data. The "before" figures are taken as the stage starts (the stage before it may have
    left memory allocated).
    """

    client_base: int = 0
    worker_base: int = 0
    client_before: int = 0
    worker_before: int = 0
    client: int = 0
    worker: int = 0  # the largest single worker process
    workers_total: int = 0  # all worker processes together, at one sampling instant
    samples: int = 0

    def add(self, client: int, workers: list[int]) -> None:
        self.client = max(self.client, client)
        self.worker = max(self.worker, *workers, 0)
        self.workers_total = max(self.workers_total, sum(workers))
        self.samples += 1

    def as_json(self) -> dict[str, float]:
        out = {k: round(v / MB, 1) for k, v in vars(self).items() if k != "samples"}
        return {**out, "samples": self.samples}


def _rss(pid: int) -> int:
    """Resident set size of a process from /proc (0 once it has gone)."""
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0


@dataclass
class Sampler:
    """Samples RSS of this process and of the cluster's workers every INTERVAL_SECONDS."""

    client: Client
    _stop: threading.Event = field(default_factory=threading.Event)
    _current: Peaks | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        pids = self.client.run(os.getpid)  # worker processes of a local cluster
        self._me = os.getpid()
        self._workers = [int(pid) for pid in pids.values()]
        self.client_base, workers = self._sample()
        self.worker_base = max(workers, default=0)
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self._thread.start()

    def _sample(self) -> tuple[int, list[int]]:
        return _rss(self._me), [_rss(p) for p in self._workers]

    def _loop(self) -> None:
        while not self._stop.wait(INTERVAL_SECONDS):
            client, workers = self._sample()
            with self._lock:
                if self._current is not None:
                    self._current.add(client, workers)

    @contextmanager
    def stage(self) -> Iterator[Peaks]:
        """Peaks of the code run inside the block (with one sample at its start and end)."""
        client, workers = self._sample()
        peaks = Peaks(
            client_base=self.client_base,
            worker_base=self.worker_base,
            client_before=client,
            worker_before=max(workers, default=0),
        )
        peaks.add(client, workers)
        with self._lock:
            self._current = peaks
        try:
            yield peaks
        finally:
            with self._lock:
                self._current = None
            peaks.add(*self._sample())

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
