"""One loaded model version: the SavedModel's signatures, its warm-up replay and model calls."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import prediction_log_pb2

from weather_modelserver.signatures import (
    SERVING_TAG,
    Signature,
    from_signature_def,
    read_signature_defs,
)
from weather_runtime.errors import (
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    PreconditionViolation,
)
from weather_tensors import tensor_proto

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
MAX_WARMUP_RECORDS = 1000  # as TF Serving

log = logging.getLogger(__name__)

# Canonical status codes by number (TensorFlow's OpError.error_code and gRPC agree).
_CODE_NAMES = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
]


class LoadError(Exception):
    """A version could not be loaded or warmed up; code is a canonical status code name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def error_code(exc: BaseException) -> str:
    """The canonical status code name (NOT_FOUND, DATA_LOSS...) an exception stands for."""
    if isinstance(exc, LoadError):
        return exc.code
    if isinstance(exc, DomainError):
        return exc.code.name
    if isinstance(exc, tf.errors.OpError) and 0 <= exc.error_code < len(_CODE_NAMES):
        return _CODE_NAMES[int(exc.error_code)]
    if isinstance(exc, FileNotFoundError):
        return "NOT_FOUND"
    return "UNKNOWN"


def error_message(exc: BaseException) -> str:
    """A one-paragraph message of an exception (TensorFlow's first line, without node dumps)."""
    if isinstance(exc, DomainError | LoadError):
        return exc.message
    if isinstance(exc, tf.errors.OpError):
        text: str = exc.message or type(exc).__name__
        return text.strip().splitlines()[0]
    return str(exc) or type(exc).__name__


class Servable:
    """A loaded SavedModel version; run() is safe to call from many threads at once."""

    def __init__(
        self,
        model: str,
        version: int,
        path: Path,
        loaded: Any,
        signature_defs: dict[str, meta_graph_pb2.SignatureDef],
    ) -> None:
        self.model = model
        self.version = version
        self.path = path
        self._loaded = loaded  # keeps the variables alive
        self._functions: dict[str, Any] = dict(loaded.signatures)
        self.signature_defs = signature_defs
        self.signatures: dict[str, Signature] = {
            name: from_signature_def(name, signature_defs[name])
            for name in self._functions
            if name in signature_defs
        }

    @classmethod
    def load(cls, model: str, version: int, path: Path) -> Servable:
        """Loads the SavedModel in path (MetaGraphDef tagged 'serve'); raises LoadError."""
        try:
            signature_defs = read_signature_defs(path)
        except Exception as exc:  # a bad saved_model.pb is this version's status
            raise LoadError(
                "DATA_LOSS" if not isinstance(exc, OSError) else "NOT_FOUND",
                f"cannot read {path / 'saved_model.pb'}: {error_message(exc)}",
            ) from exc
        try:
            loaded = tf.saved_model.load(str(path), tags=[SERVING_TAG])
        except Exception as exc:
            raise LoadError(
                error_code(exc), f"cannot load the SavedModel in {path}: {error_message(exc)}"
            ) from exc
        if not loaded.signatures:
            raise LoadError("FAILED_PRECONDITION", f"the SavedModel in {path} has no signature")
        return cls(model, version, path, loaded, signature_defs)

    def signature(self, name: str) -> Signature:
        """The named signature; FailedPrecondition (as TF Serving) when the model lacks it."""
        found = self.signatures.get(name)
        if found is None:
            names = ", ".join(sorted(self.signatures))
            message = (
                f"model_spec.signature_name: serving signature {name!r} not found in model "
                f"{self.model!r} version {self.version} (signatures: {names})"
            )
            raise FailedPrecondition(
                message,
                [PreconditionViolation("SIGNATURE", "model_spec.signature_name", message)],
            )
        return found

    def run(self, signature: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Calls the signature on checked inputs; every output as an array."""
        function = self._functions[signature]
        try:
            outputs = function(**{name: tf.constant(value) for name, value in inputs.items()})
        except tf.errors.InvalidArgumentError as exc:
            raise InvalidArgument.field(
                "inputs", f"model {self.model!r} rejected the inputs: {error_message(exc)}"
            ) from exc
        return {name: value.numpy() for name, value in outputs.items()}

    def warm_up(self, iterations: int = 1) -> int:
        """Replays assets.extra/tf_serving_warmup_requests (a TFRecord of PredictionLog) as TF
        Serving does: every record `iterations` times, at most 1000 records, none is fine.
        Returns the records replayed; raises LoadError for a bad file or a failing request."""
        path = self.path / WARMUP_FILE
        if not path.is_file():
            return 0
        count = 0
        try:
            for index, record in enumerate(tf.data.TFRecordDataset(str(path))):
                if index >= MAX_WARMUP_RECORDS:
                    raise LoadError(
                        "INVALID_ARGUMENT",
                        f"{path} holds more than {MAX_WARMUP_RECORDS} warm-up records",
                    )
                self._replay(index, record.numpy(), iterations)
                count += 1
        except tf.errors.DataLossError as exc:
            raise LoadError(
                "DATA_LOSS", f"{path} is not a TFRecord file of PredictionLog: {error_message(exc)}"
            ) from exc
        except LoadError:
            raise
        except Exception as exc:  # a failing warm-up request fails the load
            raise LoadError(
                error_code(exc), f"warm-up from {path} failed: {error_message(exc)}"
            ) from exc
        return count

    def _replay(self, index: int, record: bytes, iterations: int) -> None:
        where = f"warm-up record {index}"
        try:
            entry = prediction_log_pb2.PredictionLog.FromString(record)
        except Exception as exc:  # protobuf raises DecodeError
            raise LoadError("INVALID_ARGUMENT", f"{where} is not a PredictionLog") from exc
        kind = entry.WhichOneof("log_type")
        if kind != "predict_log":
            raise LoadError(
                "UNIMPLEMENTED", f"{where} is a {kind}; this server replays predict_log only"
            )
        request = entry.predict_log.request
        signature = self.signature(request.model_spec.signature_name or "serving_default")
        inputs = {
            name: tensor_proto.to_numpy(proto, f"{where} inputs[{name!r}]")
            for name, proto in request.inputs.items()
        }
        signature.check_inputs(inputs)
        for _ in range(max(iterations, 1)):
            self.run(signature.name, inputs)
