"""weather_tensors.tensor_proto: whole buffers out, both encodings in, as TensorFlow has them."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

from weather_runtime.errors import InvalidArgument
from weather_tensors import tensor_proto

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
    proto = tensor_proto.to_proto(array)
    back = tensor_proto.to_numpy(proto, "x")
    assert back.dtype == array.dtype and back.shape == array.shape
    assert np.array_equal(back, array)
    # TensorFlow reads what we write, and we read what TensorFlow writes.
    assert np.array_equal(tf.make_ndarray(proto), array)
    assert np.array_equal(tensor_proto.to_numpy(tf.make_tensor_proto(array), "x"), array)
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
    ours = tensor_proto.to_numpy(proto, "inputs['x']")
    theirs = tf.make_ndarray(proto)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape == tuple(shape)
    assert np.array_equal(ours, theirs)


def test_a_content_buffer_of_the_wrong_size_names_the_field() -> None:
    proto = tensor_proto.to_proto(np.zeros((2, 3), np.float32))
    proto.tensor_content = proto.tensor_content[:-1]
    with pytest.raises(InvalidArgument, match=r"inputs\['t2m'\]\.tensor_content: holds 23 bytes"):
        tensor_proto.to_numpy(proto, "inputs['t2m']")


def test_too_many_typed_values_name_the_field() -> None:
    proto = _typed(types_pb2.DT_FLOAT, [2], "float_val", [1.0, 2.0, 3.0])
    with pytest.raises(InvalidArgument, match=r"inputs\['x'\]\.float_val: holds 3 values"):
        tensor_proto.to_numpy(proto, "inputs['x']")


def test_unsupported_dtype_and_negative_shape_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="DT_RESOURCE"):
        tensor_proto.to_numpy(tensor_pb2.TensorProto(dtype=types_pb2.DT_RESOURCE), "x")
    with pytest.raises(InvalidArgument, match="negative"):
        tensor_proto.to_numpy(_typed(types_pb2.DT_FLOAT, [-1], "float_val", []), "x")


@pytest.mark.parametrize("dims", [[2**40, 2**40], [2**32, 2**32], [2**15, 2**14]])
def test_a_shape_with_too_many_elements_names_the_shape(dims: list[int]) -> None:
    # found by the fuzzer: [2**40, 2**40] wrapped numpy's int64 product around (INTERNAL);
    # [2**15, 2**14] would be padded out from one value to 2**29 floats
    proto = _typed(types_pb2.DT_HALF, dims, "half_val", [1])
    with pytest.raises(InvalidArgument, match=r"inputs\['x'\]\.tensor_shape: .*more than"):
        tensor_proto.to_numpy(proto, "inputs['x']")


@pytest.mark.parametrize("name", ["float32", "int64", "float16", "bool", "scalar", "empty"])
def test_header_and_content_spliced_are_what_protobuf_writes(name: str) -> None:
    """The predictor's splicing: header bytes, then tensor_content as a field of its own."""
    array = ARRAYS[name]
    content = bytes(tensor_proto.content_buffer(array))
    assert content == array.astype(array.dtype.newbyteorder("<")).tobytes()
    field = tensor_pb2.TensorProto(tensor_content=content).SerializeToString()
    assert (
        tensor_proto.tensor_header(array) + field
        == tensor_proto.to_proto(array).SerializeToString()
    )


def test_a_detached_content_buffer_is_read_in_place_and_checked() -> None:
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    header = tensor_pb2.TensorProto.FromString(tensor_proto.tensor_header(array))
    content = memoryview(array.tobytes())
    back = tensor_proto.to_numpy(header, "outputs['t2m']", content)
    assert np.array_equal(back, array) and not back.flags.owndata
    with pytest.raises(InvalidArgument, match=r"outputs\['t2m'\]\.tensor_content: holds 20"):
        tensor_proto.to_numpy(header, "outputs['t2m']", content[:-4])


def test_big_endian_arrays_are_written_little_endian() -> None:
    array = np.arange(4, dtype=">f4")
    proto = tensor_proto.to_proto(array)
    assert proto.dtype == types_pb2.DT_FLOAT
    assert proto.tensor_content == array.astype("<f4").tobytes()


def test_strings_have_no_content_buffer() -> None:
    with pytest.raises(TypeError):
        tensor_proto.content_buffer(ARRAYS["string"])
    with pytest.raises(TypeError):
        tensor_proto.to_proto(np.array(["a"], dtype="U1"))
