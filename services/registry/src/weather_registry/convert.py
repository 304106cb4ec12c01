"""Translation between registry protobuf messages and domain records."""

from __future__ import annotations

from datetime import datetime, timedelta

from google.protobuf import duration_pb2, timestamp_pb2
from weather.common.v1 import dataset_pb2, lineage_pb2
from weather.registry.v1 import registry_service_pb2 as pb

from weather_registry.records import (
    AliasChange,
    Comparison,
    Event,
    GateReport,
    Lineage,
    Metric,
    MetricFilter,
    MetricGoal,
    ModelVersion,
    NewVersion,
    RegisteredModel,
    Signature,
    TagFilter,
    TensorSpec,
    VerifyOutcome,
    VersionQuery,
)
from weather_runtime.errors import InvalidArgument


def timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(moment)
    return message


def duration(delta: timedelta) -> duration_pb2.Duration:
    message = duration_pb2.Duration()
    message.FromTimedelta(delta)
    return message


def model_to_pb(model: RegisteredModel) -> pb.RegisteredModel:
    return pb.RegisteredModel(
        name=model.name,
        description=model.description,
        tags=model.tags,
        create_time=timestamp(model.create_time),
        created_by=model.created_by,
        update_time=timestamp(model.update_time),
        latest_version=model.latest_version,
        aliases=model.aliases,
    )


def _spec_to_pb(spec: TensorSpec) -> pb.TensorSpec:
    return pb.TensorSpec(name=spec.name, dtype=spec.dtype, shape=list(spec.shape))  # type: ignore[arg-type]


def _spec_from_pb(spec: pb.TensorSpec) -> TensorSpec:
    return TensorSpec(spec.name, int(spec.dtype), tuple(spec.shape))


def metric_to_pb(metric: Metric) -> pb.Metric:
    return pb.Metric(
        name=metric.name,
        variable=metric.variable,
        lead_time=duration(metric.lead_time),
        value=metric.value,
        goal=int(metric.goal),  # type: ignore[arg-type]
        baselines=[
            pb.BaselineScore(baseline=k, value=v) for k, v in sorted(metric.baselines.items())
        ],
        method=metric.method,
    )


def lead_time_from_pb(value: duration_pb2.Duration, field: str) -> timedelta:
    """A Duration as a timedelta; one beyond timedelta's range (999999999 days) is refused."""
    try:
        return value.ToTimedelta()
    except OverflowError:
        raise InvalidArgument.field(field, "is out of range") from None


def metric_from_pb(metric: pb.Metric, field: str = "metrics.lead_time") -> Metric:
    baselines: dict[str, float] = {}
    for score in metric.baselines:
        baselines[score.baseline] = score.value
    goal = metric.goal if metric.goal in (1, 2, 3) else 0
    return Metric(
        name=metric.name,
        variable=metric.variable,
        lead_time=lead_time_from_pb(metric.lead_time, field),
        value=metric.value,
        goal=MetricGoal(goal) if goal else goal,  # type: ignore[arg-type]
        baselines=baselines,
        method=metric.method,
    )


def version_to_pb(version: ModelVersion) -> pb.ModelVersion:
    lineage = version.lineage
    return pb.ModelVersion(
        model_name=version.model_name,
        version=version.version,
        artifact_uri=version.artifact_uri,
        artifact_digest=version.artifact_digest,
        signature=pb.SignatureSummary(
            signature_name=version.signature.signature_name,
            inputs=[_spec_to_pb(s) for s in version.signature.inputs],
            outputs=[_spec_to_pb(s) for s in version.signature.outputs],
        ),
        lineage=lineage_pb2.Lineage(
            dataset=dataset_pb2.DatasetRef(
                dataset_id=lineage.dataset_id, content_hash=lineage.dataset_hash
            ),
            recipe_hash=lineage.recipe_hash,
            normalisation_stats_hash=lineage.normalisation_stats_hash,
            training_job_id=lineage.training_job_id,
            code_version=lineage.code_version,
        ),
        metrics=[metric_to_pb(m) for m in version.metrics],
        tags=version.tags,
        description=version.description,
        create_time=timestamp(version.create_time),
        created_by=version.created_by,
        aliases=list(version.aliases),
    )


