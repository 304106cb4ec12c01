"""Benchmarks the trainer: its tf.data pipeline against in-memory NumPy, and the demo training."""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import keras
import numpy as np

from weather_data.archive import Archive
from weather_data.cluster import DaskRuntime, DaskSettings
from weather_ingest.ingest import Ingester
from weather_ingest.requests import build_request
from weather_ingest.source import SourceOptions
from weather_preprocess.build import Builder
from weather_preprocess.convert import recipe_from_pb
from weather_trainer import fitting, pipeline, scoring
from weather_trainer.model import FitJob
from weather_trainer.models import FAMILIES
from weather_trainer.spec import Hooks, TrainSpec
from weather_trainer.training import build_context, check, train
from weatherctl.recipes import recipe_from_yaml

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
DATASET = "era5-t2m-train"
PACKAGES = ("tensorflow", "keras", "dask", "distributed", "xarray", "zarr", "numpy")


def demo_spec(epochs: int) -> TrainSpec:
    """The demo network's job (data/jobs/era5-t2m-cnn.yaml) with the given epochs."""
    return TrainSpec(DATASET, "", "cnn", input_steps=24, epochs=epochs, seed=2019)


def build_archive(folder: Path, runtime: DaskRuntime) -> Archive:
    """Ingests the bundled ERA5 GRIB and builds the demo recipe, as the services do."""
    request = build_request(
        source_uri=str(ROOT / "data" / "demo" / "era5-2mt-2019-03-uk.grib"),
        dataset_id="era5-t2m",
        format="",
        variables=[],
        start=None,
        end=None,
        region=None,
        levels=[],
        units={},
        reference_year=0,
        options=SourceOptions(),
    )
    archive = Archive(str(folder))
    ingester = Ingester(archive, runtime, [str(ROOT / "data" / "demo")])
    ingester.run(request, "bench", lambda stage, done: None, threading.Event())
    recipe = recipe_from_pb(
        recipe_from_yaml((ROOT / "data" / "recipes" / "era5-t2m.yaml").read_text())
    )
    Builder(archive, runtime).run(recipe, "bench", lambda stage, done: None, threading.Event())
    return archive


def throughput(archive: Archive, epochs: int, repeat: int) -> dict[str, object]:
    """Samples per second of model.fit on the trainer's tf.data pipeline and on the same
    samples already in memory as NumPy arrays; same model, batch, steps, in this process."""
    spec = demo_spec(epochs)
    from weather_trainer.data import open_training_data

    data = open_training_data(archive, DATASET, "")
    context = build_context(spec, data, check(spec, data))
    family = FAMILIES["cnn"]
    hp = family.resolved({"ridge_start": 0})
    batch, leads_per_init = family.default_batch_size, int(hp["leads_per_init"])
    train_samples = pipeline.split_samples(data, context, "train")
    weights = 1.0 / scoring.reference_mse(train_samples)
    steps = pipeline.steps_per_pass(train_samples, batch, leads_per_init)
    # the NumPy side: one pass of the same draw (leads_per_init leads per init time)
    rng = np.random.default_rng(spec.seed)
    keep = np.zeros(train_samples.size, dtype=bool)
    for init in np.unique(train_samples.pairs[:, 0]):
        rows = np.flatnonzero(train_samples.pairs[:, 0] == init)
        keep[rng.choice(rows, min(leads_per_init, rows.size), replace=False)] = True
    pairs = train_samples.pairs[keep]
    inputs, targets = train_samples.read_block(pairs)
    sample_weights = {
        name: weights[pairs[:, 1], v].astype(np.float32) for v, name in enumerate(context.variables)
    }
    samples = steps * batch
    memory_bytes = sum(a.nbytes for a in inputs.values()) + sum(a.nbytes for a in targets.values())

    def model() -> keras.Model:
        job = FitJob(data, context, spec, hp, Path(tempfile.mkdtemp()), Hooks())
        keras.utils.set_random_seed(spec.seed)
        return fitting.compile_model(family, job, steps)

    def timed(fit: Callable[[], object]) -> float:
        started = time.monotonic()
        fit()
        return samples * epochs / (time.monotonic() - started)

    runs: dict[str, list[float]] = {"pipeline": [], "numpy": []}
    for _ in range(repeat):
        m = model()
        stream = pipeline.dataset(
            train_samples,
            batch,
            shuffle=True,
            seed=spec.seed,
            leads_per_init=leads_per_init,
            lead_weights=weights,
        ).repeat()
        m.fit(stream, epochs=1, steps_per_epoch=steps, verbose=0)  # warm-up: trace, fill
        runs["pipeline"].append(
            timed(functools.partial(m.fit, stream, epochs=epochs, steps_per_epoch=steps, verbose=0))
        )
        m = model()
        in_memory = functools.partial(
            m.fit,
            inputs,
            targets,
            sample_weight=sample_weights,
            batch_size=batch,
            steps_per_epoch=steps,
            shuffle=True,
            verbose=0,
        )
        in_memory(epochs=1)  # warm-up
        runs["numpy"].append(timed(functools.partial(in_memory, epochs=epochs)))
    best = {k: max(v) for k, v in runs.items()}
    return {
        "samples_per_second": best,
        "runs": runs,
        "ratio": best["pipeline"] / best["numpy"],
        "steps_per_epoch": steps,
        "batch": batch,
        "epochs": epochs,
        "numpy_bytes": memory_bytes,
    }


