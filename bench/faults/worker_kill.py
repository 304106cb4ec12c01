"""Fault trials: kill -9 a Dask worker at varying moments of an ingest and of a preprocess build."""

# A real `dask scheduler` with two `dask worker` processes, and ingest and preprocess servers on
# loopback computing on it. Each trial starts the operation, waits until a worker executes one of
# its tasks, waits a delay spread over the first half of the undisturbed compute window, SIGKILLs
# that worker, and classifies the outcome: completed (with the undisturbed content hash), failed
# cleanly (UNAVAILABLE, nothing listed, openable or left in the archive) or other. Then the same
# request again, whose hash must equal the undisturbed one. Half the trials run with the
# scheduler's default allowed-failures (the killed worker's tasks run again), half with 0 (the
# first death errs the task). Writes results/worker_kill-<UTC stamp>.json.
#
#     .venv/bin/python bench/faults/worker_kill.py [--trials N]

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(ROOT))

from weather.common.v1 import operation_pb2  # noqa: E402

from tests.ingest.test_worker_kill import (  # noqa: E402
    DEFAULT_ALLOWED_FAILURES,
    DaskCluster,
    IngestServer,
    Kill,
    dask_cluster,
    executing_keys,
    ingest_server,
    kill_mid_compute,
    synthetic_source,
)
from tests.preprocess.conftest import DATA, ingest_into  # noqa: E402
from tests.preprocess.test_worker_kill import OUTPUT, PreprocessServer, preprocess_server  # noqa: E402
from weather_data.archive import Archive  # noqa: E402
from weather_data.cluster import DaskRuntime, DaskSettings  # noqa: E402

UNDISTURBED_RUNS = 3
# kills are spread over this fraction of the shortest undisturbed compute window: runs vary
# (the machine is shared), and a later moment often finds the operation finished
SPREAD = 0.5
SUCCEEDED = operation_pb2.OPERATION_STATE_SUCCEEDED
FAILED = operation_pb2.OPERATION_STATE_FAILED


def _visible(archive: Path, dataset_id: str) -> dict[str, object]:
    """What a reader finds of a dataset: listed, openable by name, stores on disk."""
    opened = Archive(str(archive))
    listed = dataset_id in opened.dataset_ids()
    manifest = opened.latest(dataset_id)
    readable = False
    if manifest is not None:
        readable = opened.open(manifest).sizes.get("time", 0) > 0
    folder = archive / "datasets" / dataset_id / "data"
    stores = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    return {"listed": listed, "readable": readable, "stores": stores}


def _classify(
    state: int, code: str, content_hash: str, undisturbed: str, visible: dict[str, object]
) -> str:
    if state == SUCCEEDED:
        return "completed" if content_hash == undisturbed else "completed_other_hash"
    clean = not visible["listed"] and not visible["readable"] and not visible["stores"]
    if state == FAILED and code == "UNAVAILABLE" and clean:
        return "failed_cleanly"
    return "other"


def _undisturbed(
    cluster: DaskCluster,
    start: Callable[[], str],
    running: Callable[[str], Callable[[], bool]],
    outcome: Callable[[str], tuple[int, str, str, str]],
) -> tuple[float, str]:
    """An operation no kill disturbs: the span from the first to the last moment a worker was
    seen executing one of its tasks (the window the kills are spread over), and its hash."""
    operation_id = start()
    is_running = running(operation_id)
    first = last = 0.0
    while is_running():
        if any(cluster.client.run(executing_keys).values()):
            last = time.monotonic()
            first = first or last
        time.sleep(0.01)
    state, code, message, content_hash = outcome(operation_id)
    assert state == SUCCEEDED, (code, message)
    return last - first, content_hash


def _window(runs: list[tuple[float, str]]) -> tuple[float, str]:
    """The shortest compute window of undisturbed runs (load only stretches it) and their
    content hash, which must be one."""
    hashes = {content_hash for _, content_hash in runs}
    assert len(hashes) == 1, hashes
    return min(span for span, _ in runs), hashes.pop()


def _trial(
    cluster: DaskCluster,
    allowed_failures: int,
    delay: float,
    start: Callable[[], str],
    running: Callable[[str], Callable[[], bool]],
    outcome: Callable[[str], tuple[int, str, str, str]],
    visible: Callable[[], dict[str, object]],
    undisturbed: str,
) -> dict[str, Any]:
    """One kill, its outcome, and the retry."""
    cluster.wait_for_workers(2)
    cluster.allow_failures(allowed_failures)
    began = time.monotonic()
    operation_id = start()
    kill: Kill | None = None
    try:
        kill = kill_mid_compute(cluster, running(operation_id), delay=delay)
        state, code, message, content_hash = outcome(operation_id)
    finally:
        cluster.allow_failures(DEFAULT_ALLOWED_FAILURES)
    seen = visible()
    kind = _classify(state, code, content_hash, undisturbed, seen)
    cluster.wait_for_workers(2)
    retry_id = start()
    retry_state, retry_code, retry_message, retry_hash = outcome(retry_id)
    return {
        "allowed_failures": allowed_failures,
        "delay_seconds": round(delay, 3),
        "kill_sent": kill is not None,
        "kill_landed": bool(kill and kill.landed),
        "killed_task": kill.task if kill else "",
        "kill_after_seconds": round(kill.after_seconds, 3) if kill else None,
        "outcome": kind,
        "state": operation_pb2.OperationState.Name(state),  # type: ignore[arg-type]
        "error_code": code,
        "error_message": message,
        "visible_after_outcome": seen,
        "retry_state": operation_pb2.OperationState.Name(retry_state),  # type: ignore[arg-type]
        "retry_error": f"{retry_code}: {retry_message}" if retry_code else "",
        "retry_hash_matches": retry_state == SUCCEEDED and retry_hash == undisturbed,
        "seconds": round(time.monotonic() - began, 2),
    }


