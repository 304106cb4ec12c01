"""The trainer domain service: queues jobs, runs them in a bounded pool, recovers after restarts."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from opentelemetry import context as otel_context

from weather_data.archive import Archive
from weather_data.cluster import DaskRuntime
from weather_runtime import spans
from weather_runtime.artifacts import directory_digest, normalise_uri
from weather_runtime.errors import (
    FailedPrecondition,
    NotFound,
    PreconditionViolation,
    Unavailable,
)
from weather_runtime.work import (
    UNFINISHED,
    Board,
    Cancelled,
    State,
    admit,
    check_move,
    end_span,
    failure,
    traced,
)
from weather_trainer.job_metrics import JobMetrics
from weather_trainer.jobs import JobRecord, JobStore, Progress, now
from weather_trainer.registration import Registrar
from weather_trainer.spec import Epoch, Hooks, Outcome, TrainSpec, TrialResult
from weather_trainer.storage import ArtifactStore

log = logging.getLogger(__name__)

# train(spec, archive, workdir, hooks, dask_client=...) -> Outcome; validate(spec, archive)
Train = Callable[..., Outcome]
Validate = Callable[[TrainSpec, Archive], None]
# The stage of a job whose model is exported while the registry cannot be reached.
WAITING = "waiting for the registry"


class TrainerService:
    """Jobs: start, get, list, watch, cancel, resume; each job runs train() in a worker thread."""

    def __init__(
        self,
        store: JobStore,
        archive: Archive,
        *,
        train: Train,
        validate: Validate,
        max_running: int = 1,
        max_jobs_per_caller: int = 0,
        registrar: Registrar | None = None,
        runtime: DaskRuntime | None = None,
        code_version: str = "",
        follower: bool = False,
        artifacts: ArtifactStore | None = None,
    ) -> None:
        self.store = store
        self.archive = archive
        self._train = train
        self._validate = validate
        self._registrar = registrar
        self._runtime = runtime
        self._code_version = code_version
        self._artifacts = artifacts
        self._pool = ThreadPoolExecutor(max_workers=max_running, thread_name_prefix="training")
        self._per_caller = max_jobs_per_caller
        self._admit = threading.Lock()  # the per-caller count and the new record, together
        # cancel events, change notification (watchers), closing: shared with the operations
        self._board = Board()
        # A follower is a non-chief multi-worker replica: it writes no job records and joins the
        # chief's multi-worker jobs (tf.distribute needs every worker to run the same training).
        self.follower = follower
        self._joined: set[tuple[str, int]] = set()
        self._follow_thread: threading.Thread | None = None
        self._metrics = JobMetrics()

    # -- lifecycle -------------------------------------------------------------------------

    def recover(self, auto_resume: bool) -> list[str]:
        """After a start: RUNNING jobs (their trainer died) become INTERRUPTED, QUEUED jobs run;
        with auto_resume the interrupted ones are resumed too. Returns the ids requeued."""
        if self.follower:
            self._follow_thread = threading.Thread(
                target=self._follow, name="multi-worker-follower", daemon=True
            )
            self._follow_thread.start()
            return []
        requeued = []
        for stored in reversed(self.store.all()):
            self._metrics.saw(stored)
            record = stored
            if record.state == State.RUNNING:
                record = self._save(
                    record,
                    state=State.INTERRUPTED,
                    progress=replace(record.progress, stage="interrupted"),
                )
                log.warning("job %s was running when the trainer stopped", record.job_id)
            if record.state == State.QUEUED:
                self._submit(record)
                requeued.append(record.job_id)
            elif record.state == State.INTERRUPTED and auto_resume:
                self.resume(record.job_id)
                requeued.append(record.job_id)
        return requeued

    def _follow(self) -> None:
        """Joins every multi-worker job the chief runs, once, until the service closes."""
        while True:
            self._board.pause(1.0)
            if self._board.closing:
                return
            for record in self.store.all():
                if (
                    record.state == State.RUNNING
                    and record.spec.strategy == "multi_worker_mirrored"
                    and not _exported(record)  # a resumed job that only registers
                    and (record.job_id, record.resumes) not in self._joined
                ):
                    self._joined.add((record.job_id, record.resumes))
                    self._pool.submit(self._join, record)

    def _join(self, record: JobRecord) -> None:
        """Runs this worker's part of a chief's job; its own outputs stay in a scratch folder."""
        cancel = self._board.register(record.job_id)
        workdir = self.store.job_dir(record.job_id) / "followers" / uuid.uuid4().hex[:8]
        try:
            self._train(record.spec, self.archive, workdir, Hooks(cancel=cancel), dask_client=None)
            log.info("worker part of job %s finished", record.job_id)
        except Cancelled:
            log.info("worker part of job %s stopped", record.job_id)
        except Exception:
            log.exception("worker part of job %s failed", record.job_id)
        finally:
            self._board.forget(record.job_id)

    def _refuse_writes(self) -> None:
        if self.follower:
            raise FailedPrecondition(
                "this trainer replica is a multi-worker follower; send jobs to the chief "
                "(TF_CONFIG task index 0)",
                [PreconditionViolation("ROLE", "trainer", "follower replica")],
            )

    def close(self) -> None:
        """Stops taking jobs; running jobs stop at their next check and stay resumable."""
        self._board.close()
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- requests --------------------------------------------------------------------------

    def dataset_step_seconds(self, dataset_id: str, content_hash: str) -> float:
        """The time step of a dataset version (the latest when content_hash is empty)."""
        versions = self.archive.versions(dataset_id)
        if not versions:
            raise NotFound("dataset", dataset_id)
        for number in reversed(versions):
            manifest = self.archive.get(dataset_id, number)
            if not content_hash or manifest.content_hash == content_hash:
                return manifest.time_step_seconds
        raise NotFound("dataset version", f"{dataset_id}@{content_hash}")

    def start(
        self, spec: TrainSpec, actor: str, request_id: str = "", validate_only: bool = False
    ) -> JobRecord | None:
        """Validates spec and queues a job (None when validate_only)."""
        self._refuse_writes()
        if request_id and (earlier := self.store.by_request(request_id)) is not None:
            return earlier
        self._validate(spec, self.archive)
        if validate_only:
            return None
        if self._board.closing:
            raise Unavailable("the trainer is shutting down")
        record = JobRecord(
            job_id=uuid.uuid4().hex[:16],
            spec=spec,
            state=State.QUEUED,
            creator=actor,
            create_time=now(),
            request_id=request_id,
            code_version=self._code_version,
        )
        with self._admit:
            active = sum(
                1 for r in self.store.all() if r.creator == actor and r.state in UNFINISHED
            )
            admit(
                actor,
                active,
                self._per_caller,
                "TRAINER_MAX_JOBS_PER_CALLER",
                "jobs queued or running",
            )
            stored = self.store.create(record)
        self._metrics.saw(stored)
        if stored.job_id == record.job_id:
            self._submit(stored)
        return stored

    def get(self, job_id: str) -> JobRecord:
        """The job; NotFound when unknown."""
        record = self.store.get(job_id)
        if record is None:
            raise NotFound("job", job_id)
        return record

    def list(self, state: str = "", family: str = "", dataset_id: str = "") -> list[JobRecord]:
        """Jobs matching the filters, newest first."""
        return [
            r
            for r in self.store.all()
            if (not state or r.state == state)
            and (not family or r.spec.model_family == family)
            and (not dataset_id or r.spec.dataset_id == dataset_id)
        ]

    def watch(self, job_id: str, active: Callable[[], bool]) -> Iterator[JobRecord]:
        """The job now and after every change, until it reaches a state it will not leave."""
        self.get(job_id)  # NotFound at once
        return self._board.watch(
            lambda: self.get(job_id), active, lambda r: r.final or r.state == State.INTERRUPTED
        )

    def cancel(self, job_id: str, wait_seconds: float = 30.0) -> JobRecord:
        """Cancels the job (idempotent; a finished job stays as it ended): a queued or
        interrupted one at once, a running one stops at its next check (waited for a while)."""
        self._refuse_writes()
        self.get(job_id)  # NotFound at once
        return self._board.cancel(
            job_id,
            lambda: self.get(job_id),
            lambda record: self._save(
                record,
                state=State.CANCELLED,
                end_time=now(),
                progress=replace(record.progress, stage="cancelled"),
            ),
            wait_seconds,
        )

    def resume(self, job_id: str) -> JobRecord:
        """Queues an interrupted job again; it continues from its last checkpoint."""
        self._refuse_writes()
        with self._board.locked():  # atomic with a cancel
            record = self.get(job_id)
            if record.state != State.INTERRUPTED:
                raise FailedPrecondition(
                    f"job {job_id} is {record.state}; only an INTERRUPTED job can be resumed",
                    [PreconditionViolation("STATE", f"job/{job_id}", f"job is {record.state}")],
                )
            record = self._save(
                record,
                state=State.QUEUED,
                resumes=record.resumes + 1,
                progress=replace(record.progress, stage="queued"),
            )
        self._submit(record)
        return record

    # -- running ---------------------------------------------------------------------------

    def _save(self, record: JobRecord, **changes: object) -> JobRecord:
        with self._board.locked():
            stored = self.store.get(record.job_id) if "state" in changes else None
            if stored is not None:  # the state on disk: another thread may have changed it
                check_move(stored.state, changes["state"])  # type: ignore[arg-type]
            updated = self.store.save(record, **changes)
            self._board.changed()
        self._metrics.saw(updated)
        return updated

    def _submit(self, record: JobRecord) -> None:
        cancel = self._board.register(record.job_id)
        # the job continues the trace of the call that started (or resumed) it
        self._pool.submit(self._run, record.job_id, cancel, spans.capture())

    def _run(
        self, job_id: str, cancel: threading.Event, context: otel_context.Context | None = None
    ) -> None:
        try:
            with traced(context, "training job", **{"job.id": job_id}) as span:
                self._run_job(job_id, cancel)
                final = self.get(job_id)
                span.set_attribute("model.family", final.spec.model_family)
                end_span(span, "job", final.state, final.error)
        finally:
            self._board.forget(job_id)

    def _stopped(self, record: JobRecord) -> JobRecord:
        """A job that stopped before it ended: INTERRUPTED while the trainer closes (it can be
        resumed), else CANCELLED."""
        state = State.INTERRUPTED if self._board.closing else State.CANCELLED
        return self._save(
            record,
            state=state,
            end_time=None if state == State.INTERRUPTED else now(),
            progress=replace(record.progress, stage=state.value.lower()),
        )

    def _run_job(self, job_id: str, cancel: threading.Event) -> None:
        box: dict[str, JobRecord] = {}

        def start(queued: JobRecord) -> None:
            box["record"] = self._save(
                queued,
                state=State.RUNNING,
                start_time=now(),
                end_time=None,
                error=None,
                progress=replace(queued.progress, stage="loading"),
            )

        if not self._board.begin(job_id, lambda: self.get(job_id), start, self._stopped):
            return
        record = box["record"]
        resumed_from = record.progress.epoch
        lock = threading.Lock()
        started = time.monotonic()

        def update(**changes: object) -> None:
            with lock:
                box["record"] = self._save(box["record"], **changes)

        def on_stage(stage: str, fraction: float) -> None:
            progress = box["record"].progress
            update(progress=replace(progress, stage=stage, fraction=max(0.0, min(1.0, fraction))))

        def on_epoch(epoch: Epoch, total: int) -> None:
            current = box["record"]
            done = [e for e in current.epochs if e.epoch < epoch.epoch] + [epoch]
            mean = sum(e.seconds for e in done) / len(done)
            best = min(e.validation_loss for e in done)
            progress = replace(
                current.progress,
                stage="training",
                epoch=epoch.epoch,
                total_epochs=total,
                seconds_left=mean * max(0, total - epoch.epoch),
                best_validation_loss=best,
                fraction=0.1 + 0.8 * epoch.epoch / max(1, total),
            )
            update(epochs=tuple(done), progress=progress)

        def on_trial(trial: TrialResult) -> None:
            current = box["record"]
            trials = tuple(sorted([*current.trials, trial], key=lambda t: t.number))
            update(trials=trials)

        hooks = Hooks(on_stage=on_stage, on_epoch=on_epoch, on_trial=on_trial, cancel=cancel)
        workdir = self.store.job_dir(job_id)
        try:
            if _exported(record):
                # the trainer stopped while the job registered: its model is kept, not retrained
                self._register(job_id, update, cancel, resumed=True)
                return
            client = self._runtime.client() if self._runtime is not None else None
            mirror = self._artifacts.job_url(job_id, "checkpoints") if self._artifacts else ""
            outcome = self._train(
                record.spec,
                self.archive,
                workdir,
                hooks,
                dask_client=client,
                checkpoint_mirror=mirror,
            )
            if cancel.is_set() and self._board.closing:
                raise Cancelled()
            self._finish(box["record"], outcome, update, resumed_from, cancel)
            log.info("job %s finished in %.1f s", job_id, time.monotonic() - started)
        except Cancelled:
            with lock:
                box["record"] = self._stopped(box["record"])
        except Exception as exc:  # noqa: BLE001 (failure() logs it with its stack)
            update(
                state=State.FAILED,
                end_time=now(),
                error=failure(exc, "job", job_id, "the trainer log"),
                progress=replace(box["record"].progress, stage="failed"),
            )

    def _finish(
        self,
        record: JobRecord,
        outcome: Outcome,
        update: Callable[..., None],
        resumed_from: int,
        cancel: threading.Event,
    ) -> None:
        if self._artifacts is not None:
            update(progress=replace(record.progress, stage="publishing", fraction=0.93))
            artifact = self._artifacts.publish(Path(outcome.saved_model_dir), record.job_id)
        else:
            artifact = normalise_uri(outcome.saved_model_dir)
        digest = directory_digest(artifact).digest
        update(
            scores=outcome.scores,
            artifact_uri=artifact,
            artifact_digest=digest,
            signature_inputs=outcome.inputs,
            signature_outputs=outcome.outputs,
            dataset_hash=outcome.dataset_hash,
            recipe_hash=outcome.recipe_hash,
            stats_hash=outcome.stats_hash,
            resumed_from_epoch=getattr(outcome, "resumed_from_epoch", resumed_from),
            progress=replace(record.progress, stage="registering", fraction=0.95),
        )
        self._register(record.job_id, update, cancel)

    def _register(
        self,
        job_id: str,
        update: Callable[..., None],
        cancel: threading.Event,
        resumed: bool = False,
    ) -> None:
        """Registers the job's exported model (waiting for the registry while it is away); the
        job then SUCCEEDED. resumed: the model was exported before the trainer restarted."""
        if resumed:
            log.info("job %s: registering the model exported before the restart", job_id)
            update(progress=replace(self.get(job_id).progress, stage="registering", fraction=0.95))
        registered_model, registered_version = "", 0
        if self._registrar is not None:

            def waiting(message: str) -> None:
                # the job stays RUNNING: its model is exported, the registry is awaited
                log.warning("job %s: %s", job_id, message)
                update(progress=replace(self.get(job_id).progress, stage=WAITING))

            with spans.step("register version") as span:
                registered_model, registered_version = self._registrar.register(
                    self.get(job_id), waiting=waiting, cancel=cancel
                )
                span.set_attribute("model.name", registered_model)
                span.set_attribute("model.version", registered_version)
        final = self.get(job_id)
        update(
            state=State.SUCCEEDED,
            end_time=now(),
            registered_model=registered_model,
            registered_version=registered_version,
            progress=replace(final.progress, stage="done", fraction=1.0, seconds_left=0.0),
        )


def _exported(record: JobRecord) -> bool:
    """Whether the job's model was exported (and only its registration is left)."""
    return bool(record.artifact_uri and record.artifact_digest and record.signature_outputs)


__all__ = ["Progress", "TrainerService"]
