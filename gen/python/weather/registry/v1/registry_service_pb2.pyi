import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from weather.common.v1 import field_pb2 as _field_pb2
from weather.common.v1 import lineage_pb2 as _lineage_pb2
from weather.common.v1 import pagination_pb2 as _pagination_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MetricGoal(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    METRIC_GOAL_UNSPECIFIED: _ClassVar[MetricGoal]
    METRIC_GOAL_MINIMIZE: _ClassVar[MetricGoal]
    METRIC_GOAL_MAXIMIZE: _ClassVar[MetricGoal]
    METRIC_GOAL_ZERO: _ClassVar[MetricGoal]

class Comparison(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPARISON_UNSPECIFIED: _ClassVar[Comparison]
    COMPARISON_LESS: _ClassVar[Comparison]
    COMPARISON_LESS_EQUAL: _ClassVar[Comparison]
    COMPARISON_GREATER: _ClassVar[Comparison]
    COMPARISON_GREATER_EQUAL: _ClassVar[Comparison]

class VerifyResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERIFY_RESULT_UNSPECIFIED: _ClassVar[VerifyResult]
    VERIFY_RESULT_MATCH: _ClassVar[VerifyResult]
    VERIFY_RESULT_MISMATCH: _ClassVar[VerifyResult]
    VERIFY_RESULT_MISSING: _ClassVar[VerifyResult]

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_TYPE_UNSPECIFIED: _ClassVar[EventType]
    EVENT_TYPE_MODEL_CREATED: _ClassVar[EventType]
    EVENT_TYPE_VERSION_CREATED: _ClassVar[EventType]
    EVENT_TYPE_ALIAS_SET: _ClassVar[EventType]
    EVENT_TYPE_ALIAS_DELETED: _ClassVar[EventType]
METRIC_GOAL_UNSPECIFIED: MetricGoal
METRIC_GOAL_MINIMIZE: MetricGoal
METRIC_GOAL_MAXIMIZE: MetricGoal
METRIC_GOAL_ZERO: MetricGoal
COMPARISON_UNSPECIFIED: Comparison
COMPARISON_LESS: Comparison
COMPARISON_LESS_EQUAL: Comparison
COMPARISON_GREATER: Comparison
COMPARISON_GREATER_EQUAL: Comparison
VERIFY_RESULT_UNSPECIFIED: VerifyResult
VERIFY_RESULT_MATCH: VerifyResult
VERIFY_RESULT_MISMATCH: VerifyResult
VERIFY_RESULT_MISSING: VerifyResult
EVENT_TYPE_UNSPECIFIED: EventType
EVENT_TYPE_MODEL_CREATED: EventType
EVENT_TYPE_VERSION_CREATED: EventType
EVENT_TYPE_ALIAS_SET: EventType
EVENT_TYPE_ALIAS_DELETED: EventType

class RegisteredModel(_message.Message):
    __slots__ = ("name", "description", "tags", "create_time", "created_by", "update_time", "latest_version", "aliases")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class AliasesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LATEST_VERSION_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    tags: _containers.ScalarMap[str, str]
    create_time: _timestamp_pb2.Timestamp
    created_by: str
    update_time: _timestamp_pb2.Timestamp
    latest_version: int
    aliases: _containers.ScalarMap[str, int]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., latest_version: _Optional[int] = ..., aliases: _Optional[_Mapping[str, int]] = ...) -> None: ...

class TensorSpec(_message.Message):
    __slots__ = ("name", "dtype", "shape")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    dtype: _field_pb2.DataType
    shape: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., dtype: _Optional[_Union[_field_pb2.DataType, str]] = ..., shape: _Optional[_Iterable[int]] = ...) -> None: ...

class SignatureSummary(_message.Message):
    __slots__ = ("signature_name", "inputs", "outputs")
    SIGNATURE_NAME_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    signature_name: str
    inputs: _containers.RepeatedCompositeFieldContainer[TensorSpec]
    outputs: _containers.RepeatedCompositeFieldContainer[TensorSpec]
    def __init__(self, signature_name: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[TensorSpec, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[TensorSpec, _Mapping]]] = ...) -> None: ...

