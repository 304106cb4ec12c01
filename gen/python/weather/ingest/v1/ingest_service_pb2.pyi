import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from weather.common.v1 import dataset_pb2 as _dataset_pb2
from weather.common.v1 import field_pb2 as _field_pb2
from weather.common.v1 import operation_pb2 as _operation_pb2
from weather.common.v1 import pagination_pb2 as _pagination_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SourceFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SOURCE_FORMAT_UNSPECIFIED: _ClassVar[SourceFormat]
    SOURCE_FORMAT_GRIB: _ClassVar[SourceFormat]
    SOURCE_FORMAT_NETCDF: _ClassVar[SourceFormat]
    SOURCE_FORMAT_ZARR: _ClassVar[SourceFormat]
    SOURCE_FORMAT_CSV: _ClassVar[SourceFormat]

class DuplicatePolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DUPLICATE_POLICY_UNSPECIFIED: _ClassVar[DuplicatePolicy]
    DUPLICATE_POLICY_SKIP_IDENTICAL: _ClassVar[DuplicatePolicy]
SOURCE_FORMAT_UNSPECIFIED: SourceFormat
SOURCE_FORMAT_GRIB: SourceFormat
SOURCE_FORMAT_NETCDF: SourceFormat
SOURCE_FORMAT_ZARR: SourceFormat
SOURCE_FORMAT_CSV: SourceFormat
DUPLICATE_POLICY_UNSPECIFIED: DuplicatePolicy
DUPLICATE_POLICY_SKIP_IDENTICAL: DuplicatePolicy

class Region(_message.Message):
    __slots__ = ("lat_min", "lat_max", "lon_min", "lon_max")
    LAT_MIN_FIELD_NUMBER: _ClassVar[int]
    LAT_MAX_FIELD_NUMBER: _ClassVar[int]
    LON_MIN_FIELD_NUMBER: _ClassVar[int]
    LON_MAX_FIELD_NUMBER: _ClassVar[int]
    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float
    def __init__(self, lat_min: _Optional[float] = ..., lat_max: _Optional[float] = ..., lon_min: _Optional[float] = ..., lon_max: _Optional[float] = ...) -> None: ...

class CsvOptions(_message.Message):
    __slots__ = ("time_column", "station_column", "latitude_column", "longitude_column")
    TIME_COLUMN_FIELD_NUMBER: _ClassVar[int]
    STATION_COLUMN_FIELD_NUMBER: _ClassVar[int]
    LATITUDE_COLUMN_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_COLUMN_FIELD_NUMBER: _ClassVar[int]
    time_column: str
    station_column: str
    latitude_column: str
    longitude_column: str
    def __init__(self, time_column: _Optional[str] = ..., station_column: _Optional[str] = ..., latitude_column: _Optional[str] = ..., longitude_column: _Optional[str] = ...) -> None: ...

