"""Builders of registry requests for the tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2
from weather.common.v1 import dataset_pb2, field_pb2, lineage_pb2
from weather.registry.v1 import registry_service_pb2 as pb

HASH_A = "sha256:" + hashlib.sha256(b"a").hexdigest()
HASH_B = "sha256:" + hashlib.sha256(b"b").hexdigest()


def hours(n: float) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=int(n * 3600))


def metric(
    name: str = "rmse",
    variable: str = "t2m",
    lead_hours: float = 6,
    value: float = 1.0,
    goal: int = pb.METRIC_GOAL_MINIMIZE,
    **baselines: float,
) -> pb.Metric:
    return pb.Metric(
        name=name,
        variable=variable,
        lead_time=hours(lead_hours),
        value=value,
        goal=goal,  # type: ignore[arg-type]
        baselines=[pb.BaselineScore(baseline=k, value=v) for k, v in baselines.items()],
    )


def make_artifact(root: Path, name: str, content: bytes = b"weights") -> Path:
    """A small SavedModel-shaped directory under root."""
    folder = root / name
    (folder / "variables").mkdir(parents=True, exist_ok=True)
    (folder / "saved_model.pb").write_bytes(b"graph-" + content)
    (folder / "variables" / "variables.data-00000-of-00001").write_bytes(content * 100)
    return folder


def version_request(
    model: str, artifact: Path, digest: str = HASH_A, **extra: object
) -> pb.CreateModelVersionRequest:
    request = pb.CreateModelVersionRequest(
        model_name=model,
        artifact_uri=str(artifact),
        artifact_digest=digest,
        signature=pb.SignatureSummary(
            signature_name="serving_default",
            inputs=[
                pb.TensorSpec(name="t2m", dtype=field_pb2.DATA_TYPE_FLOAT32, shape=[-1, 6, 33, 49])
            ],
            outputs=[
                pb.TensorSpec(
                    name="t2m_next", dtype=field_pb2.DATA_TYPE_FLOAT32, shape=[-1, 33, 49]
                )
            ],
        ),
        lineage=lineage_pb2.Lineage(
            dataset=dataset_pb2.DatasetRef(dataset_id="era5-t2m-uk", content_hash=HASH_B),
            recipe_hash=HASH_A,
            normalisation_stats_hash=HASH_B,
            training_job_id="job-1",
            code_version="abc123",
        ),
        **extra,  # type: ignore[arg-type]
    )
    return request


def rpc_error(call, *args, **kwargs) -> grpc.RpcError:  # type: ignore[no-untyped-def]
    """Calls and returns the RpcError it raises (fails the test when it succeeds)."""
    try:
        call(*args, **kwargs)
    except grpc.RpcError as exc:
        return exc
    raise AssertionError(f"{call} succeeded, expected an error")


def status_details(error: grpc.RpcError) -> list[object]:
    """The google.rpc detail messages of an error, unpacked."""
    metadata: list[tuple[str, bytes]] = list(error.trailing_metadata() or ())  # type: ignore[attr-defined,arg-type]
    raw = next((value for key, value in metadata if key == "grpc-status-details-bin"), None)
    if raw is None:
        return []
    status = status_pb2.Status.FromString(raw)
    unpacked: list[object] = []
    for any_message in status.details:
        for kind in (
            error_details_pb2.BadRequest,
            error_details_pb2.PreconditionFailure,
            error_details_pb2.ResourceInfo,
            error_details_pb2.QuotaFailure,
        ):
            if any_message.Is(kind.DESCRIPTOR):
                message = kind()
                any_message.Unpack(message)
                unpacked.append(message)
    return unpacked


def violated_fields(error: grpc.RpcError) -> list[str]:
    """Fields named by the BadRequest detail of an INVALID_ARGUMENT error."""
    fields: list[str] = []
    for detail in status_details(error):
        if isinstance(detail, error_details_pb2.BadRequest):
            fields.extend(v.field for v in detail.field_violations)
    return fields
