"""Dataset manifests: what a dataset version holds, stored as JSON beside its data."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class VariableMeta:
    """One data variable."""

    name: str
    units: str
    long_name: str
    dims: tuple[str, ...]
    chunks: tuple[int, ...]
    missing_count: int


@dataclass(frozen=True)
class DimensionMeta:
    """One dimension; kind is time, level, latitude, longitude, station or other."""

    name: str
    kind: str
    size: int
    units: str = ""
    min: float = 0.0
    max: float = 0.0


@dataclass(frozen=True)
class Manifest:
    """An immutable dataset version. Times are ISO 8601 UTC strings; hashes "sha256:<hex>"."""

    dataset_id: str
    version: int
    content_hash: str
    store_path: str
    variables: tuple[VariableMeta, ...]
    dimensions: tuple[DimensionMeta, ...]
    time_start: str
    time_end: str
    time_steps: int
    time_step_seconds: float
    source_uri: str
    source_format: str
    source_size: int
    create_time: str
    created_by: str
    size_bytes: int
    parent_hash: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        data["variables"] = tuple(
            VariableMeta(**{**v, "dims": tuple(v["dims"]), "chunks": tuple(v["chunks"])})
            for v in data["variables"]
        )
        data["dimensions"] = tuple(DimensionMeta(**d) for d in data["dimensions"])
        return cls(**data)

    @property
    def variable_names(self) -> list[str]:
        return [v.name for v in self.variables]
