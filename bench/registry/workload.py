"""The workload every backend runs: what a version carries and the client interface."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol

READ_MODEL = "bench-read"
WRITE_MODEL = "bench-write"
ALIAS = "staging"
SEED_VERSIONS = 200
LIST_PAGE_SIZE = 20
BASELINES = ("persistence", "climatology")


@dataclass(frozen=True)
class MetricSpec:
    """One score a version carries: metric, variable, lead time and which direction is better."""

    name: str
    variable: str
    lead_hours: int
    goal: str  # "minimize" or "maximize"


METRICS = (
    MetricSpec("rmse", "t2m", 24, "minimize"),
    MetricSpec("rmse", "z500", 72, "minimize"),
    MetricSpec("mae", "t2m", 24, "minimize"),
    MetricSpec("acc", "z500", 120, "maximize"),
)


@dataclass(frozen=True)
class Score:
    """A metric's value for one version and the values of its baselines."""

    spec: MetricSpec
    value: float
    baselines: dict[str, float]


@dataclass(frozen=True)
class VersionPayload:
    """Everything one registered version carries: 4 metrics with 2 baselines each, 2 tags."""

    artifact_uri: str
    digest: str
    scores: tuple[Score, ...]
    tags: dict[str, str]


def make_payload(rng: random.Random) -> VersionPayload:
    """A random but well-formed version."""
    run = f"{rng.getrandbits(64):016x}"
    return VersionPayload(
        artifact_uri=f"/tmp/bench-artifacts/{run}/model",
        digest=f"sha256:{rng.getrandbits(256):064x}",
        scores=tuple(_score(spec, rng) for spec in METRICS),
        tags={"run": run, "dataset": "era5-1deg"},
    )


def _score(spec: MetricSpec, rng: random.Random) -> Score:
    if spec.goal == "maximize":
        value = rng.uniform(0.80, 0.95)
        return Score(spec, value, {b: value - rng.uniform(0.05, 0.3) for b in BASELINES})
    value = rng.uniform(0.5, 2.0)
    return Score(spec, value, {b: value * rng.uniform(1.1, 2.0) for b in BASELINES})


class Client(Protocol):
    """One thread's connection to a registry; every call blocks until it is answered."""

    def create_model(self, model: str) -> None:
        """Registers a model name."""

    def create_version(self, model: str, payload: VersionPayload) -> int:
        """Registers a version; returns its number."""

    def get_version(self, model: str, version: int) -> int:
        """Fetches a version; returns the number it carries."""

    def list_versions(self, model: str, page_size: int) -> int:
        """Fetches the first page of a model's versions; returns how many came back."""

    def set_alias(self, model: str, alias: str, version: int) -> None:
        """Points an alias at a version."""

    def version_numbers(self, model: str) -> list[int]:
        """Every stored version number of a model, duplicates included, in any order."""

    def close(self) -> None:
        """Releases the connection."""


class Backend(Protocol):
    """A registry under test, already running: hands out clients and names its errors."""

    name: str

    def new_client(self) -> Client:
        """A fresh client with its own connection."""

    def describe_error(self, exc: Exception) -> str:
        """A short, stable description of a failed call, used to group errors."""
