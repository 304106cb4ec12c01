"""GRIB 1 and 2 through cfgrib and ecCodes."""

from __future__ import annotations

import logging

import xarray as xr

from weather_ingest.source import CorruptSource, Source, SourceOptions
from weather_ingest.sources import register

SCAN_BYTES = 64 * 1024  # where the first message must start (WMO bulletin headers are short)


class GribSource(Source):
    """GRIB files; a truncated or corrupt message is an error, never silently skipped."""

    name = "grib"
    suffixes = (".grib", ".grb", ".grib2", ".grb2", ".grib1")

    def sniff(self, head: bytes) -> bool:
        return head.startswith(b"GRIB")

    def open(self, path: str, options: SourceOptions) -> xr.Dataset:
        # ecCodes scans a whole file for a message (16 s for 11 MB of NetCDF named GRIB, the
        # fuzzer found): a file without "GRIB" near its start (after any bulletin header) is
        # refused at once
        try:
            with open(path, "rb") as handle:
                head = handle.read(SCAN_BYTES)
        except OSError as exc:
            raise CorruptSource(f"not a readable GRIB file: {exc.strerror}") from None
        if b"GRIB" not in head:
            raise CorruptSource(
                f"not a GRIB file: no GRIB message starts in its first {SCAN_BYTES // 1024} KiB"
            )
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
