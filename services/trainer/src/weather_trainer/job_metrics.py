"""The trainer's job metrics, published from the server process.

Every change of a job record passes through the service in the server process (a job training in
a child process reports its stages and epochs over a pipe, and the service saves them), so the
service shows each saved record here: jobs by state, and the epoch and losses of recent jobs.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator

from weather_runtime.domain_metrics import TrainingMetrics
from weather_runtime.work import State
from weather_trainer.jobs import JobRecord

# the states of the jobs gauge, in order; a job in one of the last four has stopped
STATES = tuple(State)
ENDED = (State.SUCCEEDED, State.FAILED, State.CANCELLED, State.INTERRUPTED)


class JobMetrics:
    """Jobs by state (every job this trainer knows), epoch and losses of the `recent` jobs last
    changed (older jobs' series end, so a long-lived trainer's series stay bounded)."""

    def __init__(self, recent: int = 20) -> None:
        self.metrics = TrainingMetrics()
        self._recent_size = recent
        self._states: dict[str, State] = {}
        self._recent: OrderedDict[str, JobRecord] = OrderedDict()
        self._lock = threading.Lock()
        self.metrics.jobs.add_source(self._jobs)
        self.metrics.epoch.add_source(self._epochs)
        self.metrics.planned_epochs.add_source(self._planned)
        self.metrics.loss.add_source(self._losses)

    def saw(self, record: JobRecord) -> None:
        """Takes the record as saved."""
        family = record.spec.model_family
        with self._lock:
            previous_state = self._states.get(record.job_id)
            previous = self._recent.get(record.job_id)
            self._states[record.job_id] = record.state
            if record.state == State.RUNNING or record.epochs or previous is not None:
                self._recent[record.job_id] = record
                self._recent.move_to_end(record.job_id)
                while len(self._recent) > self._recent_size:
                    self._recent.popitem(last=False)
        if record.epochs:
            last = record.epochs[-1].epoch
            before = previous.epochs[-1].epoch if previous is not None and previous.epochs else 0
            if last > before:
                self.metrics.epoch_duration.labels(family).observe(record.epochs[-1].seconds)
        if record.state in ENDED and previous_state is not None and previous_state not in ENDED:
            self.metrics.jobs_finished.labels(family, record.state.value).inc()

    def _jobs(self) -> Iterator[tuple[tuple[str], float]]:
        with self._lock:
            states = list(self._states.values())
        for state in STATES:
            yield (state.value,), states.count(state)

    def _records(self) -> list[JobRecord]:
        with self._lock:
            return list(self._recent.values())

    def _epochs(self) -> Iterator[tuple[tuple[str, str], float]]:
        for record in self._records():
            yield (record.job_id, record.spec.model_family), record.progress.epoch

    def _planned(self) -> Iterator[tuple[tuple[str, str], float]]:
        for record in self._records():
            yield (record.job_id, record.spec.model_family), record.spec.epochs

    def _losses(self) -> Iterator[tuple[tuple[str, str, str], float]]:
        for record in self._records():
            if record.epochs:
                last = record.epochs[-1]
                labels = (record.job_id, record.spec.model_family)
                yield (*labels, "train"), last.train_loss
                yield (*labels, "validation"), last.validation_loss
