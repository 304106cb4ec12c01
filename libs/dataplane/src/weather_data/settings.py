"""Settings the data services share: the archive store, the Dask cluster, operation capacity."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from weather_data.cluster import DaskSettings
from weather_data.limits import ExtentLimits
from weather_runtime.settings import ServiceSettings


class DataServiceSettings(ServiceSettings):
    """Base of ingest's and preprocess's settings (each adds its environment prefix)."""

    grace_seconds: float = Field(30.0, ge=0, le=3600, description="Drain time on SIGTERM.")
    archive_url: str = Field(
        default_factory=lambda: str(Path("var/archive").resolve()),
        description="fsspec URL (or local folder) of the archive store.",
    )
    max_running: int = Field(2, ge=1, le=64, description="Operations running at once.")
    max_time_steps: int = Field(
        1_000_000,
        ge=0,
        description="Time steps one request may select (ingest, build, analysis); 0: no limit; "
        "beyond: RESOURCE_EXHAUSTED.",
    )
    max_grid_points: int = Field(
        50_000_000,
        ge=0,
        description="Grid points (levels x latitudes x longitudes, or stations) one request may "
        "select; 0: no limit; beyond: RESOURCE_EXHAUSTED.",
    )
    dask_scheduler: str = Field("", description="Dask scheduler address; empty starts a local one.")
    dask_local_workers: int = Field(2, ge=1, le=256)
    dask_local_threads: int = Field(1, ge=1, le=64)
    dask_memory_limit: str = Field("2GiB")

    def extent_limits(self) -> ExtentLimits:
        """The per-request ceilings, naming this service's settings in their errors."""
        prefix = str(self.model_config.get("env_prefix", "")).upper()
        return ExtentLimits(self.max_time_steps, self.max_grid_points, prefix)

    def dask(self) -> DaskSettings:
        """The Dask part of the settings."""
        return DaskSettings(
            scheduler_address=self.dask_scheduler,
            local_workers=self.dask_local_workers,
            local_threads=self.dask_local_threads,
            memory_limit=self.dask_memory_limit,
        )
