"""Whole-buffer conversions between GriddedField, numpy and TensorProto."""

from __future__ import annotations

import numpy as np
import pytest
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from weather.common.v1 import field_pb2

from weather_predictor.tensors import (
    array_to_field,
    field_to_array,
    from_tensor_proto,
    to_tensor_proto,
)
from weather_runtime.errors import InvalidArgument


def test_tensor_proto_round_trip_uses_tensor_content() -> None:
    array = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    proto = to_tensor_proto(array)
    assert proto.dtype == types_pb2.DT_FLOAT
    assert [d.size for d in proto.tensor_shape.dim] == [2, 3, 4]
    assert proto.tensor_content == array.tobytes() and not proto.float_val
    np.testing.assert_array_equal(from_tensor_proto(proto), array)
    ints = to_tensor_proto(np.array([7, 8], np.int64))
    assert ints.dtype == types_pb2.DT_INT64
    np.testing.assert_array_equal(from_tensor_proto(ints), [7, 8])


def test_typed_values_are_read_in_one_call_and_padded_like_tensorflow() -> None:
    shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=4)])
    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape, float_val=[1, 2])
    np.testing.assert_array_equal(from_tensor_proto(proto), [1, 2, 2, 2])


def test_gridded_field_round_trip_and_validation() -> None:
    array = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32)
    field = array_to_field(array, "t2m", "K")
    assert field.dtype == field_pb2.DATA_TYPE_FLOAT32 and list(field.shape) == [2, 3, 4]
    assert field.data == array.tobytes()
    np.testing.assert_array_equal(field_to_array(field, "inputs[0]", (2, 3, 4)), array)
    with pytest.raises(InvalidArgument) as raised:
        field_to_array(field, "inputs[0]", (2, 3, 5))
    assert raised.value.violations[0].field == "inputs[0].shape"
