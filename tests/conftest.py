"""Shared fixtures: PostgreSQL from the project's setup, registry servers on port 0, channels."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from sqlalchemy import create_engine, text
from weather.registry.v1 import registry_service_pb2_grpc as registry_grpc

from weather_data.cluster import DaskRuntime, DaskSettings
from weather_registry.server import build_registry_server
from weather_registry.settings import RegistrySettings
from weather_runtime.identity import with_actor
from weather_runtime.server import ManagedServer

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ENV = "WEATHER_TEST_POSTGRES_URL"


def _postgres_base_url() -> str:
    url = os.environ.get(POSTGRES_ENV, "")
    if not url:
        message = (
            f"{POSTGRES_ENV} is not set: run the tests with `make test`, which starts PostgreSQL"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture(scope="session")
def postgres_base_url() -> str:
    """URL of the test PostgreSQL (make test starts it with tools/postgres.sh)."""
    return _postgres_base_url()


@pytest.fixture
def postgres_url(postgres_base_url: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_base_url.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in postgres_base_url else "?"
    yield f"{postgres_base_url}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each registry test runs on both storage backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    return str(request.getfixturevalue("postgres_url"))


@dataclass
class RunningRegistry:
    """A registry server on loopback with a stub and the settings it runs with."""

    server: ManagedServer
    port: int
    settings: RegistrySettings
    channel: grpc.Channel
    stub: registry_grpc.RegistryServiceStub
    artifact_root: Path

    def new_stub(self, actor: str = "") -> registry_grpc.RegistryServiceStub:
        """A stub on a channel of its own (for concurrent clients)."""
        channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        if actor:
            channel = with_actor(channel, actor)
        return registry_grpc.RegistryServiceStub(channel)


def start_registry(database_url: str, artifact_root: Path, **overrides: object) -> RunningRegistry:
    """Starts a registry on 127.0.0.1 port 0."""
    options: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 0,
        "database_url": database_url,
        "artifact_roots": [str(artifact_root)],
        "watch_poll_seconds": 0.2,
        "metrics_port": -1,
        **overrides,
    }
    settings = RegistrySettings(**options)  # type: ignore[arg-type]
    server, port = build_registry_server(settings)
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    channel = with_actor(channel, "tester")
    return RunningRegistry(
        server, port, settings, channel, registry_grpc.RegistryServiceStub(channel), artifact_root
    )


@pytest.fixture
def registry(database_url: str, tmp_path: Path) -> Iterator[RunningRegistry]:
    """A registry server on each backend, stopped after the test."""
    root = tmp_path / "artifacts"
    root.mkdir()
    running = start_registry(database_url, root)
    yield running
    running.channel.close()
    running.server.stop(1)


@pytest.fixture(scope="session")
def dask_runtime() -> Iterator[DaskRuntime]:
    """A local cluster of two worker processes shared by the ingest tests."""
    runtime = DaskRuntime(DaskSettings(local_workers=2, local_threads=1, memory_limit="2GiB"))
    runtime.client()
    yield runtime
    runtime.close()
