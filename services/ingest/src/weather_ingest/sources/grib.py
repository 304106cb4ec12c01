"""GRIB 1 and 2 through cfgrib and ecCodes."""

from __future__ import annotations

import logging

import xarray as xr

from weather_ingest.source import CorruptSource, Source, SourceOptions
from weather_ingest.sources import register


class GribSource(Source):
    """GRIB files; a truncated or corrupt message is an error, never silently skipped."""

    name = "grib"
    suffixes = (".grib", ".grb", ".grib2", ".grb2", ".grib1")

    def sniff(self, head: bytes) -> bool:
        return head.startswith(b"GRIB")

    def open(self, path: str, options: SourceOptions) -> xr.Dataset:
        logging.getLogger("cfgrib").setLevel(logging.CRITICAL)
        try:
            return xr.open_dataset(
                path,
                engine="cfgrib",
                chunks=None,
                cache=False,
                backend_kwargs={"indexpath": "", "errors": "raise"},
            )
        except Exception as exc:
            raise CorruptSource(
                f"GRIB is corrupt or truncated: {type(exc).__name__}: {exc}"
            ) from exc


register(GribSource())
