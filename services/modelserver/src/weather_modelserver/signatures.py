"""Serving signatures read from saved_model.pb, and the checks a request's inputs must pass."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2

from weather_modelserver.source import SAVED_MODEL_FILE
from weather_runtime.errors import FieldViolation, InvalidArgument
from weather_tensors import tensor_proto

SERVING_TAG = "serve"
DEFAULT_SIGNATURE = "serving_default"
INIT_OP_SIGNATURE = "__saved_model_init_op"


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a signature: dtype enum and shape (-1 unknown; None: any rank)."""

    alias: str
    dtype: int
    shape: tuple[int, ...] | None

    @property
    def batched(self) -> bool:
        """Whether the first dimension is free (a batch dimension requests can be stacked on)."""
        return self.shape is not None and len(self.shape) >= 1 and self.shape[0] == -1

    def describe(self) -> str:
        """'float32 (DT_FLOAT) [-1, 4, 3, 5]'."""
        shape = "any shape" if self.shape is None else str(list(self.shape))
        return f"{tensor_proto.describe(self.dtype)} {shape}"

    def accepts_shape(self, shape: Sequence[int]) -> bool:
        """Whether an array of this shape fits (same rank, equal wherever the size is known)."""
        if self.shape is None:
            return True
        return len(shape) == len(self.shape) and all(
            want in (-1, got) for want, got in zip(self.shape, shape, strict=True)
        )


@dataclass(frozen=True)
class Signature:
    """A serving signature: its inputs and outputs by alias."""

    name: str
    method_name: str
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]

    @property
    def batchable(self) -> bool:
        """Whether requests can be concatenated: every input and output has a batch dimension."""
        specs = [*self.inputs.values(), *self.outputs.values()]
        return bool(self.inputs) and all(spec.batched for spec in specs)

    def check_inputs(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Raises InvalidArgument naming every missing, unknown, mistyped or misshaped input."""
        problems: list[FieldViolation] = []
        expected = ", ".join(sorted(self.inputs))
        for alias in sorted(set(self.inputs) - set(arrays)):
            problems.append(
                FieldViolation(
                    f"inputs[{alias!r}]",
                    f"missing; signature {self.name!r} expects {self.inputs[alias].describe()}",
                )
            )
        for alias in sorted(set(arrays) - set(self.inputs)):
            problems.append(
                FieldViolation(
                    f"inputs[{alias!r}]",
                    f"not an input of signature {self.name!r} (inputs: {expected})",
                )
            )
        for alias in sorted(set(arrays) & set(self.inputs)):
            spec, array = self.inputs[alias], arrays[alias]
            given = tensor_proto.dtype_enum(array.dtype)
            if given != spec.dtype:
                problems.append(
                    FieldViolation(
                        f"inputs[{alias!r}].dtype",
                        f"{tensor_proto.describe(given)} given; signature {self.name!r} expects "
                        f"{spec.describe()}",
                    )
                )
            elif not spec.accepts_shape(array.shape):
                problems.append(
                    FieldViolation(
                        f"inputs[{alias!r}].tensor_shape",
                        f"shape {list(array.shape)} given; signature {self.name!r} expects "
                        f"{spec.describe()}",
                    )
                )
        if problems:
            raise InvalidArgument(problems)

    def check_output_filter(self, output_filter: Sequence[str]) -> list[str]:
        """The outputs to return: the filter's (each known, none twice) or all of them."""
        if not output_filter:
            return sorted(self.outputs)
        problems: list[FieldViolation] = []
        for i, alias in enumerate(output_filter):
            if alias not in self.outputs:
                problems.append(
                    FieldViolation(
                        f"output_filter[{i}]",
                        f"{alias!r} is not an output of signature {self.name!r} "
                        f"(outputs: {', '.join(sorted(self.outputs))})",
                    )
                )
            elif alias in output_filter[:i]:
                problems.append(FieldViolation(f"output_filter[{i}]", f"{alias!r} is repeated"))
        if problems:
            raise InvalidArgument(problems)
        return list(output_filter)

    def batch_rows(self, arrays: Mapping[str, np.ndarray]) -> int | None:
        """The common first dimension of the inputs, or None when they disagree (such a request
        is run on its own)."""
        sizes = {int(array.shape[0]) for array in arrays.values() if array.ndim >= 1}
        if len(sizes) != 1 or any(array.ndim == 0 for array in arrays.values()):
            return None
        return sizes.pop()


def read_signature_defs(export_dir: Path) -> dict[str, meta_graph_pb2.SignatureDef]:
    """The SignatureDefs of the SavedModel's MetaGraphDef tagged 'serve' (as TF Serving loads)."""
    saved_model = saved_model_pb2.SavedModel.FromString(
        (export_dir / SAVED_MODEL_FILE).read_bytes()
    )
    for meta_graph in saved_model.meta_graphs:
        if SERVING_TAG in meta_graph.meta_info_def.tags:
            return dict(meta_graph.signature_def)
    tags = [list(m.meta_info_def.tags) for m in saved_model.meta_graphs]
    raise ValueError(f"no MetaGraphDef tagged {SERVING_TAG!r} in {export_dir} (tags: {tags})")


def from_signature_def(name: str, signature_def: meta_graph_pb2.SignatureDef) -> Signature:
    """The domain view of one SignatureDef."""
    return Signature(
        name=name,
        method_name=signature_def.method_name,
        inputs={k: _spec(k, v) for k, v in signature_def.inputs.items()},
        outputs={k: _spec(k, v) for k, v in signature_def.outputs.items()},
    )


def _spec(alias: str, info: meta_graph_pb2.TensorInfo) -> TensorSpec:
    shape = info.tensor_shape
    dims = None if shape.unknown_rank else tuple(int(d.size) for d in shape.dim)
    return TensorSpec(alias, int(info.dtype), dims)
