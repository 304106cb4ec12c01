"""Whole-buffer conversions between GriddedField and numpy (TensorProto: tests/tensors)."""

from __future__ import annotations

import numpy as np
import pytest
from weather.common.v1 import field_pb2

from weather_predictor.tensors import array_to_field, field_to_array
from weather_runtime.errors import InvalidArgument


def test_gridded_field_round_trip_and_validation() -> None:
    array = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32)
    field = array_to_field(array, "t2m", "K")
    assert field.dtype == field_pb2.DATA_TYPE_FLOAT32 and list(field.shape) == [2, 3, 4]
    assert field.data == array.tobytes()
    np.testing.assert_array_equal(field_to_array(field, "inputs[0]", (2, 3, 4)), array)
    with pytest.raises(InvalidArgument) as raised:
        field_to_array(field, "inputs[0]", (2, 3, 5))
    assert raised.value.violations[0].field == "inputs[0].shape"
