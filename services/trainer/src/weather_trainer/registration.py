"""Registers a finished job's SavedModel as a registry version, with lineage and metrics."""

from __future__ import annotations

import time

import grpc
from weather.common.v1 import dataset_pb2, field_pb2, lineage_pb2
from weather.registry.v1 import registry_service_pb2 as rpb
from weather.registry.v1 import registry_service_pb2_grpc as rpb_grpc

from weather_runtime.errors import Unavailable
from weather_runtime.telemetry import instrumented_channel
from weather_runtime.tls import ClientTLS
from weather_trainer.jobs import JobRecord
from weather_trainer.spec import LeadScores, Outcome, SystemScores, TensorInfo

DTYPES = {
    "float32": field_pb2.DATA_TYPE_FLOAT32,
    "float64": field_pb2.DATA_TYPE_FLOAT64,
    "int32": field_pb2.DATA_TYPE_INT32,
    "int64": field_pb2.DATA_TYPE_INT64,
    "float16": field_pb2.DATA_TYPE_FLOAT16,
    "uint8": field_pb2.DATA_TYPE_UINT8,
    "bool": field_pb2.DATA_TYPE_BOOL,
    "string": field_pb2.DATA_TYPE_STRING,
}
GOALS = {
    "rmse": rpb.METRIC_GOAL_MINIMIZE,
    "mae": rpb.METRIC_GOAL_MINIMIZE,
    "bias": rpb.METRIC_GOAL_ZERO,
    "acc": rpb.METRIC_GOAL_MAXIMIZE,
}
# Bias is recorded as a diagnostic without baselines: "closer to zero than persistence's bias"
# (itself near zero at short leads) is no test of skill, so the gate does not judge it.
JUDGED = ("rmse", "mae", "acc")
RETRIES = 4


def model_name(record: JobRecord) -> str:
    """The registry model a job registers under."""
    return record.spec.model_name or f"{record.spec.dataset_id}-{record.spec.model_family}"


def _tensor(info: TensorInfo) -> rpb.TensorSpec:
    return rpb.TensorSpec(
        name=info.name,
        dtype=DTYPES.get(info.dtype, field_pb2.DATA_TYPE_UNSPECIFIED),
        shape=list(info.shape),
    )


def metrics(scores: tuple[LeadScores, ...]) -> list[rpb.Metric]:
    """Registry metrics: every score; RMSE, MAE and ACC with persistence and climatology as
    baselines (what the promotion gate judges)."""
    out = []
    for lead in scores:
        for name, goal in GOALS.items():

            def value(system: SystemScores, metric: str = name) -> float:
                return float(getattr(system, metric))

            metric = rpb.Metric(
                name=name,
                variable=lead.variable,
                value=value(lead.model),
                goal=goal,
                baselines=[
                    rpb.BaselineScore(baseline="climatology", value=value(lead.climatology)),
                    rpb.BaselineScore(baseline="persistence", value=value(lead.persistence)),
                ]
                if name in JUDGED
                else [],
            )
            metric.lead_time.FromSeconds(round(lead.lead_seconds))
            out.append(metric)
    return out


class Registrar:
    """A registry client that turns finished jobs into model versions."""

    def __init__(
        self,
        address: str,
        timeout_seconds: float,
        actor: str = "trainer",
        security: ClientTLS | None = None,
        token_file: str = "",
    ) -> None:
        self._channel = instrumented_channel(
            address, actor=actor, security=security, token_file=token_file
        )
        self._stub = rpb_grpc.RegistryServiceStub(self._channel)
        self._timeout = timeout_seconds

    def close(self) -> None:
        """Closes the channel."""
        self._channel.close()

    def _call(self, method: str, request: object) -> object:
        """One registry call, retried with backoff while the registry is unavailable."""
        delay = 0.5
        for attempt in range(RETRIES):
            try:
                return getattr(self._stub, method)(request, timeout=self._timeout)
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt == RETRIES - 1:
                    raise
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    def register(self, record: JobRecord, outcome: Outcome) -> tuple[str, int]:
        """Creates the model when missing and a version for the job; returns (name, number)."""
        name = model_name(record)
        try:
            try:
                self._call(
                    "CreateRegisteredModel",
                    rpb.CreateRegisteredModelRequest(
                        name=name, description=f"{record.spec.model_family} forecasts"
                    ),
                )
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
                    raise
            request = rpb.CreateModelVersionRequest(
                model_name=name,
                artifact_uri=record.artifact_uri,
                artifact_digest=record.artifact_digest,
                signature=rpb.SignatureSummary(
                    signature_name="serving_default",
                    inputs=[_tensor(t) for t in outcome.inputs],
                    outputs=[_tensor(t) for t in outcome.outputs],
                ),
                lineage=lineage_pb2.Lineage(
                    dataset=dataset_pb2.DatasetRef(
                        dataset_id=record.spec.dataset_id, content_hash=outcome.dataset_hash
                    ),
                    recipe_hash=outcome.recipe_hash,
                    normalisation_stats_hash=outcome.stats_hash,
                    training_job_id=record.job_id,
                    code_version=record.code_version,
                ),
                metrics=metrics(outcome.scores),
                tags={"model_family": record.spec.model_family, "job_id": record.job_id},
                description=record.spec.description,
                request_id=f"trainer-job-{record.job_id}",
            )
            response = self._call("CreateModelVersion", request)
        except grpc.RpcError as exc:
            raise Unavailable(
                f"could not register the model with the registry: {exc.code().name} {exc.details()}"
            ) from None
        version = response.version  # type: ignore[attr-defined]
        return name, int(version.version)
