"""Zarr stores (version 2 or 3), local or behind an fsspec URL."""

from __future__ import annotations

import xarray as xr

from weather_ingest.source import CorruptSource, Source, SourceOptions
from weather_ingest.sources import register


class ZarrSource(Source):
    """Zarr stores."""

    name = "zarr"
    suffixes = (".zarr",)

    def sniff(self, head: bytes) -> bool:
        return False  # a store is a folder: detected as a directory

    def open(self, path: str, options: SourceOptions) -> xr.Dataset:
        try:
            dataset = xr.open_dataset(path, engine="zarr", chunks=None, cache=False)
        except Exception as exc:
            raise CorruptSource(f"Zarr store is unreadable: {type(exc).__name__}: {exc}") from exc
        # a store without consolidated metadata lists its arrays in no fixed order (zarr 3
        # walks the folder): variables by name, so manifests read the same every time
        return dataset[sorted(str(name) for name in dataset.data_vars)]


register(ZarrSource())
