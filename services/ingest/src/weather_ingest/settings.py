"""Ingest settings, read from INGEST_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from weather_data.cluster import DaskSettings
from weather_runtime.artifacts import normalise_uri
from weather_runtime.settings import CommaList, ServiceSettings, split_comma_list


class IngestSettings(ServiceSettings):
    """Settings of the ingest service (environment prefix INGEST_)."""

    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="forbid")

    port: int = Field(50052, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    metrics_port: int = Field(9102, ge=-1, le=65535, description="/metrics port; -1 off.")
    grace_seconds: float = Field(30.0, ge=0, le=3600, description="Drain time on SIGTERM.")
    archive_url: str = Field(
        default_factory=lambda: str(Path("var/archive").resolve()),
        description="fsspec URL (or local folder) of the archive store.",
    )
    allowed_roots: CommaList = Field(
        default_factory=lambda: [str(Path("data").resolve())],
        description="URL prefixes sources may be read from; anything else is refused unopened.",
    )
    max_running: int = Field(2, ge=1, le=64, description="Ingest operations running at once.")
    max_append_bytes: int = Field(
        512 * 1024 * 1024, ge=1024, description="Largest total payload of one append stream."
    )
    dask_scheduler: str = Field("", description="Dask scheduler address; empty starts a local one.")
    dask_local_workers: int = Field(2, ge=1, le=256)
    dask_local_threads: int = Field(1, ge=1, le=64)
    dask_memory_limit: str = Field("2GiB")

    @field_validator("allowed_roots", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return split_comma_list(value)

    @field_validator("allowed_roots")
    @classmethod
    def _valid_roots(cls, value: list[str]) -> list[str]:
        return [normalise_uri(root) for root in value]

    def dask(self) -> DaskSettings:
        """The Dask part of the settings."""
        return DaskSettings(
            scheduler_address=self.dask_scheduler,
            local_workers=self.dask_local_workers,
            local_threads=self.dask_local_threads,
            memory_limit=self.dask_memory_limit,
        )
