"""Job ids the fuzzer (tests/fuzz) found answered INTERNAL (no file can have them): NOT_FOUND."""

from __future__ import annotations

from pathlib import Path

import grpc
from weather.trainer.v1 import trainer_service_pb2 as pb

from tests.registry.helpers import rpc_error
from tests.trainer.service_support import start_trainer


def test_impossible_job_ids_are_not_found(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    running = start_trainer(tmp_path / "archive", tmp_path / "work", None, isolation="thread")
    try:
        for job_id in ("a" * 5000, "a\x00b"):
            for call, request in (
                (running.stub.GetJob, pb.GetJobRequest(job_id=job_id)),
                (running.stub.CancelJob, pb.CancelJobRequest(job_id=job_id)),
                (running.stub.ResumeJob, pb.ResumeJobRequest(job_id=job_id)),
            ):
                error = rpc_error(call, request)
                assert error.code() == grpc.StatusCode.NOT_FOUND, error.details()
            watch = rpc_error(
                lambda r: list(running.stub.WatchJob(r)), pb.WatchJobRequest(job_id=job_id)
            )
            assert watch.code() == grpc.StatusCode.NOT_FOUND
    finally:
        running.stop()
