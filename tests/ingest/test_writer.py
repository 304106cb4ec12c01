"""The archive writer: one content hash whatever the chunking, and exactly what was given stored."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import weather_data.chunks
from weather_data import hashing
from weather_data.cluster import DaskRuntime
from weather_data.writer import write_new


def _dataset() -> xr.Dataset:
    """Three days of hourly values on a 20 x 30 grid, with NaNs (some with odd payloads)."""
    rng = np.random.default_rng(7)
    times = pd.date_range("2020-01-01", periods=72, freq="h").values
    lat = np.linspace(50.0, 40.5, 20)
    lon = np.linspace(0.0, 14.5, 30)
    t2m = rng.normal(280.0, 5.0, (72, 20, 30)).astype("float32")
    t2m[3, 4, 5] = np.nan
    t2m[40, :2, :3] = np.float32(np.nan) * -1  # a NaN with the sign bit set
    wind = rng.normal(0.0, 3.0, (72, 20, 30)).astype("float32")
    dims = ("time", "latitude", "longitude")
    return xr.Dataset(
        {"t2m": (dims, t2m, {"units": "K"}), "u10": (dims, wind, {"units": "m s-1"})},
        coords={"time": times, "latitude": lat, "longitude": lon},
    )


def _canonical_nan(step: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(step), np.float32("nan"), step).astype("<f4")


def _reference_hash(ds: xr.Dataset) -> bytes:
    """The chain computed from whole in-memory steps, independently of Dask and Zarr."""
    digests = {
        str(name): np.array(
            [hashlib.sha256(_canonical_nan(step).tobytes()).digest() for step in ds[name].values]
        )
        for name in ds.data_vars
    }
    return hashing.fold(hashing.structure_digest(ds), ds.time.values, digests)


@pytest.mark.parametrize("tile", [512, 8], ids=["whole-steps", "tiled-steps"])
def test_hash_and_values_do_not_depend_on_chunking(
    tile: int, tmp_path: Path, dask_runtime: DaskRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(weather_data.chunks, "MAX_SPATIAL_TILE", tile)
    monkeypatch.setattr(weather_data.chunks, "TARGET_CHUNK_BYTES", 20 * 30 * 4 * 5)
    monkeypatch.setattr("weather_data.writer.BATCH_BYTES", 20 * 30 * 4 * 2 * 12)
    ds = _dataset()
    url = str(tmp_path / "out.zarr")
    progress: list[float] = []
    result = write_new(
        ds.copy(), url, dask_runtime.client(), on_progress=progress.append, cancel=threading.Event()
    )

    assert result.state == _reference_hash(ds)
    assert result.missing == {"t2m": 1 + 6, "u10": 0}
    assert result.chunks["latitude"] == min(tile, 20)
    assert result.chunks["time"] == min(72, (20 * 30 * 5) // (min(tile, 20) * min(tile, 30)))
    assert progress[-1] == 1.0 and progress == sorted(progress) and len(progress) >= 2
    stored = xr.open_zarr(url, consolidated=False).load()
    np.testing.assert_array_equal(stored.time.values, ds.time.values)
    for name in ds.data_vars:
        np.testing.assert_array_equal(stored[name].values, ds[name].values)
        assert stored[name].attrs["units"] == ds[name].attrs["units"]
