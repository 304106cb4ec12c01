"""Training-time augmentation: random sub-region crops and noise, lazy and reproducible."""

from __future__ import annotations

import dask.array as da
import numpy as np
import xarray as xr

from weather_data.canonical import LAT, LON
from weather_preprocess.domain import Augmentation


def augment(sample: xr.Dataset, augmentation: Augmentation, epoch: int, index: int) -> xr.Dataset:
    """The augmented view of one training sample; the same (seed, epoch, index) gives the same view.

    Crops pick a random window of crop_latitude x crop_longitude cells; noise adds Gaussian noise
    of noise_std times each variable's standard deviation. Both stay lazy (dask) until computed.
    """
    rng = np.random.default_rng([augmentation.seed, epoch, index])
    out = sample
    if augmentation.crop_latitude and augmentation.crop_longitude:
        height = min(augmentation.crop_latitude, sample.sizes[LAT])
        width = min(augmentation.crop_longitude, sample.sizes[LON])
        top = int(rng.integers(0, sample.sizes[LAT] - height + 1))
        left = int(rng.integers(0, sample.sizes[LON] - width + 1))
        out = out.isel({LAT: slice(top, top + height), LON: slice(left, left + width)})
    if augmentation.noise_std > 0:
        noisy = {}
        for name, var in out.data_vars.items():
            seed = int(rng.integers(0, 2**31))
            if isinstance(var.data, da.Array):
                draws = da.random.RandomState(seed).standard_normal(
                    var.shape, chunks=var.data.chunks
                )
            else:
                draws = np.random.default_rng(seed).standard_normal(var.shape)
            noise = xr.DataArray(draws.astype(var.dtype), dims=var.dims, coords=var.coords)
            noisy[name] = var + noise * (augmentation.noise_std * var.std())
        out = out.assign(noisy)
    return out
