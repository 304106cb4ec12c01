"""Fault trials: the store full or unwritable during ingests, appends, preprocess builds,
SavedModel exports and publishes.

The archive (ingest, append, build) and the model folder (export) or artifact store (a trainer job's
publish) are each a tmpfs of their own (tests/faults_fs.py; root needed: without it the faults
are chmod and RLIMIT_FSIZE, and only the ingest and export kinds run). Every trial stores an
earlier dataset or model first, then sends one request during the fault: "full" shrinks the
tmpfs to what it holds plus a random room smaller than the write, "read-only" remounts it ro
before the request or, for "ingest read-only mid-write", after a random number of the write's
chunk files exist. Recorded per trial: the status code and whether the message names the store
and the OS error; files a failed request left that nothing references (after the failure, and
after the retry: must be 0); whether the earlier data is intact (same bytes and content hash);
whether the same request succeeds once the store is fixed. Writes
results/store_faults-<UTC stamp>.json.

    .venv/bin/python bench/faults/store_faults.py [--trials N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402
from weather.common.v1 import operation_pb2  # noqa: E402
from weather.ingest.v1 import ingest_service_pb2 as pb  # noqa: E402
from weather.trainer.v1 import trainer_service_pb2 as tpb  # noqa: E402

import weather_data.chunks  # noqa: E402
import weather_data.writer  # noqa: E402
from tests.faults_fs import (  # noqa: E402
    IS_ROOT,
    FaultyStore,
    faulty_store,
    lift_file_size_limit,
    limit_file_size,
)
from tests.ingest.conftest import GRIB, start_ingest  # noqa: E402
from tests.ingest.test_store_faults import (  # noqa: E402
    Setup,
    append_next_hour,
    noise_source,
    unreferenced,
)
from tests.preprocess.conftest import ingest_into  # noqa: E402
from tests.trainer.conftest import tiny_spec  # noqa: E402
from tests.trainer.service_support import build_demo_archive, start_trainer  # noqa: E402
from tests.trainer.test_service import spec  # noqa: E402
from weather_data.archive import Archive  # noqa: E402
from weather_data.cluster import DaskRuntime, DaskSettings  # noqa: E402
from weather_data.store_errors import StoreFull, StoreUnwritable  # noqa: E402
from weather_runtime.artifacts import directory_digest  # noqa: E402

SUCCEEDED = operation_pb2.OPERATION_STATE_SUCCEEDED
REASONS = {
    "full": ("No space left on device", "File too large"),
    "read-only": ("Read-only file system", "Permission denied"),
}
EXPECTED = {"full": "RESOURCE_EXHAUSTED", "read-only": "FAILED_PRECONDITION"}


def _clean(code: str, message: str, fault: str, store: FaultyStore) -> bool:
    """The expected code, the store and the OS error named, no traceback."""
    return (
        code == EXPECTED[fault]
        and str(store.path) in message
        and any(r in message for r in REASONS[fault])
        and "Traceback" not in message
    )


def _trial(kind: str, fault: str, store: FaultyStore, **facts: Any) -> dict[str, Any]:
    facts["clean"] = _clean(facts["code"], facts.pop("message"), fault, store)
    return {"kind": kind, "fault": fault, **facts}


# ------------------------------------------------------------------ ingest and append
def _ingest(setup: Setup, source: Path, dataset_id: str) -> pb.WatchOperationResponse:
    request = pb.StartIngestRequest(source_uri=str(source), dataset_id=dataset_id)
    return setup.ingest.run(request, timeout=300)


def _earlier(setup: Setup) -> tuple[str, str, dict[str, str]]:
    """era5 as stored: its latest manifest, a digest of its values, the archive's files."""
    archive = Archive(str(setup.store.path))
    manifest = archive.get("era5")
    values = archive.open(manifest)["t2m"].values
    digest = hashlib.sha256(values.tobytes()).hexdigest()
    return manifest.to_json(), digest, setup.store.files()


def _intact(setup: Setup, before: tuple[str, str, dict[str, str]], kind: str) -> bool:
    """The same manifest and values; for an ingest also the same bytes in every file (an append
    in place may leave resized metadata and chunks past the committed steps)."""
    manifest, digest, files = _earlier(setup)
    same_files = {k: v for k, v in files.items() if k in before[2]} == before[2]
    return (manifest, digest) == before[:2] and (same_files or kind.startswith("append"))


