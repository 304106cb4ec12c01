"""Job records and their durable store: one JSON file per job, replaced atomically per change."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from weather_runtime.errors import FieldViolation
from weather_runtime.work import OperationError, State
from weather_trainer.spec import (
    Epoch,
    LeadScores,
    ParameterRange,
    SearchSpec,
    SystemScores,
    TensorInfo,
    TrainSpec,
    TrialResult,
)


@dataclass(frozen=True)
class Progress:
    """Where a job stands."""

    stage: str = "queued"
    epoch: int = 0
    total_epochs: int = 0
    fraction: float = 0.0
    seconds_left: float = 0.0
    best_validation_loss: float = 0.0


@dataclass(frozen=True)
class JobRecord:
    """Everything known about one job."""

    job_id: str
    spec: TrainSpec
    state: State
    creator: str
    create_time: datetime
    request_id: str = ""
    progress: Progress = field(default_factory=Progress)
    epochs: tuple[Epoch, ...] = ()
    trials: tuple[TrialResult, ...] = ()
    scores: tuple[LeadScores, ...] = ()
    artifact_uri: str = ""
    artifact_digest: str = ""
    # the exported model's serving signature: with artifact_uri, all a registration needs
    signature_inputs: tuple[TensorInfo, ...] = ()
    signature_outputs: tuple[TensorInfo, ...] = ()
    registered_model: str = ""
    registered_version: int = 0
    dataset_hash: str = ""
    recipe_hash: str = ""
    stats_hash: str = ""
    code_version: str = ""
    error: OperationError | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    resumes: int = 0
    resumed_from_epoch: int = 0
    sequence: int = 0

    @property
    def final(self) -> bool:
        """Whether the job has ended for good."""
        return self.state.final


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _spec(data: dict[str, Any]) -> TrainSpec:
    search = data.get("search")
    if search is not None:
        search = SearchSpec(
            method=search["method"],
            parameters=tuple(
                ParameterRange(**{**p, "values": tuple(p["values"])}) for p in search["parameters"]
            ),
            max_trials=search["max_trials"],
            parallel_trials=search["parallel_trials"],
        )
    return TrainSpec(
        **{
            **data,
            "lead_steps": tuple(data["lead_steps"]),
            "variables": tuple(data["variables"]),
            "search": search,
        }
    )


def _lead(data: dict[str, Any]) -> LeadScores:
    systems = {k: SystemScores(**data[k]) for k in ("model", "persistence", "climatology")}
    return LeadScores(
        variable=data["variable"],
        lead_seconds=data["lead_seconds"],
        samples=data["samples"],
        method=data.get("method", "direct"),  # records before rollout scoring: all direct
        **systems,
    )


def _tensors(data: Any) -> tuple[TensorInfo, ...]:
    return tuple(TensorInfo(t["name"], t["dtype"], tuple(t["shape"])) for t in data)


def to_json(record: JobRecord) -> str:
    """The record as JSON text."""

    def encode(value: object) -> object:
        if isinstance(value, datetime):
            return value.isoformat()
        raise TypeError(type(value).__name__)

    return json.dumps(dataclasses.asdict(record), default=encode, sort_keys=True)


def from_json(text: str) -> JobRecord:
    """A record from its JSON text."""
    data = json.loads(text)
    error = data.get("error")
    return JobRecord(
        **{
            **data,
            "spec": _spec(data["spec"]),
            "state": State(data["state"]),
            "progress": Progress(**data["progress"]),
            "epochs": tuple(Epoch(**e) for e in data["epochs"]),
            "trials": tuple(TrialResult(**t) for t in data["trials"]),
            "scores": tuple(_lead(s) for s in data["scores"]),
            "signature_inputs": _tensors(data.get("signature_inputs", ())),
            "signature_outputs": _tensors(data.get("signature_outputs", ())),
            "error": None
            if error is None
            else OperationError(
                error["code"],
                error["message"],
                tuple(FieldViolation(**f) for f in error["fields"]),
            ),
            "create_time": _time(data["create_time"]),
            "start_time": _time(data["start_time"]),
            "end_time": _time(data["end_time"]),
        }
    )


def now() -> datetime:
    """The current UTC time."""
    return datetime.now(tz=UTC)


class JobStore:
    """Job records under root/jobs/<id>/job.json; request ids map to jobs under root/requests/."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "jobs").mkdir(parents=True, exist_ok=True)
        (root / "requests").mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def job_dir(self, job_id: str) -> Path:
        """Where a job keeps its record, checkpoints and SavedModel."""
        return self.root / "jobs" / job_id

    def _write(self, path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "w") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def _request_path(self, request_id: str) -> Path:
        return self.root / "requests" / hashlib.sha256(request_id.encode()).hexdigest()

    def by_request(self, request_id: str) -> JobRecord | None:
        """The job created with request_id, or None."""
        try:
            return self.get(self._request_path(request_id).read_text().strip())
        except FileNotFoundError:
            return None

    def create(self, record: JobRecord) -> JobRecord:
        """Stores a new record; with a request id already used, returns that job instead."""
        with self._lock:
            if record.request_id and (found := self.by_request(record.request_id)) is not None:
                return found
            self._write(self.job_dir(record.job_id) / "job.json", to_json(record))
            if record.request_id:
                self._write(self._request_path(record.request_id), record.job_id)
            return record

    def save(self, record: JobRecord, **changes: object) -> JobRecord:
        """Stores record with changes applied (and its sequence advanced); returns it."""
        updated = replace(record, sequence=record.sequence + 1, **changes)  # type: ignore[arg-type]
        with self._lock:
            self._write(self.job_dir(record.job_id) / "job.json", to_json(updated))
        return updated

    def get(self, job_id: str) -> JobRecord | None:
        """The record of job_id, or None."""
        if not job_id or "/" in job_id or job_id.startswith("."):
            return None
        if len(job_id) > 200 or "\x00" in job_id:  # no job has such an id (nor file name)
            return None
        path = self.job_dir(job_id) / "job.json"
        try:
            return from_json(path.read_text())
        except FileNotFoundError:
            return None

    def all(self) -> list[JobRecord]:
        """Every stored record, newest first (ties by id)."""
        records = []
        for folder in (self.root / "jobs").iterdir():
            record = self.get(folder.name)
            if record is not None:
                records.append(record)
        records.sort(key=lambda r: (r.create_time, r.job_id), reverse=True)
        return records
