"""The trainer over real gRPC: bad specs, a whole job, listing, idempotency and registration."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from weather.common.v1 import dataset_pb2
from weather.registry.v1 import registry_service_pb2 as rpb
from weather.registry.v1 import registry_service_pb2_grpc as rpb_grpc
from weather.trainer.v1 import trainer_service_pb2 as pb

from tests.trainer.service_support import (
    DATASET,
    RunningTrainer,
    start_process,
    start_trainer,
)
from weather_data.cluster import DaskRuntime
from weather_runtime.artifacts import directory_digest

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def trainer(demo_archive: Path, tmp_path: Path) -> Iterator[RunningTrainer]:
    running = start_trainer(demo_archive, tmp_path / "work", None)
    yield running
    running.stop()


def spec(**changes: object) -> pb.JobSpec:
    out = pb.JobSpec(
        dataset=dataset_pb2.DatasetRef(dataset_id=DATASET),
        model_family="persistence",
        input_steps=1,
        epochs=1,
        seed=1,
    )
    for key, value in changes.items():
        if key == "lead_hours":
            for hours in value:  # type: ignore[attr-defined]
                out.lead_times.add().FromSeconds(int(hours * 3600))
        elif key == "dataset_id":
            out.dataset.dataset_id = str(value)
        else:
            setattr(out, key, value)
    return out


def bad_fields(error: grpc.RpcError) -> list[str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    fields = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            request = error_details_pb2.BadRequest()
            detail.Unpack(request)
            fields += [v.field for v in request.field_violations]
    return fields


@pytest.mark.parametrize(
    ("changes", "code", "fields"),
    [
        ({"dataset_id": "no-such-dataset"}, grpc.StatusCode.NOT_FOUND, []),
        ({"model_family": "transformer"}, grpc.StatusCode.INVALID_ARGUMENT, ["spec.model_family"]),
        ({"epochs": -3}, grpc.StatusCode.INVALID_ARGUMENT, ["spec.epochs"]),
        ({"input_steps": 100000}, grpc.StatusCode.INVALID_ARGUMENT, ["spec.input_steps"]),
        ({"lead_hours": [1.5]}, grpc.StatusCode.INVALID_ARGUMENT, ["spec.lead_times[0]"]),
    ],
    ids=["unknown-dataset", "unknown-family", "negative-epochs", "long-window", "odd-lead"],
)
def test_bad_specs_are_refused_by_name_and_start_nothing(
    trainer: RunningTrainer, changes: dict[str, object], code: grpc.StatusCode, fields: list[str]
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        trainer.stub.StartTraining(pb.StartTrainingRequest(spec=spec(**changes)))
    assert caught.value.code() == code, caught.value.details()
    if fields:
        assert bad_fields(caught.value) == fields, caught.value.details()
    if code == grpc.StatusCode.NOT_FOUND:
        assert "no-such-dataset" in caught.value.details()
    assert "Traceback" not in caught.value.details()
    assert not trainer.stub.ListJobs(pb.ListJobsRequest()).jobs


def test_validate_only_checks_and_stores_nothing(trainer: RunningTrainer) -> None:
    response = trainer.stub.StartTraining(pb.StartTrainingRequest(spec=spec(), validate_only=True))
    assert not response.HasField("job")
    assert not trainer.stub.ListJobs(pb.ListJobsRequest()).jobs


def test_a_job_runs_to_the_end_and_is_listed(trainer: RunningTrainer) -> None:
    started = trainer.stub.StartTraining(
        pb.StartTrainingRequest(spec=spec(), request_id="first-run")
    ).job
    assert started.state == pb.JOB_STATE_QUEUED and started.creator == "tester"
    updates = trainer.follow(started.job_id)
    job = updates[-1]
    assert job.state == pb.JOB_STATE_SUCCEEDED, job.error
    assert updates[0].state in (pb.JOB_STATE_QUEUED, pb.JOB_STATE_RUNNING)
    assert job == trainer.stub.GetJob(pb.GetJobRequest(job_id=started.job_id)).job
    # every hourly lead up to a day, scored against both references
    assert [s.lead_time.seconds // 3600 for s in job.scores] == list(range(1, 25))
    for score in job.scores:
        assert score.variable == "t2m" and score.samples > 100
        assert score.model.rmse == pytest.approx(score.persistence.rmse)
        assert score.climatology.rmse > 0
    assert job.artifact_digest == directory_digest(job.artifact_uri).digest
    assert job.lineage.dataset.content_hash.startswith("sha256:")
    assert job.lineage.normalisation_stats_hash.startswith("sha256:")
    assert job.lineage.training_job_id == job.job_id
    assert job.end_time.ToSeconds() >= job.start_time.ToSeconds() >= job.create_time.ToSeconds()

    again = trainer.stub.StartTraining(pb.StartTrainingRequest(spec=spec(), request_id="first-run"))
    assert again.job.job_id == started.job_id  # the same request id: the same job
    other = trainer.stub.StartTraining(pb.StartTrainingRequest(spec=spec(seed=2))).job
    trainer.follow(other.job_id)

    first = trainer.stub.ListJobs(pb.ListJobsRequest(page={"page_size": 1}))
    assert [j.job_id for j in first.jobs] == [other.job_id] and first.page.next_page_token
    second = trainer.stub.ListJobs(
        pb.ListJobsRequest(page={"page_size": 1, "page_token": first.page.next_page_token})
    )
    assert [j.job_id for j in second.jobs] == [started.job_id]
    assert not second.page.next_page_token
    assert not trainer.stub.ListJobs(pb.ListJobsRequest(model_family="cnn")).jobs
    with pytest.raises(grpc.RpcError) as caught:
        trainer.stub.GetJob(pb.GetJobRequest(job_id="nope"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        trainer.stub.ResumeJob(pb.ResumeJobRequest(job_id=started.job_id))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_finished_jobs_are_registered_with_lineage_and_metrics(
    demo_archive: Path, tmp_path: Path
) -> None:
    registry = start_process(
        "weather_registry",
        "REGISTRY_",
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'registry.db'}",
            "ARTIFACT_ROOTS": str(tmp_path),
        },
        tmp_path / "registry.log",
    )
    trainer = start_trainer(
        demo_archive, tmp_path / "work", None, registry_address=registry.address
    )
    try:
        started = trainer.stub.StartTraining(
            pb.StartTrainingRequest(spec=spec(model_name="t2m-persistence"))
        ).job
        job = trainer.follow(started.job_id)[-1]
        assert job.state == pb.JOB_STATE_SUCCEEDED, job.error
        assert (job.registered_model, job.registered_version) == ("t2m-persistence", 1)
        with grpc.insecure_channel(registry.address) as channel:
            version = (
                rpb_grpc.RegistryServiceStub(channel)
                .GetModelVersion(
                    rpb.GetModelVersionRequest(model_name="t2m-persistence", version=1)
                )
                .version
            )
        assert version.artifact_uri == job.artifact_uri
        assert version.artifact_digest == job.artifact_digest
        assert version.lineage.training_job_id == job.job_id
        assert version.lineage.dataset.content_hash == job.lineage.dataset.content_hash
        assert version.lineage.normalisation_stats_hash == job.lineage.normalisation_stats_hash
        assert version.lineage.code_version
        rmse = [m for m in version.metrics if m.name == "rmse"]
        assert len(rmse) == 24
        assert {b.baseline for b in rmse[0].baselines} == {"persistence", "climatology"}
        assert version.signature.inputs and version.signature.outputs
    finally:
        trainer.stop()
        registry.terminate()


def test_a_search_job_records_its_trials_and_keeps_the_best(
    demo_archive: Path, tmp_path: Path, dask_runtime: DaskRuntime
) -> None:
    trainer = start_trainer(demo_archive, tmp_path / "work", dask_runtime)
    try:
        job_spec = spec(
            model_family="cnn",
            input_steps=4,
            epochs=1,
            batch_size=64,
            lead_hours=[1, 2, 3],
        )
        job_spec.hyperparameters.update({"filters": 4, "depth": 1})
        job_spec.search.method = pb.SEARCH_METHOD_GRID
        job_spec.search.parallel_trials = 2
        job_spec.search.parameters.add(name="learning_rate").values.values.extend([1e-5, 3e-3])
        started = trainer.stub.StartTraining(pb.StartTrainingRequest(spec=job_spec)).job
        updates = trainer.follow(started.job_id)
        job = updates[-1]
        assert job.state == pb.JOB_STATE_SUCCEEDED, job.error
        assert [t.number for t in job.trials] == [1, 2]
        assert sorted(t.hyperparameters["learning_rate"] for t in job.trials) == [1e-5, 3e-3]
        assert all(t.worker and t.validation_loss > 0 for t in job.trials)
        # trials were streamed as they finished, before the job ended
        assert any(u.trials and u.state == pb.JOB_STATE_RUNNING for u in updates)
        assert [s.lead_time.seconds // 3600 for s in job.scores] == [1, 2, 3]
    finally:
        trainer.stop()