class BaselineScore(_message.Message):
    __slots__ = ("baseline", "value")
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    baseline: str
    value: float
    def __init__(self, baseline: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...

class Metric(_message.Message):
    __slots__ = ("name", "variable", "lead_time", "value", "goal", "baselines", "method")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VARIABLE_FIELD_NUMBER: _ClassVar[int]
    LEAD_TIME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    GOAL_FIELD_NUMBER: _ClassVar[int]
    BASELINES_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    name: str
    variable: str
    lead_time: _duration_pb2.Duration
    value: float
    goal: MetricGoal
    baselines: _containers.RepeatedCompositeFieldContainer[BaselineScore]
    method: str
    def __init__(self, name: _Optional[str] = ..., variable: _Optional[str] = ..., lead_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., value: _Optional[float] = ..., goal: _Optional[_Union[MetricGoal, str]] = ..., baselines: _Optional[_Iterable[_Union[BaselineScore, _Mapping]]] = ..., method: _Optional[str] = ...) -> None: ...

class ModelVersion(_message.Message):
    __slots__ = ("model_name", "version", "artifact_uri", "artifact_digest", "signature", "lineage", "metrics", "tags", "description", "create_time", "created_by", "aliases")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_URI_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    version: int
    artifact_uri: str
    artifact_digest: str
    signature: SignatureSummary
    lineage: _lineage_pb2.Lineage
    metrics: _containers.RepeatedCompositeFieldContainer[Metric]
    tags: _containers.ScalarMap[str, str]
    description: str
    create_time: _timestamp_pb2.Timestamp
    created_by: str
    aliases: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, model_name: _Optional[str] = ..., version: _Optional[int] = ..., artifact_uri: _Optional[str] = ..., artifact_digest: _Optional[str] = ..., signature: _Optional[_Union[SignatureSummary, _Mapping]] = ..., lineage: _Optional[_Union[_lineage_pb2.Lineage, _Mapping]] = ..., metrics: _Optional[_Iterable[_Union[Metric, _Mapping]]] = ..., tags: _Optional[_Mapping[str, str]] = ..., description: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ..., aliases: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateRegisteredModelRequest(_message.Message):
    __slots__ = ("name", "description", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    tags: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CreateRegisteredModelResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: RegisteredModel
    def __init__(self, model: _Optional[_Union[RegisteredModel, _Mapping]] = ...) -> None: ...

class GetRegisteredModelRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetRegisteredModelResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: RegisteredModel
    def __init__(self, model: _Optional[_Union[RegisteredModel, _Mapping]] = ...) -> None: ...

class TagFilter(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class ListRegisteredModelsRequest(_message.Message):
    __slots__ = ("name_prefix", "tags", "page")
    NAME_PREFIX_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    name_prefix: str
    tags: _containers.RepeatedCompositeFieldContainer[TagFilter]
    page: _pagination_pb2.PageRequest
    def __init__(self, name_prefix: _Optional[str] = ..., tags: _Optional[_Iterable[_Union[TagFilter, _Mapping]]] = ..., page: _Optional[_Union[_pagination_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListRegisteredModelsResponse(_message.Message):
    __slots__ = ("models", "page")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[RegisteredModel]
    page: _pagination_pb2.PageResponse
    def __init__(self, models: _Optional[_Iterable[_Union[RegisteredModel, _Mapping]]] = ..., page: _Optional[_Union[_pagination_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class UpdateRegisteredModelRequest(_message.Message):
    __slots__ = ("name", "description", "set_tags", "remove_tags")
    class SetTagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SET_TAGS_FIELD_NUMBER: _ClassVar[int]
    REMOVE_TAGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    set_tags: _containers.ScalarMap[str, str]
    remove_tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., set_tags: _Optional[_Mapping[str, str]] = ..., remove_tags: _Optional[_Iterable[str]] = ...) -> None: ...

class UpdateRegisteredModelResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: RegisteredModel
    def __init__(self, model: _Optional[_Union[RegisteredModel, _Mapping]] = ...) -> None: ...

class CreateModelVersionRequest(_message.Message):
    __slots__ = ("model_name", "artifact_uri", "artifact_digest", "signature", "lineage", "metrics", "tags", "description", "request_id")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_URI_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    artifact_uri: str
    artifact_digest: str
    signature: SignatureSummary
    lineage: _lineage_pb2.Lineage
    metrics: _containers.RepeatedCompositeFieldContainer[Metric]
    tags: _containers.ScalarMap[str, str]
    description: str
    request_id: str
    def __init__(self, model_name: _Optional[str] = ..., artifact_uri: _Optional[str] = ..., artifact_digest: _Optional[str] = ..., signature: _Optional[_Union[SignatureSummary, _Mapping]] = ..., lineage: _Optional[_Union[_lineage_pb2.Lineage, _Mapping]] = ..., metrics: _Optional[_Iterable[_Union[Metric, _Mapping]]] = ..., tags: _Optional[_Mapping[str, str]] = ..., description: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateModelVersionResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: ModelVersion
    def __init__(self, version: _Optional[_Union[ModelVersion, _Mapping]] = ...) -> None: ...

class GetModelVersionRequest(_message.Message):
    __slots__ = ("model_name", "version", "alias", "latest")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    version: int
    alias: str
    latest: bool
    def __init__(self, model_name: _Optional[str] = ..., version: _Optional[int] = ..., alias: _Optional[str] = ..., latest: _Optional[bool] = ...) -> None: ...

class GetModelVersionResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: ModelVersion
    def __init__(self, version: _Optional[_Union[ModelVersion, _Mapping]] = ...) -> None: ...

class MetricFilter(_message.Message):
    __slots__ = ("name", "variable", "lead_time", "comparison", "threshold")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VARIABLE_FIELD_NUMBER: _ClassVar[int]
    LEAD_TIME_FIELD_NUMBER: _ClassVar[int]
    COMPARISON_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    name: str
    variable: str
    lead_time: _duration_pb2.Duration
    comparison: Comparison
    threshold: float
    def __init__(self, name: _Optional[str] = ..., variable: _Optional[str] = ..., lead_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., comparison: _Optional[_Union[Comparison, str]] = ..., threshold: _Optional[float] = ...) -> None: ...

class ListModelVersionsRequest(_message.Message):
    __slots__ = ("model_name", "tags", "alias", "metric_filters", "page")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    METRIC_FILTERS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    tags: _containers.RepeatedCompositeFieldContainer[TagFilter]
    alias: str
    metric_filters: _containers.RepeatedCompositeFieldContainer[MetricFilter]
    page: _pagination_pb2.PageRequest
    def __init__(self, model_name: _Optional[str] = ..., tags: _Optional[_Iterable[_Union[TagFilter, _Mapping]]] = ..., alias: _Optional[str] = ..., metric_filters: _Optional[_Iterable[_Union[MetricFilter, _Mapping]]] = ..., page: _Optional[_Union[_pagination_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListModelVersionsResponse(_message.Message):
    __slots__ = ("versions", "page")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[ModelVersion]
    page: _pagination_pb2.PageResponse
    def __init__(self, versions: _Optional[_Iterable[_Union[ModelVersion, _Mapping]]] = ..., page: _Optional[_Union[_pagination_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class UpdateModelVersionRequest(_message.Message):
    __slots__ = ("model_name", "version", "description", "set_tags", "remove_tags")
    class SetTagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SET_TAGS_FIELD_NUMBER: _ClassVar[int]
    REMOVE_TAGS_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    version: int
    description: str
    set_tags: _containers.ScalarMap[str, str]
    remove_tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, model_name: _Optional[str] = ..., version: _Optional[int] = ..., description: _Optional[str] = ..., set_tags: _Optional[_Mapping[str, str]] = ..., remove_tags: _Optional[_Iterable[str]] = ...) -> None: ...

class UpdateModelVersionResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: ModelVersion
    def __init__(self, version: _Optional[_Union[ModelVersion, _Mapping]] = ...) -> None: ...

class GateCheck(_message.Message):
    __slots__ = ("metric", "variable", "lead_time", "baseline", "value", "baseline_value", "skill", "passed", "method")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    VARIABLE_FIELD_NUMBER: _ClassVar[int]
    LEAD_TIME_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    BASELINE_VALUE_FIELD_NUMBER: _ClassVar[int]
    SKILL_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    metric: str
    variable: str
    lead_time: _duration_pb2.Duration
    baseline: str
    value: float
    baseline_value: float
    skill: float
    passed: bool
    method: str
    def __init__(self, metric: _Optional[str] = ..., variable: _Optional[str] = ..., lead_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., baseline: _Optional[str] = ..., value: _Optional[float] = ..., baseline_value: _Optional[float] = ..., skill: _Optional[float] = ..., passed: _Optional[bool] = ..., method: _Optional[str] = ...) -> None: ...

class GateReport(_message.Message):
    __slots__ = ("passed", "margin", "checks")
    PASSED_FIELD_NUMBER: _ClassVar[int]
    MARGIN_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    passed: bool
    margin: float
    checks: _containers.RepeatedCompositeFieldContainer[GateCheck]
    def __init__(self, passed: _Optional[bool] = ..., margin: _Optional[float] = ..., checks: _Optional[_Iterable[_Union[GateCheck, _Mapping]]] = ...) -> None: ...

class AliasChange(_message.Message):
    __slots__ = ("id", "model_name", "alias", "from_version", "to_version", "actor", "time", "gate_overridden", "reason", "gate")
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    GATE_OVERRIDDEN_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    GATE_FIELD_NUMBER: _ClassVar[int]
    id: int
    model_name: str
    alias: str
    from_version: int
    to_version: int
    actor: str
    time: _timestamp_pb2.Timestamp
    gate_overridden: bool
    reason: str
    gate: GateReport
    def __init__(self, id: _Optional[int] = ..., model_name: _Optional[str] = ..., alias: _Optional[str] = ..., from_version: _Optional[int] = ..., to_version: _Optional[int] = ..., actor: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., gate_overridden: _Optional[bool] = ..., reason: _Optional[str] = ..., gate: _Optional[_Union[GateReport, _Mapping]] = ...) -> None: ...

class SetAliasRequest(_message.Message):
    __slots__ = ("model_name", "alias", "version", "expected_current_version", "override_gate", "reason", "validate_only")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_CURRENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_GATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    alias: str
    version: int
    expected_current_version: int
    override_gate: bool
    reason: str
    validate_only: bool
    def __init__(self, model_name: _Optional[str] = ..., alias: _Optional[str] = ..., version: _Optional[int] = ..., expected_current_version: _Optional[int] = ..., override_gate: _Optional[bool] = ..., reason: _Optional[str] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class SetAliasResponse(_message.Message):
    __slots__ = ("change",)
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    change: AliasChange
    def __init__(self, change: _Optional[_Union[AliasChange, _Mapping]] = ...) -> None: ...

class DeleteAliasRequest(_message.Message):
    __slots__ = ("model_name", "alias", "reason")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    alias: str
    reason: str
    def __init__(self, model_name: _Optional[str] = ..., alias: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DeleteAliasResponse(_message.Message):
    __slots__ = ("change",)
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    change: AliasChange
    def __init__(self, change: _Optional[_Union[AliasChange, _Mapping]] = ...) -> None: ...

class ListAliasHistoryRequest(_message.Message):
    __slots__ = ("model_name", "alias", "page")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    alias: str
    page: _pagination_pb2.PageRequest
    def __init__(self, model_name: _Optional[str] = ..., alias: _Optional[str] = ..., page: _Optional[_Union[_pagination_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListAliasHistoryResponse(_message.Message):
    __slots__ = ("changes", "page")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[AliasChange]
    page: _pagination_pb2.PageResponse
    def __init__(self, changes: _Optional[_Iterable[_Union[AliasChange, _Mapping]]] = ..., page: _Optional[_Union[_pagination_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class VerifyModelVersionRequest(_message.Message):
    __slots__ = ("model_name", "version")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    version: int
    def __init__(self, model_name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class VerifyModelVersionResponse(_message.Message):
    __slots__ = ("result", "expected_digest", "actual_digest", "file_count", "total_bytes", "detail")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_DIGEST_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_DIGEST_FIELD_NUMBER: _ClassVar[int]
    FILE_COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    result: VerifyResult
    expected_digest: str
    actual_digest: str
    file_count: int
    total_bytes: int
    detail: str
    def __init__(self, result: _Optional[_Union[VerifyResult, str]] = ..., expected_digest: _Optional[str] = ..., actual_digest: _Optional[str] = ..., file_count: _Optional[int] = ..., total_bytes: _Optional[int] = ..., detail: _Optional[str] = ...) -> None: ...

class RegistryEvent(_message.Message):
    __slots__ = ("sequence", "type", "time", "model_name", "version", "alias", "previous_version", "actor", "trace_parent")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    TRACE_PARENT_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    type: EventType
    time: _timestamp_pb2.Timestamp
    model_name: str
    version: int
    alias: str
    previous_version: int
    actor: str
    trace_parent: str
    def __init__(self, sequence: _Optional[int] = ..., type: _Optional[_Union[EventType, str]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., model_name: _Optional[str] = ..., version: _Optional[int] = ..., alias: _Optional[str] = ..., previous_version: _Optional[int] = ..., actor: _Optional[str] = ..., trace_parent: _Optional[str] = ...) -> None: ...

class WatchEventsRequest(_message.Message):
    __slots__ = ("model_name", "start_after_sequence")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    START_AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    start_after_sequence: int
    def __init__(self, model_name: _Optional[str] = ..., start_after_sequence: _Optional[int] = ...) -> None: ...

class WatchEventsResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: RegistryEvent
    def __init__(self, event: _Optional[_Union[RegistryEvent, _Mapping]] = ...) -> None: ...
