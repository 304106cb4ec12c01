"""netCDF default fill values: cells never written (masked corners) read as missing, not 9.97e36."""

from __future__ import annotations

import numpy as np
import xarray as xr

# The netCDF library's default fill value per on-disk type (netcdf.h NC_FILL_*), written into
# every cell a writer left unset (a masked array written without a fill value). Bytes have no
# default fill that readers apply: their whole range is valid data.
DEFAULT_FILLS: dict[str, float | int] = {
    "i2": -32767,
    "u2": 65535,
    "i4": -2147483647,
    "u4": 4294967295,
    "i8": -9223372036854775806,
    "u8": 18446744073709551614,
    "f4": 9.969209968386869e36,
    "f8": 9.969209968386869e36,
}
_DECLARED = ("_FillValue", "missing_value")
_NUMERIC = (*_DECLARED, "scale_factor", "add_offset")


def default_fill(var: xr.Variable) -> float | int | None:
    """The default fill value that marks var's unset cells, or None when var declares its own
    (_FillValue or missing_value) or its type has none."""
    if any(name in var.attrs for name in _DECLARED):
        return None
    dtype = np.dtype(var.dtype)
    return DEFAULT_FILLS.get(f"{dtype.kind}{dtype.itemsize}")


def encoding_problems(raw: xr.Dataset) -> list[str]:
    """What makes a numeric data variable's missing-value or packing attributes unusable (text
    where CF wants numbers): decoding would fail only when the data are read."""
    problems = []
    for name, var in raw.data_vars.items():
        if np.dtype(var.dtype).kind not in "iuf":
            continue
        for attr in _NUMERIC:
            value = np.asarray(var.attrs.get(attr, 0))
            if value.dtype.kind not in "iufb":
                problems.append(f"variable {name!r} has a non-numeric {attr} {value.tolist()!r}")
    return problems


def declare_default_fills(raw: xr.Dataset) -> xr.Dataset:
    """raw (opened with decode_cf=False) with the default fill declared as _FillValue on every
    data variable that declares none, so CF decoding turns unset cells into NaN lazily."""
    declared = {}
    for name, var in raw.data_vars.items():
        fill = default_fill(var.variable)
        if fill is not None:
            declared[name] = var.assign_attrs(_FillValue=np.array(fill, dtype=var.dtype)[()])
    return raw.assign(declared) if declared else raw
