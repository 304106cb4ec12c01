"""GriddedField <-> numpy with whole-buffer copies (never per element), and the Predict hot path
that splices the tensor bytes into and out of TF Serving messages (see wire); TensorProto <->
numpy is weather_tensors.tensor_proto's."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tensorflow.core.framework import tensor_pb2
from tensorflow_serving.apis import model_pb2, predict_pb2
from weather.common.v1 import field_pb2

from weather_predictor import wire
from weather_runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument
from weather_tensors import tensor_proto

_FIELD_NAMES: dict[int, str] = {
    field_pb2.DATA_TYPE_FLOAT32: "float32",
    field_pb2.DATA_TYPE_FLOAT64: "float64",
    field_pb2.DATA_TYPE_INT32: "int32",
    field_pb2.DATA_TYPE_INT64: "int64",
}


@dataclass(frozen=True)
class Tensor:
    """One signature tensor: name, dtype name (e.g. float32) and shape (-1 unknown)."""

    name: str
    dtype: str
    shape: tuple[int, ...]


def field_dtype(name: str) -> int:
    """The weather.common.v1.DataType of a dtype name (UNSPECIFIED when unknown)."""
    for value, text in _FIELD_NAMES.items():
        if text == name:
            return value
    return field_pb2.DATA_TYPE_UNSPECIFIED


def field_to_array(
    proto: field_pb2.GriddedField,
    where: str,
    expected_shape: Sequence[int],
    data: bytes | memoryview | None = None,
) -> np.ndarray:
    """The float32 array of a GriddedField (a view of its bytes, or of data when the bytes were
    detached from the message); InvalidArgument names the field. NaN is rejected: the models
    were never trained on missing values."""
    if proto.dtype != field_pb2.DATA_TYPE_FLOAT32:
        got = _FIELD_NAMES.get(proto.dtype, field_pb2.DataType.Name(proto.dtype))
        raise InvalidArgument.field(f"{where}.dtype", f"expected float32, got {got}")
    shape = tuple(int(n) for n in proto.shape)
    if shape != tuple(expected_shape):
        raise InvalidArgument.field(
            f"{where}.shape",
            f"expected {list(expected_shape)} (input_steps, lat, lon), got {list(shape)}",
        )
    buffer = proto.data if data is None else data
    need = math.prod(shape) * 4
    if len(buffer) != need:
        raise InvalidArgument.field(
            f"{where}.data", f"holds {len(buffer)} bytes; shape {list(shape)} needs {need}"
        )
    array = np.frombuffer(buffer, dtype="<f4").reshape(shape)
    # the maximum is NaN exactly when a value is (one pass, no mask as large as the field)
    if array.size and np.isnan(array.max()):
        raise InvalidArgument.field(
            f"{where}.data", f"contains {int(np.isnan(array).sum())} NaN values; fill them first"
        )
    return array


def array_to_field(
    array: np.ndarray, variable: str, units: str, axes: Sequence[field_pb2.CoordinateAxis] = ()
) -> field_pb2.GriddedField:
    """A float32 GriddedField from one array (one tobytes copy)."""
    data = np.ascontiguousarray(array, dtype="<f4")
    return field_pb2.GriddedField(
        variable=variable,
        units=units,
        shape=list(data.shape),
        dtype=field_pb2.DATA_TYPE_FLOAT32,
        data=data.tobytes(),
        axes=list(axes),
    )


_PREDICT_INPUTS = predict_pb2.PredictRequest.DESCRIPTOR.fields_by_name["inputs"].number
_PREDICT_OUTPUTS = predict_pb2.PredictResponse.DESCRIPTOR.fields_by_name["outputs"].number
_CONTENT = tensor_pb2.TensorProto.DESCRIPTOR.fields_by_name["tensor_content"].number
_MAP_KEY, _MAP_VALUE = 1, 2  # protobuf's map entry fields


def predict_request_bytes(spec: model_pb2.ModelSpec, inputs: dict[str, np.ndarray]) -> bytes:
    """A serialised TF Serving PredictRequest: the arrays' bytes joined in once, as each
    tensor's tensor_content (what PredictRequest(...).SerializeToString() gives, without
    copying every array into a message first; small arrays go through protobuf)."""
    if not wire.worth_splicing(sum(a.nbytes for a in inputs.values())):
        request = predict_pb2.PredictRequest(model_spec=spec)
        for name, array in inputs.items():
            tensor_proto.fill_proto(request.inputs[name], array)
        return request.SerializeToString()  # type: ignore[no-any-return]
    parts: list[wire.Part] = [predict_pb2.PredictRequest(model_spec=spec).SerializeToString()]
    for name, array in inputs.items():
        content = tensor_proto.content_buffer(array)
        tensor = [
            tensor_proto.tensor_header(array),
            *wire.length_delimited(_CONTENT, [content]),
        ]
        entry = [
            *wire.length_delimited(_MAP_KEY, [name.encode("utf-8")]),
            *wire.length_delimited(_MAP_VALUE, tensor),
        ]
        parts += wire.length_delimited(_PREDICT_INPUTS, entry)
    return b"".join(parts)


def predict_response_arrays(
    raw: bytes,
) -> tuple[predict_pb2.PredictResponse, dict[str, np.ndarray]]:
    """A serialised TF Serving PredictResponse: the message without the tensors' bytes, and each
    output as an array viewing raw (typed-value tensors are decoded as usual). A small answer is
    parsed whole, by protobuf. An output this predictor cannot read is FailedPrecondition."""
    if not wire.worth_splicing(len(raw)):
        response = predict_pb2.PredictResponse.FromString(raw)
        contents: dict[str, memoryview] = {}
    else:
        light, contents = wire.split_map(raw, _PREDICT_OUTPUTS, _CONTENT)
        response = predict_pb2.PredictResponse.FromString(light)
    arrays = {}
    for name, tensor in response.outputs.items():
        try:
            arrays[name] = tensor_proto.to_numpy(tensor, f"outputs[{name!r}]", contents.get(name))
        except InvalidArgument as exc:
            raise FailedPrecondition(f"the model server's answer: {exc.message}") from None
    return response, arrays


def violations_for_variables(
    given: Sequence[str], expected: Sequence[str], where: str
) -> list[FieldViolation]:
    """Violations when the variables sent are not exactly the model's."""
    problems = []
    missing = [v for v in expected if v not in given]
    extra = [v for v in given if v not in expected]
    duplicated = sorted({v for v in given if list(given).count(v) > 1})
    if missing or extra or duplicated:
        text = f"expected one field per variable {list(expected)}"
        if missing:
            text += f"; missing {missing}"
        if extra:
            text += f"; unknown {extra}"
        if duplicated:
            text += f"; repeated {duplicated}"
        problems.append(FieldViolation(where, text))
    return problems
