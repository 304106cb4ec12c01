"""Schema migrations are versioned, applied once, and a newer schema is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from weather_registry.stores.sql import SqlStore
from weather_registry.stores.sql_engine import normalise_url
from weather_registry.stores.sql_migrations import MIGRATIONS, SchemaTooNew


def test_migrations_apply_once_and_refuse_a_newer_schema(database_url: str) -> None:
    first = SqlStore(database_url)
    assert first.schema_version == MIGRATIONS[-1].number
    first.close()
    second = SqlStore(database_url)  # reopening applies nothing twice
    second.close()
    engine = create_engine(normalise_url(database_url))
    with engine.begin() as conn:
        rows = conn.execute(text("SELECT number FROM schema_migrations ORDER BY number")).all()
        assert [r[0] for r in rows] == [m.number for m in MIGRATIONS]
        conn.execute(
            text(
                "INSERT INTO schema_migrations (number, name, applied_at) VALUES (999, 'future', 0)"
            )
        )
    engine.dispose()
    with pytest.raises(SchemaTooNew, match="999"):
        SqlStore(database_url)


def test_sqlite_is_durable_by_configuration(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'r.db'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.close()


def test_memory_sqlite_is_refused() -> None:
    with pytest.raises(ValueError, match="database file"):
        SqlStore("sqlite:///:memory:")


def test_a_lost_database_is_unavailable_not_internal(
    postgres_base_url: str, tmp_path: Path
) -> None:
    """The database disappears under a running registry: calls get UNAVAILABLE (retryable)."""
    import uuid

    import grpc
    from weather.registry.v1 import registry_service_pb2 as pb

    from tests.conftest import start_registry
    from tests.registry.helpers import rpc_error

    name = f"outage_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalise_url(postgres_base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = postgres_base_url.rsplit("/", 1)[0] + f"/{name}"
    running = start_registry(url, tmp_path)
    try:
        running.stub.CreateRegisteredModel(pb.CreateRegisteredModelRequest(name="before"))
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        error = rpc_error(
            running.stub.GetRegisteredModel, pb.GetRegisteredModelRequest(name="before")
        )
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert "database unavailable" in error.details()
        assert "Traceback" not in error.details()
    finally:
        running.server.stop(1)
        admin.dispose()
