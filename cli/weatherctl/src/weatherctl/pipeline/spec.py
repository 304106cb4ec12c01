"""Pipeline files: the YAML format, its validation and the steps it defines.

A pipeline file names what the suite should do, in order (see data/pipelines/demo.yaml):

    version: 1
    name: demo
    model: era5-t2m-forecast           # the registered model every job registers under
    sources:                           # ingest steps
      - {uri: ../demo/x.grib, dataset: era5-t2m, reference_year: 0}
      - {uri: z.nc, more_uris: [u.nc], dataset: zu,    # several files forming one dataset
         time_decoding: {variable: time_index, units: time_units}}   # hints (TimeDecoding)
    builds:                            # training datasets from recipe files
      - {recipe: ../recipes/era5-t2m.yaml}
    analyses:                          # climate analyses of ingested datasets
      - {name: nino4, source: navy-winds, kind: area-mean, variables: [UWND], region: nino4,
         anomalies: true, output: navy-winds-nino4-anomaly}
    jobs:                              # trainer jobs from job spec files
      - {name: cnn, spec: ../jobs/era5-t2m-cnn.yaml}
    promotion:                         # alias moves through the registry, in order
      - {job: cnn, alias: production, verify: true}
      - {job: ridge, alias: production, validate_only: true}
    forecast:                          # through the predictor, scored against the archive
      {alias: production, dataset: era5-t2m-train, leads: 1-24, init_every: 1, tolerance: 0.01}
    pictures: {out: plots}             # optional

Relative paths are relative to the pipeline file. `load` checks everything it can without the
services (types, unknown keys, referenced files and that they parse, names referred to) and
raises PipelineFileError listing every problem as `FILE: PATH.TO.FIELD: what was expected`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format
from weather.preprocess.v1 import preprocess_service_pb2 as ppb
from weather.trainer.v1 import trainer_service_pb2 as tpb

from weatherctl.leads import parse_leads
from weatherctl.recipes import recipe_from_yaml
from weatherctl.train_commands import SpecError, spec_from_yaml, with_lead_times

FORMAT_VERSION = 1
ANALYSIS_KINDS = {
    "climatology": ppb.ANALYSIS_KIND_CLIMATOLOGY,
    "anomalies": ppb.ANALYSIS_KIND_ANOMALIES,
    "trend": ppb.ANALYSIS_KIND_TREND,
    "area-mean": ppb.ANALYSIS_KIND_AREA_MEAN,
    "extremes": ppb.ANALYSIS_KIND_EXTREMES,
}
CALENDARS = {
    "month": ppb.CALENDAR_KEY_MONTH,
    "dayofyear": ppb.CALENDAR_KEY_DAY_OF_YEAR,
    "hour": ppb.CALENDAR_KEY_HOUR,
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TIME = re.compile(r"^\d{4}-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2})?Z?)?)?$")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a pipeline file: where (a path such as `jobs[1].spec`) and what."""

    path: str
    message: str


class PipelineFileError(ValueError):
    """A pipeline file that cannot be run; `problems` lists everything found."""

    def __init__(self, file: Path | str, problems: list[Problem]) -> None:
        self.file = str(file)
        self.problems = problems
        super().__init__("\n".join(f"{self.file}: {p.path}: {p.message}" for p in problems))


@dataclass(frozen=True)
class Source:
    """An ingest: a file or store into an archive dataset."""

    name: str
    uri: str  # an absolute path, or a URL with a scheme
    dataset: str
    reference_year: int = 0
    variables: tuple[str, ...] = ()
    units: dict[str, str] = field(default_factory=dict)
    path: Path | None = None  # the local file, hashed into the step key
    more_uris: tuple[str, ...] = ()  # further files forming the dataset (source_uris)
    more_paths: tuple[Path, ...] = ()  # the local ones among them, hashed into the step key
    time_decoding: dict[str, Any] = field(default_factory=dict)  # TimeDecoding fields set


@dataclass(frozen=True)
class Build:
    """A training dataset built from a recipe file."""

    name: str
    recipe_file: Path
    recipe: ppb.Recipe
    output: str  # the recipe's output dataset id
    source: str  # the recipe's input dataset id