def new_version_from_pb(request: pb.CreateModelVersionRequest) -> NewVersion:
    """The registration; INVALID_ARGUMENT for a baseline named twice (a dict cannot hold it)."""
    for index, metric in enumerate(request.metrics):
        names = [score.baseline for score in metric.baselines]
        if len(names) != len(set(names)):
            raise InvalidArgument.field(f"metrics[{index}].baselines", "names a baseline twice")
    lineage = request.lineage
    return NewVersion(
        model_name=request.model_name,
        artifact_uri=request.artifact_uri,
        artifact_digest=request.artifact_digest,
        signature=Signature(
            signature_name=request.signature.signature_name,
            inputs=tuple(_spec_from_pb(s) for s in request.signature.inputs),
            outputs=tuple(_spec_from_pb(s) for s in request.signature.outputs),
        ),
        lineage=Lineage(
            dataset_id=lineage.dataset.dataset_id,
            dataset_hash=lineage.dataset.content_hash,
            recipe_hash=lineage.recipe_hash,
            normalisation_stats_hash=lineage.normalisation_stats_hash,
            training_job_id=lineage.training_job_id,
            code_version=lineage.code_version,
        ),
        metrics=tuple(
            metric_from_pb(m, f"metrics[{i}].lead_time") for i, m in enumerate(request.metrics)
        ),
        tags=dict(request.tags),
        description=request.description,
        request_id=request.request_id,
    )


def tag_filters_from_pb(tags: list[pb.TagFilter]) -> tuple[TagFilter, ...]:
    return tuple(TagFilter(tag.key, tag.value) for tag in tags)


def version_query_from_pb(request: pb.ListModelVersionsRequest) -> VersionQuery:
    filters = tuple(
        MetricFilter(
            name=mf.name,
            comparison=Comparison(mf.comparison)
            if mf.comparison in (1, 2, 3, 4)
            else mf.comparison,  # type: ignore[arg-type]
            threshold=mf.threshold,
            variable=mf.variable,
            lead_time=lead_time_from_pb(mf.lead_time, f"metric_filters[{i}].lead_time")
            if mf.HasField("lead_time")
            else None,
        )
        for i, mf in enumerate(request.metric_filters)
    )
    return VersionQuery(
        model_name=request.model_name,
        tags=tag_filters_from_pb(list(request.tags)),
        alias=request.alias,
        metric_filters=filters,
    )


def gate_to_pb(gate: GateReport) -> pb.GateReport:
    return pb.GateReport(
        passed=gate.passed,
        margin=gate.margin,
        checks=[
            pb.GateCheck(
                metric=c.metric,
                variable=c.variable,
                lead_time=duration(c.lead_time),
                baseline=c.baseline,
                value=c.value,
                baseline_value=c.baseline_value,
                skill=c.skill,
                passed=c.passed,
                method=c.method,
            )
            for c in gate.checks
        ],
    )


def change_to_pb(change: AliasChange) -> pb.AliasChange:
    message = pb.AliasChange(
        id=change.id,
        model_name=change.model_name,
        alias=change.alias,
        from_version=change.from_version,
        to_version=change.to_version,
        actor=change.actor,
        time=timestamp(change.time),
        gate_overridden=change.gate_overridden,
        reason=change.reason,
    )
    if change.gate is not None:
        message.gate.CopyFrom(gate_to_pb(change.gate))
    return message


def event_to_pb(event: Event) -> pb.RegistryEvent:
    return pb.RegistryEvent(
        sequence=event.sequence,
        type=int(event.type),  # type: ignore[arg-type]
        time=timestamp(event.time),
        model_name=event.model_name,
        version=event.version,
        alias=event.alias,
        previous_version=event.previous_version,
        actor=event.actor,
        trace_parent=event.trace_parent,
    )


_VERIFY = {
    "MATCH": pb.VERIFY_RESULT_MATCH,
    "MISMATCH": pb.VERIFY_RESULT_MISMATCH,
    "MISSING": pb.VERIFY_RESULT_MISSING,
}


def verify_to_pb(outcome: VerifyOutcome) -> pb.VerifyModelVersionResponse:
    return pb.VerifyModelVersionResponse(
        result=_VERIFY[outcome.result],
        expected_digest=outcome.expected_digest,
        actual_digest=outcome.actual_digest,
        file_count=outcome.file_count,
        total_bytes=outcome.total_bytes,
        detail=outcome.detail,
    )
