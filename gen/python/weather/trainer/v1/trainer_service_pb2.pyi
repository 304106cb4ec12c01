import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from weather.common.v1 import dataset_pb2 as _dataset_pb2
from weather.common.v1 import lineage_pb2 as _lineage_pb2
from weather.common.v1 import operation_pb2 as _operation_pb2
from weather.common.v1 import pagination_pb2 as _pagination_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DistributionStrategy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISTRIBUTION_STRATEGY_UNSPECIFIED: _ClassVar[DistributionStrategy]
    DISTRIBUTION_STRATEGY_DEFAULT: _ClassVar[DistributionStrategy]
    DISTRIBUTION_STRATEGY_MIRRORED: _ClassVar[DistributionStrategy]
    DISTRIBUTION_STRATEGY_MULTI_WORKER_MIRRORED: _ClassVar[DistributionStrategy]

class SearchMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEARCH_METHOD_UNSPECIFIED: _ClassVar[SearchMethod]
    SEARCH_METHOD_GRID: _ClassVar[SearchMethod]
    SEARCH_METHOD_RANDOM: _ClassVar[SearchMethod]

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_QUEUED: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]
    JOB_STATE_INTERRUPTED: _ClassVar[JobState]
DISTRIBUTION_STRATEGY_UNSPECIFIED: DistributionStrategy
DISTRIBUTION_STRATEGY_DEFAULT: DistributionStrategy
DISTRIBUTION_STRATEGY_MIRRORED: DistributionStrategy
DISTRIBUTION_STRATEGY_MULTI_WORKER_MIRRORED: DistributionStrategy
SEARCH_METHOD_UNSPECIFIED: SearchMethod
SEARCH_METHOD_GRID: SearchMethod
SEARCH_METHOD_RANDOM: SearchMethod
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState
JOB_STATE_INTERRUPTED: JobState

class DiscreteValues(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class Interval(_message.Message):
    __slots__ = ("low", "high")
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    low: float
    high: float
    def __init__(self, low: _Optional[float] = ..., high: _Optional[float] = ...) -> None: ...

class ParameterRange(_message.Message):
    __slots__ = ("name", "values", "uniform", "log_uniform")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    UNIFORM_FIELD_NUMBER: _ClassVar[int]
    LOG_UNIFORM_FIELD_NUMBER: _ClassVar[int]
    name: str
    values: DiscreteValues
    uniform: Interval
    log_uniform: Interval
    def __init__(self, name: _Optional[str] = ..., values: _Optional[_Union[DiscreteValues, _Mapping]] = ..., uniform: _Optional[_Union[Interval, _Mapping]] = ..., log_uniform: _Optional[_Union[Interval, _Mapping]] = ...) -> None: ...

class SearchSpec(_message.Message):
    __slots__ = ("method", "parameters", "max_trials", "parallel_trials")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    MAX_TRIALS_FIELD_NUMBER: _ClassVar[int]
    PARALLEL_TRIALS_FIELD_NUMBER: _ClassVar[int]
    method: SearchMethod
    parameters: _containers.RepeatedCompositeFieldContainer[ParameterRange]
    max_trials: int
    parallel_trials: int
    def __init__(self, method: _Optional[_Union[SearchMethod, str]] = ..., parameters: _Optional[_Iterable[_Union[ParameterRange, _Mapping]]] = ..., max_trials: _Optional[int] = ..., parallel_trials: _Optional[int] = ...) -> None: ...

class JobSpec(_message.Message):
    __slots__ = ("dataset", "model_family", "hyperparameters", "input_steps", "time_step", "lead_times", "epochs", "early_stopping_patience", "seed", "batch_size", "strategy", "search", "variables", "model_name", "description", "scoring")
    class HyperparametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    DATASET_FIELD_NUMBER: _ClassVar[int]
    MODEL_FAMILY_FIELD_NUMBER: _ClassVar[int]
    HYPERPARAMETERS_FIELD_NUMBER: _ClassVar[int]
    INPUT_STEPS_FIELD_NUMBER: _ClassVar[int]
    TIME_STEP_FIELD_NUMBER: _ClassVar[int]
    LEAD_TIMES_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    EARLY_STOPPING_PATIENCE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    SEARCH_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SCORING_FIELD_NUMBER: _ClassVar[int]
    dataset: _dataset_pb2.DatasetRef
    model_family: str
    hyperparameters: _containers.ScalarMap[str, float]
    input_steps: int
    time_step: _duration_pb2.Duration
    lead_times: _containers.RepeatedCompositeFieldContainer[_duration_pb2.Duration]
    epochs: int
    early_stopping_patience: int
    seed: int
    batch_size: int
    strategy: DistributionStrategy
    search: SearchSpec
    variables: _containers.RepeatedScalarFieldContainer[str]
    model_name: str
    description: str
    scoring: ScoringSpec
    def __init__(self, dataset: _Optional[_Union[_dataset_pb2.DatasetRef, _Mapping]] = ..., model_family: _Optional[str] = ..., hyperparameters: _Optional[_Mapping[str, float]] = ..., input_steps: _Optional[int] = ..., time_step: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., lead_times: _Optional[_Iterable[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]]] = ..., epochs: _Optional[int] = ..., early_stopping_patience: _Optional[int] = ..., seed: _Optional[int] = ..., batch_size: _Optional[int] = ..., strategy: _Optional[_Union[DistributionStrategy, str]] = ..., search: _Optional[_Union[SearchSpec, _Mapping]] = ..., variables: _Optional[_Iterable[str]] = ..., model_name: _Optional[str] = ..., description: _Optional[str] = ..., scoring: _Optional[_Union[ScoringSpec, _Mapping]] = ...) -> None: ...