class StartIngestRequest(_message.Message):
    __slots__ = ("source_uri", "format", "dataset_id", "variables", "time_range", "region", "levels", "units", "reference_year", "csv", "validate_only")
    class UnitsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SOURCE_URI_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_YEAR_FIELD_NUMBER: _ClassVar[int]
    CSV_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    source_uri: str
    format: SourceFormat
    dataset_id: str
    variables: _containers.RepeatedScalarFieldContainer[str]
    time_range: _dataset_pb2.TimeRange
    region: Region
    levels: _containers.RepeatedScalarFieldContainer[float]
    units: _containers.ScalarMap[str, str]
    reference_year: int
    csv: CsvOptions
    validate_only: bool
    def __init__(self, source_uri: _Optional[str] = ..., format: _Optional[_Union[SourceFormat, str]] = ..., dataset_id: _Optional[str] = ..., variables: _Optional[_Iterable[str]] = ..., time_range: _Optional[_Union[_dataset_pb2.TimeRange, _Mapping]] = ..., region: _Optional[_Union[Region, _Mapping]] = ..., levels: _Optional[_Iterable[float]] = ..., units: _Optional[_Mapping[str, str]] = ..., reference_year: _Optional[int] = ..., csv: _Optional[_Union[CsvOptions, _Mapping]] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class StartIngestResponse(_message.Message):
    __slots__ = ("operation",)
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    operation: _operation_pb2.OperationStatus
    def __init__(self, operation: _Optional[_Union[_operation_pb2.OperationStatus, _Mapping]] = ...) -> None: ...

class GetOperationRequest(_message.Message):
    __slots__ = ("operation_id",)
    OPERATION_ID_FIELD_NUMBER: _ClassVar[int]
    operation_id: str
    def __init__(self, operation_id: _Optional[str] = ...) -> None: ...

class GetOperationResponse(_message.Message):
    __slots__ = ("operation", "result")
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    operation: _operation_pb2.OperationStatus
    result: DatasetManifest
    def __init__(self, operation: _Optional[_Union[_operation_pb2.OperationStatus, _Mapping]] = ..., result: _Optional[_Union[DatasetManifest, _Mapping]] = ...) -> None: ...

class WatchOperationRequest(_message.Message):
    __slots__ = ("operation_id",)
    OPERATION_ID_FIELD_NUMBER: _ClassVar[int]
    operation_id: str
    def __init__(self, operation_id: _Optional[str] = ...) -> None: ...

class WatchOperationResponse(_message.Message):
    __slots__ = ("operation", "result")
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    operation: _operation_pb2.OperationStatus
    result: DatasetManifest
    def __init__(self, operation: _Optional[_Union[_operation_pb2.OperationStatus, _Mapping]] = ..., result: _Optional[_Union[DatasetManifest, _Mapping]] = ...) -> None: ...

class CancelOperationRequest(_message.Message):
    __slots__ = ("operation_id",)
    OPERATION_ID_FIELD_NUMBER: _ClassVar[int]
    operation_id: str
    def __init__(self, operation_id: _Optional[str] = ...) -> None: ...

class CancelOperationResponse(_message.Message):
    __slots__ = ("operation",)
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    operation: _operation_pb2.OperationStatus
    def __init__(self, operation: _Optional[_Union[_operation_pb2.OperationStatus, _Mapping]] = ...) -> None: ...

class VariableInfo(_message.Message):
    __slots__ = ("name", "units", "long_name", "dims", "dtype", "chunks", "missing_count")
    NAME_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    LONG_NAME_FIELD_NUMBER: _ClassVar[int]
    DIMS_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    MISSING_COUNT_FIELD_NUMBER: _ClassVar[int]
    name: str
    units: str
    long_name: str
    dims: _containers.RepeatedScalarFieldContainer[str]
    dtype: _field_pb2.DataType
    chunks: _containers.RepeatedScalarFieldContainer[int]
    missing_count: int
    def __init__(self, name: _Optional[str] = ..., units: _Optional[str] = ..., long_name: _Optional[str] = ..., dims: _Optional[_Iterable[str]] = ..., dtype: _Optional[_Union[_field_pb2.DataType, str]] = ..., chunks: _Optional[_Iterable[int]] = ..., missing_count: _Optional[int] = ...) -> None: ...

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
    format: SourceFormat
    size_bytes: int
    def __init__(self, uri: _Optional[str] = ..., format: _Optional[_Union[SourceFormat, str]] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class DatasetManifest(_message.Message):
    __slots__ = ("ref", "version", "parent_hash", "store_uri", "variables", "dimensions", "time_range", "time_steps", "time_step", "source", "create_time", "created_by", "size_bytes")
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
    def __init__(self, ref: _Optional[_Union[_dataset_pb2.DatasetRef, _Mapping]] = ..., version: _Optional[int] = ..., parent_hash: _Optional[str] = ..., store_uri: _Optional[str] = ..., variables: _Optional[_Iterable[_Union[VariableInfo, _Mapping]]] = ..., dimensions: _Optional[_Iterable[_Union[DimensionInfo, _Mapping]]] = ..., time_range: _Optional[_Union[_dataset_pb2.TimeRange, _Mapping]] = ..., time_steps: _Optional[int] = ..., time_step: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., source: _Optional[_Union[SourceInfo, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class GetDatasetRequest(_message.Message):
    __slots__ = ("dataset_id", "version")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    version: int
    def __init__(self, dataset_id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetDatasetResponse(_message.Message):
    __slots__ = ("manifest",)
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    manifest: DatasetManifest
    def __init__(self, manifest: _Optional[_Union[DatasetManifest, _Mapping]] = ...) -> None: ...

class ListDatasetsRequest(_message.Message):
    __slots__ = ("id_prefix", "variable", "page")
    ID_PREFIX_FIELD_NUMBER: _ClassVar[int]
    VARIABLE_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    id_prefix: str
    variable: str
    page: _pagination_pb2.PageRequest
    def __init__(self, id_prefix: _Optional[str] = ..., variable: _Optional[str] = ..., page: _Optional[_Union[_pagination_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListDatasetsResponse(_message.Message):
    __slots__ = ("datasets", "page")
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    datasets: _containers.RepeatedCompositeFieldContainer[DatasetManifest]
    page: _pagination_pb2.PageResponse
    def __init__(self, datasets: _Optional[_Iterable[_Union[DatasetManifest, _Mapping]]] = ..., page: _Optional[_Union[_pagination_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class AppendHeader(_message.Message):
    __slots__ = ("dataset_id", "expected_version", "duplicate_policy")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_POLICY_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    expected_version: int
    duplicate_policy: DuplicatePolicy
    def __init__(self, dataset_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., duplicate_policy: _Optional[_Union[DuplicatePolicy, str]] = ...) -> None: ...

class TimeStep(_message.Message):
    __slots__ = ("time", "fields")
    TIME_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    fields: _containers.RepeatedCompositeFieldContainer[_field_pb2.GriddedField]
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., fields: _Optional[_Iterable[_Union[_field_pb2.GriddedField, _Mapping]]] = ...) -> None: ...

class AppendStepsRequest(_message.Message):
    __slots__ = ("header", "step")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    header: AppendHeader
    step: TimeStep
    def __init__(self, header: _Optional[_Union[AppendHeader, _Mapping]] = ..., step: _Optional[_Union[TimeStep, _Mapping]] = ...) -> None: ...

class AppendStepsResponse(_message.Message):
    __slots__ = ("manifest", "appended", "skipped")
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    APPENDED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    manifest: DatasetManifest
    appended: int
    skipped: int
    def __init__(self, manifest: _Optional[_Union[DatasetManifest, _Mapping]] = ..., appended: _Optional[int] = ..., skipped: _Optional[int] = ...) -> None: ...
