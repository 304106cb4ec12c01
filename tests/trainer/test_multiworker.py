"""Two trainer processes on loopback train one job in sync (MultiWorkerMirroredStrategy from
TF_CONFIG): the chief records the job, the follower joins it; both end with the same weights."""

from __future__ import annotations

import json
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
from weather.common.v1 import dataset_pb2
from weather.trainer.v1 import trainer_service_pb2 as pb
from weather.trainer.v1 import trainer_service_pb2_grpc as pb_grpc

from tests.trainer.service_support import DATASET, saved_model_forecast, start_process
from weatherctl.launcher import free_port

pytestmark = pytest.mark.timeout(600)


def _tf_config(ports: list[int], index: int) -> str:
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


def test_a_chief_and_a_follower_train_one_job_in_sync(demo_archive: Path, tmp_path: Path) -> None:
    ports = [free_port(), free_port()]
    settings = {
        "ARCHIVE_URL": str(demo_archive),
        "WORK_ROOT": str(tmp_path / "work"),  # shared, as a ReadWriteMany volume in the chart
        "USE_DASK": "false",
    }
    processes = [
        start_process(
            "weather_trainer",
            "TRAINER_",
            settings,
            tmp_path / f"trainer-{index}.log",
            env={"TF_CONFIG": _tf_config(ports, index), "CUDA_VISIBLE_DEVICES": ""},
        )
        for index in range(2)
    ]
    chief, follower = processes
    try:
        spec = pb.JobSpec(
            dataset=dataset_pb2.DatasetRef(dataset_id=DATASET),
            model_family="cnn",
            input_steps=4,
            epochs=2,
            seed=3,
            hyperparameters={"filters": 4, "depth": 1, "kernel_size": 3},
            strategy=pb.DISTRIBUTION_STRATEGY_MULTI_WORKER_MIRRORED,
        )
        for hours in (1, 2):
            spec.lead_times.add().FromSeconds(hours * 3600)
        with grpc.insecure_channel(follower.address) as channel:
            with pytest.raises(grpc.RpcError) as refused:
                pb_grpc.TrainerServiceStub(channel).StartTraining(
                    pb.StartTrainingRequest(spec=spec)
                )
            assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "follower" in (refused.value.details() or "")
        with grpc.insecure_channel(chief.address) as channel:
            stub = pb_grpc.TrainerServiceStub(channel)
            job = stub.StartTraining(pb.StartTrainingRequest(spec=spec)).job
            updates = [
                m.job for m in stub.WatchJob(pb.WatchJobRequest(job_id=job.job_id), timeout=500)
            ]
        final = updates[-1]
        logs = "\n".join(p.log.read_text(errors="replace")[-3000:] for p in processes)
        assert final.state == pb.JOB_STATE_SUCCEEDED, (final.error, logs)
        assert [e.epoch for e in final.epochs] == [1, 2]
        assert all(np.isfinite(e.train_loss) for e in final.epochs)
        # the follower ran its part of the same job: its own copy of the model lands in a
        # scratch folder, and synchronous training leaves it with exactly the chief's weights
        scratch = list((tmp_path / "work" / "jobs" / job.job_id / "followers").glob("*"))
        assert len(scratch) == 1, logs
        # the chief may report success while the follower still exports its copy
        finished = f"worker part of job {job.job_id} finished"
        deadline = time.monotonic() + 120
        while finished not in follower.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        chief_out = saved_model_forecast(
            Path(final.artifact_uri.removeprefix("file://")), 1_553_472_000, 2.0
        )
        follower_out = saved_model_forecast(scratch[0] / "saved_model", 1_553_472_000, 2.0)
        np.testing.assert_array_equal(chief_out, follower_out)
        assert np.all(np.isfinite(chief_out))
        assert finished in follower.log.read_text()
    finally:
        for process in processes:
            process.terminate()
