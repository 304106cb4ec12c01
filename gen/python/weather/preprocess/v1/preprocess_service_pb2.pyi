import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from weather.common.v1 import dataset_pb2 as _dataset_pb2
from weather.common.v1 import manifest_pb2 as _manifest_pb2
from weather.common.v1 import operation_pb2 as _operation_pb2
from weather.common.v1 import region_pb2 as _region_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DerivedKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DERIVED_KIND_UNSPECIFIED: _ClassVar[DerivedKind]
    DERIVED_KIND_WIND_SPEED: _ClassVar[DerivedKind]
    DERIVED_KIND_TIME_OF_DAY: _ClassVar[DerivedKind]
    DERIVED_KIND_DAY_OF_YEAR: _ClassVar[DerivedKind]

class MissingPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MISSING_POLICY_UNSPECIFIED: _ClassVar[MissingPolicy]
    MISSING_POLICY_FAIL: _ClassVar[MissingPolicy]
    MISSING_POLICY_FILL_CLIMATOLOGY: _ClassVar[MissingPolicy]
    MISSING_POLICY_FILL_MEAN: _ClassVar[MissingPolicy]
    MISSING_POLICY_FILL_VALUE: _ClassVar[MissingPolicy]
    MISSING_POLICY_DROP_TIME_STEPS: _ClassVar[MissingPolicy]

class AnalysisKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ANALYSIS_KIND_UNSPECIFIED: _ClassVar[AnalysisKind]
    ANALYSIS_KIND_CLIMATOLOGY: _ClassVar[AnalysisKind]
    ANALYSIS_KIND_ANOMALIES: _ClassVar[AnalysisKind]
    ANALYSIS_KIND_TREND: _ClassVar[AnalysisKind]
    ANALYSIS_KIND_AREA_MEAN: _ClassVar[AnalysisKind]
    ANALYSIS_KIND_EXTREMES: _ClassVar[AnalysisKind]

class CalendarKey(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CALENDAR_KEY_UNSPECIFIED: _ClassVar[CalendarKey]
    CALENDAR_KEY_MONTH: _ClassVar[CalendarKey]
    CALENDAR_KEY_DAY_OF_YEAR: _ClassVar[CalendarKey]
    CALENDAR_KEY_HOUR: _ClassVar[CalendarKey]
DERIVED_KIND_UNSPECIFIED: DerivedKind
DERIVED_KIND_WIND_SPEED: DerivedKind
DERIVED_KIND_TIME_OF_DAY: DerivedKind
DERIVED_KIND_DAY_OF_YEAR: DerivedKind
MISSING_POLICY_UNSPECIFIED: MissingPolicy
MISSING_POLICY_FAIL: MissingPolicy
MISSING_POLICY_FILL_CLIMATOLOGY: MissingPolicy
MISSING_POLICY_FILL_MEAN: MissingPolicy
MISSING_POLICY_FILL_VALUE: MissingPolicy
MISSING_POLICY_DROP_TIME_STEPS: MissingPolicy
ANALYSIS_KIND_UNSPECIFIED: AnalysisKind
ANALYSIS_KIND_CLIMATOLOGY: AnalysisKind
ANALYSIS_KIND_ANOMALIES: AnalysisKind
ANALYSIS_KIND_TREND: AnalysisKind
ANALYSIS_KIND_AREA_MEAN: AnalysisKind
ANALYSIS_KIND_EXTREMES: AnalysisKind
CALENDAR_KEY_UNSPECIFIED: CalendarKey
CALENDAR_KEY_MONTH: CalendarKey
CALENDAR_KEY_DAY_OF_YEAR: CalendarKey
CALENDAR_KEY_HOUR: CalendarKey

class VariableSpec(_message.Message):
    __slots__ = ("name", "levels")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    name: str
    levels: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, name: _Optional[str] = ..., levels: _Optional[_Iterable[float]] = ...) -> None: ...

class Coarsen(_message.Message):
    __slots__ = ("latitude_factor", "longitude_factor")
    LATITUDE_FACTOR_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FACTOR_FIELD_NUMBER: _ClassVar[int]
    latitude_factor: int
    longitude_factor: int
    def __init__(self, latitude_factor: _Optional[int] = ..., longitude_factor: _Optional[int] = ...) -> None: ...

