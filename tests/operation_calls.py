"""The operation RPCs ingest and preprocess share, as tests call them: cancel mid-write."""

from __future__ import annotations

import time
from typing import Any

from weather.common.v1 import operation_pb2


def cancel_while_writing(
    stub: Any, pb: Any, operation_id: str, past: float
) -> operation_pb2.OperationStatus:
    """Polls the operation (up to a minute) until it writes, past that fraction of its progress,
    then cancels it; returns the status CancelOperation answered. pb: the service's messages."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = stub.GetOperation(pb.GetOperationRequest(operation_id=operation_id)).operation
        if status.stage == "writing" and status.progress > past:
            break
        time.sleep(0.01)
    cancelled: operation_pb2.OperationStatus = stub.CancelOperation(
        pb.CancelOperationRequest(operation_id=operation_id)
    ).operation
    return cancelled
