"""Settings the data services share: the archive store, the Dask cluster, operation capacity."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, model_validator

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
    dask_tls_ca_file: str = Field(
        "",
        description="PEM CA of the Dask cluster's certificates; set: every Dask connection is "
        "TLS (tls:// scheduler), verified both ways. Empty: a local cluster uses throwaway "
        "in-memory certificates, an external scheduler is reached as its address says.",
    )
    dask_tls_cert_file: str = Field(
        "",
        description="PEM certificate this service presents to Dask (server and client auth: a "
        "local cluster's scheduler and workers serve with it).",
    )
    dask_tls_key_file: str = Field("", description="PEM private key of dask_tls_cert_file.")
    dask_require_encryption: bool | None = Field(
        None, description="Refuse unencrypted Dask connections; default: true when the CA is set."
    )

    @model_validator(mode="after")
    def _dask_tls_complete(self) -> Self:
        prefix = str(self.model_config.get("env_prefix", "")).upper()
        if bool(self.dask_tls_cert_file) != bool(self.dask_tls_key_file):
            raise ValueError(f"set both {prefix}DASK_TLS_CERT_FILE and {prefix}DASK_TLS_KEY_FILE")
        if self.dask_tls_cert_file and not self.dask_tls_ca_file:
            raise ValueError(f"{prefix}DASK_TLS_CERT_FILE needs {prefix}DASK_TLS_CA_FILE")
        if self.dask_tls_ca_file and not self.dask_scheduler and not self.dask_tls_cert_file:
            raise ValueError(
                f"a local Dask cluster with {prefix}DASK_TLS_CA_FILE needs "
                f"{prefix}DASK_TLS_CERT_FILE and {prefix}DASK_TLS_KEY_FILE"
            )
        return self

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
            tls_ca_file=self.dask_tls_ca_file,
            tls_cert_file=self.dask_tls_cert_file,
            tls_key_file=self.dask_tls_key_file,
            require_encryption=self.dask_require_encryption,
        )
