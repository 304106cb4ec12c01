"""Writes canonical datasets to Zarr on the Dask cluster, in time batches, hashing as it goes."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr
import zarr
from dask.utils import key_split
from distributed import Client, Future
from distributed.comm.core import CommClosedError
from distributed.scheduler import KilledWorker, NoWorkerError
from opentelemetry.trace import Span

from weather_data import hashing
from weather_data.canonical import LAT, LEVEL, LON, STATION, TIME
from weather_data.chunks import choose_chunks
from weather_data.manifest import DimensionMeta, VariableMeta
from weather_runtime import spans
from weather_runtime.errors import Unavailable
from weather_runtime.operations import Cancelled

log = logging.getLogger(__name__)
BATCH_BYTES = 128 * 1024 * 1024
BATCHES_AHEAD = 3


@dataclass(frozen=True)
class WriteResult:
    """What a write produced: the chain state, missing counts per variable, chunk sizes."""

    state: bytes
    missing: dict[str, int]
    chunks: dict[str, int]


@contextmanager
def lost_workers_unavailable(what: str) -> Iterator[None]:
    """UNAVAILABLE (retry) for a compute the Dask cluster gave up on: its workers died running a
    task more often than the scheduler's allowed-failures (KilledWorker), or the connection to
    the scheduler closed, or no worker was left for longer than the scheduler's
    no-workers-timeout (when set; else the compute waits for workers to return). A worker
    killed fewer times costs nothing: its tasks run again."""
    try:
        yield
    except NoWorkerError as exc:
        raise Unavailable(
            f"{what}: the Dask cluster had no worker to run its task {key_split(exc.task)} for "
            f"{exc.timeout:g} s (the scheduler's no-workers-timeout); nothing was stored, retry"
        ) from exc
    except KilledWorker as exc:
        raise Unavailable(
            f"{what}: a Dask worker died while running its task {key_split(exc.task)}, which "
            f"the scheduler then gave up on (allowed-failures {exc.allowed_failures}); nothing "
            "was stored, retry"
        ) from exc
    except CommClosedError as exc:
        raise Unavailable(
            f"{what}: the connection to the Dask cluster closed ({exc}); nothing was stored, retry"
        ) from exc


def _gather(client: Client, tasks: list[object], cancel: threading.Event) -> list[object]:
    return _wait(client, client.compute(tasks), cancel)  # type: ignore[arg-type]


def _wait(client: Client, futures: list[Future], cancel: threading.Event) -> list[object]:
    """The futures' results once all are done; Cancelled (after cancelling them) on request."""
    while not all(future.done() for future in futures):
        if cancel.is_set():
            client.cancel(futures)
            raise Cancelled()
        time.sleep(0.05)
    return gather_or_release(client, futures)


def gather_or_release(client: Client, futures: list[Future]) -> list[Any]:
    """The futures' results; when one erred (a task raised, its workers died) they are all
    cancelled first: the scheduler keeps an erred task while a client holds it, and a later
    graph with the same deterministic key (a retry's) would get its error instead of a run."""
    try:
        return client.gather(futures)  # type: ignore[no-any-return]
    except BaseException:
        try:
            client.cancel(futures)
        except Exception:  # a lost scheduler holds nothing: keep the first error
            log.warning("could not cancel the futures of a failed compute", exc_info=True)
        raise


STEP = np.dtype([("digest", "S32"), ("missing", "<i8")])


def _store_block(
    block: np.ndarray,
    url: str,
    name: str,
    offset: int,
    block_info: dict,  # type: ignore[type-arg]
) -> np.ndarray:
    """One task per chunk of whole steps: store it in its region, hash each step, count NaNs."""
    start, stop = block_info[0]["array-location"][0]
    target = zarr.open_array(store=url, path=name, mode="r+")
    target[offset + start : offset + stop] = block
    out = np.empty(block.shape[0], dtype=STEP)
    out["digest"] = hashing.block_digests(block)
    out["missing"] = np.isnan(block).reshape(block.shape[0], -1).sum(axis=1)
    return out


def _whole_steps(ds: xr.Dataset) -> bool:
    """Whether every chunk of every variable holds whole time steps (one chunk off time)."""
    return all(
        var.chunks is not None and all(len(c) == 1 for c in var.chunks[1:])
        for var in ds.data_vars.values()
    )


