import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from weather.common.v1 import dataset_pb2 as _dataset_pb2
from weather.common.v1 import manifest_pb2 as _manifest_pb2
from weather.common.v1 import field_pb2 as _field_pb2
from weather.common.v1 import operation_pb2 as _operation_pb2
from weather.common.v1 import pagination_pb2 as _pagination_pb2
from weather.common.v1 import region_pb2 as _region_pb2
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
    __slots__ = ("source_uri", "format", "dataset_id", "variables", "time_range", "region", "levels", "units", "reference_year", "csv", "validate_only", "time_decoding", "source_uris")
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
    TIME_DECODING_FIELD_NUMBER: _ClassVar[int]
    SOURCE_URIS_FIELD_NUMBER: _ClassVar[int]
    source_uri: str
    format: SourceFormat
    dataset_id: str
    variables: _containers.RepeatedScalarFieldContainer[str]
    time_range: _dataset_pb2.TimeRange
    region: _region_pb2.Region
    levels: _containers.RepeatedScalarFieldContainer[float]
    units: _containers.ScalarMap[str, str]
    reference_year: int
    csv: CsvOptions
    validate_only: bool
    time_decoding: TimeDecoding
    source_uris: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, source_uri: _Optional[str] = ..., format: _Optional[_Union[SourceFormat, str]] = ..., dataset_id: _Optional[str] = ..., variables: _Optional[_Iterable[str]] = ..., time_range: _Optional[_Union[_dataset_pb2.TimeRange, _Mapping]] = ..., region: _Optional[_Union[_region_pb2.Region, _Mapping]] = ..., levels: _Optional[_Iterable[float]] = ..., units: _Optional[_Mapping[str, str]] = ..., reference_year: _Optional[int] = ..., csv: _Optional[_Union[CsvOptions, _Mapping]] = ..., validate_only: _Optional[bool] = ..., time_decoding: _Optional[_Union[TimeDecoding, _Mapping]] = ..., source_uris: _Optional[_Iterable[str]] = ...) -> None: ...

class TimeDecoding(_message.Message):
    __slots__ = ("variable", "units", "reference_time", "step_units", "renames")
    class RenamesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VARIABLE_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_TIME_FIELD_NUMBER: _ClassVar[int]
    STEP_UNITS_FIELD_NUMBER: _ClassVar[int]
    RENAMES_FIELD_NUMBER: _ClassVar[int]
    variable: str
    units: str
    reference_time: str
    step_units: str
    renames: _containers.ScalarMap[str, str]
    def __init__(self, variable: _Optional[str] = ..., units: _Optional[str] = ..., reference_time: _Optional[str] = ..., step_units: _Optional[str] = ..., renames: _Optional[_Mapping[str, str]] = ...) -> None: ...

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
    result: _manifest_pb2.DatasetManifest
    def __init__(self, operation: _Optional[_Union[_operation_pb2.OperationStatus, _Mapping]] = ..., result: _Optional[_Union[_manifest_pb2.DatasetManifest, _Mapping]] = ...) -> None: ...

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
    result: _manifest_pb2.DatasetManifest
    def __init__(self, operation: _Optional[_Union[_operation_pb2.OperationStatus, _Mapping]] = ..., result: _Optional[_Union[_manifest_pb2.DatasetManifest, _Mapping]] = ...) -> None: ...

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
    manifest: _manifest_pb2.DatasetManifest
    def __init__(self, manifest: _Optional[_Union[_manifest_pb2.DatasetManifest, _Mapping]] = ...) -> None: ...

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
    datasets: _containers.RepeatedCompositeFieldContainer[_manifest_pb2.DatasetManifest]
    page: _pagination_pb2.PageResponse
    def __init__(self, datasets: _Optional[_Iterable[_Union[_manifest_pb2.DatasetManifest, _Mapping]]] = ..., page: _Optional[_Union[_pagination_pb2.PageResponse, _Mapping]] = ...) -> None: ...

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
    manifest: _manifest_pb2.DatasetManifest
    appended: int
    skipped: int
    def __init__(self, manifest: _Optional[_Union[_manifest_pb2.DatasetManifest, _Mapping]] = ..., appended: _Optional[int] = ..., skipped: _Optional[int] = ...) -> None: ...
