"""Trainer jobs over real gRPC: cancel a running job; kill -9 the trainer, restart, resume."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import psutil
import pytest
from weather.common.v1 import dataset_pb2
from weather.trainer.v1 import trainer_service_pb2 as pb
from weather.trainer.v1 import trainer_service_pb2_grpc as pb_grpc

from tests.trainer.service_support import (
    DATASET,
    start_process,
    start_trainer,
    wait_for,
)

pytestmark = pytest.mark.timeout(900)
TINY = {"filters": 4, "depth": 1, "kernel_size": 3}


def cnn_spec(epochs: int) -> pb.JobSpec:
    spec = pb.JobSpec(
        dataset=dataset_pb2.DatasetRef(dataset_id=DATASET),
        model_family="cnn",
        input_steps=24,
        epochs=epochs,
        seed=7,
        hyperparameters=TINY,
    )
    for hours in (1, 6, 24):
        spec.lead_times.add().FromSeconds(hours * 3600)
    return spec


def test_cancel_stops_a_running_job_and_registers_nothing(
    demo_archive: Path, tmp_path: Path
) -> None:
    trainer = start_trainer(demo_archive, tmp_path / "work", None)
    try:
        job = trainer.stub.StartTraining(pb.StartTrainingRequest(spec=cnn_spec(200))).job
        wait_for(trainer.stub, job.job_id, lambda j: j.progress.epoch >= 1)
        asked = time.monotonic()
        cancelled = trainer.stub.CancelJob(pb.CancelJobRequest(job_id=job.job_id), timeout=60).job
        assert cancelled.state == pb.JOB_STATE_CANCELLED, cancelled
        assert time.monotonic() - asked < 30
        assert cancelled.progress.epoch < 200 and not cancelled.registered_version
        assert not cancelled.artifact_uri
        # cancelling again answers with the final state; a cancelled job cannot be resumed
        again = trainer.stub.CancelJob(pb.CancelJobRequest(job_id=job.job_id)).job
        assert again.state == pb.JOB_STATE_CANCELLED
        with pytest.raises(grpc.RpcError) as caught:
            trainer.stub.ResumeJob(pb.ResumeJobRequest(job_id=job.job_id))
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    finally:
        trainer.stop()


def test_a_killed_trainer_resumes_its_job_from_the_last_checkpoint(
    demo_archive: Path, tmp_path: Path
) -> None:
    settings = {
        "ARCHIVE_URL": str(demo_archive),
        "WORK_ROOT": str(tmp_path / "work"),
        "USE_DASK": "false",
    }
    first = start_process("weather_trainer", "TRAINER_", settings, tmp_path / "trainer-1.log")
    epochs = 6
    try:
        with grpc.insecure_channel(first.address) as channel:
            stub = pb_grpc.TrainerServiceStub(channel)
            job = stub.StartTraining(pb.StartTrainingRequest(spec=cnn_spec(epochs))).job
            wait_for(stub, job.job_id, lambda j: j.progress.epoch >= 2)
        training = psutil.Process(first.process.pid).children()
        assert training, "the job runs in a child process of the trainer"
        first.kill()
        # the training process notices its trainer is gone and ends too: no orphan keeps
        # writing checkpoints into the job's folder
        _, alive = psutil.wait_procs(training, timeout=15)
        assert not alive
    finally:
        first.terminate()

    second = start_process("weather_trainer", "TRAINER_", settings, tmp_path / "trainer-2.log")
    try:
        with grpc.insecure_channel(second.address) as channel:
            stub = pb_grpc.TrainerServiceStub(channel)
            interrupted = stub.GetJob(pb.GetJobRequest(job_id=job.job_id)).job
            assert interrupted.state == pb.JOB_STATE_INTERRUPTED
            done_before = interrupted.progress.epoch
            assert 2 <= done_before < epochs
            before = list(interrupted.epochs)
            assert [e.epoch for e in before] == list(range(1, done_before + 1))
            resumed = stub.ResumeJob(pb.ResumeJobRequest(job_id=job.job_id)).job
            assert resumed.state == pb.JOB_STATE_QUEUED and resumed.resumes == 1
            updates = [
                m.job for m in stub.WatchJob(pb.WatchJobRequest(job_id=job.job_id), timeout=600)
            ]
        final = updates[-1]
        assert final.state == pb.JOB_STATE_SUCCEEDED, final.error
        assert final.resumed_from_epoch >= done_before
        # the epochs before the kill were not trained again: their records (losses, seconds)
        # are the ones written before the kill, and training went on from the next epoch
        assert [e.epoch for e in final.epochs] == list(range(1, epochs + 1))
        assert list(final.epochs[:done_before]) == before
        assert final.scores and final.artifact_digest.startswith("sha256:")
    finally:
        second.terminate()


def test_a_training_process_that_dies_fails_its_job_and_not_the_trainer(
    demo_archive: Path, tmp_path: Path
) -> None:
    trainer = start_trainer(demo_archive, tmp_path / "work", None)
    try:
        before = {c.pid for c in psutil.Process().children()}
        job = trainer.stub.StartTraining(pb.StartTrainingRequest(spec=cnn_spec(200))).job
        wait_for(trainer.stub, job.job_id, lambda j: j.progress.epoch >= 1)
        training = [c for c in psutil.Process().children() if c.pid not in before]
        assert len(training) == 1
        for child in training:
            child.kill()  # as the kernel's out-of-memory killer would
        failed = wait_for(trainer.stub, job.job_id, lambda j: j.state == pb.JOB_STATE_FAILED)
        assert failed.error.code == "INTERNAL"
        assert "training process exited" in failed.error.message
        assert "Traceback" not in failed.error.message
        # the trainer itself lives on and runs the next job
        again = trainer.stub.StartTraining(pb.StartTrainingRequest(spec=cnn_spec(1))).job
        final = trainer.follow(again.job_id)[-1]
        assert final.state == pb.JOB_STATE_SUCCEEDED, final.error
    finally:
        trainer.stop()