def _submit_fused(
    ds: xr.Dataset, url: str, client: Client, names: list[str], begin: int, end: int
) -> tuple[list[Future], int]:
    """Futures of one batch where each task stores, hashes and counts its own chunk, and the
    number of tasks in their graphs."""
    part = ds.isel({TIME: slice(begin, end)})
    tasks = [
        da.map_blocks(
            _store_block,
            part[name].data,
            url,
            name,
            drop_axis=list(range(1, part[name].ndim)),
            dtype=STEP,
            offset=begin,
        )
        for name in names
    ]
    return client.compute(tasks), spans.task_count(tasks)


def _submit_separate(
    ds: xr.Dataset, url: str, client: Client, names: list[str], begin: int, end: int
) -> tuple[list[Future], int]:
    """Futures of one batch for tiled steps (the region write, then digests and NaN counts),
    and the number of tasks in their graphs."""
    part = ds.isel({TIME: slice(begin, end)})
    static = [c for c in part.coords if TIME not in part[c].dims]
    write = part.drop_vars(static).to_zarr(
        url, region={TIME: slice(begin, end)}, compute=False, consolidated=False
    )
    digests = [hashing.step_digests(part[n]) for n in names]
    nans = [part[n].isnull().sum().data for n in names]
    collections = [write, *digests, *nans]
    return client.compute(collections), spans.task_count(collections)


