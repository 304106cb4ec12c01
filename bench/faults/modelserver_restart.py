"""Fault trials: the model server process restarted (SIGKILL or SIGTERM) under a 16-client
Forecast load through the predictor, which is never restarted.

A real model server process (`python -m weather_modelserver`, a tiny SavedModel) on a fixed
port, the predictor in this process pointing at it, 16 client threads sending Forecast requests
(one direct lead, one rolled-out lead: five model-server calls each) back to back, pausing
0.1 s after an error. Per trial the model server is signalled, left down for a while, started
again on the same port, and the load runs on until 32 Forecasts started after it served again
have succeeded. Recorded per trial: requests in flight during the outage, failures by status
and message, time from the model server serving again to the first success, the longest call,
and whether the promises of tests/predictor/test_modelserver_restart.py held. Writes
results/modelserver_restart-<UTC stamp>.json; exits 1 when a trial broke a promise.

    .venv/bin/python bench/faults/modelserver_restart.py [--trials N] [--down S,S]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(ROOT))

from tests.predictor.support import start_predictor  # noqa: E402
from tests.predictor.test_modelserver_restart import (  # noqa: E402
    CLIENT_TIMEOUT,
    CLIENTS,
    ERROR_PAUSE,
    LEADS,
    RECOVERY_BOUND,
    Load,
    ModelServerProcess,
    check_trial,
    free_port,
    run_trial,
    write_models,
)

SIGNALS = (signal.SIGKILL, signal.SIGTERM)


def run(trials: int, downs: list[float]) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="weather-modelserver-restart-") as name:
        folder = Path(name)
        server = ModelServerProcess(write_models(folder), free_port(), folder)
        predictor = None
        try:
            server.start()
            server.wait_serving()
            predictor = start_predictor(
                modelserver_address=server.address,
                model_root=str(folder / "models"),
                archive_url=str(folder / "archive"),
                retry_backoff_seconds=0.05,
            )
            load = Load(predictor.port)
            load.start()
            try:
                for number in range(1, trials + 1):
                    signum = SIGNALS[(number - 1) % len(SIGNALS)]
                    down = downs[((number - 1) // len(SIGNALS)) % len(downs)]
                    trial = run_trial(server, load, signum, down=down)
                    try:
                        check_trial(trial)
                        verdict = "held"
                    except AssertionError as exc:
                        verdict = f"broken: {str(exc)[:500]}"
                    figures = {"trial": number, "down_seconds": down, **trial.figures()}
                    figures["promises"] = verdict
                    results.append(figures)
                    print(json.dumps(figures), flush=True)
            finally:
                load.stop()
        finally:
            if predictor is not None:
                predictor.stop()
            server.close()
    failures: Counter[str] = Counter()
    for figures in results:
        failures.update(figures["failures_by_status"])
    recoveries = [
        f["serving_to_first_success_seconds"]
        for f in results
        if f["serving_to_first_success_seconds"] is not None
    ]
    return {
        "scenario": "model server restarted under a 16-client Forecast load",
        "host": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "grpcio": metadata.version("grpcio"),
        },
        "setup": {
            "clients": CLIENTS,
            "client_deadline_seconds": CLIENT_TIMEOUT,
            "client_pause_after_error_seconds": ERROR_PAUSE,
            "lead_seconds": list(LEADS),
            "model_server_calls_per_forecast": 5,
            "recovery_bound_seconds": RECOVERY_BOUND,
            "predictor": "defaults: 3 attempts from 50 ms, breaker 5 failures / 5 s",
        },
        "summary": {
            "trials": len(results),
            "trials_promises_held": sum(1 for f in results if f["promises"] == "held"),
            "requests_during_outage": sum(f["requests_during_outage"] for f in results),
            "failures": sum(f["failures"] for f in results),
            "failures_by_status": dict(failures),
            "max_serving_to_first_success_seconds": max(recoveries, default=None),
            "max_latency_seconds": max(f["max_latency_seconds"] for f in results),
            "seconds": round(time.monotonic() - started, 1),
        },
        "trials": results,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--trials", type=int, default=8, help="restarts (SIGKILL, SIGTERM, ...)")
    parser.add_argument(
        "--down",
        default="0.5,10",
        help="seconds the model server stays down, one value per SIGKILL+SIGTERM pair, cycled",
    )
    args = parser.parse_args(argv)
    downs = [float(x) for x in args.down.split(",") if x.strip()]
    result = run(args.trials, downs)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"modelserver_restart-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["summary"], indent=2))
    print(f"wrote {path.relative_to(ROOT)}")
    held = result["summary"]["trials_promises_held"] == result["summary"]["trials"]
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
