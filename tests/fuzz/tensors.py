"""Tensor-like messages whose shape disagrees with their contents: TensorProto and GriddedField."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from google.protobuf.message import Message
from hypothesis import strategies as st
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from weather.common.v1 import field_pb2

from tests.fuzz.strategies import SPECIAL_FLOATS32, ints

# dimension sizes: real ones (the test models' 4 x 3 x 5 grids), zero, negative, huge, overflowing
DIMS = (1, 3, 4, 5, 0, -1, -2, 2**31, 2**40, 2**62, 2**63 - 1)
TF_TYPES = tuple(v.number for v in types_pb2.DataType.DESCRIPTOR.values)
FIELD_TYPES = tuple(v.number for v in field_pb2.DataType.DESCRIPTOR.values)
TENSOR_NAMES = ("t2m", "init_time", "lead_hours", "mean", "", "x" * 300)


def shapes() -> st.SearchStrategy[list[int]]:
    return st.lists(st.one_of(st.sampled_from(DIMS), ints((-(2**63), 2**63 - 1))), max_size=6)


@st.composite
def tensor_protos(draw: Callable[..., Any]) -> tensor_pb2.TensorProto:
    """A TensorProto whose dtype, dims and content length are drawn independently."""
    tensor = tensor_pb2.TensorProto(
        dtype=draw(st.one_of(st.sampled_from(TF_TYPES), st.sampled_from([-1, 999]))),
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in draw(shapes())],
            unknown_rank=draw(st.booleans()),
        ),
    )
    content = draw(
        st.sampled_from(["tensor_content", "float_val", "int64_val", "string_val", "none"])
    )
    if content == "tensor_content":
        length = draw(
            st.one_of(st.sampled_from([0, 1, 4, 7, 240, 241, 60 * 4]), st.integers(0, 4096))
        )
        tensor.tensor_content = bytes(draw(st.integers(0, 255)) for _ in range(min(length, 8))) * (
            length // 8 + 1
        )
        tensor.tensor_content = tensor.tensor_content[:length]
    elif content == "float_val":
        tensor.float_val.extend(draw(st.lists(st.sampled_from(SPECIAL_FLOATS32), max_size=70)))
    elif content == "int64_val":
        tensor.int64_val.extend(draw(st.lists(ints((-(2**63), 2**63 - 1)), max_size=8)))
    elif content == "string_val":
        tensor.string_val.extend(draw(st.lists(st.binary(max_size=8), max_size=4)))
    return tensor


@st.composite
def gridded_fields(draw: Callable[..., Any]) -> field_pb2.GriddedField:
    """A GriddedField whose shape, dtype and data length are drawn independently."""
    shape = draw(
        st.one_of(st.sampled_from([[4, 3, 5], [3, 5], [1, 4, 3, 5], [4, 3, 5, 1]]), shapes())
    )
    dtype = draw(st.one_of(st.sampled_from(FIELD_TYPES), st.sampled_from([-1, 99])))
    items = 1
    for size in shape:
        items *= size if 0 < size < 2**20 else 1
    itemsize = draw(st.sampled_from([4, 8, 2, 1]))
    natural = items * itemsize if items * itemsize < 1 << 20 else 0
    length = draw(
        st.one_of(
            st.sampled_from([natural, natural + 1, max(natural - 1, 0), 0]), st.integers(0, 4096)
        )
    )
    fill = draw(
        st.sampled_from(
            [b"\x00", b"\xff", b"\x00\x00\xc0\x7f", b"\x00\x00\x80\x7f", b"\x00\x00\x8c\x43"]
        )
    )
    data = (fill * (length // len(fill) + 1))[:length]
    return field_pb2.GriddedField(
        variable=draw(st.sampled_from(["t2m", "", "u10", "x" * 300])),
        units=draw(st.sampled_from(["K", "", "degC", "banana"])),
        shape=shape,
        dtype=dtype,
        data=data,
    )


def overrides() -> Mapping[str, st.SearchStrategy[Message]]:
    """Message type -> strategy of mismatched instances, for MessageStrategies."""
    return {
        tensor_pb2.TensorProto.DESCRIPTOR.full_name: tensor_protos(),
        field_pb2.GriddedField.DESCRIPTOR.full_name: gridded_fields(),
    }
