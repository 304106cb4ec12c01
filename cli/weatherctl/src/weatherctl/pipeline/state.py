"""The steps of a pipeline, their content keys, and the state file recording what they produced.

A step's key is the sha256 of its definition (the effective request: the recipe or job spec as
protobuf JSON, the analysis fields...), the sha256 of every file it reads (an ingested file's
bytes), and the keys of the steps it needs. Keys follow from the file alone, so `pipeline
status` shows them without the services. A step is up to date when the state file holds a
successful run under the same key whose inputs (the digests of its upstream steps' outputs) are
still the upstream steps' current outputs: a step that reruns and produces something new (a new
job, a new version) makes the steps after it run again; one that reproduces the same content (a
re-ingest of the same bytes) does not.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from weatherctl.pipeline.spec import Pipeline

KEY_FORMAT = 1
SUCCEEDED, FAILED, RUNNING = "succeeded", "failed", "running"


@dataclass(frozen=True)
class Step:
    """One step: its name ("train:cnn"), kind, keyed definition, files read and steps needed."""

    name: str
    kind: str
    definition: dict[str, Any]
    files: tuple[Path, ...]
    needs: tuple[str, ...]
    item: Any = None  # the spec object the step runs


def _message(message: Any) -> dict[str, Any]:
    return dict(json_format.MessageToDict(message, preserving_proto_field_name=True))


def plan(pipeline: Pipeline) -> list[Step]:
    """The pipeline's steps in run order: ingests, builds, analyses, jobs, promotion, forecast,
    pictures."""
    producers: dict[str, str] = {}
    steps: list[Step] = []

    def needs(*datasets: str) -> tuple[str, ...]:
        return tuple(producers[d] for d in datasets if d in producers)

    for source in pipeline.sources:
        name = f"ingest:{source.name}"
        definition = {
            # a local file counts by its content (below), not by its name or place
            "uri": source.uri if source.path is None else "",
            "dataset": source.dataset,
            "reference_year": source.reference_year,
            "variables": list(source.variables),
            "units": dict(sorted(source.units.items())),
        }
        if source.more_uris:  # only when set: the keys of single-file steps stay what they were
            local = {str(p) for p in source.more_paths}
            definition["more_uris"] = ["" if u in local else u for u in source.more_uris]
        if source.time_decoding:
            definition["time_decoding"] = source.time_decoding
        files = ((source.path,) if source.path is not None else ()) + source.more_paths
        steps.append(Step(name, "ingest", definition, files, (), source))
        producers[source.dataset] = name
    for build in pipeline.builds:
        name = f"build:{build.name}"
        steps.append(
            Step(name, "build", {"recipe": _message(build.recipe)}, (), needs(build.source), build)
        )
        producers[build.output] = name
    for analysis in pipeline.analyses:
        name = f"analysis:{analysis.name}"
        definition = {
            "source": analysis.source,
            "kind": analysis.kind,
            "output": analysis.output,
            "variables": list(analysis.variables),
            "calendar": analysis.calendar,
            "region": analysis.region,
            "box": list(analysis.box) if analysis.box else None,
            "anomalies": analysis.anomalies,
            "period": list(analysis.period) if analysis.period else None,
            "base_period": list(analysis.base_period) if analysis.base_period else None,
            "percentiles": list(analysis.percentiles),
            "thresholds": list(analysis.thresholds),
        }
        steps.append(Step(name, "analysis", definition, (), needs(analysis.source), analysis))
        producers[analysis.output] = name
    for job in pipeline.jobs:
        name = f"train:{job.name}"
        steps.append(
            Step(
                name,
                "train",
                {"spec": _message(job.spec)},
                (),
                needs(job.spec.dataset.dataset_id),
                job,
            )
        )
    if pipeline.promotion:
        moves = [
            {"job": p.job, "alias": p.alias, "validate_only": p.validate_only, "verify": p.verify}
            for p in pipeline.promotion
        ]
        trains = tuple(dict.fromkeys(f"train:{p.job}" for p in pipeline.promotion))
        steps.append(
            Step(
                "promote",
                "promote",
                {"model": pipeline.model, "moves": moves},
                (),
                trains,
                pipeline.promotion,
            )
        )
    if pipeline.forecast is not None:
        f = pipeline.forecast
        definition = {
            "model": pipeline.model,
            "alias": f.alias,
            "dataset": f.dataset,
            "variable": f.variable,
            "leads": list(f.leads),
            "init_every": f.init_every,
            "serving_timeout": f.serving_timeout,
            "tolerance": f.tolerance,
            "save_init": f.save_init,
        }
        served = f"train:{pipeline.forecast_job()}"
        steps.append(
            Step("forecast", "forecast", definition, (), ("promote", served, *needs(f.dataset)), f)
        )
    if pipeline.pictures is not None:
        upstream = [s.name for s in steps if s.kind in ("analysis", "train", "forecast")]
        steps.append(
            Step(
                "pictures",
                "pictures",
                {"out": pipeline.pictures.out},
                (),
                tuple(upstream),
                pipeline.pictures,
            )
        )
    return steps


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, or of a directory's files (relative names and bytes)."""
    digest = hashlib.sha256()
    if path.is_dir():
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(str(item.relative_to(path)).encode() + b"\0")
            digest.update(file_digest(item).encode())
        return "sha256:" + digest.hexdigest()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


