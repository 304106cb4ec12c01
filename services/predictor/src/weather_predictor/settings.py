"""Predictor settings, read from PREDICTOR_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from weather_runtime.settings import CommaList, MiB, ServiceSettings, split_comma_list


class PredictorSettings(ServiceSettings):
    """Settings of the predictor service (environment prefix PREDICTOR_)."""

    model_config = SettingsConfigDict(env_prefix="PREDICTOR_", extra="forbid")

    port: int = Field(50055, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    metrics_port: int = Field(9106, ge=-1, le=65535, description="/metrics port; -1 off.")
    reuse_large_buffers: bool = Field(
        True, description="Keep freed buffers up to 32 MiB for the next message (glibc)."
    )
    modelserver_address: str = Field(
        "127.0.0.1:8500", min_length=1, description="host:port of the TF Serving gRPC API."
    )
    modelserver_max_message_bytes: int = Field(
        256 * MiB, ge=4 * MiB, le=2**31 - 1, description="Largest message to/from the model server."
    )
    model_root: str = Field(
        "",
        description=(
            "fsspec URL of the model server's model base folder (<root>/<model>/<version>/); "
            "assets/metadata.json is read from there. Empty: responses carry no metadata hashes "
            "and every lead is asked for directly."
        ),
    )
    archive_url: str = Field(
        default_factory=lambda: str(Path("var/archive").resolve()),
        description="fsspec URL (or local folder) of the archive Forecast reads windows from.",
    )
    canary_share: float = Field(
        0.0, ge=0.0, le=1.0, description="Share of production requests sent to the canary alias."
    )
    default_alias: str = Field("production", min_length=1, description="Alias when none is given.")
    label_cache_seconds: float = Field(
        2.0, ge=0, le=3600, description="How long an alias -> version resolution is reused."
    )
    default_deadline_seconds: float = Field(
        30.0, gt=0, le=3600, description="Model-server deadline when the client sets none."
    )
    retry_attempts: int = Field(
        3,
        ge=1,
        le=10,
        description="Attempts per model-server call (retries on UNAVAILABLE only; a call "
        "the model server dropped while shutting down, CANCELLED, counts as UNAVAILABLE).",
    )
    retry_backoff_seconds: float = Field(
        0.05, ge=0, le=10, description="First retry delay; doubled on each further retry."
    )
    breaker_failures: int = Field(
        5, ge=1, le=1000, description="Consecutive failed attempts that open the circuit."
    )
    breaker_reset_seconds: float = Field(
        5.0, gt=0, le=3600, description="Open-circuit cool-down before one trial call."
    )
    breaker_slow_call_seconds: float = Field(
        1.0,
        ge=0,
        le=3600,
        description="A DEADLINE_EXCEEDED counts as a breaker failure only when the attempt had "
        "at least this long (short client deadlines do not open the circuit).",
    )
    required_models: CommaList = Field(
        default_factory=list,
        description=(
            "Models this replica must serve before its health reports SERVING: each name's "
            "default alias must resolve on the model server (a readiness gate, so a new pod "
            "gets no traffic before the serving sync loaded its models)."
        ),
    )
    max_in_flight: int = Field(
        64, ge=1, le=100000, description="Requests served at once; more get RESOURCE_EXHAUSTED."
    )

    @field_validator("required_models", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return split_comma_list(value)
