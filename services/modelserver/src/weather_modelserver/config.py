"""Model configuration as TF Serving's model_config_list: models, version policies, labels."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from weather_runtime.errors import FieldViolation, InvalidArgument
from weather_runtime.uris import UriPolicy

TENSORFLOW_PLATFORM = "tensorflow"
_CONFIG_LIST = "config.model_config_list.config"


@dataclass(frozen=True)
class VersionPolicy:
    """Which of the versions found under a base path are served: the latest N, all or specific."""

    kind: Literal["latest", "all", "specific"] = "latest"
    num_versions: int = 1
    versions: tuple[int, ...] = ()

    def select(self, found: Iterable[int]) -> set[int]:
        """The versions to serve among those found on disk."""
        present = sorted(set(found), reverse=True)
        if self.kind == "all":
            return set(present)
        if self.kind == "specific":
            return set(present) & set(self.versions)
        return set(present[: max(self.num_versions, 1)])

    def describe(self) -> str:
        """latest{2}, all{} or specific{1, 3}."""
        if self.kind == "latest":
            return f"latest{{{max(self.num_versions, 1)}}}"
        if self.kind == "all":
            return "all{}"
        return "specific{" + ", ".join(str(v) for v in sorted(self.versions)) + "}"


@dataclass(frozen=True)
class ModelConfig:
    """One served model: its name, the folder holding its numbered versions, policy and labels."""

    name: str
    base_path: str
    policy: VersionPolicy = field(default_factory=VersionPolicy)
    labels: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ServerConfig:
    """The whole model configuration (what a model config file or a reload request holds)."""

    models: tuple[ModelConfig, ...] = ()

    def model(self, name: str) -> ModelConfig | None:
        """The model of that name, if configured."""
        return next((m for m in self.models if m.name == name), None)

    @property
    def names(self) -> list[str]:
        """Names of the configured models, in configuration order."""
        return [m.name for m in self.models]


def single_model(name: str, base_path: str) -> ServerConfig:
    """The configuration of --model_name/--model_base_path: one model, the latest version."""
    config = ServerConfig((ModelConfig(name, base_path),))
    validate(config)
    return config


def from_proto(
    message: model_server_config_pb2.ModelServerConfig, relative_to: Path | None = None
) -> ServerConfig:
    """The domain configuration of a ModelServerConfig; relative base paths resolve against
    relative_to (a config file's folder) or are refused. Raises InvalidArgument naming fields."""
    which = message.WhichOneof("config")
    if which == "custom_model_config":
        raise InvalidArgument.field(
            "config.custom_model_config", "only model_config_list is supported"
        )
    models: list[ModelConfig] = []
    problems: list[FieldViolation] = []
    for i, entry in enumerate(message.model_config_list.config):
        where = f"{_CONFIG_LIST}[{i}]"
        platform = entry.model_platform
        if entry.model_type not in (0, 1):  # MODEL_TYPE_UNSPECIFIED, TENSORFLOW
            problems.append(FieldViolation(f"{where}.model_type", "only TENSORFLOW is supported"))
        if platform and platform != TENSORFLOW_PLATFORM:
            problems.append(
                FieldViolation(
                    f"{where}.model_platform",
                    f"unsupported platform {platform!r}; this server serves 'tensorflow'",
                )
            )
        models.append(
            ModelConfig(
                name=entry.name,
                base_path=_base_path(entry.base_path, relative_to),
                policy=_policy_from_proto(entry),
                labels=dict(entry.version_labels),
            )
        )
    if problems:
        raise InvalidArgument(problems)
    config = ServerConfig(tuple(models))
    validate(config)
    return config


def parse_text(text: str, relative_to: Path | None = None) -> ServerConfig:
    """A ModelServerConfig in protobuf text format (TF Serving's --model_config_file)."""
    message = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as exc:
        raise InvalidArgument.field(
            "model_config_file", f"not a ModelServerConfig: {exc}"
        ) from None
    return from_proto(message, relative_to)


def read_file(path: str | Path) -> ServerConfig:
    """The configuration in a model config file; relative base paths are taken from its folder."""
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as exc:
        raise InvalidArgument.field("model_config_file", f"cannot read {file}: {exc}") from None
    return parse_text(text, file.resolve().parent)


def validate(config: ServerConfig) -> None:
    """Raises InvalidArgument naming each bad field: names unique and set, absolute base paths,
    labels on positive versions, a non-empty specific policy."""
    problems: list[FieldViolation] = []
    seen: set[str] = set()
    for i, model in enumerate(config.models):
        where = f"{_CONFIG_LIST}[{i}]"
        if not model.name:
            problems.append(FieldViolation(f"{where}.name", "must not be empty"))
        elif model.name in seen:
            problems.append(
                FieldViolation(f"{where}.name", f"model {model.name!r} is listed more than once")
            )
        seen.add(model.name)
        if not model.base_path:
            problems.append(FieldViolation(f"{where}.base_path", "must not be empty"))
        elif "://" in model.base_path:
            problems.append(
                FieldViolation(f"{where}.base_path", "only local folders (or file://) are served")
            )
        elif not Path(model.base_path).is_absolute():
            problems.append(
                FieldViolation(
                    f"{where}.base_path", f"expected an absolute path, got {model.base_path!r}"
                )
            )
        if model.policy.kind == "specific" and not model.policy.versions:
            problems.append(
                FieldViolation(
                    f"{where}.model_version_policy.specific.versions", "must name a version"
                )
            )
        for label, version in model.labels.items():
            if not label:
                problems.append(FieldViolation(f"{where}.version_labels", "empty label"))
            if version <= 0:
                problems.append(
                    FieldViolation(
                        f"{where}.version_labels[{label!r}]", f"version {version} is not positive"
                    )
                )
    if problems:
        raise InvalidArgument(problems)


def check_roots(config: ServerConfig, roots: UriPolicy) -> None:
    """Raises InvalidArgument naming each base path outside the allowed roots: first by text
    alone (nothing outside is touched), then by its real path (no link leading out)."""
    problems: list[FieldViolation] = []
    for i, model in enumerate(config.models):
        where = f"{_CONFIG_LIST}[{i}].base_path"
        try:
            roots.check_open(roots.check(model.base_path, where), where)
        except InvalidArgument as exc:
            problems.extend(exc.violations)
    if problems:
        raise InvalidArgument(problems)


def base_checker(roots: UriPolicy) -> Callable[[str], None]:
    """What the manager calls before each scan of a base path: InvalidArgument when it no longer
    lies under the roots (a folder swapped for a link to elsewhere since the reload)."""

    def check(base_path: str) -> None:
        roots.check_open(roots.check(base_path, "base_path"), "base_path")

    return check


def _policy_from_proto(entry: model_server_config_pb2.ModelConfig) -> VersionPolicy:
    policy = entry.model_version_policy
    which = policy.WhichOneof("policy_choice")
    if which == "all":
        return VersionPolicy("all")
    if which == "specific":
        return VersionPolicy("specific", versions=tuple(policy.specific.versions))
    if which == "latest":
        return VersionPolicy("latest", num_versions=max(policy.latest.num_versions, 1))
    return VersionPolicy()


def _base_path(path: str, relative_to: Path | None) -> str:
    if path.startswith("file://"):
        path = path[len("file://") :]
    if path and "://" not in path and relative_to is not None and not Path(path).is_absolute():
        return str(relative_to / path)
    return path
