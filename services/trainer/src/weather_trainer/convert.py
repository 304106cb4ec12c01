"""Translation between trainer protobuf messages and the domain's specs and job records."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

from weather.common.v1 import dataset_pb2, lineage_pb2
from weather.trainer.v1 import trainer_service_pb2 as pb

from weather_runtime.errors import FieldViolation, InvalidArgument
from weather_runtime.operations import error_to_pb
from weather_runtime.work import State
from weather_trainer.jobs import JobRecord
from weather_trainer.spec import (
    MAX_SCORED_HOURS,
    LeadScores,
    ParameterRange,
    SearchSpec,
    SystemScores,
    TrainSpec,
)

STATES = {
    State.QUEUED: pb.JOB_STATE_QUEUED,
    State.RUNNING: pb.JOB_STATE_RUNNING,
    State.SUCCEEDED: pb.JOB_STATE_SUCCEEDED,
    State.FAILED: pb.JOB_STATE_FAILED,
    State.CANCELLED: pb.JOB_STATE_CANCELLED,
    State.INTERRUPTED: pb.JOB_STATE_INTERRUPTED,
}
STATE_NAMES = {number: name for name, number in STATES.items()}
STRATEGY_NAMES = {
    pb.DISTRIBUTION_STRATEGY_UNSPECIFIED: "default",
    pb.DISTRIBUTION_STRATEGY_DEFAULT: "default",
    pb.DISTRIBUTION_STRATEGY_MIRRORED: "mirrored",
    pb.DISTRIBUTION_STRATEGY_MULTI_WORKER_MIRRORED: "multi_worker_mirrored",
}
STRATEGY_NUMBERS = {
    "default": pb.DISTRIBUTION_STRATEGY_DEFAULT,
    "mirrored": pb.DISTRIBUTION_STRATEGY_MIRRORED,
    "multi_worker_mirrored": pb.DISTRIBUTION_STRATEGY_MULTI_WORKER_MIRRORED,
}
SEARCH_METHODS = {pb.SEARCH_METHOD_GRID: "grid", pb.SEARCH_METHOD_RANDOM: "random"}


def _seconds(duration: object) -> float:
    return float(duration.seconds) + float(duration.nanos) / 1e9  # type: ignore[attr-defined]


def _search(search: pb.SearchSpec) -> SearchSpec:
    problems = []
    if search.method not in SEARCH_METHODS:
        problems.append(FieldViolation("spec.search.method", "must be GRID or RANDOM"))
    parameters = []
    for index, item in enumerate(search.parameters):
        at = f"spec.search.parameters[{index}]"
        kind = item.WhichOneof("domain")
        if kind is None:
            problems.append(FieldViolation(at, "needs values, uniform or log_uniform"))
            continue
        if kind == "values":
            values = tuple(item.values.values)
            if not values or not all(math.isfinite(v) for v in values):
                problems.append(FieldViolation(f"{at}.values", "needs finite values"))
            parameters.append(ParameterRange(item.name, values=values))
            continue
        interval = item.uniform if kind == "uniform" else item.log_uniform
        log = kind == "log_uniform"
        if not (math.isfinite(interval.low) and math.isfinite(interval.high)) or (
            interval.high < interval.low
        ):
            problems.append(FieldViolation(f"{at}.{kind}", "needs finite low <= high"))
        elif log and interval.low <= 0:
            problems.append(FieldViolation(f"{at}.{kind}.low", "must be positive"))
        parameters.append(ParameterRange(item.name, low=interval.low, high=interval.high, log=log))
    if problems:
        raise InvalidArgument(problems)
    return SearchSpec(
        method=SEARCH_METHODS[search.method],
        parameters=tuple(parameters),
        max_trials=search.max_trials,
        parallel_trials=search.parallel_trials,
    )


def spec_from_pb(spec: pb.JobSpec, dataset_step: Callable[[str, str], float]) -> TrainSpec:
    """The domain spec of a JobSpec; dataset_step(id, hash) gives the dataset's step in seconds
    (raising NotFound for an unknown dataset). Lead times become steps of the model."""
    problems = []
    if not spec.HasField("dataset") or not spec.dataset.dataset_id:
        raise InvalidArgument.field("spec.dataset.dataset_id", "is required")
    if not spec.model_family:
        problems.append(FieldViolation("spec.model_family", "is required"))
    if spec.strategy not in STRATEGY_NAMES:
        problems.append(FieldViolation("spec.strategy", f"unknown strategy {spec.strategy}"))
    for name, value in spec.hyperparameters.items():
        if not math.isfinite(value):
            problems.append(FieldViolation(f"spec.hyperparameters[{name!r}]", "must be finite"))
    step = _seconds(spec.time_step) if spec.HasField("time_step") else 0.0
    if step < 0:
        problems.append(FieldViolation("spec.time_step", "must be positive"))
    if problems:
        raise InvalidArgument(problems)
    model_step = step or dataset_step(spec.dataset.dataset_id, spec.dataset.content_hash)
    leads = []
    for index, lead in enumerate(spec.lead_times):
        seconds = _seconds(lead)
        steps = seconds / model_step if model_step > 0 else 0.0
        if seconds <= 0 or abs(steps - round(steps)) > 1e-9:
            problems.append(
                FieldViolation(
                    f"spec.lead_times[{index}]",
                    f"must be a positive multiple of the time step ({model_step:g} s)",
                )
            )
        else:
            leads.append(round(steps))
    max_lead_hours = spec.scoring.max_lead_hours if spec.HasField("scoring") else 0
    if not 0 <= max_lead_hours <= MAX_SCORED_HOURS:
        problems.append(
            FieldViolation(
                "spec.scoring.max_lead_hours",
                f"must be within [0, {MAX_SCORED_HOURS}] hours, got {max_lead_hours}",
            )
        )
    if problems:
        raise InvalidArgument(problems)
    return TrainSpec(
        dataset_id=spec.dataset.dataset_id,
        content_hash=spec.dataset.content_hash,
        model_family=spec.model_family,
        hyperparameters=dict(spec.hyperparameters),
        input_steps=spec.input_steps,
        time_step_seconds=model_step,
        lead_steps=tuple(sorted(set(leads))),
        epochs=spec.epochs,
        early_stopping_patience=spec.early_stopping_patience,
        seed=spec.seed,
        batch_size=spec.batch_size,
        strategy=STRATEGY_NAMES[spec.strategy],
        search=_search(spec.search) if spec.HasField("search") else None,
        variables=tuple(spec.variables),
        model_name=spec.model_name,
        description=spec.description,
        max_lead_hours=max_lead_hours,
    )


def spec_to_pb(spec: TrainSpec) -> pb.JobSpec:
    """The JobSpec of a domain spec (lead steps back to durations with its time step)."""
    step_seconds = spec.time_step_seconds
    out = pb.JobSpec(
        dataset=dataset_pb2.DatasetRef(dataset_id=spec.dataset_id, content_hash=spec.content_hash),
        model_family=spec.model_family,
        hyperparameters=spec.hyperparameters,
        input_steps=spec.input_steps,
        epochs=spec.epochs,
        early_stopping_patience=spec.early_stopping_patience,
        seed=spec.seed,
        batch_size=spec.batch_size,
        strategy=STRATEGY_NUMBERS.get(spec.strategy, pb.DISTRIBUTION_STRATEGY_UNSPECIFIED),
        variables=list(spec.variables),
        model_name=spec.model_name,
        description=spec.description,
    )
    if spec.max_lead_hours:
        out.scoring.max_lead_hours = spec.max_lead_hours
    if spec.time_step_seconds:
        out.time_step.FromSeconds(int(spec.time_step_seconds))
    for steps in spec.lead_steps:
        out.lead_times.add().FromSeconds(round(steps * step_seconds))
    if spec.search is not None:
        method = {v: k for k, v in SEARCH_METHODS.items()}[spec.search.method]
        out.search.method = method
        out.search.max_trials = spec.search.max_trials
        out.search.parallel_trials = spec.search.parallel_trials
        for item in spec.search.parameters:
            parameter = out.search.parameters.add(name=item.name)
            if item.values:
                parameter.values.values.extend(item.values)
            elif item.log:
                parameter.log_uniform.low, parameter.log_uniform.high = item.low, item.high
            else:
                parameter.uniform.low, parameter.uniform.high = item.low, item.high
    return out


def _scores(scores: SystemScores) -> pb.Scores:
    return pb.Scores(rmse=scores.rmse, bias=scores.bias, mae=scores.mae, acc=scores.acc)


def lead_score_to_pb(lead: LeadScores) -> pb.LeadScore:
    """One variable and lead time of the score table."""
    out = pb.LeadScore(
        variable=lead.variable,
        model=_scores(lead.model),
        persistence=_scores(lead.persistence),
        climatology=_scores(lead.climatology),
        skill_score=lead.skill_score,
        samples=lead.samples,
        method=lead.method,
    )
    out.lead_time.FromSeconds(round(lead.lead_seconds))
    return out


def _stamp(target: object, value: datetime | None) -> None:
    if value is not None:
        target.FromDatetime(value)  # type: ignore[attr-defined]


def job_to_pb(record: JobRecord) -> pb.Job:
    """The Job message of a record."""
    job = pb.Job(
        job_id=record.job_id,
        spec=spec_to_pb(record.spec),
        state=STATES[record.state],
        progress=pb.JobProgress(
            stage=record.progress.stage,
            epoch=record.progress.epoch,
            total_epochs=record.progress.total_epochs,
            fraction=record.progress.fraction,
            seconds_left=record.progress.seconds_left,
            best_validation_loss=record.progress.best_validation_loss,
        ),
        epochs=[
            pb.EpochSummary(
                epoch=e.epoch,
                train_loss=e.train_loss,
                validation_loss=e.validation_loss,
                seconds=e.seconds,
            )
            for e in record.epochs
        ],
        trials=[
            pb.Trial(
                number=t.number,
                hyperparameters=t.hyperparameters,
                validation_loss=t.validation_loss,
                epochs=t.epochs,
                seconds=t.seconds,
                worker=t.worker,
            )
            for t in record.trials
        ],
        scores=[lead_score_to_pb(s) for s in record.scores],
        artifact_uri=record.artifact_uri,
        artifact_digest=record.artifact_digest,
        registered_model=record.registered_model,
        registered_version=record.registered_version,
        lineage=lineage_pb2.Lineage(
            dataset=dataset_pb2.DatasetRef(
                dataset_id=record.spec.dataset_id,
                content_hash=record.dataset_hash or record.spec.content_hash,
            ),
            recipe_hash=record.recipe_hash,
            normalisation_stats_hash=record.stats_hash,
            training_job_id=record.job_id,
            code_version=record.code_version,
        ),
        creator=record.creator,
        resumes=record.resumes,
        resumed_from_epoch=record.resumed_from_epoch,
    )
    if record.error is not None:
        job.error.CopyFrom(error_to_pb(record.error))
    _stamp(job.create_time, record.create_time)
    _stamp(job.start_time, record.start_time)
    _stamp(job.end_time, record.end_time)
    return job