class Regrid(_message.Message):
    __slots__ = ("coarsen", "resolution_degrees")
    COARSEN_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_DEGREES_FIELD_NUMBER: _ClassVar[int]
    coarsen: Coarsen
    resolution_degrees: float
    def __init__(self, coarsen: _Optional[_Union[Coarsen, _Mapping]] = ..., resolution_degrees: _Optional[float] = ...) -> None: ...

class DerivedVariable(_message.Message):
    __slots__ = ("kind", "name", "u", "v")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    U_FIELD_NUMBER: _ClassVar[int]
    V_FIELD_NUMBER: _ClassVar[int]
    kind: DerivedKind
    name: str
    u: str
    v: str
    def __init__(self, kind: _Optional[_Union[DerivedKind, str]] = ..., name: _Optional[str] = ..., u: _Optional[str] = ..., v: _Optional[str] = ...) -> None: ...

class Split(_message.Message):
    __slots__ = ("train", "validation", "test")
    TRAIN_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_FIELD_NUMBER: _ClassVar[int]
    TEST_FIELD_NUMBER: _ClassVar[int]
    train: _dataset_pb2.TimeRange
    validation: _dataset_pb2.TimeRange
    test: _dataset_pb2.TimeRange
    def __init__(self, train: _Optional[_Union[_dataset_pb2.TimeRange, _Mapping]] = ..., validation: _Optional[_Union[_dataset_pb2.TimeRange, _Mapping]] = ..., test: _Optional[_Union[_dataset_pb2.TimeRange, _Mapping]] = ...) -> None: ...

class Augmentation(_message.Message):
    __slots__ = ("seed", "crop_latitude", "crop_longitude", "noise_std")
    SEED_FIELD_NUMBER: _ClassVar[int]
    CROP_LATITUDE_FIELD_NUMBER: _ClassVar[int]
    CROP_LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    NOISE_STD_FIELD_NUMBER: _ClassVar[int]
    seed: int
    crop_latitude: int
    crop_longitude: int
    noise_std: float
    def __init__(self, seed: _Optional[int] = ..., crop_latitude: _Optional[int] = ..., crop_longitude: _Optional[int] = ..., noise_std: _Optional[float] = ...) -> None: ...

class MissingValues(_message.Message):
    __slots__ = ("policy", "value")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    policy: MissingPolicy
    value: float
    def __init__(self, policy: _Optional[_Union[MissingPolicy, str]] = ..., value: _Optional[float] = ...) -> None: ...

class Recipe(_message.Message):
    __slots__ = ("source", "variables", "region", "period", "regrid", "derived", "split", "augmentation", "output_dataset_id", "missing")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    REGRID_FIELD_NUMBER: _ClassVar[int]
    DERIVED_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    AUGMENTATION_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    source: _dataset_pb2.DatasetRef
    variables: _containers.RepeatedCompositeFieldContainer[VariableSpec]
    region: _region_pb2.Region
    period: _dataset_pb2.TimeRange
    regrid: Regrid
    derived: _containers.RepeatedCompositeFieldContainer[DerivedVariable]
    split: Split
    augmentation: Augmentation
    output_dataset_id: str
    missing: MissingValues
    def __init__(self, source: _Optional[_Union[_dataset_pb2.DatasetRef, _Mapping]] = ..., variables: _Optional[_Iterable[_Union[VariableSpec, _Mapping]]] = ..., region: _Optional[_Union[_region_pb2.Region, _Mapping]] = ..., period: _Optional[_Union[_dataset_pb2.TimeRange, _Mapping]] = ..., regrid: _Optional[_Union[Regrid, _Mapping]] = ..., derived: _Optional[_Iterable[_Union[DerivedVariable, _Mapping]]] = ..., split: _Optional[_Union[Split, _Mapping]] = ..., augmentation: _Optional[_Union[Augmentation, _Mapping]] = ..., output_dataset_id: _Optional[str] = ..., missing: _Optional[_Union[MissingValues, _Mapping]] = ...) -> None: ...