class ScoringSpec(_message.Message):
    __slots__ = ("max_lead_hours",)
    MAX_LEAD_HOURS_FIELD_NUMBER: _ClassVar[int]
    max_lead_hours: int
    def __init__(self, max_lead_hours: _Optional[int] = ...) -> None: ...

class EpochSummary(_message.Message):
    __slots__ = ("epoch", "train_loss", "validation_loss", "seconds")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    TRAIN_LOSS_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_LOSS_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    train_loss: float
    validation_loss: float
    seconds: float
    def __init__(self, epoch: _Optional[int] = ..., train_loss: _Optional[float] = ..., validation_loss: _Optional[float] = ..., seconds: _Optional[float] = ...) -> None: ...

class JobProgress(_message.Message):
    __slots__ = ("stage", "epoch", "total_epochs", "fraction", "seconds_left", "best_validation_loss")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    TOTAL_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    SECONDS_LEFT_FIELD_NUMBER: _ClassVar[int]
    BEST_VALIDATION_LOSS_FIELD_NUMBER: _ClassVar[int]
    stage: str
    epoch: int
    total_epochs: int
    fraction: float
    seconds_left: float
    best_validation_loss: float
    def __init__(self, stage: _Optional[str] = ..., epoch: _Optional[int] = ..., total_epochs: _Optional[int] = ..., fraction: _Optional[float] = ..., seconds_left: _Optional[float] = ..., best_validation_loss: _Optional[float] = ...) -> None: ...

class Scores(_message.Message):
    __slots__ = ("rmse", "bias", "mae", "acc")
    RMSE_FIELD_NUMBER: _ClassVar[int]
    BIAS_FIELD_NUMBER: _ClassVar[int]
    MAE_FIELD_NUMBER: _ClassVar[int]
    ACC_FIELD_NUMBER: _ClassVar[int]
    rmse: float
    bias: float
    mae: float
    acc: float
    def __init__(self, rmse: _Optional[float] = ..., bias: _Optional[float] = ..., mae: _Optional[float] = ..., acc: _Optional[float] = ...) -> None: ...

