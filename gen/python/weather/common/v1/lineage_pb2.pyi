from weather.common.v1 import dataset_pb2 as _dataset_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Lineage(_message.Message):
    __slots__ = ("dataset", "recipe_hash", "normalisation_stats_hash", "training_job_id", "code_version")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    RECIPE_HASH_FIELD_NUMBER: _ClassVar[int]
    NORMALISATION_STATS_HASH_FIELD_NUMBER: _ClassVar[int]
    TRAINING_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_VERSION_FIELD_NUMBER: _ClassVar[int]
    dataset: _dataset_pb2.DatasetRef
    recipe_hash: str
    normalisation_stats_hash: str
    training_job_id: str
    code_version: str
    def __init__(self, dataset: _Optional[_Union[_dataset_pb2.DatasetRef, _Mapping]] = ..., recipe_hash: _Optional[str] = ..., normalisation_stats_hash: _Optional[str] = ..., training_job_id: _Optional[str] = ..., code_version: _Optional[str] = ...) -> None: ...
