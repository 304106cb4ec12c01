"""The trainer's jobs on the shared work engine: cancel, watch, failures, resume (no training)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from tests.trainer.conftest import tiny_spec
from weather_data.archive import Archive
from weather_runtime.errors import FailedPrecondition, InvalidArgument
from weather_runtime.telemetry import init_tracing
from weather_runtime.work import Cancelled, State
from weather_trainer.jobs import JobRecord, JobStore
from weather_trainer.service import TrainerService
from weather_trainer.spec import Hooks, TrainSpec

Train = Callable[..., NoReturn]


def _service(root: Path, train: Train) -> TrainerService:
    return TrainerService(
        JobStore(root / "work"),
        Archive(str(root / "archive")),
        train=train,
        validate=lambda spec, archive: None,
        max_running=1,
    )


@pytest.fixture
def trained() -> list[Path]:
    """The work folders train() was called with."""
    return []


def _until_cancelled(trained: list[Path]) -> Train:
    def train(
        spec: TrainSpec, archive: Archive, workdir: Path, hooks: Hooks, **_: object
    ) -> NoReturn:
        trained.append(workdir)
        hooks.on_stage("training", 0.5)
        hooks.cancel.wait(60)
        raise Cancelled()

    return train


def _raising(error: Exception) -> Train:
    def train(
        spec: TrainSpec, archive: Archive, workdir: Path, hooks: Hooks, **_: object
    ) -> NoReturn:
        raise error

    return train


def _watch(service: TrainerService, job_id: str, until: Callable[[JobRecord], bool]) -> JobRecord:
    for record in service.watch(job_id, lambda: True):
        if until(record):
            return record
    return service.get(job_id)


@pytest.fixture
def service(tmp_path: Path, trained: list[Path]) -> Iterator[TrainerService]:
    running = _service(tmp_path, _until_cancelled(trained))
    yield running
    running.close()


def test_a_queued_job_is_cancelled_at_once_and_never_trains(
    service: TrainerService, trained: list[Path]
) -> None:
    first = service.start(tiny_spec(), "alice")
    second = service.start(tiny_spec(), "alice")  # waits behind the first: one slot
    assert first is not None and second is not None
    _watch(service, first.job_id, lambda r: r.progress.stage == "training")
    cancelled = service.cancel(second.job_id)
    assert cancelled.state == State.CANCELLED and cancelled.end_time is not None
    assert cancelled.progress.stage == "cancelled"
    assert service.cancel(second.job_id) == cancelled  # idempotent: not even saved again
    stopped = service.cancel(first.job_id)
    assert stopped.state == State.CANCELLED
    assert service.cancel(first.job_id) == stopped
    assert trained == [service.store.job_dir(first.job_id)]
    # a watcher that comes late gets the final state, once
    assert list(service.watch(second.job_id, lambda: True)) == [cancelled]


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (
            InvalidArgument.field("lead_times", "too long"),
            "INVALID_ARGUMENT",
            "lead_times: too long",
        ),
        (ValueError("secret /etc/hidden"), "INTERNAL", "see the trainer log"),
    ],
)
def test_a_failed_job_stores_its_status_code_and_a_cancel_changes_nothing(
    tmp_path: Path, error: Exception, code: str, message: str
) -> None:
    service = _service(tmp_path, _raising(error))
    try:
        job = service.start(tiny_spec(), "alice")
        assert job is not None
        failed = _watch(service, job.job_id, lambda r: r.final)
        assert failed.state == State.FAILED and failed.error is not None
        assert failed.error.code == code and message in failed.error.message
        assert "secret" not in failed.error.message
        assert failed.progress.stage == "failed"
        assert service.cancel(job.job_id) == failed
    finally:
        service.close()


def test_a_job_stopped_with_its_trainer_is_interrupted_then_resumed(
    tmp_path: Path, trained: list[Path]
) -> None:
    first = _service(tmp_path, _until_cancelled(trained))
    job = first.start(tiny_spec(), "alice")
    assert job is not None
    _watch(first, job.job_id, lambda r: r.progress.stage == "training")
    first.close()  # the running job stops and stays resumable
    second = _service(tmp_path, _raising(FailedPrecondition("the dataset went away")))
    try:
        assert second.recover(auto_resume=False) == []
        interrupted = second.get(job.job_id)
        assert interrupted.state == State.INTERRUPTED and interrupted.end_time is None
        assert list(second.watch(job.job_id, lambda: True)) == [interrupted]
        resumed = second.resume(job.job_id)
        assert resumed.state == State.QUEUED and resumed.resumes == 1
        final = _watch(second, job.job_id, lambda r: r.final)
        assert final.state == State.FAILED and final.error is not None
        assert final.error.code == "FAILED_PRECONDITION"
        with pytest.raises(FailedPrecondition, match="only an INTERRUPTED job"):
            second.resume(job.job_id)
        assert second.cancel(job.job_id) == final
    finally:
        second.close()


def test_an_interrupted_job_can_be_cancelled(tmp_path: Path, trained: list[Path]) -> None:
    first = _service(tmp_path, _until_cancelled(trained))
    job = first.start(tiny_spec(), "alice")
    assert job is not None
    _watch(first, job.job_id, lambda r: r.progress.stage == "training")
    first.close()
    second = _service(tmp_path, _until_cancelled(trained))
    try:
        second.recover(auto_resume=False)
        cancelled = second.cancel(job.job_id)
        assert cancelled.state == State.CANCELLED
        with pytest.raises(FailedPrecondition):
            second.resume(job.job_id)
        assert len(trained) == 1
    finally:
        second.close()


def test_a_job_runs_in_the_trace_it_was_started_in(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    init_tracing("weather-tests").add_span_processor(SimpleSpanProcessor(exporter))
    service = _service(tmp_path, _raising(InvalidArgument.field("epochs", "too many")))
    try:
        with trace.get_tracer("test").start_as_current_span("rpc") as rpc:
            job = service.start(tiny_spec(), "alice")
        assert job is not None
        _watch(service, job.job_id, lambda r: r.final)
    finally:
        service.close()
    [span] = [s for s in exporter.get_finished_spans() if s.name == "training job"]
    assert span.parent is not None and span.parent.span_id == rpc.get_span_context().span_id
    assert (span.attributes or {})["job.id"] == job.job_id
    assert (span.attributes or {})["job.state"] == "FAILED"
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description == "INVALID_ARGUMENT"
