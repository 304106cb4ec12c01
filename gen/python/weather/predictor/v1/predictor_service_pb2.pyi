import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from weather.common.v1 import dataset_pb2 as _dataset_pb2
from weather.common.v1 import field_pb2 as _field_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ForecastMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FORECAST_METHOD_UNSPECIFIED: _ClassVar[ForecastMethod]
    FORECAST_METHOD_DIRECT: _ClassVar[ForecastMethod]
    FORECAST_METHOD_ROLLOUT: _ClassVar[ForecastMethod]
FORECAST_METHOD_UNSPECIFIED: ForecastMethod
FORECAST_METHOD_DIRECT: ForecastMethod
FORECAST_METHOD_ROLLOUT: ForecastMethod

class ModelSelector(_message.Message):
    __slots__ = ("name", "version", "alias")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    alias: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., alias: _Optional[str] = ...) -> None: ...

class Provenance(_message.Message):
    __slots__ = ("model_name", "model_version", "alias", "dataset_hash", "statistics_hash", "trace_id")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    DATASET_HASH_FIELD_NUMBER: _ClassVar[int]
    STATISTICS_HASH_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    model_version: int
    alias: str
    dataset_hash: str
    statistics_hash: str
    trace_id: str
    def __init__(self, model_name: _Optional[str] = ..., model_version: _Optional[int] = ..., alias: _Optional[str] = ..., dataset_hash: _Optional[str] = ..., statistics_hash: _Optional[str] = ..., trace_id: _Optional[str] = ...) -> None: ...

class PredictRequest(_message.Message):
    __slots__ = ("model", "inputs", "init_time", "lead_time")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    INIT_TIME_FIELD_NUMBER: _ClassVar[int]
    LEAD_TIME_FIELD_NUMBER: _ClassVar[int]
    model: ModelSelector
    inputs: _containers.RepeatedCompositeFieldContainer[_field_pb2.GriddedField]
    init_time: _timestamp_pb2.Timestamp
    lead_time: _duration_pb2.Duration
    def __init__(self, model: _Optional[_Union[ModelSelector, _Mapping]] = ..., inputs: _Optional[_Iterable[_Union[_field_pb2.GriddedField, _Mapping]]] = ..., init_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lead_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class PredictResponse(_message.Message):
    __slots__ = ("outputs", "valid_time", "provenance")
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    VALID_TIME_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    outputs: _containers.RepeatedCompositeFieldContainer[_field_pb2.GriddedField]
    valid_time: _timestamp_pb2.Timestamp
    provenance: Provenance
    def __init__(self, outputs: _Optional[_Iterable[_Union[_field_pb2.GriddedField, _Mapping]]] = ..., valid_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., provenance: _Optional[_Union[Provenance, _Mapping]] = ...) -> None: ...

class ForecastRequest(_message.Message):
    __slots__ = ("model", "init_time", "lead_times", "dataset", "inline")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INIT_TIME_FIELD_NUMBER: _ClassVar[int]
    LEAD_TIMES_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    INLINE_FIELD_NUMBER: _ClassVar[int]
    model: ModelSelector
    init_time: _timestamp_pb2.Timestamp
    lead_times: _containers.RepeatedCompositeFieldContainer[_duration_pb2.Duration]
    dataset: _dataset_pb2.DatasetRef
    inline: ForecastInputs
    def __init__(self, model: _Optional[_Union[ModelSelector, _Mapping]] = ..., init_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lead_times: _Optional[_Iterable[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]]] = ..., dataset: _Optional[_Union[_dataset_pb2.DatasetRef, _Mapping]] = ..., inline: _Optional[_Union[ForecastInputs, _Mapping]] = ...) -> None: ...

class ForecastInputs(_message.Message):
    __slots__ = ("fields",)
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    fields: _containers.RepeatedCompositeFieldContainer[_field_pb2.GriddedField]
    def __init__(self, fields: _Optional[_Iterable[_Union[_field_pb2.GriddedField, _Mapping]]] = ...) -> None: ...

