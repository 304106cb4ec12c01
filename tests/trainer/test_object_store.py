"""Checkpoints and SavedModels on an object store (S3 on loopback): a job interrupted on one
trainer resumes on another that has no local checkpoints; its model is published and verified."""

from __future__ import annotations

import shutil
from pathlib import Path

import fsspec
import numpy as np
import pytest
from weather.common.v1 import dataset_pb2
from weather.trainer.v1 import trainer_service_pb2 as pb

from tests.object_store import s3_endpoint
from tests.trainer.service_support import (
    DATASET,
    saved_model_forecast,
    start_trainer,
    wait_for,
)
from weather_runtime.artifacts import directory_digest

pytestmark = pytest.mark.timeout(600)
ROOT = "s3://models/trainer"
EPOCHS = 4


def _spec() -> pb.JobSpec:
    spec = pb.JobSpec(
        dataset=dataset_pb2.DatasetRef(dataset_id=DATASET),
        model_family="cnn",
        input_steps=4,
        epochs=EPOCHS,
        seed=5,
        hyperparameters={"filters": 4, "depth": 1, "kernel_size": 3},
    )
    for hours in (1, 3):
        spec.lead_times.add().FromSeconds(hours * 3600)
    return spec


def test_a_job_resumes_from_mirrored_checkpoints_and_publishes_its_model(
    demo_archive: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    with s3_endpoint("models"):
        fs = fsspec.filesystem("s3", skip_instance_cache=True)
        first = start_trainer(demo_archive, work, None, artifact_root=ROOT)
        try:
            job = first.stub.StartTraining(pb.StartTrainingRequest(spec=_spec())).job
            wait_for(first.stub, job.job_id, lambda j: j.progress.epoch >= 2)
            mirrored = fs.find(f"{ROOT}/jobs/{job.job_id}/checkpoints")
            assert any(p.endswith("latest.weights.h5") for p in mirrored), mirrored
        finally:
            first.stop()  # the running job stops and stays resumable
        # the next trainer runs on a node without the old one's scratch space
        shutil.rmtree(work / "jobs" / job.job_id / "checkpoints")

        second = start_trainer(demo_archive, work, None, artifact_root=ROOT)
        try:
            interrupted = second.stub.GetJob(pb.GetJobRequest(job_id=job.job_id)).job
            assert interrupted.state == pb.JOB_STATE_INTERRUPTED
            done_before = interrupted.progress.epoch
            assert 2 <= done_before < EPOCHS
            second.stub.ResumeJob(pb.ResumeJobRequest(job_id=job.job_id))
            final = second.follow(job.job_id)[-1]
        finally:
            second.stop()
        assert final.state == pb.JOB_STATE_SUCCEEDED, final.error
        assert final.resumed_from_epoch >= done_before  # not trained again from scratch
        assert [e.epoch for e in final.epochs] == list(range(1, EPOCHS + 1))

        fs.invalidate_cache()  # the trainer wrote meanwhile
        url = f"{ROOT}/jobs/{job.job_id}/saved_model"
        assert final.artifact_uri == url
        assert final.artifact_digest == directory_digest(url).digest
        # once published, the work volume keeps only the job record
        assert not (work / "jobs" / job.job_id / "saved_model").exists()
        assert not fs.exists(f"{ROOT}/jobs/{job.job_id}/checkpoints")
        fetched = tmp_path / "fetched"
        fs.get(url, str(fetched), recursive=True)
        assert directory_digest(str(fetched)).digest == final.artifact_digest
        forecast = saved_model_forecast(fetched, 1_553_558_400, 3.0)
        assert forecast.shape == (1, 33, 49) and np.all(np.isfinite(forecast))