@dataclass(frozen=True)
class Episode:
    """A labelled period (months YYYY-MM) over which an area-mean series is averaged."""

    label: str
    start: str
    end: str


@dataclass(frozen=True)
class Analysis:
    """A climate analysis of an archive dataset (StartAnalysisRequest's fields)."""

    name: str
    source: str
    kind: str
    output: str
    variables: tuple[str, ...] = ()
    calendar: str = "month"
    region: str = ""  # a named region (nino4, nino3.4, global...)
    box: tuple[float, float, float, float] | None = None  # lat_min, lat_max, lon_min, lon_max
    anomalies: bool = False
    period: tuple[str, str] | None = None
    base_period: tuple[str, str] | None = None
    percentiles: tuple[float, ...] = ()
    thresholds: tuple[float, ...] = ()
    # a trend's p-value below which a point counts as significant (pictures; the service's
    # own summary uses 0.05)
    significance: float | None = None
    episodes: tuple[Episode, ...] = ()


@dataclass(frozen=True)
class Job:
    """A trainer job from a job spec file, with overrides and the pipeline's model name."""

    name: str
    spec_file: Path
    spec: tpb.JobSpec


@dataclass(frozen=True)
class Promotion:
    """One alias move (or, validate_only, the gate's verdict on one) of a job's version."""

    job: str
    alias: str
    validate_only: bool = False
    verify: bool = False  # recompute the artefact digest and show the lineage afterwards


@dataclass(frozen=True)
class Forecast:
    """Forecasts of a dataset's test split through the predictor, scored against the archive."""

    alias: str
    dataset: str
    variable: str
    leads: tuple[int, ...]
    init_every: int = 1
    serving_timeout: float = 180.0
    tolerance: float | None = None  # served vs registered RMSE, relative, at every lead
    save_init: str = ""  # the init time saved as NetCDF; empty: the first one forecast


@dataclass(frozen=True)
class Pictures:
    """The picture step (weatherctl.plots.demo_pictures), pictures under the data dir."""

    out: str = "plots"


@dataclass(frozen=True)
class Pipeline:
    """A validated pipeline file."""

    file: Path
    name: str
    model: str
    sources: tuple[Source, ...] = ()
    builds: tuple[Build, ...] = ()
    analyses: tuple[Analysis, ...] = ()
    jobs: tuple[Job, ...] = ()
    promotion: tuple[Promotion, ...] = ()
    forecast: Forecast | None = None
    pictures: Pictures | None = None

    def job(self, name: str) -> Job:
        return next(j for j in self.jobs if j.name == name)

    def forecast_job(self) -> str:
        """The job whose version the forecast's alias gets (the last move to it)."""
        assert self.forecast is not None
        moves = [p for p in self.promotion if p.alias == self.forecast.alias]
        return [p for p in moves if not p.validate_only][-1].job


