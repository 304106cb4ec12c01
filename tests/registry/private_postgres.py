"""A private PostgreSQL server (initdb in a temp dir, a free loopback port) that tests may restart."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from weatherctl.launcher import free_port


def _bin_dir() -> Path:
    """The newest installed PostgreSQL's binaries (the Debian package tools/postgres.sh installs)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return Path(pg_ctl).parent
    raise RuntimeError("no PostgreSQL server binaries: run tools/postgres.sh to install them")


class PrivatePostgres:
    """A PostgreSQL cluster of its own: nothing else uses it, so restarting it disturbs no test."""

    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.port = free_port()
        # the server refuses to run as root: the cluster then belongs to the postgres user
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.data = Path(tempfile.mkdtemp(prefix="weather-pg-")) / "data"
        self.log = self.data.parent / "postgres.log"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of its postgres database (trust authentication on loopback)."""
        return f"postgresql://weather@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120) -> None:
        subprocess.run(
            [*self._as, *args],
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def start(self) -> PrivatePostgres:
        """initdb and start; returns self once it accepts connections."""
        if self._as:
            shutil.chown(self.data.parent, "postgres", "postgres")
        initdb = self.bin / "initdb"
        self._run(str(initdb), "-D", str(self.data), "-U", "weather", "-A", "trust", "--no-sync")
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.data}'",
            "max_connections": "100",
            "shared_buffers": "16MB",
            "logging_collector": "off",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        self._pg_ctl("start")
        return self

    def _pg_ctl(self, action: str, mode: str = "fast") -> None:
        pg_ctl = str(self.bin / "pg_ctl")
        self._run(pg_ctl, "-D", str(self.data), "-l", str(self.log), "-m", mode, "-w", action)
        if action != "stop":
            self.wait_ready()

    def restart(self, mode: str = "fast") -> None:
        """pg_ctl restart -m mode (fast: sessions are ended; immediate: a crash and recovery)."""
        self._pg_ctl("restart", mode)

    def outage(self, seconds: float, mode: str = "fast") -> None:
        """Stops the server, keeps it down for seconds, starts it again."""
        self._pg_ctl("stop", mode)
        time.sleep(seconds)
        self._pg_ctl("start")

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        dsn = f"host=127.0.0.1 port={self.port} user=weather dbname=postgres connect_timeout=5"
        while True:
            try:
                with psycopg.connect(dsn) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        """Stops the server (if running) and removes its files."""
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                self._pg_ctl("stop", "immediate")
        shutil.rmtree(self.data.parent, ignore_errors=True)
