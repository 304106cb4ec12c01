"""Benchmarks our model registry against MLflow's: create, get, list and alias ops/s."""

from __future__ import annotations

import argparse
import os
import random
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import databases
import mlflow_backend
from loadgen import Measurement, measure
from registry_backend import registry_server
from report import Report, Row, VersionCheck, check_versions, machine_info
from workload import (
    ALIAS,
    LIST_PAGE_SIZE,
    READ_MODEL,
    SEED_VERSIONS,
    WRITE_MODEL,
    Backend,
    Client,
    make_payload,
)

BACKENDS = ("registry-sqlite", "registry-postgresql", "mlflow-sqlite")
CONCURRENCY = (1, 8, 32)
RESULTS = Path(__file__).resolve().parent / "results"
NOTES = [
    "Each (backend, concurrency) starts from an empty store: a new SQLite file or PostgreSQL "
    f"database, then {SEED_VERSIONS} versions of {READ_MODEL!r} written by one client. get, "
    f"list and alias run on {READ_MODEL!r}; create runs last, all threads on {WRITE_MODEL!r}.",
    "Our registry runs as its own process (`python -m weather_registry`, 64 workers) and is "
    "called over gRPC on loopback, one channel (TCP connection) per client thread.",
    "MLflow runs in-process (MlflowClient, registry URI sqlite:///...): no network hop and no "
    "serialisation, which favours MLflow.",
    "MLflow model versions have no metrics: its create-version call passes the same "
    "information as version tags (2 user tags, the digest, 4 metric values, 8 baseline "
    "values: 15 tags), in the same single call.",
    "ops/s counts successful ops only; errors are counted separately and grouped by kind.",
]


@dataclass(frozen=True)
class Settings:
    """What to run and for how long."""

    duration: float
    warmup: float
    backends: tuple[str, ...]
    concurrency: tuple[int, ...]
    postgres_url: str
    out: Path