class _Checker:
    """Reads values out of YAML mappings, recording problems by path."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, " ".join(message.split())))  # one line each

    def mapping(self, value: Any, path: str, allowed: tuple[str, ...]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.fail(
                path, f"expected a mapping with keys {', '.join(allowed)}, got {_kind(value)}"
            )
            return None
        for key in value:
            if key not in allowed:
                self.fail(
                    _join(path, str(key)),
                    f"unknown field; expected one of {', '.join(allowed)}",
                )
        return value

    def items(self, data: dict[str, Any], key: str, path: str) -> list[Any]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(_join(path, key), f"expected a list, got {_kind(value)}")
            return []
        return value

    def text(
        self, data: dict[str, Any], key: str, path: str, required: bool = False, default: str = ""
    ) -> str:
        value = data.get(key)
        if value is None:
            if required:
                self.fail(_join(path, key), "required: expected a string")
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(_join(path, key), f"expected a string, got {_kind(value)}")
            return default
        return str(value)

    def name(
        self, data: dict[str, Any], key: str, path: str, required: bool = False, default: str = ""
    ) -> str:
        value = self.text(data, key, path, required, default)
        if value and not _NAME.match(value):
            self.fail(
                _join(path, key),
                f"expected a name of letters, digits, '.', '_' and '-', got {value!r}",
            )
        return value

    def integer(
        self, data: dict[str, Any], key: str, path: str, default: int, minimum: int | None = None
    ) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(_join(path, key), f"expected an integer, got {_kind(value)}")
            return default
        if minimum is not None and value < minimum:
            self.fail(_join(path, key), f"expected an integer >= {minimum}, got {value}")
        return value

    def number(
        self, data: dict[str, Any], key: str, path: str, default: float | None
    ) -> float | None:
        value = data.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(_join(path, key), f"expected a number, got {_kind(value)}")
            return default
        return float(value)

    def flag(self, data: dict[str, Any], key: str, path: str) -> bool:
        value = data.get(key, False)
        if not isinstance(value, bool):
            self.fail(_join(path, key), f"expected true or false, got {_kind(value)}")
            return False
        return value

    def strings(self, data: dict[str, Any], key: str, path: str) -> tuple[str, ...]:
        value = data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(_join(path, key), f"expected a list of strings, got {_kind(value)}")
            return ()
        return tuple(value)

    def numbers(self, data: dict[str, Any], key: str, path: str) -> tuple[float, ...]:
        value = data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value
        ):
            self.fail(_join(path, key), f"expected a list of numbers, got {_kind(value)}")
            return ()
        return tuple(float(v) for v in value)

    def period(self, data: dict[str, Any], key: str, path: str) -> tuple[str, str] | None:
        value = data.get(key)
        if value is None:
            return None
        where = _join(path, key)
        checked = self.mapping(value, where, ("start", "end"))
        if checked is None:
            return None
        ends = []
        for end in ("start", "end"):
            text = self.text(checked, end, where, required=True)
            if text and not _TIME.match(text):
                self.fail(
                    _join(where, end), f"expected a UTC time like 2019-03-25T00:00Z, got {text!r}"
                )
            ends.append(text)
        return ends[0], ends[1]

    def file(self, base: Path, data: dict[str, Any], key: str, path: str, what: str) -> Path | None:
        text = self.text(data, key, path, required=True)
        if not text:
            return None
        found = (base / text).resolve()
        if not found.is_file():
            self.fail(_join(path, key), f"{what} {text} not found (looked for {found})")
            return None
        return found


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


TOP_LEVEL = (
    "version",
    "name",
    "model",
    "description",
    "sources",
    "builds",
    "analyses",
    "jobs",
    "promotion",
    "forecast",
    "pictures",
)


def load(path: Path | str) -> Pipeline:
    """Reads and validates a pipeline file; PipelineFileError lists every problem."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise PipelineFileError(
            path, [Problem("(file)", f"cannot be read: {exc.strerror}")]
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f"line {where.line + 1}: " if where is not None else ""
        raise PipelineFileError(path, [Problem("(file)", f"{line}not valid YAML")]) from None
    return parse(data, path)


def parse(data: Any, path: Path) -> Pipeline:
    """A Pipeline from YAML data read from path (relative references resolve beside it)."""
    check = _Checker()
    base = path.resolve().parent
    top = check.mapping(data, "(top level)", TOP_LEVEL)
    if top is None:
        raise PipelineFileError(path, check.problems)
    version = top.get("version")
    if version != FORMAT_VERSION:
        check.fail(
            "version", f"expected {FORMAT_VERSION} (the pipeline file format), got {_kind(version)}"
        )
    name = check.name(top, "name", "", required=True)
    model = check.name(top, "model", "", required=True)
    check.text(top, "description", "")
    sources = _sources(check, base, top)
    builds = _builds(check, base, top)
    analyses = _analyses(check, top)
    jobs = _jobs(check, base, top, model)
    listed = top.get("jobs")
    declared = {j.get("name") for j in listed or [] if isinstance(j, dict)}  # loaded or not
    promotion = _promotion(check, top, {str(n) for n in declared if n})
    forecast = _forecast(check, top, promotion)
    pictures = None
    if top.get("pictures") is not None:
        given = check.mapping(top["pictures"], "pictures", ("out",))
        pictures = Pictures(out=check.text(given or {}, "out", "pictures", default="plots"))
    produced = (
        [s.dataset for s in sources] + [b.output for b in builds] + [a.output for a in analyses]
    )
    for dataset in sorted({d for d in produced if produced.count(d) > 1}):
        check.fail(
            "(datasets)", f"expected each dataset made by one step, {dataset!r} is made twice"
        )
    if check.problems:
        raise PipelineFileError(path, check.problems)
    return Pipeline(
        file=path.resolve(),
        name=name,
        model=model,
        sources=tuple(sources),
        builds=tuple(builds),
        analyses=tuple(analyses),
        jobs=tuple(jobs),
        promotion=tuple(promotion),
        forecast=forecast,
        pictures=pictures,
    )