def _ingest_trials(cluster: DaskCluster, folder: Path, trials: int) -> dict[str, Any]:
    with ingest_server(folder, cluster.address) as served:
        source = synthetic_source(folder / "hourly.nc", steps=2400)
        served.wait(served.start(source, "warm-up"))  # the workers import what ingest needs
        runs = [
            _undisturbed(
                cluster,
                partial(served.start, source, f"undisturbed-{run}"),
                served.running,
                partial(_ingest_outcome, served),
            )
            for run in range(UNDISTURBED_RUNS)
        ]
        span, undisturbed = _window(runs)
        results = []
        for index in range(trials):
            dataset_id = f"trial-{index}"
            results.append(
                _trial(
                    cluster,
                    DEFAULT_ALLOWED_FAILURES if index % 2 == 0 else 0,
                    SPREAD * span * (index // 2) / max(1, (trials + 1) // 2),
                    partial(served.start, source, dataset_id),
                    served.running,
                    partial(_ingest_outcome, served),
                    partial(_visible, served.archive, dataset_id),
                    undisturbed,
                )
            )
            print(f"ingest trial {index}: {results[-1]['outcome']}", flush=True)
    return {
        "undisturbed_hash": undisturbed,
        "undisturbed_compute_window_seconds": round(span, 3),
        "trials": results,
    }


def _ingest_outcome(served: IngestServer, operation_id: str) -> tuple[int, str, str, str]:
    done = served.wait(operation_id)
    error = done.operation.error
    return done.operation.state, error.code, error.message, done.result.ref.content_hash


def _build_outcome(served: PreprocessServer, operation_id: str) -> tuple[int, str, str, str]:
    done = served.wait(operation_id)
    error = done.operation.error
    return done.operation.state, error.code, error.message, done.build.dataset.ref.content_hash


def _build_trials(cluster: DaskCluster, folder: Path, trials: int) -> dict[str, Any]:
    seeded = folder / "seeded"
    runtime = DaskRuntime(DaskSettings(scheduler_address=cluster.address))
    try:
        ingest_into(seeded, runtime, DATA / "era5-2mt-2019-03-uk.grib", "era5")
    finally:
        runtime.close()
    runs = []
    for run in range(1 + UNDISTURBED_RUNS):  # the first makes the workers import the build code
        shutil.copytree(seeded, folder / f"undisturbed-{run}")
        with preprocess_server(folder / f"undisturbed-{run}", cluster.address) as served:
            runs.append(
                _undisturbed(cluster, served.start, served.running, partial(_build_outcome, served))
            )
    span, undisturbed = _window(runs[1:])
    results = []
    for index in range(trials):
        archive = folder / f"trial-{index}"
        shutil.copytree(seeded, archive)
        with preprocess_server(archive, cluster.address) as served:
            results.append(
                _trial(
                    cluster,
                    DEFAULT_ALLOWED_FAILURES if index % 2 == 0 else 0,
                    SPREAD * span * (index // 2) / max(1, (trials + 1) // 2),
                    served.start,
                    served.running,
                    partial(_build_outcome, served),
                    partial(_visible, archive, OUTPUT),
                    undisturbed,
                )
            )
        print(f"build trial {index}: {results[-1]['outcome']}", flush=True)
    return {
        "undisturbed_hash": undisturbed,
        "undisturbed_compute_window_seconds": round(span, 3),
        "trials": results,
    }


def _summary(trials: list[dict[str, Any]]) -> dict[str, Any]:
    outcomes: dict[str, int] = {"completed": 0, "failed_cleanly": 0, "other": 0}
    for trial in trials:
        key = trial["outcome"] if trial["outcome"] in outcomes else "other"
        outcomes[key] += 1
    return {
        "trials": len(trials),
        "kills_sent": sum(t["kill_sent"] for t in trials),
        "kills_landed_mid_compute": sum(t["kill_landed"] for t in trials),
        "outcomes": outcomes,
        "retries": len(trials),
        "retry_hash_matches": sum(t["retry_hash_matches"] for t in trials),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=10, help="trials per operation kind")
    args = parser.parse_args()
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="weather-worker-kill-") as scratch:
        folder = Path(scratch)
        with dask_cluster(folder / "dask") as cluster:
            ingest = _ingest_trials(cluster, folder / "ingest", args.trials)
            build = _build_trials(cluster, folder / "build", args.trials)
    stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {
        "fault": "kill -9 a Dask worker during an ingest and during a preprocess build",
        "created": stamp,
        "seconds": round(time.monotonic() - began, 1),
        "cluster": "dask scheduler + 2 dask worker processes (1 thread each, under nannies)",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "versions": {p: metadata.version(p) for p in ("dask", "distributed", "zarr", "xarray")},
        "summary": {"ingest": _summary(ingest["trials"]), "build": _summary(build["trials"])},
        "ingest": ingest,
        "build": build,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / f"worker_kill-{stamp}.json"
    target.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report["summary"], indent=1))
    print(f"wrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
