"""Registry settings, read from REGISTRY_* environment variables."""

from __future__ import annotations

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import SettingsConfigDict

from weather_runtime.artifacts import normalise_uri
from weather_runtime.settings import CommaList, ServiceSettings, split_comma_list
from weather_runtime.uris import UriPolicy

DEFAULT_PORT = 50051
DEFAULT_METRICS_PORT = 9101


class RegistrySettings(ServiceSettings):
    """Settings of the registry service (environment prefix REGISTRY_)."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="forbid")

    port: int = Field(DEFAULT_PORT, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    metrics_port: int = Field(
        DEFAULT_METRICS_PORT, ge=-1, le=65535, description="/metrics port; -1 off, 0 any free."
    )
    database_url: str = Field(
        "sqlite:///var/registry/registry.db",
        description="SQLAlchemy URL: sqlite:///path (default) or postgresql://user:pw@host/db.",
    )
    gated_aliases: CommaList = Field(
        default_factory=lambda: ["production"],
        description="Aliases that only move to versions passing the promotion gate.",
    )
    gate_margin: float = Field(
        0.0, ge=0.0, lt=1.0, description="Skill score each gate check must exceed."
    )
    gate_metrics: CommaList = Field(
        default_factory=list,
        description="Metric names the gate judges (for example rmse); empty judges every metric "
        "stored with baselines.",
    )
    gate_max_lead_hours: float = Field(
        0.0,
        ge=0.0,
        description="Longest lead (hours) the gate judges; 0 judges every lead. Longer leads stay "
        "registered and shown, unjudged (for example 24 while rolled-out leads are not yet "
        "expected to beat the references).",
    )
    artifact_roots: CommaList = Field(
        default_factory=lambda: ["file:///"],
        validation_alias=AliasChoices(
            "artifact_roots", "REGISTRY_ALLOWED_ROOTS", "REGISTRY_ARTIFACT_ROOTS"
        ),
        description="URL prefixes artefacts must lie under (REGISTRY_ALLOWED_ROOTS, or the older "
        "REGISTRY_ARTIFACT_ROOTS); anything else is INVALID_ARGUMENT naming artifact_uri.",
    )
    allowed_schemes: CommaList = Field(
        default_factory=list,
        description="URL schemes artefacts may use; empty: file,s3,gs,gcs,memory.",
    )
    allowed_hosts: CommaList = Field(
        default_factory=list,
        description="Hosts (buckets) remote artefacts may name; empty: those the roots name.",
    )
    max_watchers: int = Field(8, ge=1, le=1000, description="Concurrent WatchEvents streams.")
    watch_poll_seconds: float = Field(
        1.0, gt=0, le=60, description="How often watchers look for other replicas' events."
    )

    @field_validator(
        "gated_aliases",
        "gate_metrics",
        "artifact_roots",
        "allowed_schemes",
        "allowed_hosts",
        mode="before",
    )
    @classmethod
    def _split(cls, value: object) -> object:
        return split_comma_list(value)

    @field_validator("artifact_roots")
    @classmethod
    def _valid_roots(cls, value: list[str]) -> list[str]:
        roots = [normalise_uri(root) for root in value]
        UriPolicy.build(roots)  # the policy's stricter checks, at start-up
        return roots

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        scheme = value.split(":", 1)[0].split("+", 1)[0]
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("must start with sqlite:// or postgresql://")
        return value