def _unique(check: _Checker, names: list[str], path: str) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name and name in seen:
            check.fail(
                f"{path}[{index}].name", f"expected a name unique in {path}, {name!r} repeats"
            )
        seen.add(name)


_TIME_DECODING = ("variable", "units", "reference_time", "step_units", "renames")


def _located(check: _Checker, base: Path, uri: str, path: str) -> tuple[str, Path | None]:
    """(uri, the local file or None): a relative path made absolute and checked to exist."""
    if not uri or "://" in uri:
        return uri, None
    local = (base / uri).resolve()
    if not local.exists():
        check.fail(path, f"expected a file or store, {uri} not found (looked for {local})")
    return str(local), local


def _time_decoding(check: _Checker, data: dict[str, Any], where: str) -> dict[str, Any]:
    """The TimeDecoding fields a source sets (an empty mapping when it sets none)."""
    path = f"{where}.time_decoding"
    if data.get("time_decoding") is None:
        return {}
    hints = check.mapping(data["time_decoding"], path, _TIME_DECODING)
    if hints is None:
        return {}
    found: dict[str, Any] = {
        key: check.text(hints, key, path) for key in _TIME_DECODING[:-1] if key in hints
    }
    renames = hints.get("renames") or {}
    if not isinstance(renames, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in renames.items()
    ):
        check.fail(f"{path}.renames", "expected a mapping of SOURCE_NAME: NEW_NAME")
    elif renames:
        found["renames"] = dict(sorted(renames.items()))
    return found


def _sources(check: _Checker, base: Path, top: dict[str, Any]) -> list[Source]:
    found = []
    allowed = (
        "name",
        "uri",
        "more_uris",
        "dataset",
        "reference_year",
        "variables",
        "units",
        "time_decoding",
    )
    for index, item in enumerate(check.items(top, "sources", "")):
        where = f"sources[{index}]"
        data = check.mapping(item, where, allowed)
        if data is None:
            continue
        uri, local = _located(
            check, base, check.text(data, "uri", where, required=True), f"{where}.uri"
        )
        more = [
            _located(check, base, other, f"{where}.more_uris[{i}]")
            for i, other in enumerate(check.strings(data, "more_uris", where))
        ]
        dataset = check.name(data, "dataset", where, required=True)
        units = data.get("units") or {}
        if not isinstance(units, dict) or not all(isinstance(v, str) for v in units.values()):
            check.fail(f"{where}.units", "expected a mapping of VARIABLE: UNITS")
            units = {}
        found.append(
            Source(
                name=check.name(data, "name", where, default=dataset),
                uri=uri,
                dataset=dataset,
                reference_year=check.integer(data, "reference_year", where, 0, minimum=0),
                variables=check.strings(data, "variables", where),
                units={str(k): str(v) for k, v in units.items()},
                path=local if local is not None and local.exists() else None,
                more_uris=tuple(other for other, _ in more),
                more_paths=tuple(p for _, p in more if p is not None and p.exists()),
                time_decoding=_time_decoding(check, data, where),
            )
        )
    _unique(check, [s.name for s in found], "sources")
    return found


def _builds(check: _Checker, base: Path, top: dict[str, Any]) -> list[Build]:
    found = []
    for index, item in enumerate(check.items(top, "builds", "")):
        where = f"builds[{index}]"
        data = check.mapping(item, where, ("name", "recipe"))
        if data is None:
            continue
        recipe_file = check.file(base, data, "recipe", where, "recipe file")
        if recipe_file is None:
            continue
        try:
            recipe = recipe_from_yaml(recipe_file.read_text())
        except (ValueError, json_format.ParseError, yaml.YAMLError) as exc:
            check.fail(
                f"{where}.recipe", f"expected a recipe (weather.preprocess.v1.Recipe fields): {exc}"
            )
            continue
        if not recipe.output_dataset_id:
            check.fail(f"{where}.recipe", f"{recipe_file.name} names no output_dataset_id")
            continue
        found.append(
            Build(
                name=check.name(data, "name", where, default=recipe.output_dataset_id),
                recipe_file=recipe_file,
                recipe=recipe,
                output=recipe.output_dataset_id,
                source=recipe.source.dataset_id,
            )
        )
    _unique(check, [b.name for b in found], "builds")
    return found


