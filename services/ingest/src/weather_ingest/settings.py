"""Ingest settings, read from INGEST_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from weather_data.settings import DataServiceSettings
from weather_runtime.artifacts import normalise_uri
from weather_runtime.settings import CommaList, split_comma_list
from weather_runtime.uris import UriPolicy


class IngestSettings(DataServiceSettings):
    """Settings of the ingest service (environment prefix INGEST_)."""

    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="forbid")

    port: int = Field(50052, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    metrics_port: int = Field(9102, ge=-1, le=65535, description="/metrics port; -1 off.")
    allowed_roots: CommaList = Field(
        default_factory=lambda: [str(Path("data").resolve())],
        description="URL prefixes sources may be read from; anything else is refused unopened "
        "(INVALID_ARGUMENT naming source_uri). Default: ./data.",
    )
    allowed_schemes: CommaList = Field(
        default_factory=list,
        description="URL schemes sources may use; empty: file,s3,gs,gcs,memory.",
    )
    allowed_hosts: CommaList = Field(
        default_factory=list,
        description="Hosts (buckets) remote sources may name; empty: those the roots name.",
    )
    max_operations_per_caller: int = Field(
        8,
        ge=1,
        le=10000,
        description="Ingests one caller may have pending or running; the next one gets "
        "RESOURCE_EXHAUSTED.",
    )
    max_append_bytes: int = Field(
        512 * 1024 * 1024, ge=1024, description="Largest total payload of one append stream."
    )

    @field_validator("allowed_roots", "allowed_schemes", "allowed_hosts", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return split_comma_list(value)

    @field_validator("allowed_roots")
    @classmethod
    def _valid_roots(cls, value: list[str]) -> list[str]:
        roots = [normalise_uri(root) for root in value]
        UriPolicy.build(roots)  # the policy's stricter checks, at start-up
        return roots
