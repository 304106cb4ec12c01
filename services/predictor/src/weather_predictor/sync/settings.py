"""Settings of the serving sync, read from SERVING_SYNC_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from weather_runtime.settings import CommaList, SettingsError, split_comma_list

DEFAULT_ALIASES = ("production", "staging", "canary")
CONFIG_FILE_NAME = "models.config"


class SyncSettings(BaseSettings):
    """Settings of the sidecar keeping a TF Serving model config in step with the registry
    (environment prefix SERVING_SYNC_)."""

    model_config = SettingsConfigDict(
        env_prefix="SERVING_SYNC_", extra="forbid", validate_default=True
    )

    registry_address: str = Field(
        "127.0.0.1:50051", min_length=1, description="host:port of the registry."
    )
    model_server_address: str = Field(
        "127.0.0.1:8500", min_length=1, description="host:port of the TF Serving gRPC API."
    )
    serving_base_path: Path = Field(
        Path("var/serving"),
        description="Local folder holding <model>/<version>/ and the model config file.",
    )
    model_server_base_path: str = Field(
        "",
        description="The serving base as the model server sees it (a container mount); empty: "
        "the same as serving_base_path.",
    )
    config_file_name: str = Field(
        CONFIG_FILE_NAME,
        min_length=1,
        description="Name of the --model_config_file written into the serving base.",
    )
    model_names: CommaList = Field(
        default_factory=list, description="Models to serve; empty serves every registered model."
    )
    aliases: CommaList = Field(
        default_factory=lambda: list(DEFAULT_ALIASES),
        description="Aliases served, each as a version label of the same name.",
    )
    rpc_timeout_seconds: float = Field(
        30.0, gt=0, le=3600, description="Deadline of each registry and model server call."
    )
    reload_timeout_seconds: float = Field(
        120.0, gt=0, le=86400, description="Deadline of HandleReloadConfigRequest."
    )
    load_timeout_seconds: float = Field(
        600.0,
        gt=0,
        le=86400,
        description="How long a new version may take to become AVAILABLE before the move of its "
        "aliases is given up (the old versions keep serving).",
    )
    status_poll_seconds: float = Field(
        0.2, gt=0, le=60, description="Interval of GetModelStatus while waiting for a version."
    )
    unload_poll_seconds: float = Field(
        5.0,
        gt=0,
        le=3600,
        description="Interval of the look for unloaded versions whose folders can be removed.",
    )
    resync_seconds: float = Field(
        300.0,
        gt=0,
        le=86400,
        description="Full reconciliation at least this often, even when no event arrives.",
    )
    failed_load_retry_seconds: float = Field(
        900.0,
        ge=0,
        le=7 * 86400,
        description="A version that failed to load is tried again at the first reconciliation "
        "this long after the failure (a passing fault: memory, storage); 0 tries at every one.",
    )
    backoff_initial_seconds: float = Field(
        0.5, gt=0, le=600, description="First wait after a failed watch or reconciliation."
    )
    backoff_max_seconds: float = Field(
        30.0, gt=0, le=3600, description="Longest wait between retries (doubling from the first)."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    # TLS of the registry and model server calls (weather_runtime.tls): CA set: TLS; with a
    # certificate and key: mTLS
    client_ca_file: str = Field("", description="PEM CA verifying the registry and model server.")
    client_cert_file: str = Field("", description="PEM client certificate of the sync.")
    client_key_file: str = Field("", description="PEM private key of client_cert_file.")
    client_token_file: str = Field(
        "", description="Bearer token sent to the registry and model server (re-read on change)."
    )
    model_server_plaintext: bool = Field(
        False,
        description="Call the model server without TLS and token (TF Serving on loopback in the "
        "same pod, which speaks neither); the registry calls keep the client files.",
    )

    @field_validator("model_names", "aliases", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return split_comma_list(value)

    @field_validator("aliases")
    @classmethod
    def _some_alias(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one alias to serve")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("serving_base_path")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.absolute()

    @property
    def config_file(self) -> Path:
        """The model config file this sync writes."""
        return self.serving_base_path / self.config_file_name

    def served_base(self, model: str) -> str:
        """base_path of a model in the config: its folder as the model server sees it."""
        root = self.model_server_base_path or str(self.serving_base_path)
        return root.rstrip("/") + "/" + model


def load_sync_settings(**overrides: object) -> SyncSettings:
    """Settings from the environment (and overrides); SettingsError names a bad variable."""
    try:
        return SyncSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            variable = f"SERVING_SYNC_{field}".upper()
            problems.append(f"{variable}={error.get('input')!r}: {error['msg']}")
        raise SettingsError("invalid SyncSettings: " + "; ".join(problems)) from None