class StatisticsEntry(_message.Message):
    __slots__ = ("variable", "level", "mean", "std", "diff_mean", "diff_std", "count")
    VARIABLE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    STD_FIELD_NUMBER: _ClassVar[int]
    DIFF_MEAN_FIELD_NUMBER: _ClassVar[int]
    DIFF_STD_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    variable: str
    level: float
    mean: float
    std: float
    diff_mean: float
    diff_std: float
    count: int
    def __init__(self, variable: _Optional[str] = ..., level: _Optional[float] = ..., mean: _Optional[float] = ..., std: _Optional[float] = ..., diff_mean: _Optional[float] = ..., diff_std: _Optional[float] = ..., count: _Optional[int] = ...) -> None: ...

class NormalisationStatistics(_message.Message):
    __slots__ = ("stats_hash", "recipe_hash", "input", "train_steps", "entries")
    STATS_HASH_FIELD_NUMBER: _ClassVar[int]
    RECIPE_HASH_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    TRAIN_STEPS_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    stats_hash: str
    recipe_hash: str
    input: _dataset_pb2.DatasetRef
    train_steps: int
    entries: _containers.RepeatedCompositeFieldContainer[StatisticsEntry]
    def __init__(self, stats_hash: _Optional[str] = ..., recipe_hash: _Optional[str] = ..., input: _Optional[_Union[_dataset_pb2.DatasetRef, _Mapping]] = ..., train_steps: _Optional[int] = ..., entries: _Optional[_Iterable[_Union[StatisticsEntry, _Mapping]]] = ...) -> None: ...

class BuildResult(_message.Message):
    __slots__ = ("dataset", "recipe_hash", "statistics", "train_steps", "validation_steps", "test_steps", "reused")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    RECIPE_HASH_FIELD_NUMBER: _ClassVar[int]
    STATISTICS_FIELD_NUMBER: _ClassVar[int]
    TRAIN_STEPS_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_STEPS_FIELD_NUMBER: _ClassVar[int]
    TEST_STEPS_FIELD_NUMBER: _ClassVar[int]
    REUSED_FIELD_NUMBER: _ClassVar[int]
    dataset: _manifest_pb2.DatasetManifest
    recipe_hash: str
    statistics: NormalisationStatistics
    train_steps: int
    validation_steps: int
    test_steps: int
    reused: bool
    def __init__(self, dataset: _Optional[_Union[_manifest_pb2.DatasetManifest, _Mapping]] = ..., recipe_hash: _Optional[str] = ..., statistics: _Optional[_Union[NormalisationStatistics, _Mapping]] = ..., train_steps: _Optional[int] = ..., validation_steps: _Optional[int] = ..., test_steps: _Optional[int] = ..., reused: _Optional[bool] = ...) -> None: ...

class StartBuildRequest(_message.Message):
    __slots__ = ("recipe",)
    RECIPE_FIELD_NUMBER: _ClassVar[int]
    recipe: Recipe
    def __init__(self, recipe: _Optional[_Union[Recipe, _Mapping]] = ...) -> None: ...

class StartBuildResponse(_message.Message):
    __slots__ = ("operation",)
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    operation: _operation_pb2.OperationStatus
    def __init__(self, operation: _Optional[_Union[_operation_pb2.OperationStatus, _Mapping]] = ...) -> None: ...

class StartAnalysisRequest(_message.Message):
    __slots__ = ("source", "variables", "period", "kind", "calendar", "base_period", "region", "named_region", "of_anomalies", "percentiles", "thresholds", "output_dataset_id")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CALENDAR_FIELD_NUMBER: _ClassVar[int]
    BASE_PERIOD_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    NAMED_REGION_FIELD_NUMBER: _ClassVar[int]
    OF_ANOMALIES_FIELD_NUMBER: _ClassVar[int]
    PERCENTILES_FIELD_NUMBER: _ClassVar[int]
    THRESHOLDS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    source: _dataset_pb2.DatasetRef
    variables: _containers.RepeatedScalarFieldContainer[str]
    period: _dataset_pb2.TimeRange
    kind: AnalysisKind
    calendar: CalendarKey
    base_period: _dataset_pb2.TimeRange
    region: _region_pb2.Region
    named_region: str
    of_anomalies: bool
    percentiles: _containers.RepeatedScalarFieldContainer[float]
    thresholds: _containers.RepeatedScalarFieldContainer[float]
    output_dataset_id: str
    def __init__(self, source: _Optional[_Union[_dataset_pb2.DatasetRef, _Mapping]] = ..., variables: _Optional[_Iterable[str]] = ..., period: _Optional[_Union[_dataset_pb2.TimeRange, _Mapping]] = ..., kind: _Optional[_Union[AnalysisKind, str]] = ..., calendar: _Optional[_Union[CalendarKey, str]] = ..., base_period: _Optional[_Union[_dataset_pb2.TimeRange, _Mapping]] = ..., region: _Optional[_Union[_region_pb2.Region, _Mapping]] = ..., named_region: _Optional[str] = ..., of_anomalies: _Optional[bool] = ..., percentiles: _Optional[_Iterable[float]] = ..., thresholds: _Optional[_Iterable[float]] = ..., output_dataset_id: _Optional[str] = ...) -> None: ...

