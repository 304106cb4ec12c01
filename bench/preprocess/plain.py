"""The baseline: the same computation as a plain hand-written xarray + dask script (no hashing)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import xarray as xr
from distributed import Client

CHUNK_BYTES = 8 * 2**20  # the same ~8 MiB chunks as our canonical stores


@dataclass
class Plain:
    """Convert to Zarr, statistics, climatology, each computed on the given cluster."""

    workdir: Path
    source: Path
    client: Client
    statistics: dict[str, tuple[float, float, float, float]] | None = None

    @property
    def store(self) -> str:
        return str(self.workdir / "plain.zarr")

    @property
    def climatology_store(self) -> str:
        return str(self.workdir / "plain-climatology.zarr")

    def ingest(self) -> None:
        """Open the NetCDF with dask chunks of ~8 MiB, cast to float32, write Zarr."""
        with xr.open_dataset(self.source, engine="netcdf4") as peek:  # metadata only
            steps = max(1, CHUNK_BYTES // (peek.sizes["lat"] * peek.sizes["lon"] * 4))
        ds = xr.open_dataset(self.source, engine="netcdf4", chunks={"time": steps})
        ds = ds.rename({"lat": "latitude", "lon": "longitude"}).astype("float32")
        for name in ds.variables:
            ds[name].encoding = {}  # the default Zarr codec, as ours
        self.client.compute(ds.to_zarr(self.store, mode="w", compute=False)).result()

    def compute_statistics(self) -> None:
        """Mean and std of values and of one-step differences, per variable."""
        ds = xr.open_zarr(self.store)
        names = sorted(str(n) for n in ds.data_vars)
        lazy = []
        for name in names:
            values = ds[name]
            diffs = values.diff("time")
            lazy += [values.mean(), values.std(), diffs.mean(), diffs.std()]
        results = self.client.gather(self.client.compute(lazy))
        values_ = [float(r) for r in results]
        self.statistics = {
            name: (values_[4 * i], values_[4 * i + 1], values_[4 * i + 2], values_[4 * i + 3])
            for i, name in enumerate(names)
        }

    def climatology(self) -> None:
        """Mean by calendar month, written to Zarr."""
        ds = xr.open_zarr(self.store)
        clim = ds.groupby("time.month").mean()
        write = clim.to_zarr(self.climatology_store, mode="w", compute=False)
        self.client.compute(write).result()
