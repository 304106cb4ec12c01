"""Content hashes of canonical datasets: a chain over time steps, so appends extend it."""

from __future__ import annotations

import hashlib
import json

import dask.array as da
import numpy as np
import xarray as xr

PREFIX = "sha256:"


def structure_digest(ds: xr.Dataset) -> bytes:
    """Digest of what is constant along time: variables, units, dims, non-time coordinates."""
    description = {
        "variables": [
            [str(name), str(var.attrs.get("units", "")), [str(d) for d in var.dims]]
            for name, var in sorted(ds.data_vars.items())
        ],
        "coords": {
            str(name): hashlib.sha256(np.ascontiguousarray(coord.values).tobytes()).hexdigest()
            for name, coord in sorted(ds.coords.items())
            if "time" not in coord.dims
        },
    }
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).digest()


def block_digests(block: np.ndarray) -> np.ndarray:
    """One sha256 per time step of a block holding whole steps (NaN payloads made canonical)."""
    values = np.ascontiguousarray(block, dtype="<f4")
    missing = np.isnan(values)
    if missing.any():  # only then copy: every NaN becomes the one canonical NaN
        values = np.where(missing, np.float32("nan"), values)
    out = np.empty(values.shape[0], dtype="S32")
    for index in range(values.shape[0]):
        out[index] = hashlib.sha256(memoryview(values[index]).cast("B")).digest()
    return out


def step_digests(var: xr.DataArray) -> da.Array:
    """Lazy per-time-step digests of a variable whose first dimension is time."""
    data = var.data if isinstance(var.data, da.Array) else da.from_array(var.values)
    whole_steps = data.rechunk({i: -1 for i in range(1, data.ndim)})
    return da.map_blocks(  # type: ignore[no-any-return]
        block_digests, whole_steps, drop_axis=list(range(1, data.ndim)), dtype="S32"
    )


def fold(start: bytes, times: np.ndarray, digests: dict[str, np.ndarray]) -> bytes:
    """Extends a hash chain: h = sha256(h | time | each variable's digest, in name order)."""
    state = start
    names = sorted(digests)
    stamps = times.astype("datetime64[ns]").astype("<i8")
    for index, stamp in enumerate(stamps):
        hasher = hashlib.sha256(state)
        hasher.update(stamp.tobytes())
        for name in names:
            hasher.update(digests[name][index])
        state = hasher.digest()
    return state


def to_text(state: bytes) -> str:
    """ "sha256:<hex>" form of a chain state."""
    return PREFIX + state.hex()


def from_text(text: str) -> bytes:
    """Chain state of a "sha256:<hex>" hash."""
    return bytes.fromhex(text.removeprefix(PREFIX))
