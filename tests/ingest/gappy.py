"""A NetCDF-4 file with gaps as real archives write them: _FillValue, missing_value, masked corners, NaN."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np

LATS = [50.0, 51.0, 52.0, 53.0]
LONS = [0.0, 1.0, 2.0, 3.0, 4.0]
CORNERS = [(0, 0), (0, -1), (-1, 0), (-1, -1)]
FILLED_T2M = [(0, 1, 1), (3, 2, 4)]  # cells holding t2m's _FillValue
NAN_T2M = (1, 3, 0)  # a NaN written as data


def t2m_values(steps: int) -> np.ndarray:
    """t2m before gaps: 280 K + the longitude index + one per 6 hours of the day + 0.01 per day."""
    hours = np.arange(steps) * 6
    step = (hours % 24) / 6 + (hours // 24) * 0.01
    shape = (steps, len(LATS), len(LONS))
    return (
        np.full(shape, 280.0) + np.arange(len(LONS)) + step[:, None, None] + np.zeros(shape)
    ).astype("f4")


def msl_raw(steps: int) -> np.ndarray:
    """msl as packed int16 before gaps (physical: raw * 2 + 100000 Pa)."""
    return (
        (np.arange(steps * len(LATS) * len(LONS)) % 1000)
        .astype("i2")
        .reshape(steps, len(LATS), len(LONS))
    )


def write_gappy(path: Path, steps: int = 4) -> dict[str, np.ndarray]:
    """Writes steps 6-hourly steps from 2024-01-01; returns where each variable is missing."""
    shape = (steps, len(LATS), len(LONS))
    missing = {name: np.zeros(shape, dtype=bool) for name in ("t2m", "msl", "tcc")}
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        for name, size in zip(("time", "lat", "lon"), shape, strict=True):
            nc.createDimension(name, size)
        time = nc.createVariable("time", "f8", ("time",))
        time.units = "hours since 2024-01-01 00:00"
        time[:] = np.arange(steps) * 6.0
        lat = nc.createVariable("lat", "f4", ("lat",))
        lat.units = "degrees_north"
        lat[:] = LATS
        lon = nc.createVariable("lon", "f4", ("lon",))
        lon.units = "degrees_east"
        lon[:] = LONS

        # float with _FillValue, and a NaN written as data
        t2m = nc.createVariable("t2m", "f4", ("time", "lat", "lon"), fill_value=np.float32(-9999))
        t2m.units = "K"
        values = t2m_values(steps)
        for cell in FILLED_T2M:
            values[cell] = -9999.0
            missing["t2m"][cell] = True
        values[NAN_T2M] = np.nan
        missing["t2m"][NAN_T2M] = True
        t2m.set_auto_maskandscale(False)
        t2m[:] = values

        # packed int16 with missing_value (no _FillValue), two corners masked at every step
        msl = nc.createVariable("msl", "i2", ("time", "lat", "lon"))
        msl.units = "Pa"
        msl.scale_factor = 2.0
        msl.add_offset = 100000.0
        msl.missing_value = np.int16(-32767)
        raw = msl_raw(steps)
        for lat_i, lon_i in CORNERS[:2]:
            raw[:, lat_i, lon_i] = -32767
            missing["msl"][:, lat_i, lon_i] = True
        msl.set_auto_maskandscale(False)
        msl[:] = raw

        # a masked array written without any fill value: the netCDF default fill on disk
        tcc = nc.createVariable("tcc", "f4", ("time", "lat", "lon"))
        tcc.units = "1"
        for lat_i, lon_i in CORNERS:
            missing["tcc"][:, lat_i, lon_i] = True
        tcc[:] = np.ma.masked_array(np.full(shape, 0.5, dtype="f4"), mask=missing["tcc"])
    return missing
