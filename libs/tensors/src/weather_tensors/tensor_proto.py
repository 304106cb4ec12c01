"""TensorProto <-> numpy by whole-buffer copies (tensor_content), typed value fields accepted;
the header and content pieces the predictor splices into serialised messages (see its wire)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import ml_dtypes
import numpy as np
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

from weather_runtime.errors import InvalidArgument


@dataclass(frozen=True)
class _Kind:
    """How one TensorFlow dtype maps to numpy and to TensorProto's typed value field."""

    numpy: np.dtype
    field: str  # the typed repeated field clients may use instead of tensor_content
    stored: np.dtype  # the numpy type of that field's values (bits for half, pairs for complex)


def _kind(numpy: object, field: str, stored: object | None = None) -> _Kind:
    dtype = np.dtype(numpy)  # type: ignore[call-overload]
    return _Kind(dtype, field, np.dtype(stored) if stored is not None else dtype)  # type: ignore[call-overload]


_KINDS: dict[int, _Kind] = {
    types_pb2.DT_FLOAT: _kind(np.float32, "float_val"),
    types_pb2.DT_DOUBLE: _kind(np.float64, "double_val"),
    types_pb2.DT_HALF: _kind(np.float16, "half_val", np.uint16),
    types_pb2.DT_BFLOAT16: _kind(ml_dtypes.bfloat16, "half_val", np.uint16),
    types_pb2.DT_INT8: _kind(np.int8, "int_val", np.int32),
    types_pb2.DT_INT16: _kind(np.int16, "int_val", np.int32),
    types_pb2.DT_INT32: _kind(np.int32, "int_val"),
    types_pb2.DT_INT64: _kind(np.int64, "int64_val"),
    types_pb2.DT_UINT8: _kind(np.uint8, "int_val", np.int32),
    types_pb2.DT_UINT16: _kind(np.uint16, "int_val", np.int32),
    types_pb2.DT_UINT32: _kind(np.uint32, "uint32_val"),
    types_pb2.DT_UINT64: _kind(np.uint64, "uint64_val"),
    types_pb2.DT_BOOL: _kind(np.bool_, "bool_val"),
    types_pb2.DT_COMPLEX64: _kind(np.complex64, "scomplex_val", np.float32),
    types_pb2.DT_COMPLEX128: _kind(np.complex128, "dcomplex_val", np.float64),
    types_pb2.DT_STRING: _kind(object, "string_val"),
}
_BY_NUMPY: dict[np.dtype, int] = {kind.numpy: enum for enum, kind in _KINDS.items()}


def dtype_name(enum: int) -> str:
    """DT_FLOAT's readable name: float32 (or the enum name for types this server cannot hold)."""
    kind = _KINDS.get(enum)
    if kind is None:
        return _enum_name(enum)
    return "string" if enum == types_pb2.DT_STRING else kind.numpy.name


def dtype_enum(dtype: np.dtype) -> int:
    """The DataType enum of a numpy dtype (object arrays are strings); DT_INVALID if none."""
    enum: int = _BY_NUMPY.get(np.dtype(dtype).newbyteorder("="), types_pb2.DT_INVALID)
    return enum


def describe(enum: int) -> str:
    """'float32 (DT_FLOAT)'."""
    return f"{dtype_name(enum)} ({_enum_name(enum)})"


# elements one tensor may have (1 GiB of float32): more cannot come in one message, and a
# short typed-value list would otherwise be padded out to any size
MAX_ELEMENTS = 2**28


def to_numpy(
    proto: tensor_pb2.TensorProto, field: str, content: bytes | memoryview | None = None
) -> np.ndarray:
    """The array a TensorProto holds. tensor_content (or content, when the bytes were detached
    from the message) is taken as one buffer, without a copy; typed values (float_val...) are
    converted in one call and, as TensorFlow does, a short list is padded with its last value
    (none: zeros). Raises InvalidArgument naming `field`."""
    kind = _KINDS.get(proto.dtype)
    if kind is None:
        raise InvalidArgument.field(
            f"{field}.dtype", f"{_enum_name(proto.dtype)} is not supported by this server"
        )
    shape = _shape(proto, field)
    count = math.prod(shape)  # exact: numpy's int64 product wraps around on huge shapes
    if proto.dtype == types_pb2.DT_STRING:
        strings = np.empty(len(proto.string_val), dtype=object)
        strings[:] = list(proto.string_val)
        return _fill(strings, count, field, "string_val").reshape(shape)
    buffer = proto.tensor_content if content is None else content
    if buffer:
        expected = count * kind.numpy.itemsize
        if len(buffer) != expected:
            raise InvalidArgument.field(
                f"{field}.tensor_content",
                f"holds {len(buffer)} bytes; shape {list(shape)} of "
                f"{dtype_name(proto.dtype)} needs {expected}",
            )
        little = kind.numpy.newbyteorder("<")
        return np.frombuffer(buffer, dtype=little).reshape(shape)
    values = getattr(proto, kind.field)
    width = 2 if kind.field in ("scomplex_val", "dcomplex_val") else 1
    stored = np.fromiter(values, dtype=kind.stored, count=len(values))
    if kind.field == "half_val":
        flat = stored.view(kind.numpy)
    elif width == 2:
        if stored.size % 2:
            raise InvalidArgument.field(f"{field}.{kind.field}", "holds an odd number of values")
        flat = stored.view(kind.numpy)
    else:
        flat = stored.astype(kind.numpy, copy=False)
    return _fill(flat, count, field, kind.field).reshape(shape)


