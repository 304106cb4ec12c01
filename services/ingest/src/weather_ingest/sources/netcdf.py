"""NetCDF 3 (classic, 64-bit offset) and NetCDF 4 (HDF5)."""

from __future__ import annotations

import xarray as xr

from weather_ingest.source import CorruptSource, Source, SourceOptions
from weather_ingest.sources import register
from weather_ingest.sources.fill import declare_default_fills, encoding_problems

_CLASSIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05")
_HDF5 = b"\x89HDF\r\n\x1a\n"


def _check_classic_size(path: str) -> None:
    """A truncated classic file reads as fill values through netCDF4; scipy's header check
    sees it."""
    import warnings

    import scipy.io

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # mmap views outlive close(); harmless
            with scipy.io.netcdf_file(path, "r", mmap=True) as handle:
                for variable in handle.variables.values():
                    _ = variable.data.shape
    except (ValueError, TypeError, OSError) as exc:
        raise CorruptSource(f"NetCDF is truncated or corrupt: {exc}") from exc


class NetcdfSource(Source):
    """NetCDF files."""

    name = "netcdf"
    suffixes = (".nc", ".nc4", ".cdf", ".netcdf")

    def sniff(self, head: bytes) -> bool:
        return head.startswith(_CLASSIC) or head.startswith(_HDF5)

    def open(self, path: str, options: SourceOptions) -> xr.Dataset:
        with open(path, "rb") as handle:
            head = handle.read(8)
        if head.startswith(_CLASSIC):
            _check_classic_size(path)
        try:
            raw = xr.open_dataset(path, engine="netcdf4", chunks=None, cache=False, decode_cf=False)
        except Exception as exc:
            raise CorruptSource(
                f"NetCDF is corrupt or unreadable: {type(exc).__name__}: {exc}"
            ) from exc
        problems = encoding_problems(raw)
        if problems:
            raise CorruptSource("; ".join(problems))
        try:
            return xr.decode_cf(declare_default_fills(raw))
        except Exception as exc:
            raise CorruptSource(
                f"NetCDF is corrupt or unreadable: {type(exc).__name__}: {exc}"
            ) from exc


register(NetcdfSource())
