"""Registers a finished job's SavedModel as a registry version, with lineage and metrics."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import grpc
from weather.common.v1 import dataset_pb2, field_pb2, lineage_pb2
from weather.registry.v1 import registry_service_pb2 as rpb
from weather.registry.v1 import registry_service_pb2_grpc as rpb_grpc

from weather_runtime.errors import FailedPrecondition, Unavailable
from weather_runtime.operations import Cancelled
from weather_runtime.retry import Backoff, GaveUp, Interrupted, Retrier
from weather_runtime.telemetry import instrumented_channel
from weather_runtime.tls import ClientTLS
from weather_trainer.jobs import JobRecord
from weather_trainer.spec import LeadScores, SystemScores, TensorInfo

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
# Codes after which the same call may be sent again: the registry was unreachable, or the answer
# was lost (CreateModelVersion's request_id makes a repeat return the version already made).
RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
FIRST_DELAY, MAX_DELAY = 0.5, 2.0
# The channel tries to reconnect at least this often, so a registry that returns is seen soon.
CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 500),
    ("grpc.min_reconnect_backoff_ms", 500),
    ("grpc.max_reconnect_backoff_ms", int(MAX_DELAY * 1000)),
)


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
    """Registry metrics: every score, with its method (direct or rollout); RMSE, MAE and ACC
    with persistence and climatology as baselines (what the promotion gate judges)."""
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
                method=lead.method,
            )
            metric.lead_time.FromSeconds(round(lead.lead_seconds))
            out.append(metric)
    return out


class Registrar:
    """A registry client that turns finished jobs into model versions; while the registry is
    unreachable it keeps retrying, with backoff, for up to wait_seconds."""

    def __init__(
        self,
        address: str,
        timeout_seconds: float,
        actor: str = "trainer",
        security: ClientTLS | None = None,
        token_file: str = "",
        wait_seconds: float = 3600.0,
    ) -> None:
        self._channel = instrumented_channel(
            address,
            actor=actor,
            security=security,
            token_file=token_file,
            options=CHANNEL_OPTIONS,
        )
        self._stub = rpb_grpc.RegistryServiceStub(self._channel)
        self._address = address
        self._timeout = timeout_seconds
        self._wait = wait_seconds
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()

    def calls(self) -> dict[str, int]:
        """Registry calls made so far, by status code name (OK included)."""
        with self._lock:
            return dict(self._calls)

    def _count(self, code: grpc.StatusCode) -> None:
        with self._lock:
            self._calls[code.name] += 1

    def close(self) -> None:
        """Closes the channel."""
        self._channel.close()

    def _call(self, method: str, request: object, retrier: Retrier) -> object:
        """One registry call, sent again with backoff while the registry cannot be reached."""

        def once() -> object:
            try:
                response = getattr(self._stub, method)(request, timeout=self._timeout)
            except grpc.RpcError as exc:
                self._count(exc.code())
                raise
            self._count(grpc.StatusCode.OK)
            return response

        return retrier.call(once, _unreachable)

    def register(
        self,
        record: JobRecord,
        waiting: Callable[[str], None] = lambda message: None,
        cancel: threading.Event | None = None,
    ) -> tuple[str, int]:
        """Creates the model when missing and a version for the job's exported model (its URI,
        digest, signature, scores and hashes, as the record holds them); returns (name, number).

        While the registry is unreachable, waiting(message) is called once and the calls are
        retried until wait_seconds have passed (Unavailable then) or cancel is set (Cancelled).
        """
        name = model_name(record)
        kept = f"the exported model is kept at {record.artifact_uri}"
        told: list[str] = []

        def tell(error: Exception | None, delay: float) -> None:
            if not told:
                told.append(_describe(error))
                waiting(f"the registry is unreachable ({told[0]}); retrying")

        attempt = Retrier(
            Backoff(FIRST_DELAY, MAX_DELAY),
            deadline=time.monotonic() + self._wait,
            stop=cancel or threading.Event(),
            clip_to_deadline=True,
            on_retry=tell,
        )
        try:
            try:
                self._call(
                    "CreateRegisteredModel",
                    rpb.CreateRegisteredModelRequest(
                        name=name, description=f"{record.spec.model_family} forecasts"
                    ),
                    attempt,
                )
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
                    raise
            response = self._call("CreateModelVersion", version_request(record), attempt)
        except GaveUp as exc:
            raise Unavailable(
                f"the registry at {self._address} could not be reached for "
                f"{self._wait:g} s (TRAINER_REGISTRATION_TIMEOUT_SECONDS; last: "
                f"{_describe(exc.last)}); the model was not registered and {kept}"
            ) from None
        except Interrupted:
            raise Cancelled() from None
        except grpc.RpcError as exc:
            # the registry answered and refused (a role, the artifact policy, a bad version):
            # sending it again would not help, so the job fails at once saying why
            raise FailedPrecondition(
                f"the registry refused to register the model: {exc.code().name}: "
                f"{exc.details()}; {kept}"
            ) from None
        version = response.version  # type: ignore[attr-defined]
        return name, int(version.version)


def version_request(record: JobRecord) -> rpb.CreateModelVersionRequest:
    """The job's version; its request_id makes every repeat return the same version."""
    return rpb.CreateModelVersionRequest(
        model_name=model_name(record),
        artifact_uri=record.artifact_uri,
        artifact_digest=record.artifact_digest,
        signature=rpb.SignatureSummary(
            signature_name="serving_default",
            inputs=[_tensor(t) for t in record.signature_inputs],
            outputs=[_tensor(t) for t in record.signature_outputs],
        ),
        lineage=lineage_pb2.Lineage(
            dataset=dataset_pb2.DatasetRef(
                dataset_id=record.spec.dataset_id, content_hash=record.dataset_hash
            ),
            recipe_hash=record.recipe_hash,
            normalisation_stats_hash=record.stats_hash,
            training_job_id=record.job_id,
            code_version=record.code_version,
        ),
        metrics=metrics(record.scores),
        tags={"model_family": record.spec.model_family, "job_id": record.job_id},
        description=record.spec.description,
        request_id=f"trainer-job-{record.job_id}",
    )


def _unreachable(error: Exception) -> bool:
    """Whether a registry call failed for want of a registry (then it is sent again)."""
    return isinstance(error, grpc.RpcError) and error.code() in RETRYABLE


def _describe(error: BaseException | None) -> str:
    """CODE details of a failed call."""
    if isinstance(error, grpc.RpcError):
        return f"{error.code().name} {error.details()}"
    return str(error)
