"""Fault trials: PostgreSQL restarts under registry load; no acknowledged write may be lost.

A private PostgreSQL server (tests/registry/private_postgres.py: initdb in a temp dir, a free
port; the binaries tools/postgres.sh installs) and a registry on it in this process; clients write
versions (with request ids, resent after a failure), tags and aliases and read, while the server
restarts (pg_ctl restart -m fast, -m immediate, or stopped for 5 s). Per trial: calls, calls
during the fault, failures by status, acknowledged writes checked and lost, duplicate versions,
seconds until every client succeeded again. Writes results/postgres_restart-<UTC stamp>.json.

    .venv/bin/python bench/faults/postgres_restart.py [--trials N] [--clients N]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(ROOT))

from tests.registry.postgres_fault import MODES, Trial, run_trial  # noqa: E402
from tests.registry.private_postgres import PrivatePostgres  # noqa: E402
from weather_registry.stores import sql  # noqa: E402


def summarise(trials: list[Trial], seconds: float) -> dict[str, object]:
    failures: Counter[str] = Counter()
    for trial in trials:
        failures.update(trial.failures)
    return {
        "trials": len(trials),
        "trials_by_mode": dict(Counter(t.mode for t in trials)),
        "calls": sum(t.calls for t in trials),
        "calls_during_fault": sum(t.calls_during_fault for t in trials),
        "failures_by_status": dict(failures),
        "unclean_failures": sum(len(t.unclean) for t in trials),
        "acknowledged_writes_checked": sum(t.acknowledged_writes for t in trials),
        "acknowledged_writes_lost": sum(len(t.lost) for t in trials),
        "duplicate_versions": sum(len(t.duplicates) for t in trials),
        "max_recovery_seconds": round(max((t.recovery_seconds for t in trials), default=0), 2),
        "seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=9)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--retry-seconds",
        type=float,
        default=sql.RETRY_SECONDS,
        help="how long the registry runs a transaction again that failed before its commit "
        "(0: never, to see what the retry saves)",
    )
    args = parser.parse_args()
    sql.RETRY_SECONDS = args.retry_seconds
    started = time.monotonic()
    trials = []
    postgres = PrivatePostgres().start()
    try:
        with tempfile.TemporaryDirectory(prefix="weather-postgres-restart-") as folder:
            for number in range(args.trials):
                mode = MODES[number % len(MODES)]
                trial = run_trial(postgres, Path(folder), mode, args.clients)
                record = asdict(trial)
                record["unclean"] = record["unclean"][:10]
                print(json.dumps(record), flush=True)
                trials.append(trial)
    finally:
        postgres.stop()
    summary = summarise(trials, time.monotonic() - started)
    print(json.dumps(summary, indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"postgres_restart-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "scenario": "the PostgreSQL server restarted under registry load",
                "host": {"python": platform.python_version(), "machine": platform.machine()},
                "clients": args.clients,
                "registry_retry_seconds": args.retry_seconds,
                "summary": summary,
                "trials": [{**asdict(t), "unclean": t.unclean[:10]} for t in trials],
            },
            indent=1,
        )
    )
    print(f"wrote {out}")
    if summary["unclean_failures"] or summary["acknowledged_writes_lost"]:
        sys.exit(1)
    if summary["duplicate_versions"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