def _box(
    check: _Checker, data: dict[str, Any], where: str
) -> tuple[float, float, float, float] | None:
    if data.get("box") is None:
        return None
    edges = ("lat_min", "lat_max", "lon_min", "lon_max")
    given = check.mapping(data["box"], f"{where}.box", edges)
    if given is None:
        return None
    values = [check.number(given, e, f"{where}.box", None) for e in edges]
    if None in values:
        check.fail(f"{where}.box", "expected all of lat_min, lat_max, lon_min, lon_max")
        return None
    lat_min, lat_max, lon_min, lon_max = (float(v or 0) for v in values)
    return lat_min, lat_max, lon_min, lon_max


def _episodes(check: _Checker, data: dict[str, Any], where: str) -> list[Episode]:
    episodes = []
    for number, episode in enumerate(check.items(data, "episodes", where)):
        at = f"{where}.episodes[{number}]"
        given = check.mapping(episode, at, ("label", "start", "end"))
        if given is None:
            continue
        ends = [check.text(given, e, at, required=True) for e in ("start", "end")]
        for end, text in zip(("start", "end"), ends, strict=True):
            if text and not re.match(r"^\d{4}-\d{2}$", text):
                check.fail(f"{at}.{end}", f"expected a month like 1982-09, got {text!r}")
        episodes.append(Episode(check.text(given, "label", at, required=True), ends[0], ends[1]))
    return episodes


def _analyses(check: _Checker, top: dict[str, Any]) -> list[Analysis]:
    found = []
    allowed = (
        "name",
        "source",
        "kind",
        "variables",
        "calendar",
        "region",
        "box",
        "anomalies",
        "period",
        "base_period",
        "percentiles",
        "thresholds",
        "output",
        "significance",
        "episodes",
    )
    for index, item in enumerate(check.items(top, "analyses", "")):
        where = f"analyses[{index}]"
        data = check.mapping(item, where, allowed)
        if data is None:
            continue
        kind = check.text(data, "kind", where, required=True)
        if kind and kind not in ANALYSIS_KINDS:
            check.fail(
                f"{where}.kind", f"expected one of {', '.join(ANALYSIS_KINDS)}, got {kind!r}"
            )
        calendar = check.text(data, "calendar", where, default="month")
        if calendar not in CALENDARS:
            check.fail(
                f"{where}.calendar", f"expected one of {', '.join(CALENDARS)}, got {calendar!r}"
            )
        box = _box(check, data, where)
        significance = check.number(data, "significance", where, None)
        if significance is not None and (kind != "trend" or not 0 < significance < 1):
            check.fail(
                f"{where}.significance", "expected a p-value threshold in (0, 1), for kind trend"
            )
        episodes = _episodes(check, data, where)
        if episodes and kind != "area-mean":
            check.fail(f"{where}.episodes", "expected only on an area-mean analysis (its series)")
        source = check.name(data, "source", where, required=True)
        name = check.name(data, "name", where, required=True)
        found.append(
            Analysis(
                name=name,
                source=source,
                kind=kind,
                output=check.name(data, "output", where, default=f"{source}-{name}"),
                variables=check.strings(data, "variables", where),
                calendar=calendar,
                region=check.text(data, "region", where),
                box=box,
                anomalies=check.flag(data, "anomalies", where),
                period=check.period(data, "period", where),
                base_period=check.period(data, "base_period", where),
                percentiles=check.numbers(data, "percentiles", where),
                thresholds=check.numbers(data, "thresholds", where),
                significance=significance,
                episodes=tuple(episodes),
            )
        )
    _unique(check, [a.name for a in found], "analyses")
    return found


