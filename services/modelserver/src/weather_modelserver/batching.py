"""The request batcher: concurrent requests stacked along the batch dimension, one model call."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from weather_runtime.errors import Unavailable

log = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]
# Runs a model on (stacked) inputs; the second argument is how many requests they hold.
Runner = Callable[[Mapping[str, np.ndarray], int], Arrays]


@dataclass(frozen=True)
class BatchingOptions:
    """TF Serving's batching parameters."""

    max_batch_size: int = 32
    batch_timeout_micros: int = 1000
    max_enqueued_batches: int = 100
    num_batch_threads: int = 2


@dataclass
class _Task:
    inputs: Mapping[str, np.ndarray]
    rows: int
    arrived: float
    future: Future[Arrays] = field(default_factory=Future)


@dataclass
class _Queue:
    runner: Runner
    tasks: deque[_Task] = field(default_factory=deque)
    rows: int = 0


class Batcher:
    """Queues requests per key (servable, signature, per-row shapes and dtypes). A queue is run
    when it holds max_batch_size rows or its oldest request has waited batch_timeout_micros;
    requests are never split, and answers are the rows each request sent."""

    def __init__(self, options: BatchingOptions) -> None:
        self.options = options
        self._timeout = options.batch_timeout_micros / 1e6
        self._limit = options.max_batch_size * options.max_enqueued_batches
        self._queues: dict[Hashable, _Queue] = {}
        self._cond = threading.Condition()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"batch-{i}", daemon=True)
            for i in range(options.num_batch_threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(
        self, key: Hashable, runner: Runner, inputs: Mapping[str, np.ndarray], rows: int
    ) -> Future[Arrays]:
        """Queues one request of `rows` rows; the future gets its outputs (its rows only)."""
        task = _Task(inputs, rows, time.monotonic())
        with self._cond:
            if self._closed:
                raise Unavailable("the model server is shutting down")
            queue = self._queues.get(key)
            if queue is None:
                queue = self._queues[key] = _Queue(runner)
            if queue.rows + rows > self._limit:
                raise Unavailable(
                    f"the batch queue is full ({queue.rows} rows waiting, at most {self._limit})"
                )
            queue.tasks.append(task)
            queue.rows += rows
            self._cond.notify()
        return task.future

    def close(self) -> None:
        """Runs what is queued, then stops the batch threads; later submits are refused."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()

    def _work(self) -> None:
        while True:
            with self._cond:
                picked = self._next_batch()
                if picked is None:
                    return
            runner, tasks = picked
            self._run(runner, tasks)

    def _next_batch(self) -> tuple[Runner, list[_Task]] | None:
        """Waits (lock held) for a queue that is full or due; takes one batch off it."""
        while True:
            now = time.monotonic()
            due_key: Hashable | None = None
            due_at = float("inf")
            wake_at = float("inf")
            for key, queue in self._queues.items():
                deadline = queue.tasks[0].arrived + self._timeout
                if self._closed or queue.rows >= self.options.max_batch_size or deadline <= now:
                    if deadline < due_at:
                        due_key, due_at = key, deadline
                else:
                    wake_at = min(wake_at, deadline)
            if due_key is not None:
                return self._take(due_key)
            if self._closed:
                return None
            self._cond.wait(None if wake_at == float("inf") else wake_at - now)

    def _take(self, key: Hashable) -> tuple[Runner, list[_Task]]:
        queue = self._queues[key]
        tasks: list[_Task] = []
        rows = 0
        while queue.tasks and (
            not tasks or rows + queue.tasks[0].rows <= self.options.max_batch_size
        ):
            task = queue.tasks.popleft()
            tasks.append(task)
            rows += task.rows
        queue.rows -= rows
        if not queue.tasks:
            del self._queues[key]
        return queue.runner, tasks

    def _run(self, runner: Runner, tasks: list[_Task]) -> None:
        if len(tasks) == 1:
            _settle(tasks[0], runner)
            return
        try:
            stacked = {
                name: np.concatenate([task.inputs[name] for task in tasks])
                for name in tasks[0].inputs
            }
            outputs = runner(stacked, len(tasks))
            total = sum(task.rows for task in tasks)
            if any(value.ndim == 0 or value.shape[0] != total for value in outputs.values()):
                raise ValueError("an output lacks the batch dimension")
        except Exception as exc:  # noqa: BLE001 - each request is retried on its own
            # One bad request (a value the model rejects) must not fail the others.
            log.info("batch of %d failed (%s); running its requests one by one", len(tasks), exc)
            for task in tasks:
                _settle(task, runner)
            return
        bounds = np.cumsum([task.rows for task in tasks])[:-1]
        pieces = {name: np.split(value, bounds) for name, value in outputs.items()}
        for i, task in enumerate(tasks):
            task.future.set_result({name: parts[i] for name, parts in pieces.items()})


def _settle(task: _Task, runner: Runner) -> None:
    try:
        task.future.set_result(runner(task.inputs, 1))
    except BaseException as exc:  # noqa: BLE001 - the request's thread re-raises it
        task.future.set_exception(exc)
