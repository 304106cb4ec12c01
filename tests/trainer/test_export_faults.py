"""SavedModel export to a model store that fills up or turns read-only: a clean status naming the
store, no half-written model under its final name, earlier models intact, a retry that succeeds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from weather.trainer.v1 import trainer_service_pb2 as pb

from tests.faults_fs import FaultyStore, faulty_store, lift_file_size_limit, limit_file_size
from tests.trainer.service_support import RunningTrainer, start_trainer
from tests.trainer.test_service import spec
from weather_data.store_errors import StoreFull, StoreUnwritable
from weather_runtime.artifacts import directory_digest
from weather_trainer import export
from weather_trainer.model import ForecastContext
from weather_trainer.models import FAMILIES

pytestmark = pytest.mark.timeout(600)
ROOM = 16 * 1024  # what still fits once "full" (root): less than any SavedModel
# Without root, "full" is a limit on the size of any one file this process writes: under the
# SavedModel's variables (1.5 MB), over its other files and a job record.
FILE_LIMIT = 512 * 1024


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FaultyStore]:
    with faulty_store(tmp_path / "models", 64 * 2**20) as faulty:
        yield faulty


def room(store: FaultyStore) -> int:
    return ROOM if store.mounted else FILE_LIMIT


def full_reason(store: FaultyStore) -> str:
    return "No space left on device" if store.mounted else "File too large"


def unwritable_reason(store: FaultyStore) -> str:
    return "Read-only file system" if store.mounted else "Permission denied"


def test_export_to_a_full_or_read_only_folder_leaves_no_partial_model(
    tiny_context: ForecastContext, store: FaultyStore
) -> None:
    model = FAMILIES["persistence"].build(tiny_context, {})
    export.export(model, tiny_context, store.path / "earlier", {"n": 1})
    earlier = store.files()

    store.make_full(room(store), limit_file_size)  # the export writes in this process
    try:
        with pytest.raises(StoreFull) as full:
            export.export(model, tiny_context, store.path / "next", {"n": 2})
    finally:
        store.make_roomy(lift_file_size_limit)
    assert full.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert str(store.path) in full.value.message and full_reason(store) in full.value.message
    assert store.files() == earlier  # no next, no next.partial; the earlier model untouched
    assert sorted(p.name for p in store.path.iterdir()) == ["earlier"]

    store.make_unwritable()
    with pytest.raises(StoreUnwritable) as unwritable:
        export.export(model, tiny_context, store.path / "next", {"n": 2})
    store.make_writable()
    assert unwritable.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert unwritable_reason(store) in unwritable.value.message
    assert store.files() == earlier

    export.export(model, tiny_context, store.path / "next", {"n": 2})  # the retry
    assert export.load_forecast(store.path / "next") is not None
    assert {k: v for k, v in store.files().items() if k.startswith("earlier/")} == earlier


def run_job(trainer: RunningTrainer, seed: int) -> pb.Job:
    """The smallest job the trainer tests run (persistence, one input step), to its end."""
    started = trainer.stub.StartTraining(pb.StartTrainingRequest(spec=spec(seed=seed))).job
    job: pb.Job = trainer.follow(started.job_id)[-1]
    return job


def assert_failed_cleanly(job: pb.Job, code: str, reasons: tuple[str, ...], where: str) -> None:
    assert job.state == pb.JOB_STATE_FAILED, job
    assert job.error.code == code, job.error
    assert any(r in job.error.message for r in reasons), job.error.message
    assert where in job.error.message and "Traceback" not in job.error.message
    assert not job.artifact_uri and not job.registered_version


def test_a_job_whose_model_store_is_full_or_read_only_fails_cleanly_and_a_retry_publishes(
    demo_archive: Path, tmp_path: Path, store: FaultyStore
) -> None:
    work = tmp_path / "work"
    # jobs in threads: seconds each instead of a TensorFlow start per job (the export in the
    # training process is the test above; publishing runs in the server either way)
    trainer = start_trainer(
        demo_archive, work, None, artifact_root=str(store.path), isolation="thread"
    )
    try:
        first = run_job(trainer, 1)
        assert first.state == pb.JOB_STATE_SUCCEEDED, first.error
        assert first.artifact_uri.endswith(f"/jobs/{first.job_id}/saved_model")
        stored = store.files()

        # full: the model store (root), or any big file this process or its training child
        # writes, the exported model in the work folder included (without root)
        store.make_full(room(store), limit_file_size)
        try:
            full = run_job(trainer, 2)
        finally:
            store.make_roomy(lift_file_size_limit)
        where = str(store.path) if store.mounted else str(tmp_path)
        assert_failed_cleanly(full, "RESOURCE_EXHAUSTED", (full_reason(store),), where)
        assert store.files() == stored  # nothing of the failed job, the first model untouched
        assert directory_digest(first.artifact_uri).digest == first.artifact_digest

        store.make_unwritable()
        try:
            read_only = run_job(trainer, 3)
        finally:
            store.make_writable()
        reasons = (unwritable_reason(store),)
        assert_failed_cleanly(read_only, "FAILED_PRECONDITION", reasons, str(store.path))
        assert store.files() == stored

        retry = run_job(trainer, 2)
        assert retry.state == pb.JOB_STATE_SUCCEEDED, retry.error
        assert directory_digest(retry.artifact_uri).digest == retry.artifact_digest
        assert directory_digest(first.artifact_uri).digest == first.artifact_digest
        leftovers = [p for p in (store.path / "jobs").rglob("*.partial*")]
        assert leftovers == []
    finally:
        trainer.stop()