def _jobs(check: _Checker, base: Path, top: dict[str, Any], model: str) -> list[Job]:
    found = []
    for index, item in enumerate(check.items(top, "jobs", "")):
        where = f"jobs[{index}]"
        data = check.mapping(item, where, ("name", "spec", "overrides"))
        if data is None:
            continue
        name = check.name(data, "name", where, required=True)
        spec_file = check.file(base, data, "spec", where, "job spec file")
        if spec_file is None:
            continue
        try:
            spec = spec_from_yaml(spec_file.read_text())
        except (SpecError, yaml.YAMLError) as exc:
            check.fail(
                f"{where}.spec", f"expected a job spec (weather.trainer.v1.JobSpec fields): {exc}"
            )
            continue
        overrides = data.get("overrides")
        if overrides is not None:
            if not isinstance(overrides, dict):
                check.fail(
                    f"{where}.overrides",
                    f"expected a mapping of JobSpec fields, got {_kind(overrides)}",
                )
            else:
                try:
                    json_format.ParseDict(with_lead_times(overrides), spec)
                except (json_format.ParseError, SpecError) as exc:
                    check.fail(f"{where}.overrides", f"expected JobSpec fields: {exc}")
        if spec.model_name and spec.model_name != model:
            check.fail(
                f"{where}.spec",
                f"registers under {spec.model_name!r}, the pipeline's model is {model!r}",
            )
        spec.model_name = model
        if not spec.dataset.dataset_id:
            check.fail(f"{where}.spec", f"{spec_file.name} names no dataset")
        found.append(Job(name=name, spec_file=spec_file, spec=spec))
    _unique(check, [j.name for j in found], "jobs")
    return found


def _promotion(check: _Checker, top: dict[str, Any], jobs: set[str]) -> list[Promotion]:
    found = []
    for index, item in enumerate(check.items(top, "promotion", "")):
        where = f"promotion[{index}]"
        data = check.mapping(item, where, ("job", "alias", "validate_only", "verify"))
        if data is None:
            continue
        job = check.text(data, "job", where, required=True)
        if job and job not in jobs:
            listed = ", ".join(sorted(jobs)) or "none in this file"
            check.fail(f"{where}.job", f"expected the name of a job ({listed}), got {job!r}")
        found.append(
            Promotion(
                job=job,
                alias=check.name(data, "alias", where, required=True),
                validate_only=check.flag(data, "validate_only", where),
                verify=check.flag(data, "verify", where),
            )
        )
    return found


def _forecast(check: _Checker, top: dict[str, Any], promotion: list[Promotion]) -> Forecast | None:
    if top.get("forecast") is None:
        return None
    allowed = (
        "alias",
        "dataset",
        "variable",
        "leads",
        "init_every",
        "serving_timeout",
        "tolerance",
        "save_init",
    )
    data = check.mapping(top["forecast"], "forecast", allowed)
    if data is None:
        return None
    alias = check.name(data, "alias", "forecast", required=True)
    if alias and not any(p.alias == alias and not p.validate_only for p in promotion):
        check.fail(
            "forecast.alias",
            f"expected an alias a promotion of this file moves, no promotion moves {alias!r}",
        )
    leads: tuple[int, ...] = ()
    try:
        leads = parse_leads(data.get("leads", "1-24"))
    except ValueError as exc:
        check.fail("forecast.leads", str(exc))
    tolerance = check.number(data, "tolerance", "forecast", None)
    if tolerance is not None and not 0 < tolerance < 1:
        check.fail(
            "forecast.tolerance", f"expected a relative difference in (0, 1), got {tolerance}"
        )
    timeout = check.number(data, "serving_timeout", "forecast", 180.0)
    save_init = check.text(data, "save_init", "forecast")
    if save_init and not _TIME.match(save_init):
        check.fail(
            "forecast.save_init", f"expected a UTC time like 2019-03-25T00:00, got {save_init!r}"
        )
    return Forecast(
        alias=alias,
        dataset=check.name(data, "dataset", "forecast", required=True),
        variable=check.text(data, "variable", "forecast", required=True),
        leads=leads,
        init_every=check.integer(data, "init_every", "forecast", 1, minimum=1),
        serving_timeout=timeout if timeout is not None else 180.0,
        tolerance=tolerance,
        save_init=save_init,
    )
