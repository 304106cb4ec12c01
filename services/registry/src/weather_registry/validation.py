"""Checks of client input; each problem names the request field it concerns."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from weather_registry.records import Metric, NewVersion
from weather_runtime.artifacts import DIGEST_PATTERN
from weather_runtime.errors import FieldViolation, InvalidArgument
from weather_runtime.uris import UriPolicy

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
ALIAS = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
METRIC_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
TAG_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:-]{0,127}$")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
MAX_TAG_VALUE = 4096
MAX_TEXT = 16384
MAX_METRICS = 10000
METHODS = ("", "direct", "rollout")  # how a scored forecast was made (Metric.method)
MAX_ID = 256


class Violations:
    """Collects field violations and raises them together."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self.items.append(FieldViolation(field, description))

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(self.items)


def require_name(value: str, field: str, violations: Violations) -> None:
    """A model name: a letter or digit then letters, digits, '.', '_', '-'; at most 128."""
    if not NAME.match(value):
        violations.add(field, "must be 1-128 characters: a letter or digit, then [A-Za-z0-9._-]")


def require_alias(value: str, field: str, violations: Violations) -> None:
    """An alias: a lowercase letter then [a-z0-9_-], at most 64."""
    if not ALIAS.match(value):
        violations.add(field, "must be 1-64 characters: a lowercase letter, then [a-z0-9_-]")


def require_version(value: int, field: str, violations: Violations) -> None:
    """A version number is positive."""
    if value < 1:
        violations.add(field, "must be a version number of 1 or more")


def check_tags(tags: Mapping[str, str], field: str, violations: Violations) -> None:
    """Tag keys and values within limits."""
    for key, value in tags.items():
        if not TAG_KEY.match(key):
            violations.add(f"{field}[{key!r}]", "tag keys are 1-128 of [A-Za-z0-9._/:-]")
        if len(value) > MAX_TAG_VALUE:
            violations.add(
                f"{field}[{key!r}]", f"tag values are at most {MAX_TAG_VALUE} characters"
            )


def check_tag_keys(keys: Iterable[str], field: str, violations: Violations) -> None:
    """Tag keys to remove are well-formed."""
    for index, key in enumerate(keys):
        if not TAG_KEY.match(key):
            violations.add(f"{field}[{index}]", "tag keys are 1-128 of [A-Za-z0-9._/:-]")


def check_text(value: str, field: str, violations: Violations, limit: int = MAX_TEXT) -> None:
    """Free text within a length limit."""
    if len(value) > limit:
        violations.add(field, f"must be at most {limit} characters")


def check_hash(value: str, field: str, violations: Violations, required: bool = False) -> None:
    """A content hash "sha256:<64 hex>" (empty allowed unless required)."""
    if not value and not required:
        return
    if not DIGEST_PATTERN.match(value):
        violations.add(field, 'must be "sha256:" followed by 64 lowercase hex digits')


def check_artifact_uri(uri: str, policy: UriPolicy, field: str, violations: Violations) -> None:
    """An absolute path or URL the shared URI policy allows (roots, schemes, hosts; no I/O)."""
    try:
        policy.check(uri, field)
    except InvalidArgument as exc:
        violations.items.extend(exc.violations)


def check_metrics(metrics: tuple[Metric, ...], field: str, violations: Violations) -> None:
    """Metric names, finite values, known goals and methods, non-negative leads, no
    duplicates."""
    if len(metrics) > MAX_METRICS:
        violations.add(field, f"at most {MAX_METRICS} metrics per version")
        return
    seen: set[tuple[str, str, float]] = set()
    for index, metric in enumerate(metrics):
        at = f"{field}[{index}]"
        if not METRIC_NAME.match(metric.name):
            violations.add(f"{at}.name", "must be 1-64 characters: a letter then [A-Za-z0-9_.-]")
        if not metric.variable or len(metric.variable) > 64:
            violations.add(f"{at}.variable", "must be 1-64 characters")
        if metric.lead_time.total_seconds() < 0:
            violations.add(f"{at}.lead_time", "must not be negative")
        if not math.isfinite(metric.value):
            violations.add(f"{at}.value", "must be a finite number")
        if metric.goal not in (1, 2, 3):
            violations.add(f"{at}.goal", "must be MINIMIZE, MAXIMIZE or ZERO")
        if metric.method not in METHODS:
            violations.add(f"{at}.method", 'must be empty, "direct" or "rollout"')
        key = (metric.name, metric.variable, metric.lead_time.total_seconds())
        if key in seen:
            violations.add(at, "duplicates an earlier metric with the same name, variable and lead")
        seen.add(key)
        for baseline, value in metric.baselines.items():
            if not METRIC_NAME.match(baseline):
                violations.add(f"{at}.baselines", f"baseline name {baseline!r} is malformed")
            if not math.isfinite(value):
                violations.add(f"{at}.baselines", f"baseline {baseline!r} must be finite")


def check_new_version(new: NewVersion, uris: UriPolicy) -> None:
    """Validates a version registration; raises InvalidArgument naming every bad field."""
    violations = Violations()
    require_name(new.model_name, "model_name", violations)
    check_artifact_uri(new.artifact_uri, uris, "artifact_uri", violations)
    check_hash(new.artifact_digest, "artifact_digest", violations, required=True)
    lineage = new.lineage
    check_hash(lineage.dataset_hash, "lineage.dataset.content_hash", violations)
    check_hash(lineage.recipe_hash, "lineage.recipe_hash", violations)
    check_hash(lineage.normalisation_stats_hash, "lineage.normalisation_stats_hash", violations)
    check_text(lineage.dataset_id, "lineage.dataset.dataset_id", violations, MAX_ID)
    check_text(lineage.training_job_id, "lineage.training_job_id", violations, MAX_ID)
    check_text(lineage.code_version, "lineage.code_version", violations, MAX_ID)
    for index, spec in enumerate(new.signature.inputs + new.signature.outputs):
        kind = "inputs" if index < len(new.signature.inputs) else "outputs"
        at = index if kind == "inputs" else index - len(new.signature.inputs)
        if not spec.name:
            violations.add(f"signature.{kind}[{at}].name", "must not be empty")
        if any(dim < -1 for dim in spec.shape):
            violations.add(f"signature.{kind}[{at}].shape", "dimensions are -1 (unknown) or >= 0")
    check_metrics(new.metrics, "metrics", violations)
    check_tags(new.tags, "tags", violations)
    check_text(new.description, "description", violations)
    if new.request_id and not REQUEST_ID.match(new.request_id):
        violations.add("request_id", "must be 1-128 of [A-Za-z0-9._:-]")
    violations.raise_if_any()
