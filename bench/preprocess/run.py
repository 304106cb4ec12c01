"""Benchmarks ingest, normalisation statistics and climatology against a plain xarray script."""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import shlex
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import synth
import xarray as xr
from memory import Sampler
from ours import Ours
from plain import Plain
from report import STAGES, Report, SizeRun, System, machine_info

from weather_data.chunks import choose_chunks
from weather_data.cluster import DaskRuntime, DaskSettings

METHODS = {"ingest": "ingest", "statistics": "compute_statistics", "climatology": "climatology"}
RESULTS = Path(__file__).resolve().parent / "results"
CLUSTER = DaskSettings(local_workers=2, local_threads=1, memory_limit="3GiB")
NOTES = [
    "Both systems run in this process against a fresh LocalCluster each, with the same settings "
    f"({CLUSTER.local_workers} worker processes x {CLUSTER.local_threads} thread, "
    f"memory_limit {CLUSTER.memory_limit}); untimed warm-up imports the libraries on the workers.",
    "ingest: ours is Ingester.run (open, canonicalise, write ~8 MiB chunks in ~128 MiB time "
    "batches, sha256 of every time step of every variable, missing counts, manifest commit); "
    "plain is open_dataset(chunks of the same ~8 MiB) -> astype(float32) -> to_zarr. "
    "Plain does NOT hash: ours does strictly more work in this stage.",
    "statistics: ours is compute_statistics on the ingested store (the whole dataset as the "
    "training split; it also counts values); plain computes mean/std of values and of one-step "
    "differences from its own store.",
    "climatology: ours publishes climatology(ds, 'month') as a derived dataset (as the analysis "
    "service does: written and hashed, manifest committed); plain writes "
    "ds.groupby('time.month').mean() with to_zarr.",
    "MB/s is uncompressed float32 bytes of the whole dataset / wall seconds of the stage; every "
    "stage reads the whole dataset. Source and stores are in the page cache (just written).",
    "Memory is resident set size sampled every 0.2 s: the client process (which also runs the "
    "scheduler) and each worker process. 'worker growth' is a worker's peak minus its RSS "
    "on the fresh cluster after warm-up; 'growth / chunk' expresses it in chunks of the store.",
]


@dataclass(frozen=True)
class Settings:
    """What to run."""

    sizes_gb: tuple[float, ...]
    repeat: int
    out: Path
    workdir: Path | None


def parse_args(argv: Sequence[str]) -> Settings:
    """Settings from the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gb", type=float, help="largest dataset in GB (default 2; quick 0.25)")
    parser.add_argument("--quick", action="store_true", help="one small dataset, no half size")
    parser.add_argument(
        "--repeat", type=int, help="runs of each system per size (default 2; quick 1)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    parser.add_argument("--workdir", type=Path, help="where temporary data goes (default: TMPDIR)")
    args = parser.parse_args(argv)
    sizes: tuple[float, ...]
    if args.quick:
        sizes = (args.gb or 0.25,)
    else:
        largest = args.gb or 2.0
        sizes = (largest / 2, largest)
    repeat = args.repeat or (1 if args.quick else 2)
    return Settings(sizes_gb=sizes, repeat=repeat, out=args.out, workdir=args.workdir)


def _warm_up() -> None:
    import netCDF4  # noqa: F401
    import xarray  # noqa: F401
    import zarr  # noqa: F401


Pipeline = Ours | Plain


def run_system(name: str, make: Callable[[DaskRuntime], Pipeline], system: System) -> Pipeline:
    """Runs the three stages of a system on a fresh cluster, adding their figures to system."""
    runtime = DaskRuntime(CLUSTER)
    client = runtime.client()
    client.run(_warm_up)
    sampler = Sampler(client)
    try:
        pipeline = make(runtime)
        for stage_name in STAGES:
            with sampler.stage() as peaks:
                started = time.monotonic()
                getattr(pipeline, METHODS[stage_name])()
                seconds = time.monotonic() - started
            stage = system.stage(stage_name)
            stage.times.append(seconds)
            stage.peaks.append(peaks)
            print(f"  {name:<6} {stage_name:<12} {seconds:7.1f} s", flush=True)
        return pipeline
    finally:
        sampler.close()
        runtime.close()


def _du(path: str) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def _checks(ours: Ours, plain: Plain) -> dict[str, object]:
    """How closely the two systems agree: statistics and climatology values."""
    assert ours.statistics is not None and plain.statistics is not None
    stats = max(
        abs(a - b) / max(abs(b), 1e-12)
        for name, theirs in plain.statistics.items()
        for a, b in zip(ours.statistics[name], theirs, strict=True)
    )
    mine = xr.open_zarr(ours.climatology_store, consolidated=False).load()
    theirs = xr.open_zarr(plain.climatology_store).load()
    clim = max(
        float(np.nanmax(np.abs(mine[n].values - theirs[n].values))) for n in theirs.data_vars
    )
    return {"stats_max_rel_diff": f"{stats:.1e}", "climatology_max_abs_diff": f"{clim:.1e}"}


def _dataset_facts(data: synth.Synthetic) -> dict[str, object]:
    chunks = choose_chunks(dict(zip(("time", "latitude", "longitude"), data.shape, strict=True)))
    chunk_shape = [chunks["time"], chunks["latitude"], chunks["longitude"]]
    return {
        "shape": list(data.shape),
        "variables": list(data.variables),
        "uncompressed_bytes": data.uncompressed_bytes,
        "source_file_bytes": data.file_bytes,
        "chunk_shape": chunk_shape,
        "chunk_bytes": int(np.prod(chunk_shape)) * 4,
        "generate_seconds": round(data.seconds, 1),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }


def _run_once(name: str, folder: Path, data: synth.Synthetic, run: SizeRun) -> Pipeline:
    folder.mkdir()
    system = run.systems.setdefault(name, System(name))
    if name == "ours":
        return run_system(name, lambda rt: Ours(folder / "archive", data.path, rt), system)
    return run_system(name, lambda rt: Plain(folder, data.path, rt.client()), system)


def _generate(folder: Path, gb: float) -> synth.Synthetic:
    """The dataset, made in a child process so its buffers do not count in the client's RSS."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(synth.generate, folder, gb * 1e9).result()


