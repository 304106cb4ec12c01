"""The model server's operations: Predict, GetModelMetadata, GetModelStatus, ReloadConfig."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from tensorflow.core.protobuf import meta_graph_pb2

from weather_modelserver.batching import Batcher
from weather_modelserver.config import ServerConfig, check_roots
from weather_modelserver.manager import ServableManager, VersionStatus
from weather_modelserver.metrics import ModelServerMetrics
from weather_modelserver.servables import Servable
from weather_modelserver.signatures import DEFAULT_SIGNATURE, Signature
from weather_runtime.errors import InvalidArgument
from weather_runtime.uris import UriPolicy

SIGNATURE_DEF_FIELD = "signature_def"


@dataclass(frozen=True)
class ModelRequest:
    """Which model and version a request is for (a version number, a label, or the latest)."""

    name: str
    version: int | None = None
    label: str | None = None
    signature_name: str = ""

    def check(self) -> None:
        """InvalidArgument for a request without a model name."""
        if not self.name:
            raise InvalidArgument.field("model_spec.name", "must name a model")


@dataclass(frozen=True)
class Prediction:
    """The answer of Predict: which version and signature answered, and the outputs."""

    model: str
    version: int
    signature_name: str
    outputs: dict[str, np.ndarray]


@dataclass(frozen=True)
class ModelMetadata:
    """The answer of GetModelMetadata: the version that answered and its SignatureDefs."""

    model: str
    version: int
    signature_defs: dict[str, meta_graph_pb2.SignatureDef]


class ModelServer:
    """Requests against the servables the manager keeps, batched when a batcher is given."""

    def __init__(
        self,
        manager: ServableManager,
        metrics: ModelServerMetrics,
        batcher: Batcher | None = None,
        roots: UriPolicy | None = None,
    ) -> None:
        self.manager = manager
        self.metrics = metrics
        self.batcher = batcher
        self.roots = roots  # where reloads may point; None: anywhere (embedded use)

    def predict(
        self,
        request: ModelRequest,
        inputs: Mapping[str, np.ndarray],
        output_filter: Sequence[str] = (),
    ) -> Prediction:
        """Runs the signature on inputs checked against it; returns the filtered outputs."""
        request.check()
        with self.manager.lease(request.name, request.version, request.label) as lease:
            servable = lease.servable
            signature = servable.signature(request.signature_name or DEFAULT_SIGNATURE)
            signature.check_inputs(inputs)
            wanted = signature.check_output_filter(output_filter)
            outputs = self._run(servable, signature, inputs)
            return Prediction(
                request.name,
                lease.version,
                signature.name,
                {name: outputs[name] for name in wanted},
            )

    def metadata(self, request: ModelRequest, fields: Sequence[str]) -> ModelMetadata:
        """The SignatureDefs of the requested version (the only metadata field TF Serving has)."""
        request.check()
        if not fields:
            raise InvalidArgument.field(
                "metadata_field", f"must name at least one field ({SIGNATURE_DEF_FIELD})"
            )
        for i, name in enumerate(fields):
            if name != SIGNATURE_DEF_FIELD:
                raise InvalidArgument.field(
                    f"metadata_field[{i}]",
                    f"{name!r} is not supported; supported: {SIGNATURE_DEF_FIELD}",
                )
        with self.manager.lease(request.name, request.version, request.label) as lease:
            return ModelMetadata(request.name, lease.version, dict(lease.servable.signature_defs))

    def status(self, request: ModelRequest) -> list[VersionStatus]:
        """Every version of the model (or the one asked for) with its state."""
        request.check()
        return self.manager.statuses(request.name, request.version, request.label)

    def reload(self, config: ServerConfig) -> None:
        """Replaces the model configuration (see ServableManager.reload) once every base path
        is under the allowed roots."""
        if self.roots is not None:
            check_roots(config, self.roots)
        self.manager.reload(config)

    def close(self) -> None:
        """Finishes queued batches, then stops loading and drops every version."""
        if self.batcher is not None:
            self.batcher.close()
        self.manager.close()

    def _run(
        self, servable: Servable, signature: Signature, inputs: Mapping[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        def call(arrays: Mapping[str, np.ndarray], requests: int) -> dict[str, np.ndarray]:
            outputs = servable.run(signature.name, arrays)
            rows = signature.batch_rows(arrays) or 0
            self.metrics.model_call(
                servable.model, servable.version, signature.name, requests, rows
            )
            return outputs

        rows = signature.batch_rows(inputs) if signature.batchable else None
        if (
            self.batcher is None
            or rows is None
            or rows > self.batcher.options.max_batch_size
            or rows == 0
        ):
            return call(inputs, 1)
        key = (
            servable,
            signature.name,
            tuple(sorted((k, v.dtype.str, v.shape[1:]) for k, v in inputs.items())),
        )
        return self.batcher.submit(key, call, inputs, rows).result()
