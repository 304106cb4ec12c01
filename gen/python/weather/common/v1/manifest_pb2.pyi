import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from weather.common.v1 import dataset_pb2 as _dataset_pb2
from weather.common.v1 import field_pb2 as _field_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VariableInfo(_message.Message):
    __slots__ = ("name", "units", "long_name", "dims", "dtype", "chunks", "missing_count", "value_count", "missing_fraction")
    NAME_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    LONG_NAME_FIELD_NUMBER: _ClassVar[int]
    DIMS_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    MISSING_COUNT_FIELD_NUMBER: _ClassVar[int]
    VALUE_COUNT_FIELD_NUMBER: _ClassVar[int]
    MISSING_FRACTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    units: str
    long_name: str
    dims: _containers.RepeatedScalarFieldContainer[str]
    dtype: _field_pb2.DataType
    chunks: _containers.RepeatedScalarFieldContainer[int]
    missing_count: int
    value_count: int
    missing_fraction: float
    def __init__(self, name: _Optional[str] = ..., units: _Optional[str] = ..., long_name: _Optional[str] = ..., dims: _Optional[_Iterable[str]] = ..., dtype: _Optional[_Union[_field_pb2.DataType, str]] = ..., chunks: _Optional[_Iterable[int]] = ..., missing_count: _Optional[int] = ..., value_count: _Optional[int] = ..., missing_fraction: _Optional[float] = ...) -> None: ...

class DimensionInfo(_message.Message):
    __slots__ = ("name", "kind", "size", "units", "min", "max")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: _field_pb2.AxisKind
    size: int
    units: str
    min: float
    max: float
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[_field_pb2.AxisKind, str]] = ..., size: _Optional[int] = ..., units: _Optional[str] = ..., min: _Optional[float] = ..., max: _Optional[float] = ...) -> None: ...

class SourceInfo(_message.Message):
    __slots__ = ("uri", "format", "size_bytes")
    URI_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    uri: str
    format: str
    size_bytes: int
    def __init__(self, uri: _Optional[str] = ..., format: _Optional[str] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class DatasetManifest(_message.Message):
    __slots__ = ("ref", "version", "parent_hash", "store_uri", "variables", "dimensions", "time_range", "time_steps", "time_step", "source", "create_time", "created_by", "size_bytes", "missing_count")
    REF_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PARENT_HASH_FIELD_NUMBER: _ClassVar[int]
    STORE_URI_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    TIME_STEPS_FIELD_NUMBER: _ClassVar[int]
    TIME_STEP_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MISSING_COUNT_FIELD_NUMBER: _ClassVar[int]
    ref: _dataset_pb2.DatasetRef
    version: int
    parent_hash: str
    store_uri: str
    variables: _containers.RepeatedCompositeFieldContainer[VariableInfo]
    dimensions: _containers.RepeatedCompositeFieldContainer[DimensionInfo]
    time_range: _dataset_pb2.TimeRange
    time_steps: int
    time_step: _duration_pb2.Duration
    source: SourceInfo
    create_time: _timestamp_pb2.Timestamp
    created_by: str
    size_bytes: int
    missing_count: int
    def __init__(self, ref: _Optional[_Union[_dataset_pb2.DatasetRef, _Mapping]] = ..., version: _Optional[int] = ..., parent_hash: _Optional[str] = ..., store_uri: _Optional[str] = ..., variables: _Optional[_Iterable[_Union[VariableInfo, _Mapping]]] = ..., dimensions: _Optional[_Iterable[_Union[DimensionInfo, _Mapping]]] = ..., time_range: _Optional[_Union[_dataset_pb2.TimeRange, _Mapping]] = ..., time_steps: _Optional[int] = ..., time_step: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., source: _Optional[_Union[SourceInfo, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ..., size_bytes: _Optional[int] = ..., missing_count: _Optional[int] = ...) -> None: ...
