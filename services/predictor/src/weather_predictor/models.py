"""Model choice (version, alias, canary share) and the per-version signature/metadata cache."""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import fsspec
from tensorflow_serving.apis import get_model_metadata_pb2

from weather_predictor.modelserver_client import ModelServerClient, Target
from weather_predictor.tensors import Tensor
from weather_runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from weather_tensors.tensor_proto import dtype_name

SIGNATURE = "serving_default"
PRODUCTION = "production"
CANARY = "canary"
INIT_TIME = "init_time"
LEAD_HOURS = "lead_hours"


@dataclass(frozen=True)
class ModelInfo:
    """A served version: its serving signature and its assets/metadata.json (may be empty).
    Derived values are computed once per version (every request asks for them)."""

    name: str
    version: int
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    metadata: dict[str, Any] = field(default_factory=dict)
    raw_metadata: str = ""

    @cached_property
    def variables(self) -> tuple[str, ...]:
        """Forecast variables: the signature's inputs other than init_time and lead_hours."""
        return tuple(t.name for t in self.inputs if t.name not in (INIT_TIME, LEAD_HOURS))

    def input(self, name: str) -> Tensor:
        """The input tensor called name."""
        return next(t for t in self.inputs if t.name == name)

    @cached_property
    def window_shape(self) -> tuple[int, ...]:
        """[input_steps, lat, lon] of every variable input."""
        return self.input(self.variables[0]).shape[1:]

    @cached_property
    def units(self) -> dict[str, str]:
        """Units by variable, from the metadata."""
        return {
            str(v.get("name")): str(v.get("units", ""))
            for v in self.metadata.get("variables", [])
            if isinstance(v, dict)
        }

    @cached_property
    def lead_hours(self) -> tuple[float, ...]:
        """Leads the model was trained on, in hours (empty when unknown)."""
        return tuple(float(h) for h in self.metadata.get("lead_hours", []))

    @cached_property
    def trained_seconds(self) -> frozenset[int]:
        """The trained leads in whole seconds."""
        return frozenset(round(h * 3600) for h in self.lead_hours)

    @cached_property
    def step_seconds(self) -> float:
        """The model time step in seconds (0 when unknown)."""
        return float(self.metadata.get("time_step_seconds", 0) or 0)


@dataclass(frozen=True)
class Choice:
    """The model server target of a request and the alias it resolved to ('' for a number)."""

    target: Target
    alias: str


class ModelCatalog:
    """Resolves selectors, applies the canary share, caches signatures and metadata."""

    def __init__(
        self,
        client: ModelServerClient,
        *,
        model_root: str,
        canary_share: float,
        default_alias: str = PRODUCTION,
        label_cache_seconds: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.model_root = model_root.rstrip("/")
        self.canary_share = canary_share
        self.default_alias = default_alias
        self.label_cache_seconds = label_cache_seconds
        self._rng = rng or random.Random()  # noqa: S311 - a traffic split, not a secret
        self._lock = threading.Lock()
        self._labels: dict[tuple[str, str], tuple[float, int | None]] = {}
        self._infos: dict[tuple[str, int], ModelInfo] = {}

    def choose(
        self, name: str, version: int, alias: str, deadline: float, *, canary: bool = True
    ) -> Choice:
        """The target for a selector: a number as given, else the alias (default production),
        production redirected to canary with probability canary_share when canary exists."""
        if not name:
            raise InvalidArgument.field("model.name", "is required")
        if version < 0:
            raise InvalidArgument.field("model.version", f"must be positive, got {version}")
        if version:
            return Choice(Target(name, version=version), "")
        alias = alias or self.default_alias
        if (
            canary
            and alias == PRODUCTION
            and self.canary_share > 0
            and self._draw() < self.canary_share
            and self.label_version(name, CANARY, deadline, missing_ok=True) is not None
        ):
            alias = CANARY
        return Choice(Target(name, label=alias), alias)

    def _draw(self) -> float:
        with self._lock:
            return self._rng.random()

    def label_version(
        self, name: str, label: str, deadline: float, *, missing_ok: bool = False
    ) -> int | None:
        """The version a label points at (cached for label_cache_seconds); None when the label
        does not exist and missing_ok, else NotFound."""
        key = (name, label)
        now = time.monotonic()
        with self._lock:
            cached = self._labels.get(key)
        if cached is not None and now - cached[0] < self.label_cache_seconds:
            version = cached[1]
        else:
            try:
                response = self.client.metadata(Target(name, label=label), deadline)
                version = int(response.model_spec.version.value)
            except NotFound:
                version = None
            with self._lock:
                self._labels[key] = (now, version)
        if version is None and not missing_ok:
            raise NotFound("model alias", f"{name}@{label}")
        return version

    def resolve(self, choice: Choice, deadline: float) -> ModelInfo:
        """The ModelInfo of the version a choice points at now."""
        target = choice.target
        version = target.version or self.label_version(target.name, target.label, deadline)
        assert version is not None
        return self.info(target.name, version, deadline)

    def info(self, name: str, version: int, deadline: float) -> ModelInfo:
        """Signature (GetModelMetadata) and metadata.json of name:version, cached."""
        key = (name, version)
        with self._lock:
            found = self._infos.get(key)
        if found is not None:
            return found
        response = self.client.metadata(Target(name, version=version), deadline)
        inputs, outputs = _signature(response, f"{name}:{version}")
        raw = self._read_metadata(name, version)
        info = ModelInfo(name, version, inputs, outputs, json.loads(raw) if raw else {}, raw)
        with self._lock:
            self._infos[key] = info
        return info

    def _read_metadata(self, name: str, version: int) -> str:
        if not self.model_root:
            return ""
        url = f"{self.model_root}/{name}/{version}/assets/metadata.json"
        fs, path = fsspec.core.url_to_fs(url)
        if not fs.exists(path):
            return ""
        with fs.open(path, "r") as handle:
            return str(handle.read())


def _signature(
    response: get_model_metadata_pb2.GetModelMetadataResponse, what: str
) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
    signatures = get_model_metadata_pb2.SignatureDefMap()
    if "signature_def" not in response.metadata or not response.metadata["signature_def"].Unpack(
        signatures
    ):
        raise FailedPrecondition(f"model server gave no signature_def for {what}")
    if SIGNATURE not in signatures.signature_def:
        raise FailedPrecondition(f"{what} has no {SIGNATURE} signature")
    signature = signatures.signature_def[SIGNATURE]

    def tensors(infos: Any) -> tuple[Tensor, ...]:
        return tuple(
            Tensor(
                key,
                dtype_name(info.dtype),
                tuple(int(d.size) for d in info.tensor_shape.dim),
            )
            for key, info in sorted(infos.items())
        )

    return tensors(signature.inputs), tensors(signature.outputs)
