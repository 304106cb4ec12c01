"""weather_data.hashing: what the content hash depends on (values, times, structure) and what
it does not (chunking, variable order, NaN payloads), and that appends extend the chain."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr

from weather_data import hashing


def _dataset(seed: int = 0, steps: int = 6) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    dims = ("time", "latitude", "longitude")
    shape = (steps, 4, 5)
    return xr.Dataset(
        {
            "t2m": (dims, rng.normal(280, 5, shape).astype("float32"), {"units": "K"}),
            "u10": (dims, rng.normal(0, 3, shape).astype("float32"), {"units": "m s-1"}),
        },
        coords={
            "time": np.arange(steps).astype("datetime64[h]").astype("datetime64[ns]"),
            "latitude": np.linspace(-30.0, 30.0, 4),
            "longitude": np.linspace(0.0, 40.0, 5),
        },
    )


def _content_hash(ds: xr.Dataset) -> bytes:
    digests = {
        str(name): da.compute(hashing.step_digests(ds[name]), scheduler="sync")[0]
        for name in ds.data_vars
    }
    return hashing.fold(hashing.structure_digest(ds), ds["time"].values, digests)


def test_the_same_content_has_the_same_hash_whatever_its_chunks() -> None:
    ds = _dataset()
    whole = _content_hash(ds)
    assert _content_hash(ds.chunk({"time": 1, "latitude": 2, "longitude": 3})) == whole
    assert _content_hash(ds.chunk({"time": 4})) == whole
    assert _content_hash(_dataset()) == whole


def test_variable_order_does_not_count() -> None:
    ds = _dataset()
    assert _content_hash(ds[["u10", "t2m"]]) == _content_hash(ds[["t2m", "u10"]])


def test_one_changed_value_changes_the_hash() -> None:
    ds = _dataset()
    changed = ds.copy(deep=True)
    changed["t2m"][3, 2, 1] += np.float32(0.5)
    assert _content_hash(changed) != _content_hash(ds)
    assert _content_hash(_dataset(seed=1)) != _content_hash(ds)


def test_times_and_their_order_count() -> None:
    ds = _dataset()
    shifted = ds.assign_coords(time=ds["time"].values + np.timedelta64(1, "h"))
    assert _content_hash(shifted) != _content_hash(ds)
    order = [1, 0, 2, 3, 4, 5]
    swapped = ds.isel(time=order).assign_coords(time=ds["time"].values)
    assert _content_hash(swapped) != _content_hash(ds)


def test_the_structure_digest_sees_units_names_and_grid_but_not_values() -> None:
    ds = _dataset()
    digest = hashing.structure_digest(ds)
    assert hashing.structure_digest(_dataset(seed=1)) == digest  # other values, same structure
    assert hashing.structure_digest(ds.isel(time=slice(0, 2))) == digest  # time is not structure
    relabelled = ds.copy(deep=True)
    relabelled["t2m"].attrs["units"] = "degC"
    assert hashing.structure_digest(relabelled) != digest
    assert hashing.structure_digest(ds.rename({"u10": "v10"})) != digest
    moved = ds.assign_coords(longitude=ds["longitude"].values + 1)
    assert hashing.structure_digest(moved) != digest


def test_every_nan_payload_hashes_as_the_one_nan() -> None:
    step = np.array([[[1.0, np.nan], [2.0, 3.0]]], dtype="<f4")
    other_nan = step.copy()
    other_nan.view("<u4")[0, 0, 1] = 0x7FC00001  # a NaN with another payload
    assert np.isnan(other_nan[0, 0, 1])
    assert hashing.block_digests(other_nan)[0] == hashing.block_digests(step)[0]
    as_float64 = hashing.block_digests(step.astype("float64"))
    assert as_float64[0] == hashing.block_digests(step)[0]  # hashed as little-endian float32


def test_block_digests_are_one_per_step() -> None:
    block = np.zeros((3, 2, 2), dtype="<f4")
    block[2] = 1.0
    digests = hashing.block_digests(block)
    assert digests.shape == (3,)
    assert digests[0] == digests[1] != digests[2]


def test_appended_steps_extend_the_chain() -> None:
    ds = _dataset(steps=6)
    digests = {
        str(n): da.compute(hashing.step_digests(ds[n]), scheduler="sync")[0] for n in ds.data_vars
    }
    times = ds["time"].values
    start = hashing.structure_digest(ds)
    first = hashing.fold(start, times[:4], {n: d[:4] for n, d in digests.items()})
    extended = hashing.fold(first, times[4:], {n: d[4:] for n, d in digests.items()})
    assert extended == hashing.fold(start, times, digests) == _content_hash(ds)


@pytest.mark.parametrize("state", [b"\x00" * 32, bytes(range(32))])
def test_text_form_round_trips(state: bytes) -> None:
    text = hashing.to_text(state)
    assert text.startswith("sha256:") and len(text) == len("sha256:") + 64
    assert hashing.from_text(text) == state
