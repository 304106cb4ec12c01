"""Ingest fixtures: one local Dask cluster for the session, an ingest server per test."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from weather.common.v1 import operation_pb2
from weather.ingest.v1 import ingest_service_pb2 as pb
from weather.ingest.v1 import ingest_service_pb2_grpc as pb_grpc

from weather_data.cluster import DaskRuntime
from weather_ingest.server import build_ingest_server
from weather_ingest.settings import IngestSettings
from weather_runtime.identity import with_actor
from weather_runtime.server import ManagedServer

DATA = Path(__file__).resolve().parents[2] / "data" / "demo"
GRIB = DATA / "era5-2mt-2019-03-uk.grib"
NAVY = DATA / "monthly_navy_winds.cdf"
ERAINT = DATA / "eraint_uvz.nc"
TERMINAL = (
    operation_pb2.OPERATION_STATE_SUCCEEDED,
    operation_pb2.OPERATION_STATE_FAILED,
    operation_pb2.OPERATION_STATE_CANCELLED,
)


@dataclass
class RunningIngest:
    """An ingest server on loopback, its stub, archive folder and a scratch folder for sources."""

    server: ManagedServer
    port: int
    stub: pb_grpc.IngestServiceStub
    channel: grpc.Channel
    archive: Path
    scratch: Path

    def run(
        self, request: pb.StartIngestRequest, timeout: float = 120
    ) -> pb.WatchOperationResponse:
        """Starts an ingest and follows it to its end; returns the last watch message."""
        started = self.stub.StartIngest(request).operation
        last = None
        for message in self.stub.WatchOperation(
            pb.WatchOperationRequest(operation_id=started.operation_id), timeout=timeout
        ):
            last = message
        assert last is not None and last.operation.state in TERMINAL
        return last  # type: ignore[no-any-return]

    def wait(self, operation_id: str, timeout: float = 60) -> pb.GetOperationResponse:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.stub.GetOperation(pb.GetOperationRequest(operation_id=operation_id))
            if got.operation.state in TERMINAL:
                return got  # type: ignore[no-any-return]
            time.sleep(0.05)
        raise AssertionError("operation did not end")


def start_ingest(tmp_path: Path, runtime: DaskRuntime, **overrides: object) -> RunningIngest:
    tmp_path.mkdir(parents=True, exist_ok=True)
    scratch = tmp_path / "incoming"
    scratch.mkdir(exist_ok=True)
    archive = tmp_path / "archive"
    options: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 0,
        "metrics_port": -1,
        "archive_url": str(archive),
        "allowed_roots": [str(DATA), str(scratch)],
        **overrides,
    }
    settings = IngestSettings(**options)  # type: ignore[arg-type]
    server, port = build_ingest_server(settings, runtime=runtime)
    server.start()
    channel = with_actor(grpc.insecure_channel(f"127.0.0.1:{port}"), "tester")
    return RunningIngest(
        server, port, pb_grpc.IngestServiceStub(channel), channel, archive, scratch
    )


@pytest.fixture
def ingest(tmp_path: Path, dask_runtime: DaskRuntime) -> Iterator[RunningIngest]:
    running = start_ingest(tmp_path, dask_runtime)
    yield running
    running.channel.close()
    running.server.stop(5)