def fill_proto(proto: tensor_pb2.TensorProto, array: np.ndarray) -> None:
    """Writes array into proto: dtype, shape and the data as one tensor_content buffer
    (strings, which have no fixed width, go to string_val)."""
    if _describe(proto, array) == types_pb2.DT_STRING:
        proto.string_val.extend(_as_bytes(item) for item in array.ravel())
        return
    proto.tensor_content = content_buffer(array).tobytes()


def tensor_header(array: np.ndarray) -> bytes:
    """A serialised TensorProto with the array's dtype and shape and no values (what
    fill_proto writes but tensor_content)."""
    proto = tensor_pb2.TensorProto()
    _describe(proto, array)
    header: bytes = proto.SerializeToString()
    return header


def content_buffer(array: np.ndarray) -> memoryview:
    """The array's tensor_content: its bytes little-endian and C-ordered, without a copy when
    they already are; TypeError for strings or dtypes TensorFlow does not have."""
    enum = dtype_enum(array.dtype)
    if enum in (types_pb2.DT_INVALID, types_pb2.DT_STRING):
        raise TypeError(f"no tensor_content for numpy {array.dtype}")
    little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return little.reshape(-1).view(np.uint8).data


def _describe(proto: tensor_pb2.TensorProto, array: np.ndarray) -> int:
    """Sets an empty TensorProto's dtype and shape to the array's; returns the dtype enum."""
    enum = dtype_enum(array.dtype)
    if enum == types_pb2.DT_INVALID:
        raise TypeError(f"no TensorFlow dtype for numpy {array.dtype}")
    proto.dtype = enum  # type: ignore[assignment]
    proto.tensor_shape.CopyFrom(
        tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=int(size)) for size in array.shape]
        )
    )
    return enum


def to_proto(array: np.ndarray) -> tensor_pb2.TensorProto:
    """A new TensorProto holding array (see fill_proto)."""
    proto = tensor_pb2.TensorProto()
    fill_proto(proto, array)
    return proto


def _shape(proto: tensor_pb2.TensorProto, field: str) -> tuple[int, ...]:
    if proto.tensor_shape.unknown_rank:
        raise InvalidArgument.field(f"{field}.tensor_shape", "a tensor needs a known shape")
    shape = tuple(int(d.size) for d in proto.tensor_shape.dim)
    if any(size < 0 for size in shape):
        raise InvalidArgument.field(
            f"{field}.tensor_shape", f"shape {list(shape)} has a negative dimension"
        )
    if math.prod(shape) > MAX_ELEMENTS:
        raise InvalidArgument.field(
            f"{field}.tensor_shape",
            f"shape {list(shape)} has more than {MAX_ELEMENTS} elements",
        )
    return shape


def _fill(values: np.ndarray, count: int, field: str, name: str) -> np.ndarray:
    if values.size == count:
        return values
    if values.size > count:
        raise InvalidArgument.field(
            f"{field}.{name}", f"holds {values.size} values; the shape has {count} elements"
        )
    if values.size == 0:
        empty = np.zeros(count, dtype=values.dtype)
        if values.dtype == object:
            empty[:] = b""
        return empty
    return np.concatenate([values, np.repeat(values[-1:], count - values.size)])


def _as_bytes(item: object) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode()
    return bytes(item)  # type: ignore[call-overload,no-any-return]


def _enum_name(enum: int) -> str:
    try:
        name: str = types_pb2.DataType.Name(enum)  # type: ignore[arg-type]
        return name
    except ValueError:
        return f"DataType {enum}"
