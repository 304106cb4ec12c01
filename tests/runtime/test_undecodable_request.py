"""Bytes no request message parses get INVALID_ARGUMENT naming the request, not INTERNAL (fuzz)."""

from __future__ import annotations

from pathlib import Path

import grpc
from weather.registry.v1 import registry_service_pb2 as pb

from tests.conftest import start_registry
from tests.registry.helpers import rpc_error, violated_fields

CREATE = "/weather.registry.v1.RegistryService/CreateRegisteredModel"


def test_undecodable_request_is_invalid_argument(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    root.mkdir()
    running = start_registry(f"sqlite:///{tmp_path / 'registry.db'}", root)
    try:
        raw = running.channel.unary_unary(CREATE, None, None)
        for garbage in (b"\xff" * 16, b"\x0a\xff\xff\xff\xff\x0f", b"\x0f\x00"):
            error = rpc_error(raw, garbage, timeout=10)
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
            assert violated_fields(error) == ["request"]
            assert "not a valid serialised message" in (error.details() or "")
        # a well-formed request on the same server still works
        running.stub.CreateRegisteredModel(pb.CreateRegisteredModelRequest(name="after"))
    finally:
        running.channel.close()
        running.server.stop(1)