class StartAnalysisResponse(_message.Message):
    __slots__ = ("operation",)
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    operation: _operation_pb2.OperationStatus
    def __init__(self, operation: _Optional[_Union[_operation_pb2.OperationStatus, _Mapping]] = ...) -> None: ...

class SeriesPoint(_message.Message):
    __slots__ = ("time", "values")
    class ValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TIME_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    values: _containers.ScalarMap[str, float]
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., values: _Optional[_Mapping[str, float]] = ...) -> None: ...

class AnalysisResult(_message.Message):
    __slots__ = ("dataset", "summary", "series")
    class SummaryEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    DATASET_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    SERIES_FIELD_NUMBER: _ClassVar[int]
    dataset: _manifest_pb2.DatasetManifest
    summary: _containers.ScalarMap[str, float]
    series: _containers.RepeatedCompositeFieldContainer[SeriesPoint]
    def __init__(self, dataset: _Optional[_Union[_manifest_pb2.DatasetManifest, _Mapping]] = ..., summary: _Optional[_Mapping[str, float]] = ..., series: _Optional[_Iterable[_Union[SeriesPoint, _Mapping]]] = ...) -> None: ...

class GetOperationRequest(_message.Message):
    __slots__ = ("operation_id",)
    OPERATION_ID_FIELD_NUMBER: _ClassVar[int]
    operation_id: str
    def __init__(self, operation_id: _Optional[str] = ...) -> None: ...

class GetOperationResponse(_message.Message):
    __slots__ = ("operation", "build", "analysis")
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    BUILD_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    operation: _operation_pb2.OperationStatus
    build: BuildResult
    analysis: AnalysisResult
    def __init__(self, operation: _Optional[_Union[_operation_pb2.OperationStatus, _Mapping]] = ..., build: _Optional[_Union[BuildResult, _Mapping]] = ..., analysis: _Optional[_Union[AnalysisResult, _Mapping]] = ...) -> None: ...

class WatchOperationRequest(_message.Message):
    __slots__ = ("operation_id",)
    OPERATION_ID_FIELD_NUMBER: _ClassVar[int]
    operation_id: str
    def __init__(self, operation_id: _Optional[str] = ...) -> None: ...

class WatchOperationResponse(_message.Message):
    __slots__ = ("operation", "build", "analysis")
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    BUILD_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    operation: _operation_pb2.OperationStatus
    build: BuildResult
    analysis: AnalysisResult
    def __init__(self, operation: _Optional[_Union[_operation_pb2.OperationStatus, _Mapping]] = ..., build: _Optional[_Union[BuildResult, _Mapping]] = ..., analysis: _Optional[_Union[AnalysisResult, _Mapping]] = ...) -> None: ...

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

class GetStatisticsRequest(_message.Message):
    __slots__ = ("stats_hash",)
    STATS_HASH_FIELD_NUMBER: _ClassVar[int]
    stats_hash: str
    def __init__(self, stats_hash: _Optional[str] = ...) -> None: ...

class GetStatisticsResponse(_message.Message):
    __slots__ = ("statistics",)
    STATISTICS_FIELD_NUMBER: _ClassVar[int]
    statistics: NormalisationStatistics
    def __init__(self, statistics: _Optional[_Union[NormalisationStatistics, _Mapping]] = ...) -> None: ...