def _archive_trials(
    runtime: DaskRuntime, folder: Path, trials: int, rng: random.Random
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    kinds = ["ingest full", "ingest read-only", "ingest read-only mid-write"]
    if IS_ROOT:
        kinds += ["append full", "append read-only"]
    for kind in kinds:
        fault = "full" if kind.endswith("full") else "read-only"
        base = folder / kind.replace(" ", "-")
        with faulty_store(base / "archive", 512 * 2**20) as store:
            ingest = start_ingest(base, runtime)
            setup = Setup(ingest, store, runtime)
            try:
                first = _ingest(setup, GRIB, "era5")
                assert first.operation.state == SUCCEEDED, first.operation.error
                source = noise_source(ingest.scratch / "noise.nc", 60)
                for index in range(trials):
                    results.append(_archive_trial(setup, kind, fault, source, index, rng))
                    print(kind, results[-1], flush=True)
            finally:
                ingest.channel.close()
                ingest.server.stop(5)
                if not store.mounted:
                    runtime.client().run(lift_file_size_limit)
    return results


def _read_only_mid_write(
    setup: Setup, source: Path, dataset_id: str, rng: random.Random, detail: dict[str, Any]
) -> tuple[str, str, bool]:
    """An ingest of 120 chunk files, the store remounted ro after a random number of them."""
    weather_data.chunks.TARGET_CHUNK_BYTES = 100 * 100 * 4
    weather_data.writer.BATCH_BYTES = 1
    try:
        operation = setup.ingest.stub.StartIngest(
            pb.StartIngestRequest(source_uri=str(source), dataset_id=dataset_id)
        ).operation
        after = detail["read_only_after_chunk_files"] = rng.randrange(1, 60)
        data = setup.store.path / "datasets" / dataset_id / "data"
        deadline = time.monotonic() + 120
        while len([p for p in data.rglob("c/*/0/0") if p.is_file()]) < after:
            if time.monotonic() > deadline:
                break
            time.sleep(0.002)
        setup.store.make_unwritable()
        ended = setup.ingest.wait(operation.operation_id, timeout=300).operation
    finally:
        weather_data.chunks.TARGET_CHUNK_BYTES = 8 * 1024 * 1024
        weather_data.writer.BATCH_BYTES = 128 * 1024 * 1024
    return ended.error.code, ended.error.message, ended.state == SUCCEEDED


def _during_fault(
    setup: Setup,
    kind: str,
    fault: str,
    source: Path,
    dataset_id: str,
    rng: random.Random,
    detail: dict[str, Any],
) -> tuple[str, str, bool]:
    """Makes the fault and sends the one request: (code, message, succeeded)."""
    if kind == "ingest read-only mid-write":
        return _read_only_mid_write(setup, source, dataset_id, rng, detail)
    if fault == "read-only":
        setup.store.make_unwritable()
    elif kind.startswith("ingest"):
        room = detail["room_bytes"] = rng.randrange(64 * 1024, 3 * 2**20)
        setup.store.make_full(room, lambda size: setup.runtime.client().run(limit_file_size, size))
    else:
        setup.store.make_full(4096)  # one page: an append rewrites a chunk and two zarr.json
        detail["room_bytes"] = 4096
    if kind.startswith("ingest"):
        done = _ingest(setup, source, dataset_id)
        error = done.operation.error
        return error.code, error.message, done.operation.state == SUCCEEDED
    try:
        append_next_hour(setup)
    except grpc.RpcError as error:
        return error.code().name, error.details() or "", False
    return "OK", "", True


def _archive_trial(
    setup: Setup, kind: str, fault: str, source: Path, index: int, rng: random.Random
) -> dict[str, Any]:
    store, runtime = setup.store, setup.runtime
    dataset_id = f"noise-{index}"
    detail: dict[str, Any] = {}
    before = _earlier(setup)
    started = time.monotonic()
    code, message, succeeded = _during_fault(setup, kind, fault, source, dataset_id, rng, detail)
    seconds = time.monotonic() - started
    intact = _intact(setup, before, kind)
    listed = dataset_id in Archive(str(store.path)).dataset_ids()
    leftovers_after_failure = len(unreferenced(store))
    # the store fixed, the same request again
    if fault == "full":
        store.make_roomy(lambda: runtime.client().run(lift_file_size_limit))
    else:
        store.make_writable()
    if kind.startswith("ingest"):
        retry_ok = _ingest(setup, source, dataset_id).operation.state == SUCCEEDED
    else:
        retry_ok = append_next_hour(setup).appended == 1
    return _trial(
        kind,
        fault,
        store,
        code=code,
        message=message,
        succeeded_during_fault=succeeded,
        seconds_to_end=round(seconds, 2),
        visible_after_failure=listed,
        leftovers_after_failure=leftovers_after_failure,
        leftovers_after_retry=len(unreferenced(store)),
        earlier_intact=intact,
        retry_ok=retry_ok,
        **detail,
    )


# ------------------------------------------------------------------ preprocess build
def _build_trials(
    runtime: DaskRuntime, folder: Path, trials: int, rng: random.Random
) -> list[dict[str, Any]]:
    """Preprocess builds (data/recipes/era5-t2m.yaml, the same publish path as an ingest) into
    a full or read-only archive, with the domain code on the Dask cluster."""
    from weather_preprocess.build import Builder
    from weather_preprocess.convert import recipe_from_pb
    from weather_runtime.errors import DomainError
    from weatherctl.recipes import recipe_from_yaml

    text = (ROOT / "data" / "recipes" / "era5-t2m.yaml").read_text()
    results: list[dict[str, Any]] = []
    for fault in ("full", "read-only"):
        with faulty_store(folder / f"build-{fault}" / "archive", 256 * 2**20) as store:
            archive = Archive(str(store.path))
            builder = Builder(archive, runtime)

            def build(output_id: str, builder: Any = builder) -> Any:
                recipe = recipe_from_yaml(text)
                recipe.output_dataset_id = output_id
                return builder.run(
                    recipe_from_pb(recipe), "bench", lambda stage, done: None, threading.Event()
                )

            ingest_into(store.path, runtime, GRIB, "era5-t2m")
            earlier = build("train-earlier").manifest
            for index in range(trials):
                for record in (store.path / "builds").glob("*.json"):
                    record.unlink()  # a build of the same recipe would reuse the earlier one
                before = store.files()
                room = rng.randrange(4096, 512 * 1024)
                started = time.monotonic()
                if fault == "full":
                    store.make_full(room, lambda size: runtime.client().run(limit_file_size, size))
                else:
                    store.make_unwritable()
                try:
                    build(f"train-{index}")
                    code, message = "OK", ""
                except DomainError as error:
                    code, message = error.code.name, error.message
                except Exception as error:
                    code, message = type(error).__name__, str(error)
                seconds = time.monotonic() - started
                new = set(store.files()) - set(before)
                listed = code != "OK" and f"train-{index}" in archive.dataset_ids()
                intact = (
                    Archive(str(store.path)).get("train-earlier").to_json() == earlier.to_json()
                    and {k: v for k, v in store.files().items() if k in before} == before
                )
                if fault == "full":
                    store.make_roomy(lambda: runtime.client().run(lift_file_size_limit))
                else:
                    store.make_writable()
                retry_ok = build(f"train-{index}").manifest.dataset_id == f"train-{index}"
                results.append(
                    _trial(
                        "preprocess build",
                        fault,
                        store,
                        code=code,
                        message=message,
                        seconds_to_end=round(seconds, 2),
                        visible_after_failure=listed,
                        leftovers_after_failure=len(new),
                        leftovers_after_retry=len(unreferenced_data(store)),
                        earlier_intact=intact,
                        retry_ok=retry_ok,
                        **({"room_bytes": room} if fault == "full" else {}),
                    )
                )
                print("build", results[-1], flush=True)
    return results


def unreferenced_data(store: FaultyStore) -> list[str]:
    """Files under datasets/ that no committed manifest accounts for."""
    return [n for n in unreferenced(store) if n.startswith("datasets/")]


# ------------------------------------------------------------------ export and publish
def _model_trials(
    runtime: DaskRuntime, folder: Path, trials: int, rng: random.Random
) -> list[dict[str, Any]]:
    from weather_trainer import export
    from weather_trainer.data import open_training_data
    from weather_trainer.models import FAMILIES
    from weather_trainer.training import build_context, check

    archive = build_demo_archive(folder / "demo-archive", runtime)
    data = open_training_data(Archive(str(archive)), "era5-t2m-train", "")
    train_spec = tiny_spec()
    context = build_context(train_spec, data, check(train_spec, data))
    model = FAMILIES["persistence"].build(context, {})
    results: list[dict[str, Any]] = []
    for fault in ("full", "read-only"):
        with faulty_store(folder / f"export-{fault}", 256 * 2**20) as store:
            export.export(model, context, store.path / "earlier", {"n": 0})
            earlier = store.files()
            for index in range(trials):
                # without root: a file size limit in this process, under the variables' 1.5 MB
                room = rng.randrange(4096, 512 * 1024) if store.mounted else 512 * 1024
                target = store.path / f"model-{index}"
                before = store.files()
                started = time.monotonic()
                try:
                    if fault == "full":
                        store.make_full(room, limit_file_size)
                    else:
                        store.make_unwritable()
                    export.export(model, context, target, {"n": index})
                    code, message = "OK", ""
                except (StoreFull, StoreUnwritable) as error:
                    code, message = error.code.name, error.message
                finally:
                    if fault == "full":
                        store.make_roomy(lift_file_size_limit)
                    else:
                        store.make_writable()
                seconds = time.monotonic() - started
                new = set(store.files()) - set(before)
                leftovers = len(new) + len(list(store.path.glob("*.partial")))
                export.export(model, context, target, {"n": index})
                retry_ok = export.load_forecast(target) is not None
                intact = {k: v for k, v in store.files().items() if k in earlier} == earlier
                results.append(
                    _trial(
                        "export",
                        fault,
                        store,
                        code=code,
                        message=message,
                        seconds_to_end=round(seconds, 2),
                        leftovers_after_failure=leftovers,
                        leftovers_after_retry=len(list(store.path.glob("*.partial"))),
                        earlier_intact=intact,
                        retry_ok=retry_ok,
                        **({"room_bytes": room} if fault == "full" else {}),
                    )
                )
                print("export", results[-1], flush=True)
    if IS_ROOT:
        results += _publish_trials(archive, folder, trials, rng)
    return results


def _publish_trials(
    archive: Path, folder: Path, trials: int, rng: random.Random
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []

    def run(trainer: Any, seed: int) -> tpb.Job:
        job = trainer.stub.StartTraining(tpb.StartTrainingRequest(spec=spec(seed=seed))).job
        last: tpb.Job = trainer.follow(job.job_id)[-1]
        return last

    for fault in ("full", "read-only"):
        base = folder / f"publish-{fault}"
        with faulty_store(base / "models", 256 * 2**20) as store:
            trainer = start_trainer(
                archive, base / "work", None, artifact_root=str(store.path), isolation="thread"
            )
            try:
                first = run(trainer, 1)
                assert first.state == tpb.JOB_STATE_SUCCEEDED, first.error
                for index in range(trials):
                    stored = store.files()
                    room = rng.randrange(4096, 512 * 1024)
                    started = time.monotonic()
                    if fault == "full":
                        store.make_full(room)
                    else:
                        store.make_unwritable()
                    try:
                        job = run(trainer, 100 + index)
                    finally:
                        if fault == "full":
                            store.make_roomy()
                        else:
                            store.make_writable()
                    seconds = time.monotonic() - started
                    leftovers = len(set(store.files()) - set(stored))
                    retry = run(trainer, 100 + index)
                    retry_ok = retry.state == tpb.JOB_STATE_SUCCEEDED and (
                        directory_digest(retry.artifact_uri).digest == retry.artifact_digest
                    )
                    intact = directory_digest(first.artifact_uri).digest == first.artifact_digest
                    results.append(
                        _trial(
                            "trainer job publish",
                            fault,
                            store,
                            code=job.error.code or "OK",
                            message=job.error.message,
                            job_state=tpb.JobState.Name(job.state),
                            seconds_to_end=round(seconds, 2),
                            leftovers_after_failure=leftovers,
                            leftovers_after_retry=len(list(store.path.rglob("*.partial-*"))),
                            earlier_intact=intact,
                            retry_ok=retry_ok,
                            **({"room_bytes": room} if fault == "full" else {}),
                        )
                    )
                    print("publish", results[-1], flush=True)
            finally:
                trainer.stop()
    return results


def _summary(trials: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in sorted({(t["kind"], t["fault"]) for t in trials}):
        group = [t for t in trials if (t["kind"], t["fault"]) == key]
        out[key[0] if key[1] in key[0] else f"{key[0]} {key[1]}"] = {
            "trials": len(group),
            "requests_during_fault": len(group),
            "codes": dict(Counter(t["code"] for t in group)),
            "clean": sum(t["clean"] for t in group),
            "leftovers_after_failure": sum(t["leftovers_after_failure"] for t in group),
            "leftovers_after_retry": sum(t["leftovers_after_retry"] for t in group),
            "visible_after_failure": sum(t.get("visible_after_failure", False) for t in group),
            "earlier_intact": sum(t["earlier_intact"] for t in group),
            "retries_ok": sum(t["retry_ok"] for t in group),
            "median_seconds_to_end": sorted(t["seconds_to_end"] for t in group)[len(group) // 2],
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=8, help="trials per fault kind")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    began = time.monotonic()
    runtime = DaskRuntime(DaskSettings(local_workers=2, local_threads=1, memory_limit="2GiB"))
    try:
        with tempfile.TemporaryDirectory(prefix="weather-store-faults-") as scratch:
            folder = Path(scratch)
            trials = _archive_trials(runtime, folder / "archive", args.trials, rng)
            trials += _build_trials(runtime, folder / "build", args.trials, rng)
            trials += _model_trials(runtime, folder / "models", args.trials, rng)
    finally:
        runtime.close()
    stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {
        "fault": "the store full or unwritable during ingest, append, export and publish",
        "created": stamp,
        "seconds": round(time.monotonic() - began, 1),
        "faults_made_with": "tmpfs + remount (root)" if IS_ROOT else "chmod 0o555 + RLIMIT_FSIZE",
        "cluster": "local Dask cluster, 2 worker processes (1 thread each)",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "versions": {p: metadata.version(p) for p in ("dask", "zarr", "xarray", "tensorflow")},
        "summary": _summary(trials),
        "trials": trials,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / f"store_faults-{stamp}.json"
    target.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report["summary"], indent=1))
    print(f"wrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