def step_keys(steps: list[Step], digests: dict[Path, str] | None = None) -> dict[str, str]:
    """Every step's key (file digests computed once; pass `digests` to reuse them)."""
    cache = digests if digests is not None else {}
    keys: dict[str, str] = {}
    for step in steps:
        files = []
        for path in step.files:
            if path not in cache:
                cache[path] = file_digest(path)
            files.append(cache[path])
        material = {
            "format": KEY_FORMAT,
            "kind": step.kind,
            "definition": step.definition,
            "files": files,
            "needs": {name: keys[name] for name in step.needs},
        }
        keys[step.name] = "sha256:" + hashlib.sha256(_canonical(material)).hexdigest()
    return keys


def output_digest(outputs: dict[str, Any]) -> str:
    """sha256 of a step's recorded outputs (what the steps after it consumed)."""
    return "sha256:" + hashlib.sha256(_canonical(outputs)).hexdigest()


class State:
    """The state file of one pipeline in one suite: steps by name (key, status, outputs, the
    upstream output digests they consumed, times, error) and the runs (trace ids, results)."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    @classmethod
    def load(cls, path: Path, pipeline: str, target: str) -> tuple[State, str]:
        """The state at path, or an empty one; the note says why earlier state was dropped."""
        empty = {"pipeline": pipeline, "target": target, "steps": {}, "runs": []}
        if not path.exists():
            return cls(path, empty), ""
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            return cls(
                path, empty
            ), f"the state file {path} was unreadable ({exc}); starting afresh"
        if data.get("target") != target:
            note = (
                f"the state file was recorded against {data.get('target')}, this run uses "
                f"{target}: every step runs"
            )
            return cls(path, empty), note
        return cls(path, data), ""

    @classmethod
    def read(cls, path: Path, pipeline: str) -> State:
        """The state at path whatever suite it was recorded against (for status)."""
        try:
            return cls(path, json.loads(path.read_text()))
        except (OSError, ValueError):
            return cls(path, {"pipeline": pipeline, "target": "", "steps": {}, "runs": []})

    @property
    def steps(self) -> dict[str, dict[str, Any]]:
        return self.data["steps"]  # type: ignore[no-any-return]

    def save(self) -> None:
        """Written atomically (a temporary file renamed over the old one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.data, indent=2, sort_keys=True) + "\n")
        os.replace(temporary, self.path)

    def outputs(self, name: str) -> dict[str, Any]:
        return dict(self.steps.get(name, {}).get("outputs") or {})

    def verdict(self, step: Step, key: str) -> tuple[bool, str]:
        """(up to date, why) for a step about to run, given its upstream steps' current records."""
        entry = self.steps.get(step.name)
        if entry is None:
            return False, "not run yet"
        if entry.get("key") != key:
            return False, "definition or inputs changed"
        if entry.get("status") != SUCCEEDED:
            return False, f"{entry.get('status')} last time"
        consumed = entry.get("inputs", {})
        for upstream in step.needs:
            if consumed.get(upstream) != output_digest(self.outputs(upstream)):
                return False, f"{upstream} produced something new"
        return True, "unchanged"

    def begin(self, step: Step, key: str) -> None:
        previous = self.steps.get(step.name, {})
        self.steps[step.name] = {
            "key": key,
            "status": RUNNING,
            "started": _now(),
            "outputs": previous.get("outputs") if previous.get("key") == key else None,
            "inputs": {u: output_digest(self.outputs(u)) for u in step.needs},
        }
        self.save()

    def finish(
        self, step: Step, outputs: dict[str, Any], error: str = "", seconds: float = 0.0
    ) -> None:
        entry = self.steps[step.name]
        entry.update(
            status=FAILED if error else SUCCEEDED,
            finished=_now(),
            seconds=round(seconds, 1),
            outputs=outputs,
        )
        if error:
            entry["error"] = error
        else:
            entry.pop("error", None)
        self.save()

    def record_run(self, run: dict[str, Any]) -> None:
        self.data["runs"] = [*self.data.get("runs", [])[-19:], run]
        self.save()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
