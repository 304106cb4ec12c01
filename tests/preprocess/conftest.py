"""Preprocess fixtures: an archive holding the bundled files, a preprocess server per test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from weather.common.v1 import dataset_pb2, operation_pb2
from weather.preprocess.v1 import preprocess_service_pb2 as pb
from weather.preprocess.v1 import preprocess_service_pb2_grpc as pb_grpc

from weather_data.archive import Archive
from weather_data.cluster import DaskRuntime
from weather_ingest.ingest import Ingester
from weather_ingest.requests import build_request
from weather_ingest.source import SourceOptions
from weather_preprocess.server import build_preprocess_server
from weather_preprocess.settings import PreprocessSettings
from weather_runtime.identity import with_actor
from weather_runtime.server import ManagedServer

DATA = Path(__file__).resolve().parents[2] / "data" / "demo"
TERMINAL = (
    operation_pb2.OPERATION_STATE_SUCCEEDED,
    operation_pb2.OPERATION_STATE_FAILED,
    operation_pb2.OPERATION_STATE_CANCELLED,
)


def ingest_into(archive_dir: Path, runtime: DaskRuntime, source: Path, dataset_id: str) -> str:
    """Ingests a bundled file with the ingest domain code; returns its content hash."""
    request = build_request(
        source_uri=str(source),
        dataset_id=dataset_id,
        format="",
        variables=[],
        start=None,
        end=None,
        region=None,
        levels=[],
        units={},
        reference_year=0,
        options=SourceOptions(),
    )
    ingester = Ingester(Archive(str(archive_dir)), runtime, [str(DATA)])
    manifest = ingester.run(request, "fixture", lambda stage, done: None, threading.Event())
    return manifest.content_hash


@pytest.fixture(scope="session")
def seeded_archive(tmp_path_factory: pytest.TempPathFactory, dask_runtime: DaskRuntime) -> Path:
    """An archive with era5 (ERA5 t2m) and navy (navy winds), ingested once per session."""
    folder = tmp_path_factory.mktemp("seed") / "archive"
    ingest_into(folder, dask_runtime, DATA / "era5-2mt-2019-03-uk.grib", "era5")
    ingest_into(folder, dask_runtime, DATA / "monthly_navy_winds.cdf", "navy")
    return folder


@dataclass
class RunningPreprocess:
    """A preprocess server on loopback with its stub and archive."""

    server: ManagedServer
    port: int
    stub: pb_grpc.PreprocessServiceStub
    channel: grpc.Channel
    archive: Path

    def run(self, start: object, timeout: float = 180) -> pb.WatchOperationResponse:
        """Follows an operation from a Start*Response to its end; returns the last message."""
        operation_id = start.operation.operation_id  # type: ignore[attr-defined]
        last = None
        for message in self.stub.WatchOperation(
            pb.WatchOperationRequest(operation_id=operation_id), timeout=timeout
        ):
            last = message
        assert last is not None and last.operation.state in TERMINAL
        return last  # type: ignore[no-any-return]


def start_preprocess(archive: Path, runtime: DaskRuntime) -> RunningPreprocess:
    settings = PreprocessSettings(
        host="127.0.0.1", port=0, metrics_port=-1, archive_url=str(archive)
    )  # type: ignore[call-arg]
    server, port = build_preprocess_server(settings, runtime=runtime)
    server.start()
    channel = with_actor(grpc.insecure_channel(f"127.0.0.1:{port}"), "tester")
    return RunningPreprocess(server, port, pb_grpc.PreprocessServiceStub(channel), channel, archive)


@pytest.fixture
def preprocess(
    seeded_archive: Path, tmp_path: Path, dask_runtime: DaskRuntime
) -> Iterator[RunningPreprocess]:
    """A server on a private copy of the seeded archive."""
    import shutil

    archive = tmp_path / "archive"
    shutil.copytree(seeded_archive, archive)
    running = start_preprocess(archive, dask_runtime)
    yield running
    running.channel.close()
    running.server.stop(5)


def ref(dataset_id: str) -> dataset_pb2.DatasetRef:
    return dataset_pb2.DatasetRef(dataset_id=dataset_id)
