"""Trainer settings, read from TRAINER_* environment variables."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from weather_data.settings import DataServiceSettings
from weather_runtime.artifacts import normalise_uri


class TrainerSettings(DataServiceSettings):
    """Settings of the trainer service (environment prefix TRAINER_)."""

    model_config = SettingsConfigDict(env_prefix="TRAINER_", extra="forbid")

    port: int = Field(50054, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    metrics_port: int = Field(9104, ge=-1, le=65535, description="/metrics port; -1 off.")
    max_running: int = Field(1, ge=1, le=16, description="Training jobs running at once.")
    max_jobs_per_caller: int = Field(
        4,
        ge=1,
        le=10000,
        description="Jobs one caller may have queued or running; the next one gets "
        "RESOURCE_EXHAUSTED.",
    )
    work_root: str = Field(
        default_factory=lambda: str(Path("var/trainer").resolve()),
        description="Folder for job records, checkpoints and exported SavedModels.",
    )
    artifact_root: str = Field(
        "",
        description=(
            "fsspec URL (s3://bucket/prefix, gs://..., file:///...) for finished SavedModels and "
            "the checkpoints of running jobs; empty keeps both under work_root."
        ),
    )
    registry_address: str = Field(
        "", description="host:port of the registry; empty registers nothing (jobs still finish)."
    )
    registry_timeout_seconds: float = Field(30.0, gt=0, le=600)
    registration_timeout_seconds: float = Field(
        3600.0,
        gt=0,
        le=7 * 24 * 3600,
        description=(
            "How long a finished job waits for an unreachable registry (retrying with backoff) "
            "before it fails; its exported model stays at its URI either way."
        ),
    )
    auto_resume: bool = Field(
        False, description="Resume interrupted jobs at start instead of waiting for ResumeJob."
    )
    use_dask: bool = Field(
        True, description="Run ridge regressions and search trials on the Dask cluster."
    )
    isolation: Literal["process", "thread"] = Field(
        "process",
        description=(
            "process runs every job in a fresh child process (needed for multi-worker jobs, "
            "isolates crashes, returns memory); thread runs jobs inside the server process."
        ),
    )
    role: Literal["auto", "chief", "follower"] = Field(
        "auto",
        description=(
            "chief runs and records jobs; follower joins the chief's multi-worker jobs; auto is "
            "follower when TF_CONFIG names a worker task other than 0."
        ),
    )

    @field_validator("artifact_root")
    @classmethod
    def _valid_root(cls, value: str) -> str:
        return normalise_uri(value) if value else value

    def is_follower(self) -> bool:
        """Whether this replica follows a chief (from role, or TF_CONFIG when role is auto)."""
        if self.role != "auto":
            return self.role == "follower"
        try:
            task = json.loads(os.environ.get("TF_CONFIG", "") or "{}").get("task", {})
        except (ValueError, AttributeError):
            return False
        return bool(task) and int(task.get("index", 0)) != 0
