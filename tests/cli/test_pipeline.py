"""Pipeline files: the loader's messages, the step keys, and the smoke pipeline on a real suite.

The real runs share one local suite (module scope) and one state folder: the first run executes
every step, the second skips them all, a changed step reruns with the steps after it only, and a
failed step is recorded and the next run resumes there.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import xarray as xr
import yaml
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import ROOT
from tests.observability.otlp_receiver import OtlpReceiver
from weather_runtime.telemetry import init_tracing
from weather_runtime.trace_files import Span as TraceSpan
from weather_runtime.trace_files import spans_of_request, to_otlp_json
from weatherctl.launcher import SERVICE_NAMES, LocalSuite, write_suite_file
from weatherctl.leads import parse_leads
from weatherctl.main import main
from weatherctl.pipeline.spec import PipelineFileError, load
from weatherctl.pipeline.state import State, output_digest, plan, step_keys
from weatherctl.pipeline.steps import ingest_request

PIPELINES = ROOT / "data" / "pipelines"
SMOKE = PIPELINES / "smoke.yaml"
SMOKE_STEPS = ["ingest:era5-t2m", "build:era5-t2m-train", "train:ridge", "promote", "forecast"]


def _smoke(folder: Path, name: str, change: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """A copy of the smoke pipeline in folder (references made absolute), changed by change."""
    data = yaml.safe_load(SMOKE.read_text())
    for source in data["sources"]:
        source["uri"] = str((PIPELINES / source["uri"]).resolve())
    for build in data["builds"]:
        build["recipe"] = str((PIPELINES / build["recipe"]).resolve())
    for job in data["jobs"]:
        job["spec"] = str((PIPELINES / job["spec"]).resolve())
    if change is not None:
        change(data)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _problems(path: Path) -> str:
    with pytest.raises(PipelineFileError) as raised:
        load(path)
    text = str(raised.value)
    assert all(line.startswith(f"{path}: ") for line in text.splitlines()), text
    return text


# --- the loader -----------------------------------------------------------------------------


def test_the_bundled_pipeline_files_load() -> None:
    demo = load(PIPELINES / "demo.yaml")
    assert [s.dataset for s in demo.sources] == ["era5-t2m", "navy-winds", "era-interim-uvz"]
    assert [a.kind for a in demo.analyses] == ["area-mean", "climatology", "trend"]
    assert [j.name for j in demo.jobs] == ["cnn", "ridge"]
    assert demo.forecast_job() == "cnn" and demo.forecast is not None
    assert demo.forecast.leads == tuple(range(1, 73)) and demo.forecast.tolerance == 0.01
    assert all(j.spec.scoring.max_lead_hours == 72 for j in demo.jobs)
    assert all(j.spec.model_name == "era5-t2m-forecast" for j in demo.jobs)
    smoke = load(SMOKE)
    assert [s.name for s in plan(smoke)] == SMOKE_STEPS


def test_top_level_problems_are_all_reported_with_their_paths(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 2\nname: x y\nstepz: []\n")
    text = _problems(path)
    assert "version: expected 1 (the pipeline file format), got int 2" in text
    assert "name: expected a name of letters, digits" in text
    assert "model: required: expected a string" in text
    assert "stepz: unknown field; expected one of version, name, model" in text
    path.write_text("- just\n- a list\n")
    assert "(top level): expected a mapping with keys version, name" in _problems(path)
    path.write_text("version: 1\nname: [unclosed\n")
    assert "(file): line 3: not valid YAML" in _problems(path)


def test_references_and_names_are_checked(tmp_path: Path) -> None:
    def break_it(data: dict[str, Any]) -> None:
        data["sources"][0]["uri"] = "../nowhere/file.grib"
        data["sources"][0]["reference_year"] = "2000"
        data["jobs"][0]["spec"] = "../jobs/missing.yaml"
        data["promotion"][0]["job"] = "cnn"
        data["promotion"][0]["alias"] = "canary"
        data["forecast"]["leads"] = "1-x"
        data["forecast"]["init_every"] = 0
        data["forecast"]["colour"] = "blue"

    text = _problems(_smoke(tmp_path, "broken", break_it))
    assert "sources[0].uri: expected a file or store, ../nowhere/file.grib not found" in text
    assert "sources[0].reference_year: expected an integer, got str '2000'" in text
    assert "jobs[0].spec: job spec file ../jobs/missing.yaml not found" in text
    assert "promotion[0].job: expected the name of a job (ridge), got 'cnn'" in text
    assert "forecast.alias: expected an alias a promotion of this file moves" in text
    assert "forecast.leads: expected lead hours like 1-24 or 1,6,24, got '1-x'" in text
    assert "forecast.init_every: expected an integer >= 1, got 0" in text
    assert "forecast.colour: unknown field; expected one of alias, dataset" in text


def test_referenced_files_and_analyses_are_checked(tmp_path: Path) -> None:
    recipe = tmp_path / "changed-recipe.yaml"
    recipe.write_text("source: {dataset_id: era5-t2m}\nvariabels: [t2m]\n")
    job = tmp_path / "job.yaml"
    job.write_text("dataset: {dataset_id: era5-t2m-train}\nmodel_family: ridge\nepochs: lots\n")

    def break_it(data: dict[str, Any]) -> None:
        data["builds"][0]["recipe"] = str(recipe)
        data["jobs"][0]["spec"] = str(job)
        data["analyses"] = [
            {"name": "a", "source": "era5-t2m", "kind": "median"},
            {
                "name": "b",
                "source": "era5-t2m",
                "kind": "area-mean",
                "episodes": [{"label": "x", "start": "1982", "end": "1983-02"}],
                "significance": 0.05,
            },
            {"name": "b", "source": "era5-t2m", "kind": "trend", "box": {"lat_min": 1}},
        ]

    text = _problems(_smoke(tmp_path, "broken", break_it))
    assert "builds[0].recipe: expected a recipe (weather.preprocess.v1.Recipe fields)" in text
    assert "variabels" in text
    assert "jobs[0].spec: expected a job spec (weather.trainer.v1.JobSpec fields)" in text
    assert "analyses[0].kind: expected one of climatology, anomalies, trend, area-mean" in text
    assert "analyses[1].episodes[0].start: expected a month like 1982-09, got '1982'" in text
    assert (
        "analyses[1].significance: expected a p-value threshold in (0, 1), for kind trend" in text
    )
    assert "analyses[2].box: expected all of lat_min, lat_max, lon_min, lon_max" in text
    assert "analyses[2].name: expected a name unique in analyses, 'b' repeats" in text


def test_a_source_of_several_files_with_time_hints(tmp_path: Path) -> None:
    z, u = tmp_path / "z.nc", tmp_path / "u.nc"
    z.write_bytes(b"z")
    u.write_bytes(b"u")
    hints = {"variable": "time_index", "units": "time_units", "renames": {"y": "latitude"}}

    def several(data: dict[str, Any], hints: dict[str, Any] = hints) -> None:
        data["sources"][0].update(uri=str(z), more_uris=["u.nc"], time_decoding=hints)

    path = _smoke(tmp_path, "several", several)
    source = load(path).sources[0]
    assert (source.more_uris, source.more_paths) == ((str(u),), (u,))
    assert source.time_decoding == hints
    request = ingest_request(source)
    assert list(request.source_uris) == [str(u)]
    assert (request.time_decoding.variable, request.time_decoding.units) == (
        "time_index",
        "time_units",
    )
    assert dict(request.time_decoding.renames) == {"y": "latitude"}
    assert not ingest_request(load(SMOKE).sources[0]).HasField("time_decoding")
    before = _keys(path)
    u.write_bytes(b"another u")  # the content of every file counts
    assert _keys(path)["ingest:era5-t2m"] != before["ingest:era5-t2m"]
    other = _keys(_smoke(tmp_path, "hours", lambda d: several(d, {"reference_time": "2020"})))
    assert other["ingest:era5-t2m"] != _keys(path)["ingest:era5-t2m"]

    def broken(data: dict[str, Any]) -> None:
        data["sources"][0].update(
            more_uris=["missing.nc"], time_decoding={"unit": "hours", "renames": ["y"]}
        )

    text = _problems(_smoke(tmp_path, "broken", broken))
    assert "sources[0].more_uris[0]: expected a file or store, missing.nc not found" in text
    assert "sources[0].time_decoding.unit: unknown field; expected one of variable" in text
    assert "sources[0].time_decoding.renames: expected a mapping of SOURCE_NAME: NEW_NAME" in text


def test_the_command_line_refuses_a_bad_file_with_its_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _smoke(tmp_path, "broken", lambda data: data["forecast"].update(tolerance=5))
    assert main(["pipeline", "run", str(path), "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: forecast.tolerance: expected a relative difference in (0, 1), got 5.0" in err
    assert not (tmp_path / "pipeline").exists()  # nothing was started
    assert main(["pipeline", "run", str(SMOKE), "--data-dir", str(tmp_path), "--force", "x"]) == 2
    assert (
        "--force x: the steps are ingest:era5-t2m, build:era5-t2m-train" in capsys.readouterr().err
    )


def test_lead_syntax() -> None:
    assert parse_leads("1-3,6") == (1, 2, 3, 6)
    assert parse_leads([24, 1]) == (1, 24)
    for bad in ("0-2", [1, 1], True, "", 1.5):
        with pytest.raises(ValueError):
            parse_leads(bad)


# --- step keys ------------------------------------------------------------------------------


def _keys(path: Path) -> dict[str, str]:
    return step_keys(plan(load(path)))


def test_step_keys_are_stable_and_do_not_depend_on_where_the_file_is(tmp_path: Path) -> None:
    bundled = _keys(SMOKE)
    assert bundled == _keys(SMOKE)
    assert _keys(_smoke(tmp_path, "copy")) == bundled
    assert all(key.startswith("sha256:") and len(key) == 71 for key in bundled.values())
    assert len(set(bundled.values())) == len(bundled)


def test_job_leads_may_be_written_as_lead_hours(tmp_path: Path) -> None:
    demo, smoke = load(PIPELINES / "demo.yaml"), load(SMOKE)
    hours = [[d.seconds // 3600 for d in j.spec.lead_times] for j in demo.jobs]
    assert hours == [list(range(1, 73))] * 2  # lead_hours: 1-72 in the job files
    # the smoke pipeline's override trains its ridge to +24 h (scored to +72 h by rollout)
    assert [d.seconds // 3600 for d in smoke.jobs[0].spec.lead_times] == list(range(1, 25))
    assert smoke.jobs[0].spec.scoring.max_lead_hours == 72

    def both(data: dict[str, Any]) -> None:
        data["jobs"][0]["overrides"] = {"lead_hours": "1-6", "lead_times": ["3600s"]}

    text = _problems(_smoke(tmp_path, "both", both))
    assert "jobs[0].overrides: expected JobSpec fields: give lead_hours or lead_times" in text
    text = _problems(
        _smoke(tmp_path, "bad", lambda d: d["jobs"][0].update(overrides={"lead_hours": "soon"}))
    )
    assert "jobs[0].overrides: expected JobSpec fields: lead_hours: expected lead hours" in text


def test_a_change_changes_the_keys_of_its_step_and_the_steps_after_it(tmp_path: Path) -> None:
    before = _keys(SMOKE)

    def changed(name: str, change: Callable[[dict[str, Any]], None]) -> set[str]:
        after = _keys(_smoke(tmp_path, name, change))
        return {step for step in before if after[step] != before[step]}

    assert changed("stride", lambda d: d["forecast"].update(init_every=24)) == {"forecast"}
    assert changed("verify", lambda d: d["promotion"][0].update(verify=True)) == {
        "promote",
        "forecast",
    }
    overridden = changed("seed", lambda d: d["jobs"][0].update(overrides={"seed": 7}))
    assert overridden == {"train:ridge", "promote", "forecast"}
    # the content of a referenced file counts, not its name or place
    recipe = yaml.safe_load((ROOT / "data" / "recipes" / "era5-t2m.yaml").read_text())
    recipe["augmentation"] = {"seed": 7}
    (tmp_path / "changed-recipe.yaml").write_text(yaml.safe_dump(recipe))
    rebuilt = changed(
        "recipe", lambda d: d["builds"][0].update(recipe=str(tmp_path / "changed-recipe.yaml"))
    )
    assert rebuilt == set(SMOKE_STEPS) - {"ingest:era5-t2m"}
    grib = tmp_path / "era5.grib"
    shutil.copy(ROOT / "data" / "demo" / "era5-2mt-2019-03-uk.grib", grib)
    assert changed("same-bytes", lambda d: d["sources"][0].update(uri=str(grib))) == set()
    with grib.open("r+b") as handle:
        handle.seek(-1, 2)
        last = handle.read(1)
        handle.seek(-1, 2)
        handle.write(bytes([last[0] ^ 1]))
    assert changed("other-bytes", lambda d: d["sources"][0].update(uri=str(grib))) == set(
        SMOKE_STEPS
    )


def test_a_step_is_up_to_date_only_while_its_inputs_are_what_it_consumed(tmp_path: Path) -> None:
    steps = plan(load(SMOKE))
    keys = step_keys(steps)
    state, note = State.load(tmp_path / "state.json", "smoke", "archive")
    assert note == ""
    ingest, build = steps[0], steps[1]
    assert state.verdict(build, keys[build.name]) == (False, "not run yet")
    state.begin(ingest, keys[ingest.name])
    state.finish(ingest, {"dataset": {"dataset_id": "era5-t2m", "content_hash": "sha256:a"}})
    state.begin(build, keys[build.name])
    state.finish(build, {"dataset": {"dataset_id": "era5-t2m-train", "content_hash": "sha256:b"}})
    assert state.verdict(build, keys[build.name]) == (True, "unchanged")
    assert state.verdict(build, "sha256:other") == (False, "definition or inputs changed")
    # the ingest ran again and produced the same content: the build is still up to date
    reread, _ = State.load(tmp_path / "state.json", "smoke", "archive")
    reread.begin(ingest, keys[ingest.name])
    reread.finish(ingest, {"dataset": {"dataset_id": "era5-t2m", "content_hash": "sha256:a"}})
    assert reread.verdict(build, keys[build.name])[0]
    reread.begin(ingest, keys[ingest.name])
    reread.finish(ingest, {"dataset": {"dataset_id": "era5-t2m", "content_hash": "sha256:c"}})
    assert reread.verdict(build, keys[build.name]) == (
        False,
        "ingest:era5-t2m produced something new",
    )
    reread.begin(build, keys[build.name])
    reread.finish(build, {}, error="INTERNAL: boom")
    assert reread.verdict(build, keys[build.name]) == (False, "failed last time")
    assert reread.steps[build.name]["inputs"] == {
        ingest.name: output_digest(reread.outputs(ingest.name))
    }
    # a state recorded against another archive is not trusted
    _, note = State.load(tmp_path / "state.json", "smoke", "elsewhere")
    assert "every step runs" in note


# --- real runs ------------------------------------------------------------------------------


@dataclass
class Run:
    code: int
    out: str
    state: dict[str, Any]

    def ran(self) -> list[str]:
        return list(self.state["runs"][-1]["ran"])

    def skipped(self) -> list[str]:
        return list(self.state["runs"][-1]["skipped"])


@dataclass
class Suite:
    suite_file: Path
    data_dir: Path
    spans: InMemorySpanExporter

    def run(self, pipeline: Path, *options: str) -> Run:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(
                [
                    "--actor",
                    "pipeline-test",
                    "pipeline",
                    "run",
                    str(pipeline),
                    "--suite",
                    str(self.suite_file),
                    *options,
                ]
            )
        print(out.getvalue())  # shown when a test fails
        state = json.loads((self.data_dir / "pipeline" / "smoke" / "state.json").read_text())
        return Run(code, out.getvalue(), state)

    def status(self, pipeline: Path) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["pipeline", "status", str(pipeline), "--suite", str(self.suite_file)]) == 0
        return out.getvalue()


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    """A real OTLP/gRPC trace receiver every service of the suite exports to."""
    running = OtlpReceiver()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory, receiver: OtlpReceiver) -> Iterator[Suite]:
    provider = init_tracing("weather-tests")
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    data_dir = tmp_path_factory.mktemp("pipeline-suite")
    # the standard OTEL_* variables point every service (and the trainer's training
    # processes, which inherit them) at the receiver
    with LocalSuite(data_dir, extra_env=receiver.environment()) as running:
        yield Suite(write_suite_file(running), running.data_dir, spans)


@pytest.fixture(scope="module")
def first_run(suite: Suite) -> Run:
    suite.spans.clear()
    return suite.run(SMOKE)


@pytest.mark.timeout(600)
def test_the_first_run_executes_every_step_in_one_trace(suite: Suite, first_run: Run) -> None:
    assert first_run.code == 0, first_run.out
    assert first_run.ran() == SMOKE_STEPS
    assert "registered era5-t2m-smoke v1" in first_run.out
    assert "promoted v1 (ridge) to staging (not gated)" in first_run.out
    assert "provenance of every response: era5-t2m-smoke v1 (staging)" in first_run.out
    steps = first_run.state["steps"]
    assert {name: steps[name]["status"] for name in SMOKE_STEPS} == dict.fromkeys(
        SMOKE_STEPS, "succeeded"
    )
    built = steps["build:era5-t2m-train"]["outputs"]["dataset"]
    assert steps["train:ridge"]["outputs"]["dataset"] == built  # the job trained on that build
    forecast = steps["forecast"]["outputs"]
    assert forecast["dataset"] == built and forecast["inits"] == 4
    # what a picture step reads: one init time's forecast, RMSE by lead
    with xr.open_dataset(forecast["forecast_file"], engine="netcdf4") as ds:
        assert ds.attrs["model_version"] == 1 and ds.attrs["alias"] == "staging"
        leads = list(ds["lead_time"].values.astype("timedelta64[h]").astype(int))
        assert leads == [1, 6, 12, 24, 72]
    rmse = json.loads(Path(forecast["rmse_file"]).read_text())
    assert rmse["lead_hours"] == [1, 6, 12, 24, 72]
    # scored to +72 h: +25..+72 h rolled out, in the trainer's table and the served one (the
    # predictor rolled +72 h out as the trainer scored it, or the step would have failed)
    rolled = [
        line for line in first_run.out.splitlines() if line.split()[:3] == ["t2m", "+72", "h"]
    ]
    assert len(rolled) == 2 and all("rollout" in line for line in rolled), rolled
    assert [s["method"] for s in steps["train:ridge"]["outputs"]["scores"]] == ["direct"] * 24 + [
        "rollout"
    ] * 48
    assert set(rmse["rmse"]) == {"served", "ridge", "persistence", "climatology"}
    # one trace: the run's span, a child span per step
    trace_id = first_run.out.split("trace id of this run: ")[1].split()[0]
    finished = [s for s in suite.spans.get_finished_spans() if s.name.startswith("pipeline-")]
    [root] = [s for s in finished if s.name == "pipeline-run"]
    assert root.context is not None and format(root.context.trace_id, "032x") == trace_id
    children = [
        s for s in finished if s.parent is not None and s.parent.span_id == root.context.span_id
    ]
    assert [s.name for s in children] == [f"pipeline-step {name}" for name in SMOKE_STEPS]


# Spans every run of the smoke pipeline must hold, by service: the background work of each
# step (ingest batches, build steps, Dask computes, the job, its epoch and export, the serving
# sync's reconciliation and the model load), not only the RPCs.
BACKGROUND_SPANS = {
    ("weather-tests", "pipeline-run"),
    ("ingest", "ingest"),
    ("ingest", "write batch"),
    ("preprocess", "build"),
    ("preprocess", "build: plan"),
    ("preprocess", "build: statistics"),
    ("preprocess", "dask compute: statistics"),
    ("preprocess", "build: write"),
    ("preprocess", "write batch"),
    ("trainer", "training job"),
    ("trainer", "train: prepare"),
    ("trainer", "train: fit"),
    ("trainer", "dask compute: ridge normal equations"),
    ("trainer", "epoch 1"),
    ("trainer", "train: score"),
    ("trainer", "train: export SavedModel"),
    ("trainer", "register version"),
    ("serving-sync", "serving sync: reconcile"),
    ("modelserver", "model load"),
    ("predictor", "/weather.predictor.v1.PredictorService/Forecast"),
    ("modelserver", "/tensorflow.serving.PredictionService/Predict"),
}
SERVICES = {"weather-tests", *SERVICE_NAMES}  # the pipeline runner (this process), the suite


def _run_spans(suite: Suite, receiver: OtlpReceiver, trace_id: str) -> list[TraceSpan]:
    """The run's spans: this process's (the runner) and those the services exported."""
    local = [
        span
        for span in spans_of_request(to_otlp_json(suite.spans.get_finished_spans()))
        if span.trace_id == trace_id
    ]
    return local + receiver.spans(trace_id)


@pytest.mark.timeout(300)
def test_the_first_run_is_one_trace_through_every_service_and_its_background_work(
    suite: Suite, first_run: Run, receiver: OtlpReceiver
) -> None:
    assert first_run.code == 0, first_run.out
    trace_id = first_run.out.split("trace id of this run: ")[1].split()[0]
    # services export in batches, and the serving sync may still be finishing its pass:
    # wait until every parent is known and the expected spans are in
    deadline = time.monotonic() + 60
    while True:
        spans = _run_spans(suite, receiver, trace_id)
        ids = {s.span_id for s in spans}
        orphans = [s for s in spans if s.parent_id and s.parent_id not in ids]
        missing = BACKGROUND_SPANS - {(s.service, s.name) for s in spans}
        if (not orphans and not missing) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not missing, f"no spans {sorted(missing)} in the run's trace"
    assert {s.service for s in spans} == SERVICES
    # parent links intact: one root (the run), every other span's parent is in the trace
    roots = [s for s in spans if not s.parent_id]
    assert [(r.service, r.name) for r in roots] == [("weather-tests", "pipeline-run")]
    assert not orphans, [(s.service, s.name) for s in orphans]
    # one trace id: what the services did for the run is nowhere else
    elsewhere = [
        (s.service, s.name)
        for s in receiver.spans()
        if s.trace_id != trace_id and (s.service, s.name) in BACKGROUND_SPANS
    ]
    assert elsewhere == []
    by_name: dict[str, list[TraceSpan]] = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)

    def ancestors(span: TraceSpan) -> list[str]:
        by_id = {s.span_id: s for s in spans}
        names = []
        while span.parent_id in by_id:
            span = by_id[span.parent_id]
            names.append(span.name)
        return names

    # the long work keeps the trace of the call that started it
    assert "/weather.ingest.v1.IngestService/StartIngest" in ancestors(by_name["ingest"][0])
    assert "training job" in ancestors(by_name["epoch 1"][0])  # from the training process
    assert "/weather.trainer.v1.TrainerService/StartTraining" in ancestors(
        by_name["training job"][0]
    )
    assert "/weather.registry.v1.RegistryService/CreateModelVersion" in [
        s.name for s in spans if s.service == "registry"
    ]
    assert "/weather.registry.v1.RegistryService/SetAlias" in ancestors(
        by_name["serving sync: reconcile"][0]
    )
    assert "serving sync: reconcile" in ancestors(by_name["model load"][0])
    assert by_name["model load"][0].attributes["model.state"] == "AVAILABLE"
    for name in ("dask compute: statistics", "dask compute: ridge normal equations"):
        assert int(by_name[name][0].attributes["dask.tasks"]) > 0  # type: ignore[call-overload]
    assert all(int(s.attributes["dask.tasks"]) > 0 for s in by_name["write batch"])  # type: ignore[call-overload]
    # every forecast's model-server calls are children of the predictor's CLIENT spans
    served = [s for s in spans if s.service == "modelserver" and s.name.endswith("/Predict")]
    assert served and all(
        "/weather.predictor.v1.PredictorService/Forecast" in ancestors(s) for s in served
    )


@pytest.mark.timeout(300)
def test_a_second_run_skips_every_step(suite: Suite, first_run: Run) -> None:
    again = suite.run(SMOKE)
    assert again.code == 0, again.out
    assert again.ran() == [] and again.skipped() == SMOKE_STEPS
    assert again.out.count(": unchanged, skipped (") == len(SMOKE_STEPS)
    assert "[3/5] train:ridge" in again.out and "registered era5-t2m-smoke v1)" in again.out
    status = suite.status(SMOKE)
    assert status.count("up to date") == len(SMOKE_STEPS), status


@pytest.mark.timeout(300)
def test_a_changed_step_reruns_with_the_steps_after_it_only(
    suite: Suite, first_run: Run, tmp_path: Path
) -> None:
    changed = _smoke(tmp_path, "smoke", lambda d: d["promotion"][0].update(verify=True))
    status = suite.status(changed)
    assert "will run: definition or inputs changed" in status
    run = suite.run(changed)
    assert run.code == 0, run.out
    assert run.skipped() == ["ingest:era5-t2m", "build:era5-t2m-train", "train:ridge"]
    assert run.ran() == ["promote", "forecast"]
    assert "integrity of v1: VERIFY_RESULT_MATCH" in run.out
    assert run.state["steps"]["promote"]["outputs"]["verified"] == {"ridge": "VERIFY_RESULT_MATCH"}


@pytest.mark.timeout(600)
def test_a_failed_step_is_recorded_and_the_next_run_resumes_there(
    suite: Suite, first_run: Run, tmp_path: Path
) -> None:
    job = tmp_path / "ridge.yaml"
    spec = yaml.safe_load((ROOT / "data" / "jobs" / "era5-t2m-ridge.yaml").read_text())
    spec["dataset"] = {"dataset_id": "era5-t2m-trian"}  # a typo: no such dataset
    job.write_text(yaml.safe_dump(spec))
    broken = _smoke(tmp_path, "smoke", lambda d: d["jobs"][0].update(spec=str(job)))
    run = suite.run(broken)
    assert run.code == 1
    assert run.skipped() == ["ingest:era5-t2m", "build:era5-t2m-train"] and run.ran() == []
    assert run.state["runs"][-1]["failed"] == "train:ridge"
    entry = run.state["steps"]["train:ridge"]
    assert entry["status"] == "failed" and entry["error"].startswith("NOT_FOUND"), entry
    assert "step train:ridge failed: NOT_FOUND" in run.out
    assert "[4/5]" not in run.out  # nothing ran after the failure
    assert "failed (NOT_FOUND" in suite.status(broken)
    # fixed: the run starts again at the failed step, the ones before it are not redone
    spec["dataset"] = {"dataset_id": "era5-t2m-train"}
    job.write_text(yaml.safe_dump(spec))
    resumed = suite.run(broken)
    assert resumed.code == 0, resumed.out
    assert resumed.skipped() == ["ingest:era5-t2m", "build:era5-t2m-train"]
    assert resumed.ran() == ["train:ridge", "promote", "forecast"]
    version = resumed.state["steps"]["train:ridge"]["outputs"]["version"]
    assert version > 1
    assert f"provenance of every response: era5-t2m-smoke v{version} (staging)" in resumed.out


@pytest.mark.timeout(300)
def test_analyses_print_their_episodes_and_are_kept_for_pictures(
    suite: Suite, tmp_path: Path
) -> None:
    demo = yaml.safe_load((PIPELINES / "demo.yaml").read_text())
    winds = {
        "version": 1,
        "name": "winds",
        "model": "unused",
        "sources": [
            {**s, "uri": str((PIPELINES / s["uri"]).resolve())}
            for s in demo["sources"]
            if s["dataset"] == "navy-winds"
        ],
        "analyses": [a for a in demo["analyses"] if a["name"] == "nino4-anomaly"],
    }
    path = tmp_path / "winds.yaml"
    path.write_text(yaml.safe_dump(winds, sort_keys=False))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["pipeline", "run", str(path), "--suite", str(suite.suite_file)])
    assert code == 0, out.getvalue()
    # westerly anomalies in El Nino, easterly in La Nina
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    rows = {line[:15].strip(): line.split()[-1] for line in lines}
    assert float(rows["El Nino 1982-83"]) > 1 and float(rows["La Nina 1988-89"]) < -1, rows
    kept = json.loads(
        (suite.data_dir / "pipeline" / "winds" / "outputs" / "analyses.json").read_text()
    )
    assert kept["nino4-anomaly"]["dataset"]["dataset_id"] == "navy-winds-nino4-anomaly"
    assert kept["nino4-anomaly"]["kind"] == "area-mean"
    assert kept["nino4-anomaly"]["episodes"][0] == ["El Nino 1982-83", "1982-09", "1983-02"]