def _batch_results(
    results: list[object], names: list[str], fused: bool
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Per-variable step digests and NaN counts of one finished batch."""
    if fused:
        steps = dict(zip(names, results, strict=True))
        return (
            {n: s["digest"] for n, s in steps.items()},  # type: ignore[index]
            {n: int(s["missing"].sum()) for n, s in steps.items()},  # type: ignore[index]
        )
    digests = dict(zip(names, results[1 : 1 + len(names)], strict=True))
    counts = {n: int(c) for n, c in zip(names, results[1 + len(names) :], strict=True)}  # type: ignore[call-overload]
    return digests, counts  # type: ignore[return-value]


def _write_steps(
    ds: xr.Dataset,
    url: str,
    client: Client,
    state: bytes,
    *,
    on_progress: Callable[[float], None],
    cancel: threading.Event,
) -> tuple[bytes, dict[str, int]]:
    """Writes the data variables of ds (chunked like the new store at url, whose metadata and
    coordinates are written) in time batches, extending the hash chain from state. Returns the
    final state and the missing counts."""
    names = [str(n) for n in ds.data_vars]
    missing = dict.fromkeys(names, 0)
    total = ds.sizes[TIME]
    step_bytes = max(
        1, sum(int(np.prod([s for d, s in ds[n].sizes.items() if d != TIME])) * 4 for n in names)
    )
    time_chunk = max(1, int(ds.chunks[TIME][0])) if ds.chunks else total
    per_batch = max(time_chunk, (BATCH_BYTES // step_bytes) // time_chunk * time_chunk)
    times = ds[TIME].values
    fused = _whole_steps(ds)
    submit = _submit_fused if fused else _submit_separate

    # BATCHES_AHEAD batches are in flight, so the cluster never idles between batches; results
    # are taken in time order to extend the hash chain and report progress.
    starts = list(range(0, total, per_batch))
    # one span per batch, from its submission to its results (batches overlap in time)
    in_flight: deque[tuple[int, int, list[Future], Span]] = deque()
    try:
        for index in range(len(starts)):
            while len(in_flight) < BATCHES_AHEAD and index + len(in_flight) < len(starts):
                if cancel.is_set():
                    raise Cancelled()
                begin = starts[index + len(in_flight)]
                end = min(total, begin + per_batch)
                span = spans.tracer().start_span(
                    "write batch",
                    attributes={
                        "batch.index": index + len(in_flight),
                        "batch.batches": len(starts),
                        "batch.time_steps": end - begin,
                        "batch.bytes": (end - begin) * step_bytes,
                    },
                )
                futures, tasks = submit(ds, url, client, names, begin, end)
                span.set_attribute("dask.tasks", tasks)
                in_flight.append((begin, end, futures, span))
            begin, end, futures, span = in_flight.popleft()
            try:
                digests, counts = _batch_results(_wait(client, futures, cancel), names, fused)
            finally:
                span.end()
            state = hashing.fold(state, times[begin:end], digests)
            for name, count in counts.items():
                missing[name] += count
            on_progress(end / total)
    except BaseException:
        client.cancel([f for _, _, futures, _ in in_flight for f in futures])
        for *_, span in in_flight:
            span.end()
        raise
    return state, missing


def write_new(
    ds: xr.Dataset,
    url: str,
    client: Client,
    *,
    on_progress: Callable[[float], None],
    cancel: threading.Event,
) -> WriteResult:
    """Creates a new store at url holding ds, chunked for map and time-series access."""
    chunks = choose_chunks({str(k): int(v) for k, v in ds.sizes.items()})
    ds = ds.chunk({k: v for k, v in chunks.items() if k in ds.dims})
    # coordinates that do not run along time are written with the metadata, so load them now
    static = [str(c) for c in ds.coords if TIME not in ds[c].dims]
    ds = ds.assign_coords({c: ds[c].compute() for c in static})
    for name in ds.variables:
        ds[name].encoding = {}
    if TIME not in ds.dims:
        return _write_static(ds, url, client, chunks, cancel)
    ds.to_zarr(url, mode="w-", compute=False, consolidated=False)
    state, missing = _write_steps(
        ds,
        url,
        client,
        hashing.structure_digest(ds),
        on_progress=on_progress,
        cancel=cancel,
    )
    return WriteResult(state, missing, chunks)


def _write_static(
    ds: xr.Dataset, url: str, client: Client, chunks: dict[str, int], cancel: threading.Event
) -> WriteResult:
    """A dataset without a time axis (a climatology, a trend map) in one Dask round."""
    names = sorted(str(n) for n in ds.data_vars)
    write = ds.to_zarr(url, mode="w-", compute=False, consolidated=False)
    nans = [ds[n].isnull().sum().data for n in names]
    tasks = [write, *[ds[n].data for n in names], *nans]
    with spans.dask_compute("dask compute: write static", tasks, variables=len(names)):
        results = _gather(client, tasks, cancel)
    arrays = results[1 : 1 + len(names)]
    hasher = hashlib.sha256(hashing.structure_digest(ds))
    for array in arrays:
        values = np.ascontiguousarray(array, dtype="<f4")
        hasher.update(np.where(np.isnan(values), np.float32("nan"), values).tobytes())
    missing = {n: int(c) for n, c in zip(names, results[1 + len(names) :], strict=True)}  # type: ignore[call-overload]
    return WriteResult(hasher.digest(), missing, chunks)


def time_step_seconds(times: np.ndarray) -> float:
    """The regular spacing of a time axis in seconds, 0 when irregular or a single step."""
    if len(times) < 2:
        return 0.0
    steps = np.diff(times.astype("datetime64[ns]").astype("int64"))
    return float(steps[0] / 1e9) if np.all(steps == steps[0]) else 0.0


def describe(
    ds: xr.Dataset, chunks: dict[str, int], missing: dict[str, int]
) -> tuple[tuple[VariableMeta, ...], tuple[DimensionMeta, ...], dict[str, object]]:
    """Manifest parts of a canonical dataset: variables, dimensions and the time facts."""
    variables = tuple(
        VariableMeta(
            name=str(name),
            units=str(var.attrs.get("units", "")),
            long_name=str(var.attrs.get("long_name", "")),
            dims=tuple(str(d) for d in var.dims),
            chunks=tuple(int(chunks.get(str(d), var.sizes[d])) for d in var.dims),
            missing_count=int(missing.get(str(name), 0)),
        )
        for name, var in ds.data_vars.items()
    )
    kinds = {TIME: "time", LEVEL: "level", LAT: "latitude", LON: "longitude", STATION: "station"}
    dimensions = []
    for dim, size in ds.sizes.items():
        coord = ds[dim] if dim in ds.coords else None
        low = high = 0.0
        if coord is not None and dim != TIME and np.issubdtype(coord.dtype, np.number):
            low, high = float(coord.min()), float(coord.max())
        dimensions.append(
            DimensionMeta(
                name=str(dim),
                kind=kinds.get(str(dim), "other"),
                size=int(size),
                units=str(coord.attrs.get("units", "")) if coord is not None else "",
                min=low,
                max=high,
            )
        )
    size = int(sum(var.size * 4 for var in ds.data_vars.values()))
    if TIME not in ds.dims:
        static: dict[str, object] = {
            "time_start": "",
            "time_end": "",
            "time_steps": 0,
            "time_step_seconds": 0.0,
            "size_bytes": size,
        }
        return variables, tuple(dimensions), static
    times = ds[TIME].values
    step = time_step_seconds(times)
    first, last = pd.Timestamp(times[0]), pd.Timestamp(times[-1])
    end = last + pd.Timedelta(seconds=step or 1)
    facts: dict[str, object] = {
        "time_start": first.isoformat() + "Z",
        "time_end": end.isoformat() + "Z",
        "time_steps": len(times),
        "time_step_seconds": step,
        "size_bytes": size,
    }
    return variables, tuple(dimensions), facts


def now_iso() -> str:
    """The current UTC time as an ISO 8601 string."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z"
