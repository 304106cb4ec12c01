import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DataType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATA_TYPE_UNSPECIFIED: _ClassVar[DataType]
    DATA_TYPE_FLOAT32: _ClassVar[DataType]
    DATA_TYPE_FLOAT64: _ClassVar[DataType]
    DATA_TYPE_INT32: _ClassVar[DataType]
    DATA_TYPE_INT64: _ClassVar[DataType]
    DATA_TYPE_FLOAT16: _ClassVar[DataType]
    DATA_TYPE_UINT8: _ClassVar[DataType]
    DATA_TYPE_BOOL: _ClassVar[DataType]
    DATA_TYPE_STRING: _ClassVar[DataType]

class AxisKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AXIS_KIND_UNSPECIFIED: _ClassVar[AxisKind]
    AXIS_KIND_TIME: _ClassVar[AxisKind]
    AXIS_KIND_LEVEL: _ClassVar[AxisKind]
    AXIS_KIND_LATITUDE: _ClassVar[AxisKind]
    AXIS_KIND_LONGITUDE: _ClassVar[AxisKind]
    AXIS_KIND_ENSEMBLE_MEMBER: _ClassVar[AxisKind]
    AXIS_KIND_LEAD_TIME: _ClassVar[AxisKind]
    AXIS_KIND_OTHER: _ClassVar[AxisKind]
DATA_TYPE_UNSPECIFIED: DataType
DATA_TYPE_FLOAT32: DataType
DATA_TYPE_FLOAT64: DataType
DATA_TYPE_INT32: DataType
DATA_TYPE_INT64: DataType
DATA_TYPE_FLOAT16: DataType
DATA_TYPE_UINT8: DataType
DATA_TYPE_BOOL: DataType
DATA_TYPE_STRING: DataType
AXIS_KIND_UNSPECIFIED: AxisKind
AXIS_KIND_TIME: AxisKind
AXIS_KIND_LEVEL: AxisKind
AXIS_KIND_LATITUDE: AxisKind
AXIS_KIND_LONGITUDE: AxisKind
AXIS_KIND_ENSEMBLE_MEMBER: AxisKind
AXIS_KIND_LEAD_TIME: AxisKind
AXIS_KIND_OTHER: AxisKind

class CoordinateAxis(_message.Message):
    __slots__ = ("name", "kind", "units", "values", "times")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    TIMES_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: AxisKind
    units: str
    values: _containers.RepeatedScalarFieldContainer[float]
    times: _containers.RepeatedCompositeFieldContainer[_timestamp_pb2.Timestamp]
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[AxisKind, str]] = ..., units: _Optional[str] = ..., values: _Optional[_Iterable[float]] = ..., times: _Optional[_Iterable[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]]] = ...) -> None: ...

class GriddedField(_message.Message):
    __slots__ = ("variable", "units", "shape", "dtype", "data", "axes")
    VARIABLE_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    AXES_FIELD_NUMBER: _ClassVar[int]
    variable: str
    units: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    dtype: DataType
    data: bytes
    axes: _containers.RepeatedCompositeFieldContainer[CoordinateAxis]
    def __init__(self, variable: _Optional[str] = ..., units: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., dtype: _Optional[_Union[DataType, str]] = ..., data: _Optional[bytes] = ..., axes: _Optional[_Iterable[_Union[CoordinateAxis, _Mapping]]] = ...) -> None: ...
