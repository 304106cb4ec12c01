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