class ForecastResponse(_message.Message):
    __slots__ = ("lead_time", "valid_time", "outputs", "method", "provenance")
    LEAD_TIME_FIELD_NUMBER: _ClassVar[int]
    VALID_TIME_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    lead_time: _duration_pb2.Duration
    valid_time: _timestamp_pb2.Timestamp
    outputs: _containers.RepeatedCompositeFieldContainer[_field_pb2.GriddedField]
    method: ForecastMethod
    provenance: Provenance
    def __init__(self, lead_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., valid_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., outputs: _Optional[_Iterable[_Union[_field_pb2.GriddedField, _Mapping]]] = ..., method: _Optional[_Union[ForecastMethod, str]] = ..., provenance: _Optional[_Union[Provenance, _Mapping]] = ...) -> None: ...

class GetModelInfoRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: ModelSelector
    def __init__(self, model: _Optional[_Union[ModelSelector, _Mapping]] = ...) -> None: ...

class TensorSpec(_message.Message):
    __slots__ = ("name", "dtype", "shape")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    dtype: _field_pb2.DataType
    shape: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., dtype: _Optional[_Union[_field_pb2.DataType, str]] = ..., shape: _Optional[_Iterable[int]] = ...) -> None: ...

class ModelMetadata(_message.Message):
    __slots__ = ("variables", "latitudes", "longitudes", "time_step", "input_steps", "lead_times", "dataset", "recipe_hash", "statistics_hash", "raw_json")
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    LATITUDES_FIELD_NUMBER: _ClassVar[int]
    LONGITUDES_FIELD_NUMBER: _ClassVar[int]
    TIME_STEP_FIELD_NUMBER: _ClassVar[int]
    INPUT_STEPS_FIELD_NUMBER: _ClassVar[int]
    LEAD_TIMES_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    RECIPE_HASH_FIELD_NUMBER: _ClassVar[int]
    STATISTICS_HASH_FIELD_NUMBER: _ClassVar[int]
    RAW_JSON_FIELD_NUMBER: _ClassVar[int]
    variables: _containers.RepeatedScalarFieldContainer[str]
    latitudes: _containers.RepeatedScalarFieldContainer[float]
    longitudes: _containers.RepeatedScalarFieldContainer[float]
    time_step: _duration_pb2.Duration
    input_steps: int
    lead_times: _containers.RepeatedCompositeFieldContainer[_duration_pb2.Duration]
    dataset: _dataset_pb2.DatasetRef
    recipe_hash: str
    statistics_hash: str
    raw_json: str
    def __init__(self, variables: _Optional[_Iterable[str]] = ..., latitudes: _Optional[_Iterable[float]] = ..., longitudes: _Optional[_Iterable[float]] = ..., time_step: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., input_steps: _Optional[int] = ..., lead_times: _Optional[_Iterable[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]]] = ..., dataset: _Optional[_Union[_dataset_pb2.DatasetRef, _Mapping]] = ..., recipe_hash: _Optional[str] = ..., statistics_hash: _Optional[str] = ..., raw_json: _Optional[str] = ...) -> None: ...

class GetModelInfoResponse(_message.Message):
    __slots__ = ("signature_name", "inputs", "outputs", "metadata", "provenance")
    SIGNATURE_NAME_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    signature_name: str
    inputs: _containers.RepeatedCompositeFieldContainer[TensorSpec]
    outputs: _containers.RepeatedCompositeFieldContainer[TensorSpec]
    metadata: ModelMetadata
    provenance: Provenance
    def __init__(self, signature_name: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[TensorSpec, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[TensorSpec, _Mapping]]] = ..., metadata: _Optional[_Union[ModelMetadata, _Mapping]] = ..., provenance: _Optional[_Union[Provenance, _Mapping]] = ...) -> None: ...