def run_size(gb: float, repeat: int, root: Path, report: Report) -> None:
    """Generates one dataset and runs both systems on it, in the order ABBA... over repeats."""
    folder = Path(tempfile.mkdtemp(prefix=f"{gb:g}gb-", dir=root))
    try:
        print(f"generating ~{gb:g} GB ...", flush=True)
        data = _generate(folder, gb)
        print(f"  {data.uncompressed_bytes / 1e9:.2f} GB in {data.seconds:.0f} s", flush=True)
        run = SizeRun(dataset=_dataset_facts(data))
        report.runs.append(run)
        last: dict[str, Pipeline] = {}
        for index in range(repeat):
            for name in ("ours", "plain") if index % 2 == 0 else ("plain", "ours"):
                if name in last:  # only the last repeat's outputs are kept, for the checks
                    shutil.rmtree(folder / f"{name}-{index - 1}")
                last[name] = _run_once(name, folder / f"{name}-{index}", data, run)
        ours, plain = last["ours"], last["plain"]
        assert isinstance(ours, Ours) and isinstance(plain, Plain) and ours.manifest
        assert list(ours.manifest.variables[0].chunks) == run.dataset["chunk_shape"]
        run.dataset.update(ours_store_bytes=_du(ours.store()), plain_store_bytes=_du(plain.store))
        run.checks = _checks(ours, plain)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: Sequence[str]) -> int:
    """Runs every size, prints the tables and saves the reports."""
    settings = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("pint").setLevel(logging.ERROR)  # cf_xarray redefines units on import
    warnings.filterwarnings("ignore", category=UserWarning)  # zarr v3 consolidated metadata
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="xarray")
    report = Report(
        stamp=time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
        command=shlex.join([".venv/bin/python", "bench/preprocess/run.py", *argv]),
        settings={
            "sizes_gb": list(settings.sizes_gb),
            "repeat": settings.repeat,
            "grid": f"{synth.LATITUDES.size} x {synth.LONGITUDES.size} (0.25 deg), hourly",
            "source": "NetCDF4, zlib level 1 + shuffle, chunks of "
            f"{synth.FILE_CHUNK_STEPS} steps x whole grid",
            "cluster": f"{CLUSTER.local_workers} workers x {CLUSTER.local_threads} thread, "
            f"memory_limit {CLUSTER.memory_limit}",
        },
        machine=machine_info(),
        notes=NOTES,
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="preprocess-bench-", dir=settings.workdir) as tmp:
        for gb in settings.sizes_gb:
            try:
                run_size(gb, settings.repeat, Path(tmp), report)
            except Exception as exc:
                report.failures.append(f"{gb:g} GB: {exc!r}"[:500])
                print(f"  FAILED: {exc!r}", flush=True)
    report.settings["total_seconds"] = round(time.monotonic() - started, 1)
    print()
    print(report.tables())
    json_path, md_path = report.save(settings.out)
    print(f"wrote {json_path} and {md_path}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