def demo_training(archive: Archive, runtime: DaskRuntime, epochs: int, work: Path) -> dict:
    """Wall time and scores of the demo network and the ridge, trained as a job would be."""
    out: dict[str, object] = {}
    for family, spec in (
        ("cnn", demo_spec(epochs)),
        ("ridge", TrainSpec(DATASET, "", "ridge", input_steps=24, epochs=1, seed=2019)),
    ):
        started = time.monotonic()
        outcome = train(spec, archive, work / family, Hooks(), dask_client=runtime.client())
        seconds = time.monotonic() - started
        out[family] = {
            "seconds": seconds,
            "epochs": len(outcome.epochs),
            "table": scoring.skill_table(outcome.scores),
            "scores": [
                {
                    "lead_hours": s.lead_seconds / 3600,
                    "model_rmse": s.model.rmse,
                    "persistence_rmse": s.persistence.rmse,
                    "climatology_rmse": s.climatology.rmse,
                    "skill": s.skill_score,
                    "model_acc": s.model.acc,
                }
                for s in outcome.scores
            ],
            "worst_skill": min(s.skill_score for s in outcome.scores),
        }
    return out


def machine() -> dict[str, str]:
    info = {
        "nproc": str(len(os.sched_getaffinity(0))),
        "os": platform.platform(),
        "python": platform.python_version(),
    }
    for name in PACKAGES:
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = "-"
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    info["commit"] = commit + (" (uncommitted changes)" if dirty else "")
    return info


def markdown(stamp: str, command: str, result: dict) -> str:
    t = result["throughput"]
    lines = [
        f"# Trainer benchmark {stamp}",
        "",
        f"Command: `{command}`",
        "",
        "## Machine",
        "",
        "| fact | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in result["machine"].items()],
        "",
        "## Input pipeline against NumPy in memory",
        "",
        f"The demo network (cnn, default hyperparameters, batch {t['batch']}), "
        f"{t['steps_per_epoch']} steps an epoch, {t['epochs']} timed epochs after one warm-up "
        "epoch, best of the repeats. pipeline: `weather_trainer.pipeline.dataset` reading the "
        "Zarr training split block by block (from_generator, interleave, shuffle, prefetch); "
        f"numpy: `model.fit` on the same samples already in memory ({t['numpy_bytes'] / 2**20:.0f}"
        " MiB of arrays).",
        "",
        "| input | samples/s | runs |",
        "|---|---:|---|",
        *[
            f"| {k} | {v:.0f} | {', '.join(f'{x:.0f}' for x in t['runs'][k])} |"
            for k, v in t["samples_per_second"].items()
        ],
        "",
        f"Ratio pipeline / numpy: **{t['ratio']:.3f}** (target >= 0.9).",
        "",
        "## Demo training (2 cores)",
        "",
    ]
    for family, run in result["demo"].items():
        lines += [
            f"### {family}: {run['seconds']:.0f} s wall, {run['epochs']} epochs, "
            f"worst skill {run['worst_skill']:+.3f}",
            "",
            run["table"],
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=8, help="demo training epochs")
    parser.add_argument("--throughput-epochs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args(argv)
    command = shlex.join([".venv/bin/python", "bench/train/run.py", *(argv or sys.argv[1:])])
    runtime = DaskRuntime(DaskSettings(local_workers=2, local_threads=1, memory_limit="2GiB"))
    with tempfile.TemporaryDirectory(prefix="bench-train-") as temp:
        folder = Path(temp)
        try:
            archive = build_archive(folder / "archive", runtime)
            result: dict[str, object] = {"machine": machine(), "command": command}
            result["throughput"] = throughput(archive, args.throughput_epochs, args.repeat)
            result["demo"] = (
                {} if args.skip_demo else demo_training(archive, runtime, args.epochs, folder)
            )
        finally:
            runtime.close()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stamp}.json").write_text(json.dumps(result, indent=1, default=str))
    text = markdown(stamp, command, result)
    (RESULTS / f"{stamp}.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
