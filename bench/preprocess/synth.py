"""A synthetic hourly regional NetCDF4 dataset of smooth weather-like fields plus noise."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np

# 0.25-degree box over Europe: 120 x 120 points, so one year of 4 hourly variables is ~2 GB
LATITUDES = np.arange(120, dtype="float64") * 0.25 + 35.0
LONGITUDES = np.arange(120, dtype="float64") * 0.25 - 10.0
START = np.datetime64("2020-01-01T00:00", "ns")
FILE_CHUNK_STEPS = 24  # one day per NetCDF chunk, as daily-chunked reanalysis files are
BLOCK_STEPS = 240  # steps generated and written at a time: bounds generation memory


@dataclass(frozen=True)
class Variable:
    """One synthetic variable: units, mean level and the size of each kind of variation."""

    name: str
    units: str
    long_name: str
    base: float
    gradient: float
    seasonal: float
    diurnal: float
    waves: float
    noise: float


VARIABLES = (
    Variable("t2m", "K", "2 metre temperature", 283.0, 12.0, 9.0, 4.0, 3.0, 0.6),
    Variable("u10", "m s-1", "10 metre U wind component", 2.0, 3.0, 1.5, 0.8, 5.0, 1.2),
    Variable("v10", "m s-1", "10 metre V wind component", 0.5, 2.0, 1.0, 0.6, 5.0, 1.2),
    Variable("msl", "Pa", "Mean sea level pressure", 101300.0, 900.0, 300.0, 60.0, 1200.0, 40.0),
)


@dataclass(frozen=True)
class Synthetic:
    """A generated source file and its shape facts."""

    path: Path
    steps: int
    variables: tuple[str, ...]
    shape: tuple[int, int, int]
    uncompressed_bytes: int
    file_bytes: int
    seconds: float


def steps_for(target_bytes: float) -> int:
    """Hourly steps making target_bytes of float32 over every variable."""
    per_step = len(VARIABLES) * LATITUDES.size * LONGITUDES.size * 4
    return max(2 * FILE_CHUNK_STEPS, round(target_bytes / per_step))


def _create(path: Path, steps: int) -> netCDF4.Dataset:
    nc = netCDF4.Dataset(path, "w", format="NETCDF4")
    nc.createDimension("time", steps)
    nc.createDimension("lat", LATITUDES.size)
    nc.createDimension("lon", LONGITUDES.size)
    for name, values, units in (
        ("lat", LATITUDES, "degrees_north"),
        ("lon", LONGITUDES, "degrees_east"),
    ):
        coord = nc.createVariable(name, "f8", (name,))
        coord.units = units
        coord[:] = values
    times = nc.createVariable("time", "i4", ("time",))
    times.units = "hours since 2020-01-01 00:00:00"
    times.calendar = "standard"
    times[:] = np.arange(steps, dtype="int32")
    chunks = (FILE_CHUNK_STEPS, LATITUDES.size, LONGITUDES.size)
    for var in VARIABLES:
        out = nc.createVariable(
            var.name, "f4", ("time", "lat", "lon"), zlib=True, complevel=1, shuffle=True,
            chunksizes=chunks,
        )  # fmt: skip
        out.units = var.units
        out.long_name = var.long_name
    nc.title = "synthetic hourly fields for the preprocess benchmark"
    return nc


def _field(var: Variable, hours: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Block of var at the given hours: gradient, seasonal and daily cycles, moving waves, noise."""
    lat = np.deg2rad(LATITUDES)[None, :, None].astype("float32")
    lon = np.deg2rad(LONGITUDES)[None, None, :].astype("float32")
    t = hours.astype("float32")[:, None, None]
    days = t / 24.0
    seasonal = np.cos(2 * np.pi * (days - 200.0) / 365.25) * np.cos(lat)
    diurnal = np.cos(2 * np.pi * (t - 15.0) / 24.0) * (0.5 + 0.5 * np.sin(3 * lon))
    waves = np.sin(6 * lon + 4 * lat - 2 * np.pi * days / 4.0) * np.cos(
        5 * lat - 2 * np.pi * days / 9.0
    )
    field = var.base - var.gradient * np.sin(lat - 0.8) + var.seasonal * seasonal
    field = field + var.diurnal * diurnal + var.waves * waves
    noise = rng.standard_normal(field.shape, dtype="float32") * np.float32(var.noise)
    block: np.ndarray = (field + noise).astype("float32")
    return block


def generate(folder: Path, target_bytes: float, seed: int = 0) -> Synthetic:
    """Writes synthetic.nc in folder, BLOCK_STEPS steps at a time; returns its facts."""
    started = time.monotonic()
    steps = steps_for(target_bytes)
    path = folder / f"synthetic-{steps}h.nc"
    rng = np.random.default_rng(seed)
    nc = _create(path, steps)
    try:
        for begin in range(0, steps, BLOCK_STEPS):
            hours = np.arange(begin, min(steps, begin + BLOCK_STEPS))
            for var in VARIABLES:
                nc.variables[var.name][begin : begin + hours.size] = _field(var, hours, rng)
    finally:
        nc.close()
    shape = (steps, LATITUDES.size, LONGITUDES.size)
    return Synthetic(
        path=path,
        steps=steps,
        variables=tuple(v.name for v in VARIABLES),
        shape=shape,
        uncompressed_bytes=int(np.prod(shape)) * 4 * len(VARIABLES),
        file_bytes=path.stat().st_size,
        seconds=time.monotonic() - started,
    )
