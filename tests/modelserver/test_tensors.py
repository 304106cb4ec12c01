"""TensorProto <-> numpy: whole buffers out, both encodings in, agreeing with TensorFlow's own."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

from weather_modelserver import tensors
from weather_runtime.errors import InvalidArgument

ARRAYS: dict[str, np.ndarray] = {
    "float32": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
    "float64": np.linspace(-1, 1, 6).reshape(2, 3),
    "float16": np.array([[0.5, -2.25], [65504, 1e-3]], np.float16),
    "int8": np.array([-128, 0, 127], np.int8),
    "int16": np.array([-32768, 7, 32767], np.int16),
    "int32": np.array([[-(2**31), 1], [2, 2**31 - 1]], np.int32),
    "int64": np.array([-(2**63), 1_553_472_000, 2**63 - 1], np.int64),
    "uint8": np.array([0, 200, 255], np.uint8),
    "uint16": np.array([0, 65535], np.uint16),
    "uint32": np.array([0, 2**32 - 1], np.uint32),
    "uint64": np.array([0, 2**64 - 1], np.uint64),
    "bool": np.array([[True, False, True]]),
    "complex64": np.array([1 + 2j, -3.5j], np.complex64),
    "complex128": np.array([[1e300 + 1j]], np.complex128),
    "string": np.array([b"t2m", b"", "\u00b0C".encode()], dtype=object),
    "scalar": np.array(3.5, np.float32),
    "empty": np.zeros((0, 4, 3), np.float32),
}


@pytest.mark.parametrize("name", list(ARRAYS))
def test_round_trip_and_tensorflow_agree(name: str) -> None:
    array = ARRAYS[name]
    proto = tensors.to_proto(array)
    back = tensors.to_numpy(proto, "x")
    assert back.dtype == array.dtype and back.shape == array.shape
    assert np.array_equal(back, array)
    # TensorFlow reads what we write, and we read what TensorFlow writes.
    assert np.array_equal(tf.make_ndarray(proto), array)
    assert np.array_equal(tensors.to_numpy(tf.make_tensor_proto(array), "x"), array)
    if name != "string":
        assert proto.tensor_content or array.size == 0  # one buffer, not typed values
        assert not proto.float_val and not proto.int_val and not proto.int64_val


def _typed(
    dtype: int, shape: list[int], field: str, values: list[object]
) -> tensor_pb2.TensorProto:
    proto = tensor_pb2.TensorProto(
        dtype=dtype,  # type: ignore[arg-type]
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=s) for s in shape]
        ),
    )
    getattr(proto, field).extend(values)
    return proto


@pytest.mark.parametrize(
    ("dtype", "shape", "field", "values"),
    [
        (types_pb2.DT_FLOAT, [2, 2], "float_val", [1.5, -2.0, 3.25, 4.0]),
        (types_pb2.DT_DOUBLE, [3], "double_val", [1e-300, 2.0, -3.0]),
        (types_pb2.DT_INT64, [2], "int64_val", [1_553_472_000, -5]),
        (types_pb2.DT_INT32, [2], "int_val", [7, -7]),
        (types_pb2.DT_UINT8, [3], "int_val", [0, 128, 255]),
        (types_pb2.DT_HALF, [2], "half_val", [0x3C00, 0xC000]),  # 1.0, -2.0
        (types_pb2.DT_BOOL, [3], "bool_val", [True, False, True]),
        (types_pb2.DT_COMPLEX64, [2], "scomplex_val", [1.0, 2.0, 3.0, -4.0]),
        (types_pb2.DT_STRING, [2], "string_val", [b"a", b"bc"]),
        (types_pb2.DT_FLOAT, [2, 3], "float_val", [7.0]),  # one value fills the tensor
        (types_pb2.DT_INT64, [4], "int64_val", [1, 2]),  # padded with the last value
        (types_pb2.DT_FLOAT, [2], "float_val", []),  # none: zeros
    ],
)
def test_typed_value_fields_read_as_tensorflow_reads_them(
    dtype: int, shape: list[int], field: str, values: list[object]
) -> None:
    proto = _typed(dtype, shape, field, values)
    ours = tensors.to_numpy(proto, "inputs['x']")
    theirs = tf.make_ndarray(proto)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape == tuple(shape)
    assert np.array_equal(ours, theirs)


def test_a_content_buffer_of_the_wrong_size_names_the_field() -> None:
    proto = tensors.to_proto(np.zeros((2, 3), np.float32))
    proto.tensor_content = proto.tensor_content[:-1]
    with pytest.raises(InvalidArgument, match=r"inputs\['t2m'\]\.tensor_content: holds 23 bytes"):
        tensors.to_numpy(proto, "inputs['t2m']")


def test_too_many_typed_values_name_the_field() -> None:
    proto = _typed(types_pb2.DT_FLOAT, [2], "float_val", [1.0, 2.0, 3.0])
    with pytest.raises(InvalidArgument, match=r"inputs\['x'\]\.float_val: holds 3 values"):
        tensors.to_numpy(proto, "inputs['x']")


def test_unsupported_dtype_and_negative_shape_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="DT_RESOURCE"):
        tensors.to_numpy(tensor_pb2.TensorProto(dtype=types_pb2.DT_RESOURCE), "x")
    with pytest.raises(InvalidArgument, match="negative"):
        tensors.to_numpy(_typed(types_pb2.DT_FLOAT, [-1], "float_val", []), "x")


@pytest.mark.parametrize("dims", [[2**40, 2**40], [2**32, 2**32], [2**15, 2**14]])
def test_a_shape_with_too_many_elements_names_the_shape(dims: list[int]) -> None:
    # found by the fuzzer: [2**40, 2**40] wrapped numpy's int64 product around (INTERNAL);
    # [2**15, 2**14] would be padded out from one value to 2**29 floats
    proto = _typed(types_pb2.DT_HALF, dims, "half_val", [1])
    with pytest.raises(InvalidArgument, match=r"inputs\['x'\]\.tensor_shape: .*more than"):
        tensors.to_numpy(proto, "inputs['x']")
