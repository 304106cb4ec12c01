"""VerifyModelVersion recomputes the SavedModel directory digest and compares it."""

from __future__ import annotations

import shutil

import grpc
from weather.registry.v1 import registry_service_pb2 as pb

from tests.conftest import RunningRegistry
from tests.registry.helpers import make_artifact, rpc_error, version_request, violated_fields
from weather_runtime.artifacts import directory_digest


def test_verify_match_mismatch_missing(registry: RunningRegistry) -> None:
    registry.stub.CreateRegisteredModel(pb.CreateRegisteredModelRequest(name="m"))
    artifact = make_artifact(registry.artifact_root, "saved")
    digest = directory_digest(str(artifact))
    assert digest.file_count == 2
    registry.stub.CreateModelVersion(version_request("m", artifact, digest=digest.digest))
    verify = pb.VerifyModelVersionRequest(model_name="m", version=1)

    ok = registry.stub.VerifyModelVersion(verify)
    assert ok.result == pb.VERIFY_RESULT_MATCH
    assert ok.actual_digest == ok.expected_digest == digest.digest
    assert (ok.file_count, ok.total_bytes) == (2, digest.total_bytes)

    (artifact / "variables" / "variables.data-00000-of-00001").write_bytes(b"tampered")
    changed = registry.stub.VerifyModelVersion(verify)
    assert changed.result == pb.VERIFY_RESULT_MISMATCH
    assert changed.actual_digest != digest.digest

    shutil.rmtree(artifact)
    gone = registry.stub.VerifyModelVersion(verify)
    assert gone.result == pb.VERIFY_RESULT_MISSING
    assert gone.actual_digest == ""


def test_digest_ignores_location_but_not_names(registry: RunningRegistry) -> None:
    a = make_artifact(registry.artifact_root, "a")
    b = make_artifact(registry.artifact_root, "b")
    assert directory_digest(str(a)).digest == directory_digest(f"file://{b}").digest
    (b / "saved_model.pb").rename(b / "model.pb")
    assert directory_digest(str(a)).digest != directory_digest(str(b)).digest


def test_artifacts_outside_the_roots_are_refused(registry: RunningRegistry) -> None:
    registry.stub.CreateRegisteredModel(pb.CreateRegisteredModelRequest(name="m"))
    for uri in [
        "/etc",
        "file:///etc/passwd",
        f"{registry.artifact_root}/../x",
        "s3://bucket/m",
        "model",
    ]:
        request = _with_uri(version_request("m", registry.artifact_root), uri)
        error = rpc_error(registry.stub.CreateModelVersion, request)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, uri
        assert violated_fields(error) == ["artifact_uri"], uri
    assert (
        registry.stub.GetRegisteredModel(
            pb.GetRegisteredModelRequest(name="m")
        ).model.latest_version
        == 0
    )


def _with_uri(request: pb.CreateModelVersionRequest, uri: str) -> pb.CreateModelVersionRequest:
    request.artifact_uri = uri
    return request
