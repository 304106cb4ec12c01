"""Fresh databases for one benchmark configuration: a SQLite file or a PostgreSQL database."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

DEFAULT_POSTGRES_URL = "postgresql+psycopg://weather:weather@127.0.0.1:5432/weather"
POSTGRES_SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "postgres.sh"


def sqlite_url(path: Path) -> str:
    """SQLAlchemy URL of a SQLite file (absolute path)."""
    return f"sqlite:///{path.resolve()}"


def _libpq(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as a libpq connection string."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(_libpq(url), connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def ensure_postgres(url: str) -> str:
    """The admin URL of a running PostgreSQL, starting the local one with tools/postgres.sh."""
    if _reachable(url):
        return url
    print(f"PostgreSQL not reachable; running {POSTGRES_SCRIPT}", flush=True)
    started = subprocess.run(
        ["bash", str(POSTGRES_SCRIPT)], check=True, capture_output=True, text=True
    ).stdout.strip()
    return started.splitlines()[-1] if started else url


def postgres_version(url: str) -> str:
    """The server's version string (for example "15.14")."""
    with psycopg.connect(_libpq(url)) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


@contextmanager
def postgres_database(admin_url: str, name: str) -> Iterator[str]:
    """Creates database name, yields its URL, and drops it afterwards."""
    with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))