def parse_args(argv: Sequence[str]) -> Settings:
    """Settings from the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1.5 s per measurement")
    parser.add_argument("--duration", type=float, help="seconds per measurement (default 5)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds (default 1, quick 0.3)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated")
    parser.add_argument("--concurrency", default=",".join(map(str, CONCURRENCY)))
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("WEATHER_BENCH_POSTGRES_URL", databases.DEFAULT_POSTGRES_URL),
        help="admin URL (env WEATHER_BENCH_POSTGRES_URL); the role must be able to CREATE DATABASE",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    args = parser.parse_args(argv)
    backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backends {sorted(unknown)}; choose from {BACKENDS}")
    return Settings(
        duration=args.duration or (1.5 if args.quick else 5.0),
        warmup=args.warmup if args.warmup is not None else (0.3 if args.quick else 1.0),
        backends=backends,
        concurrency=tuple(int(c) for c in args.concurrency.split(",")),
        postgres_url=args.postgres_url,
        out=args.out,
    )


@contextmanager
def open_backend(
    kind: str, workdir: Path, concurrency: int, db_prefix: str, postgres_url: str
) -> Iterator[Backend]:
    """A running backend of this kind over a fresh, empty store."""
    label = f"{kind}-c{concurrency}"
    if kind == "mlflow-sqlite":
        yield mlflow_backend.MlflowBackend(kind, workdir / f"{label}.db")
    elif kind == "registry-sqlite":
        url = databases.sqlite_url(workdir / f"{label}.db")
        with registry_server(kind, url, workdir / f"{label}.log") as backend:
            yield backend
    else:
        name = f"{db_prefix}_c{concurrency}"
        with (
            databases.postgres_database(postgres_url, name) as url,
            registry_server(kind, url, workdir / f"{label}.log") as backend,
        ):
            yield backend


def seed(client: Client) -> None:
    """Creates both models and the versions the read operations use."""
    rng = random.Random(0)
    client.create_model(READ_MODEL)
    client.create_model(WRITE_MODEL)
    for _ in range(SEED_VERSIONS):
        client.create_version(READ_MODEL, make_payload(rng))


def op_get(client: Client, rng: random.Random) -> None:
    """GetModelVersion of a random existing version."""
    wanted = rng.randint(1, SEED_VERSIONS)
    if client.get_version(READ_MODEL, wanted) != wanted:
        raise AssertionError(f"asked for version {wanted}, got another")


def op_list(client: Client, _rng: random.Random) -> None:
    """The first page of 20 versions."""
    count = client.list_versions(READ_MODEL, LIST_PAGE_SIZE)
    if count != LIST_PAGE_SIZE:
        raise AssertionError(f"page of {count} versions, not {LIST_PAGE_SIZE}")


def op_alias(client: Client, rng: random.Random) -> None:
    """Moves an ungated alias to a random version."""
    client.set_alias(READ_MODEL, ALIAS, rng.randint(1, SEED_VERSIONS))


def op_create(acknowledged: list[int]) -> Callable[[Client, random.Random], None]:
    """Registers a version of the shared write model, remembering the number returned."""

    def create(client: Client, rng: random.Random) -> None:
        acknowledged.append(client.create_version(WRITE_MODEL, make_payload(rng)))

    return create


def run_configuration(
    backend: Backend, concurrency: int, settings: Settings
) -> tuple[list[Row], VersionCheck]:
    """Every measurement of one backend at one concurrency, then the version-number check."""
    clients = [backend.new_client() for _ in range(concurrency)]
    try:
        seed(clients[0])
        ops: list[tuple[str, Callable[[Client, random.Random], None]]] = [
            ("get", op_get),
            ("list", op_list),
        ]
        if concurrency == 1:
            ops.append(("alias", op_alias))
        acknowledged: list[int] = []
        ops.append(("create", op_create(acknowledged)))
        rows = [_timed(backend, concurrency, name, op, clients, settings) for name, op in ops]
        stored = clients[0].version_numbers(WRITE_MODEL)
        return rows, check_versions(backend.name, concurrency, stored, acknowledged)
    finally:
        for client in clients:
            client.close()


def _timed(
    backend: Backend,
    concurrency: int,
    name: str,
    op: Callable[[Client, random.Random], None],
    clients: Sequence[Client],
    settings: Settings,
) -> Row:
    result = measure(clients, op, backend.describe_error, settings.duration, settings.warmup)
    _print_measurement(backend.name, concurrency, name, result)
    return Row(backend.name, concurrency, name, result)


def _print_measurement(backend: str, concurrency: int, op: str, m: Measurement) -> None:
    errors = f", {m.errors} errors" if m.errors else ""
    print(
        f"  {backend:<20} c={concurrency:<3} {op:<7} {m.ops_per_second:9.1f} ops/s  "
        f"p50 {m.p50_ms:8.2f} ms  p99 {m.p99_ms:8.2f} ms{errors}",
        flush=True,
    )


def run(settings: Settings, report: Report) -> None:
    """Runs every configuration into report; a configuration that fails is recorded, not fatal."""
    db_prefix = f"bench_{report.stamp.lower()}"
    with tempfile.TemporaryDirectory(prefix="registry-bench-") as tmp:
        for concurrency in settings.concurrency:
            for kind in settings.backends:
                print(f"{kind} with {concurrency} client threads", flush=True)
                try:
                    with open_backend(
                        kind, Path(tmp), concurrency, db_prefix, settings.postgres_url
                    ) as backend:
                        rows, check = run_configuration(backend, concurrency, settings)
                except Exception as exc:
                    report.failures.append(f"{kind} c={concurrency}: {exc!r}"[:500])
                    print(f"  FAILED: {exc!r}", flush=True)
                    continue
                report.rows.extend(rows)
                report.checks.append(check)


def main(argv: Sequence[str]) -> int:
    """Prepares the backends, runs, prints the tables and saves the reports."""
    settings = parse_args(argv)
    mlflow_version = mlflow_backend.ensure_mlflow() if "mlflow-sqlite" in settings.backends else ""
    postgres = ""
    if "registry-postgresql" in settings.backends:
        settings = replace(settings, postgres_url=databases.ensure_postgres(settings.postgres_url))
        postgres = databases.postgres_version(settings.postgres_url)
    report = Report(
        stamp=time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
        command=shlex.join([".venv/bin/python", "bench/registry/run.py", *argv]),
        settings=_settings_json(settings),
        machine=machine_info(mlflow_version, postgres),
        notes=NOTES,
    )
    started = time.monotonic()
    run(settings, report)
    report.settings["total_seconds"] = round(time.monotonic() - started, 1)
    print()
    print(report.tables())
    json_path, md_path = report.save(settings.out)
    print(f"wrote {json_path} and {md_path}")
    healthy = not report.failures and all(check.ok for check in report.checks)
    return 0 if healthy else 1


def _settings_json(settings: Settings) -> dict[str, object]:
    return {
        "duration_seconds": settings.duration,
        "warmup_seconds": settings.warmup,
        "backends": list(settings.backends),
        "concurrency": list(settings.concurrency),
        "seed_versions": SEED_VERSIONS,
        "list_page_size": LIST_PAGE_SIZE,
        "registry_max_workers": 64,
    }


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
