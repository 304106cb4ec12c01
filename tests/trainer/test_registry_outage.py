"""Fault: the registry is killed while the trainer finishes a job; the version is registered once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from weather.common.v1 import dataset_pb2, pagination_pb2
from weather.registry.v1 import registry_service_pb2 as rpb
from weather.registry.v1 import registry_service_pb2_grpc as rpb_grpc
from weather.trainer.v1 import trainer_service_pb2 as pb

from tests.trainer.service_support import (
    DATASET,
    RunningTrainer,
    ServiceProcess,
    start_trainer,
    wait_for,
)
from weather_trainer.service import WAITING
from weatherctl.launcher import free_port, wait_serving

pytestmark = pytest.mark.timeout(300)
MODEL = "outage-persistence"


def start_registry(port: int, folder: Path) -> ServiceProcess:
    """The registry as a process on 127.0.0.1:port over a SQLite file in folder."""
    env = {
        **os.environ,
        "REGISTRY_HOST": "127.0.0.1",
        "REGISTRY_PORT": str(port),
        "REGISTRY_METRICS_PORT": "-1",
        "REGISTRY_DATABASE_URL": f"sqlite:///{folder / 'registry.db'}",
        "REGISTRY_ARTIFACT_ROOTS": str(folder),
    }
    log = folder / "registry.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "weather_registry"], env=env, stdout=out, stderr=out
        )
    running = ServiceProcess(process, port, log)
    try:
        wait_serving(running.address, process, 120)
    except (RuntimeError, TimeoutError):
        running.terminate()
        raise AssertionError(log.read_text(errors="replace")[-3000:]) from None
    return running


def persistence_job() -> pb.StartTrainingRequest:
    return pb.StartTrainingRequest(
        spec=pb.JobSpec(
            dataset=dataset_pb2.DatasetRef(dataset_id=DATASET),
            model_family="persistence",
            input_steps=1,
            epochs=1,
            seed=1,
            model_name=MODEL,
        )
    )


def threaded_trainer(
    archive: Path, tmp_path: Path, registry_address: str, **options: object
) -> RunningTrainer:
    """A trainer under tmp_path/work registering with registry_address, running its jobs in
    threads (no child process, and no TensorFlow start, per job)."""
    return start_trainer(
        archive,
        tmp_path / "work",
        None,
        isolation="thread",
        registry_address=registry_address,
        **options,
    )


def versions(address: str) -> list[rpb.ModelVersion]:
    with grpc.insecure_channel(address) as channel:
        stub = rpb_grpc.RegistryServiceStub(channel)
        response = stub.ListModelVersions(
            rpb.ListModelVersionsRequest(
                model_name=MODEL, page=pagination_pb2.PageRequest(page_size=100)
            ),
            timeout=30,
        )
    return list(response.versions)


def test_a_job_finishing_while_the_registry_is_down_registers_once_when_it_returns(
    demo_archive: Path, tmp_path: Path
) -> None:
    port = free_port()
    registry = start_registry(port, tmp_path)
    trainer = threaded_trainer(
        demo_archive,
        tmp_path,
        registry.address,
        registration_timeout_seconds=120,
    )
    try:
        registry.kill()  # SIGKILL before the job reaches registration
        killed = time.monotonic()
        job_id = trainer.stub.StartTraining(persistence_job(), timeout=60).job.job_id
        waiting = wait_for(trainer.stub, job_id, lambda j: j.progress.stage == WAITING, 120)
        assert waiting.state == pb.JOB_STATE_RUNNING
        assert waiting.artifact_uri and Path(waiting.artifact_uri.removeprefix("file://")).is_dir()
        time.sleep(2)  # the trainer keeps retrying a registry that is down for a few seconds
        assert trainer.stub.GetJob(pb.GetJobRequest(job_id=job_id)).job.state == (
            pb.JOB_STATE_RUNNING
        )
        registry = start_registry(port, tmp_path)  # the same port, the same database
        restarted = time.monotonic()
        job = wait_for(trainer.stub, job_id, lambda j: j.state in ENDED, 120)
        registered = time.monotonic()
        assert job.state == pb.JOB_STATE_SUCCEEDED, job.error
        assert (job.registered_model, job.registered_version) == (MODEL, 1)
        found = versions(registry.address)
        assert len(found) == 1
        assert found[0].lineage.training_job_id == job_id
        assert found[0].artifact_uri == job.artifact_uri
        assert found[0].artifact_digest == job.artifact_digest
        assert found[0].tags["job_id"] == job_id
        time.sleep(3)  # longer than the trainer's longest retry delay (2 s): nothing more arrives
        assert len(versions(registry.address)) == 1
        print(
            f"registry down {restarted - killed:.1f} s; registered "
            f"{registered - restarted:.1f} s after it returned; versions 1"
        )
    finally:
        trainer.stop()
        registry.terminate()


def test_a_trainer_restarted_while_its_job_waits_registers_the_kept_model_once(
    demo_archive: Path, tmp_path: Path
) -> None:
    port = free_port()
    registry = start_registry(port, tmp_path)
    registry.kill()
    options: dict[str, object] = {
        "registry_address": registry.address,
        "registration_timeout_seconds": 120,
        "isolation": "thread",
        "auto_resume": True,
    }
    trainer = start_trainer(demo_archive, tmp_path / "work", None, **options)
    try:
        job_id = trainer.stub.StartTraining(persistence_job(), timeout=60).job.job_id
        waiting = wait_for(trainer.stub, job_id, lambda j: j.progress.stage == WAITING, 120)
        model = Path(waiting.artifact_uri.removeprefix("file://")) / "saved_model.pb"
        exported = model.stat()
    finally:
        trainer.stop()  # the waiting job is INTERRUPTED, its model kept
    registry = start_registry(port, tmp_path)
    trainer = start_trainer(demo_archive, tmp_path / "work", None, **options)
    try:
        job = wait_for(trainer.stub, job_id, lambda j: j.state in ENDED, 120)
        assert job.state == pb.JOB_STATE_SUCCEEDED, job.error
        assert job.resumes == 1
        assert (job.registered_model, job.registered_version) == (MODEL, 1)
        # registered, not trained again: the same SavedModel file, untouched
        assert (job.artifact_uri, job.artifact_digest) == (
            waiting.artifact_uri,
            waiting.artifact_digest,
        )
        assert (model.stat().st_ino, model.stat().st_mtime_ns) == (
            exported.st_ino,
            exported.st_mtime_ns,
        )
        found = versions(registry.address)
        assert [v.lineage.training_job_id for v in found] == [job_id]
        assert found[0].signature.inputs and found[0].signature.outputs
    finally:
        trainer.stop()
        registry.terminate()


def test_calls_to_a_stalled_registry_time_out_and_the_retries_still_make_one_version(
    demo_archive: Path, tmp_path: Path
) -> None:
    registry = start_registry(free_port(), tmp_path)
    trainer = threaded_trainer(
        demo_archive,
        tmp_path,
        registry.address,
        registry_timeout_seconds=1,  # a call's deadline: a frozen registry times calls out
        registration_timeout_seconds=120,
    )
    try:
        first = trainer.stub.StartTraining(persistence_job(), timeout=60).job.job_id
        assert wait_for(trainer.stub, first, lambda j: j.state in ENDED, 120).registered_version
        # the trainer's connection is up; the registry freezes: calls reach it but get no answer
        registry.process.send_signal(signal.SIGSTOP)
        job_id = trainer.stub.StartTraining(persistence_job(), timeout=60).job.job_id
        waiting = wait_for(trainer.stub, job_id, lambda j: j.progress.stage == WAITING, 120)
        assert waiting.state == pb.JOB_STATE_RUNNING
        time.sleep(2)  # more calls time out; the frozen registry still holds them all
        registry.process.send_signal(signal.SIGCONT)  # it now runs every call it received
        job = wait_for(trainer.stub, job_id, lambda j: j.state in ENDED, 120)
        assert job.state == pb.JOB_STATE_SUCCEEDED, job.error
        assert (job.registered_model, job.registered_version) == (MODEL, 2)
        time.sleep(3)
        found = versions(registry.address)
        assert sorted(v.lineage.training_job_id for v in found) == sorted([first, job_id])
    finally:
        if registry.process.poll() is None:
            registry.process.send_signal(signal.SIGCONT)
        trainer.stop()
        registry.terminate()


def test_a_registry_that_stays_down_fails_the_job_and_keeps_the_artifact(
    demo_archive: Path, tmp_path: Path
) -> None:
    registry = start_registry(free_port(), tmp_path)
    address = registry.address
    registry.kill()
    trainer = threaded_trainer(
        demo_archive,
        tmp_path,
        address,
        registration_timeout_seconds=3,
    )
    try:
        job_id = trainer.stub.StartTraining(persistence_job(), timeout=60).job.job_id
        job = wait_for(trainer.stub, job_id, lambda j: j.state in ENDED, 120)
        assert job.state == pb.JOB_STATE_FAILED
        assert job.error.code == "UNAVAILABLE", job.error
        assert "TRAINER_REGISTRATION_TIMEOUT_SECONDS" in job.error.message
        assert f"kept at {job.artifact_uri}" in job.error.message
        assert Path(job.artifact_uri.removeprefix("file://")).is_dir()
    finally:
        trainer.stop()


def test_a_registry_that_refuses_the_version_fails_the_job_at_once_keeping_the_artifact(
    demo_archive: Path, tmp_path: Path
) -> None:
    """A refusal is not an outage: the artifact lies outside the registry's allowed roots, the
    registry answers INVALID_ARGUMENT, the job fails FAILED_PRECONDITION without retrying."""
    (tmp_path / "elsewhere").mkdir()
    registry = start_registry(free_port(), tmp_path / "elsewhere")
    trainer = threaded_trainer(
        demo_archive,
        tmp_path,
        registry.address,
        registration_timeout_seconds=120,
    )
    try:
        job_id = trainer.stub.StartTraining(persistence_job(), timeout=60).job.job_id
        job = wait_for(trainer.stub, job_id, lambda j: j.state in ENDED, 120)
        assert job.state == pb.JOB_STATE_FAILED
        assert job.error.code == "FAILED_PRECONDITION", job.error
        assert "the registry refused to register the model: INVALID_ARGUMENT" in job.error.message
        assert f"kept at {job.artifact_uri}" in job.error.message
        assert job.progress.stage != WAITING
        assert Path(job.artifact_uri.removeprefix("file://")).is_dir()
        assert versions(registry.address) == []
    finally:
        trainer.stop()
        registry.terminate()


ENDED = (
    pb.JOB_STATE_SUCCEEDED,
    pb.JOB_STATE_FAILED,
    pb.JOB_STATE_CANCELLED,
    pb.JOB_STATE_INTERRUPTED,
)
