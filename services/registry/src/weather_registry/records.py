"""Domain records of the registry: models, versions, metrics, aliases, events (no gRPC here)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta


class MetricGoal(enum.IntEnum):
    """Which direction of a metric is better (values match the proto enum)."""

    MINIMIZE = 1
    MAXIMIZE = 2
    ZERO = 3


class Comparison(enum.IntEnum):
    """Operator of a metric filter (values match the proto enum)."""

    LESS = 1
    LESS_EQUAL = 2
    GREATER = 3
    GREATER_EQUAL = 4


class EventType(enum.IntEnum):
    """Kind of registry event (values match the proto enum)."""

    MODEL_CREATED = 1
    VERSION_CREATED = 2
    ALIAS_SET = 3
    ALIAS_DELETED = 4


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a serving signature; -1 marks an unknown dimension."""

    name: str
    dtype: int
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Signature:
    """Summary of a serving signature."""

    signature_name: str = ""
    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()


@dataclass(frozen=True)
class Lineage:
    """What a version was trained from."""

    dataset_id: str = ""
    dataset_hash: str = ""
    recipe_hash: str = ""
    normalisation_stats_hash: str = ""
    training_job_id: str = ""
    code_version: str = ""


@dataclass(frozen=True)
class Metric:
    """One score for a variable at a lead time, with the baselines' scores beside it."""

    name: str
    variable: str
    lead_time: timedelta
    value: float
    goal: MetricGoal
    baselines: dict[str, float] = field(default_factory=dict)
    method: str = ""  # how the forecast was made: "direct", "rollout" or "" (not said)


@dataclass(frozen=True)
class RegisteredModel:
    """A named model."""

    name: str
    description: str
    tags: dict[str, str]
    create_time: datetime
    created_by: str
    update_time: datetime
    latest_version: int
    aliases: dict[str, int]


@dataclass(frozen=True)
class NewVersion:
    """What a client gives to register a version."""

    model_name: str
    artifact_uri: str
    artifact_digest: str
    signature: Signature = Signature()
    lineage: Lineage = Lineage()
    metrics: tuple[Metric, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    description: str = ""
    request_id: str = ""


@dataclass(frozen=True)
class ModelVersion:
    """A registered version."""

    model_name: str
    version: int
    artifact_uri: str
    artifact_digest: str
    signature: Signature
    lineage: Lineage
    metrics: tuple[Metric, ...]
    tags: dict[str, str]
    description: str
    create_time: datetime
    created_by: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class GateCheck:
    """One comparison of a metric against a baseline."""

    metric: str
    variable: str
    lead_time: timedelta
    baseline: str
    value: float
    baseline_value: float
    skill: float
    passed: bool
    method: str = ""


@dataclass(frozen=True)
class GateReport:
    """The promotion gate's verdict."""

    passed: bool
    margin: float
    checks: tuple[GateCheck, ...]


@dataclass(frozen=True)
class AliasChange:
    """One alias move in the audit history; versions are 0 for 'none'."""

    id: int
    model_name: str
    alias: str
    from_version: int
    to_version: int
    actor: str
    time: datetime
    gate_overridden: bool
    reason: str
    gate: GateReport | None


@dataclass(frozen=True)
class Event:
    """One change in the registry, in commit order."""

    sequence: int
    type: EventType
    time: datetime
    model_name: str
    version: int = 0
    alias: str = ""
    previous_version: int = 0
    actor: str = ""
    trace_parent: str = ""  # W3C traceparent of the call that made the change


@dataclass(frozen=True)
class TagFilter:
    """Items carrying tag key (with value, when value is not empty)."""

    key: str
    value: str = ""


@dataclass(frozen=True)
class MetricFilter:
    """Versions having a metric (name, variable, lead) whose value satisfies the comparison."""

    name: str
    comparison: Comparison
    threshold: float
    variable: str = ""
    lead_time: timedelta | None = None


@dataclass(frozen=True)
class VersionQuery:
    """Filters of a version search."""

    model_name: str = ""
    tags: tuple[TagFilter, ...] = ()
    alias: str = ""
    metric_filters: tuple[MetricFilter, ...] = ()


@dataclass(frozen=True)
class VerifyOutcome:
    """Result of recomputing an artefact's digest."""

    result: str  # "MATCH", "MISMATCH" or "MISSING"
    expected_digest: str
    actual_digest: str = ""
    file_count: int = 0
    total_bytes: int = 0
    detail: str = ""
