"""Augmentation is lazy and reproducible from the seed, and varies across samples."""

from __future__ import annotations

import dask.array as da
import numpy as np
import xarray as xr

from weather_preprocess.augment import augment
from weather_preprocess.domain import Augmentation


def _sample() -> xr.Dataset:
    data = da.from_array(np.arange(40 * 60, dtype="float32").reshape(1, 40, 60), chunks=(1, 20, 30))
    return xr.Dataset(
        {"t2m": (("time", "latitude", "longitude"), data)},
        coords={"latitude": np.linspace(50, 60, 40), "longitude": np.linspace(-10, 5, 60)},
    )


def test_same_seed_same_view_other_index_other_view() -> None:
    spec = Augmentation(seed=11, crop_latitude=16, crop_longitude=24, noise_std=0.1)
    first = augment(_sample(), spec, epoch=0, index=3)
    assert isinstance(first.t2m.data, da.Array), "augmentation must stay lazy"
    again = augment(_sample(), spec, epoch=0, index=3)
    np.testing.assert_array_equal(first.t2m.values, again.t2m.values)
    assert first.t2m.shape == (1, 16, 24)
    other = augment(_sample(), spec, epoch=1, index=3)
    assert not np.array_equal(first.t2m.values, other.t2m.values)
    noise = (
        first.t2m.values
        - _sample().t2m.sel(latitude=first.latitude, longitude=first.longitude).values
    )
    assert 0 < np.std(noise) < 0.2 * float(_sample().t2m.std())


def test_no_augmentation_is_the_identity() -> None:
    sample = _sample()
    out = augment(sample, Augmentation(seed=1), epoch=0, index=0)
    xr.testing.assert_identical(out, sample)