class LeadScore(_message.Message):
    __slots__ = ("variable", "lead_time", "model", "persistence", "climatology", "skill_score", "samples", "method")
    VARIABLE_FIELD_NUMBER: _ClassVar[int]
    LEAD_TIME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PERSISTENCE_FIELD_NUMBER: _ClassVar[int]
    CLIMATOLOGY_FIELD_NUMBER: _ClassVar[int]
    SKILL_SCORE_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    variable: str
    lead_time: _duration_pb2.Duration
    model: Scores
    persistence: Scores
    climatology: Scores
    skill_score: float
    samples: int
    method: str
    def __init__(self, variable: _Optional[str] = ..., lead_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., model: _Optional[_Union[Scores, _Mapping]] = ..., persistence: _Optional[_Union[Scores, _Mapping]] = ..., climatology: _Optional[_Union[Scores, _Mapping]] = ..., skill_score: _Optional[float] = ..., samples: _Optional[int] = ..., method: _Optional[str] = ...) -> None: ...

class Trial(_message.Message):
    __slots__ = ("number", "hyperparameters", "validation_loss", "epochs", "seconds", "worker")
    class HyperparametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    HYPERPARAMETERS_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_LOSS_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    number: int
    hyperparameters: _containers.ScalarMap[str, float]
    validation_loss: float
    epochs: int
    seconds: float
    worker: str
    def __init__(self, number: _Optional[int] = ..., hyperparameters: _Optional[_Mapping[str, float]] = ..., validation_loss: _Optional[float] = ..., epochs: _Optional[int] = ..., seconds: _Optional[float] = ..., worker: _Optional[str] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("job_id", "spec", "state", "progress", "epochs", "trials", "scores", "artifact_uri", "artifact_digest", "registered_model", "registered_version", "lineage", "error", "creator", "create_time", "start_time", "end_time", "resumes", "resumed_from_epoch")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    TRIALS_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_URI_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_MODEL_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_VERSION_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    RESUMES_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FROM_EPOCH_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    spec: JobSpec
    state: JobState
    progress: JobProgress
    epochs: _containers.RepeatedCompositeFieldContainer[EpochSummary]
    trials: _containers.RepeatedCompositeFieldContainer[Trial]
    scores: _containers.RepeatedCompositeFieldContainer[LeadScore]
    artifact_uri: str
    artifact_digest: str
    registered_model: str
    registered_version: int
    lineage: _lineage_pb2.Lineage
    error: _operation_pb2.OperationError
    creator: str
    create_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    resumes: int
    resumed_from_epoch: int
    def __init__(self, job_id: _Optional[str] = ..., spec: _Optional[_Union[JobSpec, _Mapping]] = ..., state: _Optional[_Union[JobState, str]] = ..., progress: _Optional[_Union[JobProgress, _Mapping]] = ..., epochs: _Optional[_Iterable[_Union[EpochSummary, _Mapping]]] = ..., trials: _Optional[_Iterable[_Union[Trial, _Mapping]]] = ..., scores: _Optional[_Iterable[_Union[LeadScore, _Mapping]]] = ..., artifact_uri: _Optional[str] = ..., artifact_digest: _Optional[str] = ..., registered_model: _Optional[str] = ..., registered_version: _Optional[int] = ..., lineage: _Optional[_Union[_lineage_pb2.Lineage, _Mapping]] = ..., error: _Optional[_Union[_operation_pb2.OperationError, _Mapping]] = ..., creator: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resumes: _Optional[int] = ..., resumed_from_epoch: _Optional[int] = ...) -> None: ...

class StartTrainingRequest(_message.Message):
    __slots__ = ("spec", "request_id", "validate_only")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    spec: JobSpec
    request_id: str
    validate_only: bool
    def __init__(self, spec: _Optional[_Union[JobSpec, _Mapping]] = ..., request_id: _Optional[str] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class StartTrainingResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("state", "model_family", "dataset_id", "page")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FAMILY_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    state: JobState
    model_family: str
    dataset_id: str
    page: _pagination_pb2.PageRequest
    def __init__(self, state: _Optional[_Union[JobState, str]] = ..., model_family: _Optional[str] = ..., dataset_id: _Optional[str] = ..., page: _Optional[_Union[_pagination_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "page")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    page: _pagination_pb2.PageResponse
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., page: _Optional[_Union[_pagination_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class WatchJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CancelJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class ResumeJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class ResumeJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...
