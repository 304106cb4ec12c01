"""Preprocess settings, read from PREPROCESS_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from weather_data.settings import DataServiceSettings


class PreprocessSettings(DataServiceSettings):
    """Settings of the preprocess service (environment prefix PREPROCESS_)."""

    model_config = SettingsConfigDict(env_prefix="PREPROCESS_", extra="forbid")

    port: int = Field(50053, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    metrics_port: int = Field(9103, ge=-1, le=65535, description="/metrics port; -1 off.")
    max_operations_per_caller: int = Field(
        8,
        ge=1,
        le=10000,
        description="Builds and analyses one caller may have pending or running; the next one "
        "gets RESOURCE_EXHAUSTED.",
    )
