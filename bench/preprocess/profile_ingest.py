"""Where the ingest's time goes: our ingest, the plain script and a prototype of the fix."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import dask.array as da
import numpy as np
import synth
import xarray as xr
import zarr
from distributed import Client, get_task_stream
from ours import Ours
from plain import CHUNK_BYTES, Plain
from run import CLUSTER

from weather_data import hashing
from weather_data.canonical import Selection, canonicalize
from weather_data.chunks import choose_chunks
from weather_data.cluster import DaskRuntime

STEP = np.dtype([("digest", "S32"), ("nans", "<i8")])
Variant = Callable[[Client, DaskRuntime, Path, Path], str]


def _store_and_digest(block: np.ndarray, url: str, name: str, block_info: dict) -> np.ndarray:
    """One task per chunk: write it to its region, hash each step, count NaNs."""
    start, stop = block_info[0]["array-location"][0]
    zarr.open_array(f"{url}/{name}", mode="r+")[start:stop] = block
    out = np.empty(block.shape[0], dtype=STEP)
    out["digest"] = hashing.block_digests(block)
    out["nans"] = np.isnan(block).reshape(block.shape[0], -1).sum(axis=1)
    return out


def fused(client: Client, _rt: DaskRuntime, source: Path, work: Path) -> str:
    """The fix: open at the target chunks, store + hash + count in one task, one graph.

    A prototype: no manifest, no cancel checks or progress; the content hash must equal ours.
    """
    with xr.open_dataset(source, engine="netcdf4") as peek:
        sizes = dict(zip(("time", "latitude", "longitude"), peek.t2m.shape, strict=True))
    chunks = choose_chunks(sizes)
    raw = xr.open_dataset(source, engine="netcdf4", chunks={"time": chunks["time"]})
    ds = canonicalize(raw, Selection()).chunk(chunks)
    for name in ds.variables:
        ds[name].encoding = {}
    url = str(work / "fused.zarr")
    ds.to_zarr(url, mode="w-", compute=False, consolidated=False)
    names = sorted(str(n) for n in ds.data_vars)
    lazy = [
        da.map_blocks(_store_and_digest, ds[n].data, url, n, drop_axis=[1, 2], dtype=STEP)
        for n in names
    ]
    steps = client.gather(client.compute(lazy))
    digests = {n: s["digest"] for n, s in zip(names, steps, strict=True)}
    return hashing.to_text(hashing.fold(hashing.structure_digest(ds), ds.time.values, digests))


def ours(_client: Client, runtime: DaskRuntime, source: Path, work: Path) -> str:
    pipeline = Ours(work / "archive", source, runtime)
    pipeline.ingest()
    return pipeline.dataset_hash


def plain(client: Client, _rt: DaskRuntime, source: Path, work: Path) -> str:
    Plain(work, source, client).ingest()
    return ""


def plain_rechunk(client: Client, _rt: DaskRuntime, source: Path, work: Path) -> str:
    """The plain script opening at the file's chunks (24 steps), then rechunking to ~8 MiB."""
    ds = xr.open_dataset(source, engine="netcdf4", chunks={}).astype("float32")
    ds = ds.chunk({"time": CHUNK_BYTES // (ds.sizes["lat"] * ds.sizes["lon"] * 4)})
    for name in ds.variables:
        ds[name].encoding = {}
    client.compute(ds.to_zarr(str(work / "p.zarr"), mode="w", compute=False)).result()
    return ""


VARIANTS: dict[str, Variant] = {
    "plain": plain,
    "plain, rechunked": plain_rechunk,
    "ours": ours,
    "fix prototype": fused,
}


def measure(variant: Variant, source: Path, work: Path) -> tuple[float, str, dict[str, float]]:
    """Wall seconds, content hash, and the task stream: busy time, all-idle gaps, transfers."""
    runtime = DaskRuntime(CLUSTER)
    client = runtime.client()
    try:
        started = time.monotonic()
        with get_task_stream(client) as stream:
            content_hash = variant(client, runtime, source, work)
        seconds = time.monotonic() - started
    finally:
        runtime.close()
    spans = sorted(
        (s["start"], s["stop"], s["action"]) for t in stream.data for s in t["startstops"]
    )
    gaps, end = 0.0, spans[0][0]
    for begin, stop, _ in spans:
        gaps += max(0.0, begin - end)
        end = max(end, stop)
    busy = sum(b - a for a, b, action in spans if action == "compute")
    moved = [b - a for a, b, action in spans if action == "transfer"]
    facts = {"busy": busy, "gaps": gaps, "transfers": len(moved), "transfer_s": sum(moved)}
    return seconds, content_hash, facts


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gb", type=float, default=1.0, help="dataset size (default 1)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each variant")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    with tempfile.TemporaryDirectory(prefix="ingest-profile-") as tmp:
        data = synth.generate(Path(tmp), args.gb * 1e9)
        best: dict[str, float] = {}
        hashes: dict[str, str] = {}
        for index in range(args.rounds):
            names = list(VARIANTS) if index % 2 == 0 else list(reversed(VARIANTS))
            for name in names:
                work = Path(tmp) / f"{index}-{name}".replace(" ", "_").replace(",", "")
                work.mkdir()
                seconds, content_hash, facts = measure(VARIANTS[name], data.path, work)
                shutil.rmtree(work)
                best[name] = min(best.get(name, seconds), seconds)
                hashes[name] = content_hash
                print(
                    f"{name:<18} {seconds:6.1f} s  worker busy {facts['busy']:5.1f} s  "
                    f"all-idle {facts['gaps']:4.1f} s  {facts['transfers']:.0f} transfers "
                    f"({facts['transfer_s']:.1f} s)",
                    flush=True,
                )
    print("\nbest of rounds, ratio to plain:")
    for name, seconds in best.items():
        print(f"  {name:<18} {seconds:6.1f} s  {seconds / best['plain']:.2f}x")
    same = hashes["fix prototype"] == hashes["ours"]
    print(f"prototype content hash {'equals' if same else 'DIFFERS from'} ours")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
