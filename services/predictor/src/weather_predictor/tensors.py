"""GriddedField <-> numpy <-> TensorProto with whole-buffer copies (never per element); the
Predict hot path splices the tensor bytes into and out of TF Serving messages (see wire)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import model_pb2, predict_pb2
from weather.common.v1 import field_pb2

from weather_predictor import wire
from weather_runtime.errors import FieldViolation, InvalidArgument

_TF_DTYPES: dict[int, tuple[np.dtype, str, int]] = {
    types_pb2.DT_FLOAT: (np.dtype("<f4"), "float32", field_pb2.DATA_TYPE_FLOAT32),
    types_pb2.DT_DOUBLE: (np.dtype("<f8"), "float64", field_pb2.DATA_TYPE_FLOAT64),
    types_pb2.DT_INT32: (np.dtype("<i4"), "int32", field_pb2.DATA_TYPE_INT32),
    types_pb2.DT_INT64: (np.dtype("<i8"), "int64", field_pb2.DATA_TYPE_INT64),
}
# the TF DataType and little-endian dtype of an array's (native-order) dtype
_BY_NUMPY: dict[np.dtype, tuple[int, np.dtype]] = {
    np_dtype.newbyteorder("="): (enum, np_dtype) for enum, (np_dtype, _n, _f) in _TF_DTYPES.items()
}
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


def dtype_name(tf_dtype: int) -> str:
    """float32, int64... for a TensorFlow DataType enum (or DT_<n>)."""
    known = _TF_DTYPES.get(tf_dtype)
    return known[1] if known else f"DT_{tf_dtype}"


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


def to_tensor_proto(array: np.ndarray) -> tensor_pb2.TensorProto:
    """A TensorProto with the array as one tensor_content buffer."""
    proto = tensor_pb2.TensorProto()
    _fill(proto, array)
    return proto


def _fill(proto: tensor_pb2.TensorProto, array: np.ndarray) -> None:
    """Sets an empty TensorProto to the array (dtype, shape, one tensor_content copy)."""
    np_dtype = _describe(proto, array)
    proto.tensor_content = np.ascontiguousarray(array, dtype=np_dtype).tobytes()


def _describe(proto: tensor_pb2.TensorProto, array: np.ndarray) -> np.dtype:
    """Sets an empty TensorProto's dtype and shape to the array's; its little-endian dtype."""
    enum, np_dtype = _tf_dtype(array)
    proto.dtype = enum
    dims = proto.tensor_shape.dim
    for n in array.shape:
        dims.add(size=n)
    return np_dtype


def _tf_dtype(array: np.ndarray) -> tuple[int, np.dtype]:
    """The TF DataType and the little-endian numpy dtype of an array; TypeError if neither."""
    known = _BY_NUMPY.get(array.dtype)
    if known is None:
        raise TypeError(f"unsupported dtype {array.dtype}")
    return known


def from_tensor_proto(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """The array of a TensorProto (tensor_content as one buffer, typed values in one call)."""
    known = _TF_DTYPES.get(proto.dtype)
    if known is None:
        raise TypeError(f"unsupported dtype {dtype_name(proto.dtype)}")
    np_dtype = known[0]
    shape = tuple(int(d.size) for d in proto.tensor_shape.dim)
    if proto.tensor_content:
        array: np.ndarray = np.frombuffer(proto.tensor_content, dtype=np_dtype)
        return array.reshape(shape)
    values = {
        types_pb2.DT_FLOAT: proto.float_val,
        types_pb2.DT_DOUBLE: proto.double_val,
        types_pb2.DT_INT32: proto.int_val,
        types_pb2.DT_INT64: proto.int64_val,
    }[proto.dtype]
    flat = np.asarray(values, dtype=np_dtype)
    count = int(np.prod(shape, dtype=np.int64))
    if flat.size != count:  # TensorFlow pads a short list with its last value
        flat = np.resize(flat, count) if flat.size else np.zeros(count, np_dtype)
        if values:
            flat[len(values) :] = flat[len(values) - 1]
    result: np.ndarray = flat.reshape(shape)
    return result


_PREDICT_INPUTS = predict_pb2.PredictRequest.DESCRIPTOR.fields_by_name["inputs"].number
_PREDICT_OUTPUTS = predict_pb2.PredictResponse.DESCRIPTOR.fields_by_name["outputs"].number
_CONTENT = tensor_pb2.TensorProto.DESCRIPTOR.fields_by_name["tensor_content"].number
_MAP_KEY, _MAP_VALUE = 1, 2  # protobuf's map entry fields


def tensor_header(array: np.ndarray) -> bytes:
    """A serialised TensorProto with the array's dtype and shape and no values."""
    proto = tensor_pb2.TensorProto()
    _describe(proto, array)
    header: bytes = proto.SerializeToString()
    return header


def _buffer(array: np.ndarray) -> memoryview:
    """The array's bytes, little-endian and C-ordered, without a copy when they already are."""
    _, np_dtype = _tf_dtype(array)
    return np.ascontiguousarray(array, dtype=np_dtype).data.cast("B")


def predict_request_bytes(spec: model_pb2.ModelSpec, inputs: dict[str, np.ndarray]) -> bytes:
    """A serialised TF Serving PredictRequest: the arrays' bytes joined in once, as each
    tensor's tensor_content (what PredictRequest(...).SerializeToString() gives, without
    copying every array into a message first; small arrays go through protobuf)."""
    if not wire.worth_splicing(sum(a.nbytes for a in inputs.values())):
        request = predict_pb2.PredictRequest(model_spec=spec)
        for name, array in inputs.items():
            _fill(request.inputs[name], array)
        return request.SerializeToString()  # type: ignore[no-any-return]
    parts: list[wire.Part] = [predict_pb2.PredictRequest(model_spec=spec).SerializeToString()]
    for name, array in inputs.items():
        tensor = [tensor_header(array), *wire.length_delimited(_CONTENT, [_buffer(array)])]
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
    parsed whole, by protobuf."""
    if not wire.worth_splicing(len(raw)):
        response = predict_pb2.PredictResponse.FromString(raw)
        return response, {k: from_tensor_proto(t) for k, t in response.outputs.items()}
    light, contents = wire.split_map(raw, _PREDICT_OUTPUTS, _CONTENT)
    response = predict_pb2.PredictResponse.FromString(light)
    arrays = {}
    for name, tensor in response.outputs.items():
        content = contents.get(name)
        if content is None:
            arrays[name] = from_tensor_proto(tensor)
            continue
        known = _TF_DTYPES.get(tensor.dtype)
        if known is None:
            raise TypeError(f"unsupported dtype {dtype_name(tensor.dtype)}")
        shape = tuple(int(d.size) for d in tensor.tensor_shape.dim)
        arrays[name] = np.frombuffer(content, dtype=known[0]).reshape(shape)
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
