"""Model server settings, read from MODELSERVER_* environment variables (TF Serving's flags)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from weather_modelserver import config
from weather_runtime.errors import InvalidArgument
from weather_runtime.settings import CommaList, ServiceSettings, split_comma_list
from weather_runtime.uris import UriPolicy

DEFAULT_PORT = 8500  # TF Serving's gRPC port, so its clients need no change
DEFAULT_METRICS_PORT = 9105


class ModelServerSettings(ServiceSettings):
    """Settings of the model server (environment prefix MODELSERVER_). Models come from either
    MODELSERVER_MODEL_CONFIG_FILE or MODELSERVER_MODEL_NAME + MODELSERVER_MODEL_BASE_PATH."""

    model_config = SettingsConfigDict(env_prefix="MODELSERVER_", extra="forbid")

    port: int = Field(DEFAULT_PORT, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    metrics_port: int = Field(
        DEFAULT_METRICS_PORT, ge=-1, le=65535, description="/metrics port; -1 off, 0 any free."
    )
    reuse_large_buffers: bool = Field(
        True, description="Keep freed buffers up to 32 MiB for the next message (glibc)."
    )
    grpc_socket_path: str = Field(
        "",
        description="Also serve gRPC on this Unix socket (like --grpc_socket_path): a predictor "
        "in the same pod or host skips the TCP stack.",
    )
    model_name: str = Field(
        "default", min_length=1, description="Name of the one model under model_base_path."
    )
    model_base_path: str = Field(
        "", description="Folder of the one model's numbered versions (like --model_base_path)."
    )
    model_config_file: str = Field(
        "",
        description="A ModelServerConfig in protobuf text format (like --model_config_file); "
        "relative base paths in it are taken from the file's folder.",
    )
    file_system_poll_wait_seconds: float = Field(
        1.0,
        ge=0,
        le=86400,
        description="Seconds between looks for new or removed version folders; 0 looks only at "
        "start and on each config reload.",
    )
    allow_version_labels_for_unavailable_models: bool = Field(
        False,
        description="Let a new label point to a version that is not (yet) available; an existing "
        "label still only moves to an available version.",
    )
    enable_model_warmup: bool = Field(
        True, description="Replay assets.extra/tf_serving_warmup_requests before serving."
    )
    num_request_iterations_for_warmup: int = Field(
        1, ge=1, le=100, description="Times each warm-up request is replayed."
    )
    enable_batching: bool = Field(
        True, description="Merge concurrent Predict requests into one model call."
    )
    max_batch_size: int = Field(
        32, ge=1, le=65536, description="Most rows (batch dimension) of one model call."
    )
    batch_timeout_micros: int = Field(
        1000,
        ge=0,
        le=10_000_000,
        description="Longest a request waits for others to fill its batch.",
    )
    max_enqueued_batches: int = Field(
        100, ge=1, description="Batches that may wait per queue; beyond, UNAVAILABLE."
    )
    num_batch_threads: int = Field(2, ge=1, le=256, description="Threads running batches.")
    num_load_threads: int = Field(1, ge=1, le=64, description="Threads loading versions.")
    max_num_load_retries: int = Field(
        5, ge=0, le=100, description="Retries of a failed version load."
    )
    load_retry_interval_micros: int = Field(
        60_000_000, ge=0, description="Wait between retries of a failed load."
    )
    model_load_timeout_seconds: float = Field(
        600.0,
        gt=0,
        description="How long start-up and HandleReloadConfigRequest wait for models to load.",
    )
    require_digest_record: bool = Field(
        False,
        description="Load only versions with a digest record from the serving sync "
        "(<base>/.digests/<model>/<version>); off: versions without one load unchecked. A "
        "version whose files do not match its record is always refused (DATA_LOSS).",
    )

    allowed_roots: CommaList = Field(
        default_factory=list,
        description="Folders model base paths must lie under: HandleReloadConfigRequest naming "
        "another is INVALID_ARGUMENT naming the base_path, and a base path that leads elsewhere "
        "later (swapped for a link) is not scanned. Empty: the model base folders of the "
        "start-up configuration (each model base path's parent, and the model config file's "
        "folder).",
    )

    @field_validator("allowed_roots", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return split_comma_list(value)

    @field_validator("allowed_roots")
    @classmethod
    def _local_roots(cls, value: list[str]) -> list[str]:
        roots = [root[len("file://") :] if root.startswith("file://") else root for root in value]
        if any("://" in root for root in roots):
            raise ValueError("only local folders (or file://) are served")
        roots = [str(Path(root).absolute()) for root in roots]
        UriPolicy.build(roots, ["file"])  # the URI policy's checks, at start-up
        return roots

    @field_validator("model_base_path")
    @classmethod
    def _absolute_base(cls, value: str) -> str:
        if value.startswith("file://"):
            value = value[len("file://") :]
        if "://" in value:
            raise ValueError("only local folders (or file://) are served")
        return str(Path(value).absolute()) if value else value

    @field_validator("model_config_file")
    @classmethod
    def _one_source(cls, value: str, info: ValidationInfo) -> str:
        base_path = info.data.get("model_base_path", "")
        if value and base_path:
            raise ValueError(
                "set either MODELSERVER_MODEL_CONFIG_FILE or MODELSERVER_MODEL_BASE_PATH, not both"
            )
        if not value and not base_path and "model_base_path" in info.data:
            raise ValueError(
                "set MODELSERVER_MODEL_CONFIG_FILE, or MODELSERVER_MODEL_BASE_PATH (with "
                "MODELSERVER_MODEL_NAME)"
            )
        if value:  # a bad file stops the start with a line naming the variable
            try:
                config.read_file(value)
            except InvalidArgument as exc:
                raise ValueError(exc.message) from None
        return value

    def server_config(self) -> config.ServerConfig:
        """The model configuration these settings name."""
        if self.model_config_file:
            return config.read_file(self.model_config_file)
        return config.single_model(self.model_name, self.model_base_path)

    def base_path_policy(self) -> UriPolicy:
        """Where reloaded configurations may point: allowed_roots, or by default the model base
        folders the server starts with (TF Serving's <base>/<model> layout)."""
        roots = list(self.allowed_roots)
        if not roots:
            roots = [str(Path(m.base_path).parent) for m in self.server_config().models]
            if self.model_config_file:
                roots.append(str(Path(self.model_config_file).absolute().parent))
        return UriPolicy.build(roots, ["file"])
