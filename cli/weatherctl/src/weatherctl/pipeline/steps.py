"""What each kind of pipeline step does through the services, and what it prints.

Every executor takes the run's Context and its Step, calls the services over instrumented
channels (so the calls join the run's trace), prints its section of the report and returns
its outputs (JSON-able: dataset hashes, job ids, versions, scores) for the state file. A step
that cannot finish raises StepFailed (or lets a gRPC error through); the runner records it.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import grpc
import numpy as np
from google.protobuf import duration_pb2, timestamp_pb2
from weather.common.v1 import dataset_pb2, region_pb2
from weather.ingest.v1 import ingest_service_pb2 as ipb
from weather.ingest.v1 import ingest_service_pb2_grpc as ipb_grpc
from weather.predictor.v1 import predictor_service_pb2 as prpb
from weather.predictor.v1 import predictor_service_pb2_grpc as prpb_grpc
from weather.preprocess.v1 import preprocess_service_pb2 as ppb
from weather.preprocess.v1 import preprocess_service_pb2_grpc as ppb_grpc
from weather.registry.v1 import registry_service_pb2 as pb
from weather.registry.v1 import registry_service_pb2_grpc as pb_grpc
from weather.trainer.v1 import trainer_service_pb2 as tpb
from weather.trainer.v1 import trainer_service_pb2_grpc as tpb_grpc

from weather_data.archive import Archive
from weather_runtime.identity import with_actor
from weather_runtime.telemetry import instrumented_channel
from weather_runtime.tls import ClientTLS
from weatherctl import data_commands, predict_commands
from weatherctl.output import table
from weatherctl.pipeline.spec import ANALYSIS_KINDS, CALENDARS, Analysis, Pipeline, Source
from weatherctl.pipeline.state import State, Step
from weatherctl.registry_commands import gate_table
from weatherctl.train_commands import describe as describe_job
from weatherctl.train_commands import follow as follow_job
from weatherctl.train_commands import score_table

HOUR = 3600


class StepFailed(RuntimeError):
    """A step that ran but did not do what the file asks; outputs are kept in the state."""

    def __init__(self, message: str, outputs: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.outputs = outputs or {}


@dataclass(frozen=True)
class Endpoints:
    """Where the services are: gRPC addresses by service name, and the archive's URL (the
    forecast step reads the truth there)."""

    services: dict[str, str]
    archive_url: str
    # TLS (mTLS with a client certificate) of every call; None: plaintext
    security: ClientTLS | None = None
    # bearer token of every call (or the file holding it); '': none
    token: str = ""
    token_file: str = ""

    def bearer(self) -> str:
        """The bearer token as it is now ('' without one)."""
        if self.token or not self.token_file:
            return self.token
        return Path(self.token_file).read_text().strip()

    def address(self, service: str) -> str:
        found = self.services.get(service, "")
        if not found:
            raise StepFailed(f"no address for the {service} service")
        return found


@dataclass
class Context:
    """What a step needs: the pipeline, the services, the state and the run's folder."""

    pipeline: Pipeline
    endpoints: Endpoints
    state: State
    run_dir: Path
    data_dir: Path
    actor: str
    channels: dict[str, grpc.Channel] = field(default_factory=dict)

    def channel(self, service: str) -> grpc.Channel:
        if service not in self.channels:
            address = self.endpoints.address(service)
            channel = instrumented_channel(
                address,
                security=self.endpoints.security,
                token=self.endpoints.token,
                token_file=self.endpoints.token_file,
            )
            self.channels[service] = with_actor(channel, self.actor)
        return self.channels[service]

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()
        self.channels.clear()

    def relative(self, path: Path | str) -> str:
        """A path as the user would write it: relative to the working folder when inside it."""
        with contextlib.suppress(ValueError):
            return str(Path(path).resolve().relative_to(Path.cwd()))
        return str(path)

    def pinned(self, dataset_id: str, step: Step) -> dataset_pb2.DatasetRef:
        """A dataset reference pinned to the content hash a needed step produced, if any."""
        for upstream in step.needs:
            produced = self.state.outputs(upstream).get("dataset") or {}
            if produced.get("dataset_id") == dataset_id:
                return dataset_pb2.DatasetRef(
                    dataset_id=dataset_id, content_hash=produced["content_hash"]
                )
        return dataset_pb2.DatasetRef(dataset_id=dataset_id)


def _ref(ref: dataset_pb2.DatasetRef) -> dict[str, str]:
    return {"dataset_id": ref.dataset_id, "content_hash": ref.content_hash}


def _timestamp(text: str) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(
        seconds=int(np.datetime64(text.rstrip("Z"), "s").astype(np.int64))
    )


def ingest_request(source: Source) -> ipb.StartIngestRequest:
    """The StartIngest request of a pipeline source."""
    return ipb.StartIngestRequest(
        source_uri=source.uri,
        source_uris=list(source.more_uris),
        dataset_id=source.dataset,
        variables=list(source.variables),
        reference_year=source.reference_year,
        units=source.units,
        time_decoding=ipb.TimeDecoding(**source.time_decoding) if source.time_decoding else None,
    )


def ingest(ctx: Context, step: Step) -> dict[str, Any]:
    source = step.item
    stub = ipb_grpc.IngestServiceStub(ctx.channel("ingest"))
    print(f"ingesting {ctx.relative(source.uri)} as {source.dataset}:")
    request = ingest_request(source)
    label = f"ingest {source.dataset}"
    done = data_commands.follow(stub, stub.StartIngest(request).operation.operation_id, label=label)
    if done.operation.state != data_commands.SUCCEEDED:
        raise StepFailed(f"ingest of {source.uri} failed: {data_commands.failure(done.operation)}")
    print("  " + data_commands.describe_manifest(done.result), flush=True)
    return {"dataset": _ref(done.result.ref), "version": done.result.version}


def build(ctx: Context, step: Step) -> dict[str, Any]:
    spec = step.item
    stub = ppb_grpc.PreprocessServiceStub(ctx.channel("preprocess"))
    recipe = ppb.Recipe()
    recipe.CopyFrom(spec.recipe)
    recipe.source.CopyFrom(ctx.pinned(spec.source, step))
    print(f"building the training dataset ({ctx.relative(spec.recipe_file)}):")
    operation = stub.StartBuild(ppb.StartBuildRequest(recipe=recipe)).operation.operation_id
    built = data_commands.follow(stub, operation, label=f"build {spec.output}")
    if built.operation.state != data_commands.SUCCEEDED:
        raise StepFailed(f"build failed: {data_commands.failure(built.operation)}")
    data_commands.print_build(built.build)
    result = built.build
    return {
        "dataset": _ref(result.dataset.ref),
        "version": result.dataset.version,
        "recipe_hash": result.recipe_hash,
        "statistics_hash": result.statistics.stats_hash,
        "splits": {
            "train": result.train_steps,
            "validation": result.validation_steps,
            "test": result.test_steps,
        },
    }


def analysis_request(ctx: Context, step: Step) -> ppb.StartAnalysisRequest:
    a: Analysis = step.item
    request = ppb.StartAnalysisRequest(
        source=ctx.pinned(a.source, step),
        variables=list(a.variables),
        kind=ANALYSIS_KINDS[a.kind],
        calendar=CALENDARS[a.calendar],
        named_region=a.region,
        of_anomalies=a.anomalies,
        percentiles=list(a.percentiles),
        thresholds=list(a.thresholds),
        output_dataset_id=a.output,
    )
    if a.box is not None:
        lat_min, lat_max, lon_min, lon_max = a.box
        request.region.CopyFrom(
            region_pb2.Region(lat_min=lat_min, lat_max=lat_max, lon_min=lon_min, lon_max=lon_max)
        )
    for name, period in (("period", a.period), ("base_period", a.base_period)):
        if period is not None:
            target = getattr(request, name)
            target.start.CopyFrom(_timestamp(period[0]))
            target.end.CopyFrom(_timestamp(period[1]))
    return request


def analysis(ctx: Context, step: Step) -> dict[str, Any]:
    a: Analysis = step.item
    stub = ppb_grpc.PreprocessServiceStub(ctx.channel("preprocess"))
    where = f" over {a.region}" if a.region else ""
    what = ", ".join(a.variables) or "every variable"
    print(f"{a.source}: {a.kind}{' of anomalies' if a.anomalies else ''} of {what}{where}:")
    request = analysis_request(ctx, step)
    operation = stub.StartAnalysis(request).operation.operation_id
    done = data_commands.follow(stub, operation, label=f"{a.kind} of {a.source}")
    if done.operation.state != data_commands.SUCCEEDED:
        raise StepFailed(f"analysis {a.name} failed: {data_commands.failure(done.operation)}")
    result = done.analysis
    print("  " + data_commands.describe_manifest(result.dataset))
    if a.episodes:
        print_episodes(a, result)
    else:
        for key, value in sorted(result.summary.items()):
            print(f"  {key:<32} {value:.4g}")
    outputs: dict[str, Any] = {
        "dataset": _ref(result.dataset.ref),
        "version": result.dataset.version,
        "kind": a.kind,
        "summary": {k: float(v) for k, v in sorted(result.summary.items())},
    }
    if a.significance is not None:
        outputs["significance"] = a.significance
    if a.episodes:
        outputs["episodes"] = [[e.label, e.start, e.end] for e in a.episodes]
    kept = ctx.run_dir / "outputs" / "analyses.json"  # the analyses' datasets, for pictures
    kept.parent.mkdir(parents=True, exist_ok=True)
    known = json.loads(kept.read_text()) if kept.exists() else {}
    known[a.name] = {"source": a.source, "variables": list(a.variables), **outputs}
    kept.write_text(json.dumps(known, indent=2, sort_keys=True) + "\n")
    return outputs


def print_episodes(a: Analysis, result: ppb.AnalysisResult) -> None:
    """The mean of an area-mean series over each episode (of its first variable)."""
    variable = a.variables[0] if a.variables else next(iter(result.series[0].values))
    values = {p.time.ToDatetime(): p.values[variable] for p in result.series}
    rows = []
    for e in a.episodes:
        chosen = [v for t, v in values.items() if e.start <= t.strftime("%Y-%m") <= e.end]
        mean = f"{sum(chosen) / len(chosen):+.2f}" if chosen else "-"
        rows.append([e.label, f"{e.start}..{e.end}", mean])
    print(table(rows, ["episode", "months", f"mean {variable}{' anomaly' if a.anomalies else ''}"]))


def _scores(job: tpb.Job) -> list[dict[str, Any]]:
    return [
        {
            "variable": s.variable,
            "lead_hours": s.lead_time.seconds / HOUR,
            "method": s.method or "direct",
            "model": s.model.rmse,
            "persistence": s.persistence.rmse,
            "climatology": s.climatology.rmse,
            "skill": s.skill_score,
        }
        for s in job.scores
    ]


def verdicts(name: str, job: tpb.Job) -> list[str]:
    """Whether the model beats the better reference at every lead, by method (direct leads,
    rolled-out leads; one line for a job scored at its trained leads only)."""
    groups: dict[str, list[tpb.LeadScore]] = {}
    for s in job.scores:
        groups.setdefault(s.method or "direct", []).append(s)
    lines = []
    for method, scores in groups.items():
        kind = f"{'rolled-out' if method == 'rollout' else method} " if len(groups) > 1 else ""
        losing = [s for s in scores if s.skill_score <= 0]
        if not losing:
            lines.append(
                f"{name} beats the better of persistence and climatology at every {kind}lead"
            )
        else:
            lines.append(
                f"{name} does not beat the better of persistence and climatology at "
                f"{len(losing)} of {len(scores)} {kind}leads"
            )
    return lines


def train(ctx: Context, step: Step) -> dict[str, Any]:
    job_spec = step.item
    stub = tpb_grpc.TrainerServiceStub(ctx.channel("trainer"))
    spec = tpb.JobSpec()
    spec.CopyFrom(job_spec.spec)
    spec.dataset.CopyFrom(ctx.pinned(spec.dataset.dataset_id, step))
    name = job_spec.name
    print(f"training {name} ({ctx.relative(job_spec.spec_file)}):", flush=True)
    job = stub.StartTraining(tpb.StartTrainingRequest(spec=spec)).job
    job = follow_job(stub, job.job_id)
    if job.state != tpb.JOB_STATE_SUCCEEDED:
        raise StepFailed(f"training {name} failed: {describe_job(job)}", {"job_id": job.job_id})
    print(f"\n{name}: RMSE on the test split, by lead")
    print(score_table(job))
    for line in verdicts(name, job):
        print(f"  {line}")
    print(f"  registered {job.registered_model} v{job.registered_version}", flush=True)
    return {
        "job_id": job.job_id,
        "model": job.registered_model,
        "version": job.registered_version,
        "dataset": _ref(spec.dataset),
        "scores": _scores(job),
    }


@contextlib.contextmanager
def _events(
    address: str, actor: str, model: str, security: ClientTLS | None = None, token: str = ""
) -> Iterator[Callable[[], list[pb.RegistryEvent]]]:
    """Streams the model's registry events (replayed from the start) while the block runs;
    yields a function returning those received once the stream has been quiet for a second."""
    # The watch is long-lived and cancelled at the end: a plain channel keeps call.cancel().
    plain = (
        grpc.insecure_channel(address)
        if security is None
        else grpc.secure_channel(address, security.credentials(), security.channel_options())
    )
    channel = with_actor(plain, actor)
    sink: queue.Queue[pb.RegistryEvent] = queue.Queue()
    call = pb_grpc.RegistryServiceStub(channel).WatchEvents(
        pb.WatchEventsRequest(model_name=model, start_after_sequence=0),
        metadata=[("authorization", f"Bearer {token}")] if token else None,
    )

    def drain() -> None:
        with contextlib.suppress(grpc.RpcError):
            for message in call:
                sink.put(message.event)

    def received() -> list[pb.RegistryEvent]:
        got: list[pb.RegistryEvent] = []
        with contextlib.suppress(queue.Empty):
            while True:
                got.append(sink.get(timeout=10 if not got else 1))
        return got

    threading.Thread(target=drain, daemon=True).start()
    try:
        yield received
    finally:
        call.cancel()
        channel.close()


def promote(ctx: Context, step: Step) -> dict[str, Any]:
    """The promotion policy in order, then the verifications asked for, the alias history and
    the streamed events; a refused move (not validate_only) fails the step after the report."""
    model = ctx.pipeline.model
    stub = pb_grpc.RegistryServiceStub(ctx.channel("registry"))
    versions = {p.job: int(ctx.state.outputs(f"train:{p.job}")["version"]) for p in step.item}
    moves: list[dict[str, Any]] = []
    refused: list[str] = []
    verified: dict[str, str] = {}
    print("the registry:")
    registry = ctx.endpoints.address("registry")
    with _events(
        registry, ctx.actor, model, ctx.endpoints.security, ctx.endpoints.bearer()
    ) as received:
        for p in step.item:
            move, refusal = _move(stub, model, p, versions[p.job])
            moves.append(move)
            refused += [refusal] if refusal else []
        for p in step.item:
            if p.verify and p.job not in verified:
                verified[p.job] = _verify(stub, model, versions[p.job])
                if verified[p.job] != pb.VerifyResult.Name(pb.VERIFY_RESULT_MATCH):
                    refused.append(f"v{versions[p.job]} ({p.job}) failed verification")
        history = stub.ListAliasHistory(pb.ListAliasHistoryRequest(model_name=model)).changes
        print("\nalias history:")
        rows = [[c.alias, c.from_version or "-", c.to_version, c.actor] for c in history]
        print(table(rows, ["alias", "from", "to", "actor"]))
        events = received()
    names = [
        f"{pb.EventType.Name(e.type).removeprefix('EVENT_TYPE_')}(v{e.version})" for e in events
    ]
    shown = names[-12:]
    earlier = f"({len(names) - len(shown)} earlier) " if len(names) > len(shown) else ""
    print("\nevents streamed: " + earlier + ", ".join(shown), flush=True)
    moved = [m for m in moves if m["accepted"] and not m["validate_only"]]
    outputs = {
        "model": model,
        "moves": moves,
        "aliases": {m["alias"]: m["version"] for m in moved},
        "verified": verified,
    }
    if refused:
        raise StepFailed("; ".join(refused), outputs)
    return outputs


def _move(
    stub: pb_grpc.RegistryServiceStub, model: str, p: Any, version: int
) -> tuple[dict[str, Any], str]:
    """One alias move (or the gate's verdict on it); returns its record and, when a move was
    refused, why."""
    record = {"job": p.job, "alias": p.alias, "version": version, "validate_only": p.validate_only}
    request = pb.SetAliasRequest(
        model_name=model, alias=p.alias, version=version, validate_only=p.validate_only
    )
    try:
        change = stub.SetAlias(request).change
    except grpc.RpcError as exc:
        code, details = exc.code().name, exc.details()  # type: ignore[attr-defined]
        if p.validate_only:
            print(f"\nthe gate would refuse v{version} ({p.job}) for {p.alias}: {code}")
            print(f"  {details}")
            return {**record, "accepted": False}, ""
        print(f"\nERROR: {p.alias} refused v{version} ({p.job}): {code}: {details}")
        return {**record, "accepted": False}, f"{p.alias} refused v{version} ({p.job}): {code}"
    if p.validate_only:
        print(f"\nthe gate would also accept v{version} ({p.job}) for {p.alias}")
        return {**record, "accepted": True}, ""
    metrics = ", ".join(sorted({c.metric.upper() for c in change.gate.checks}))
    if change.HasField("gate") and change.gate.checks:
        moved = f"promoted v{change.to_version} ({p.job}) to {p.alias}"
        print(f"\n{moved}; the gate's checks ({metrics}):")
        print(gate_table(change.gate))
    else:
        print(f"\npromoted v{change.to_version} ({p.job}) to {p.alias} (not gated)")
    return {**record, "accepted": True}, ""


def _verify(stub: pb_grpc.RegistryServiceStub, model: str, version: int) -> str:
    """Recomputes a version's artefact digest and prints its lineage; returns the result."""
    result = stub.VerifyModelVersion(
        pb.VerifyModelVersionRequest(model_name=model, version=version)
    )
    lineage = stub.GetModelVersion(
        pb.GetModelVersionRequest(model_name=model, version=version)
    ).version.lineage
    print(
        f"\nv{version} lineage: job {lineage.training_job_id}, dataset "
        f"{lineage.dataset.dataset_id} {lineage.dataset.content_hash[:19]}..., statistics "
        f"{lineage.normalisation_stats_hash[:19]}..., code {lineage.code_version}"
    )
    name = pb.VerifyResult.Name(result.result)
    print(f"integrity of v{version}: {name}")
    return name


def forecast(ctx: Context, step: Step) -> dict[str, Any]:
    """Waits until the predictor serves the promoted version under the alias, forecasts the
    test split through it, compares with the registered scores, and keeps the forecast of one
    init time (NetCDF) and the RMSE by lead (JSON) in the run's folder."""
    f = step.item
    model = ctx.pipeline.model
    job_name = ctx.pipeline.forecast_job()
    trained = ctx.state.outputs(f"train:{job_name}")
    promoted = int(trained["version"])
    registry = pb_grpc.RegistryServiceStub(ctx.channel("registry"))
    version = registry.GetModelVersion(
        pb.GetModelVersionRequest(model_name=model, version=promoted)
    ).version
    stub = prpb_grpc.PredictorServiceStub(ctx.channel("predictor"))
    print(f"serving: waiting for the predictor to serve {model}@{f.alias} ...", flush=True)
    waited = time.monotonic()
    info = predict_commands.wait_for_alias(stub, model, f.alias, promoted, f.serving_timeout)
    print(
        f"  {f.alias} is v{info.provenance.model_version} on the model server after "
        f"{time.monotonic() - waited:.1f} s (signature {info.signature_name}, "
        f"{info.metadata.input_steps} input steps)"
    )
    ref = ctx.pinned(f.dataset, step)
    if not ref.content_hash and version.lineage.dataset.dataset_id == f.dataset:
        ref = version.lineage.dataset
    first, last = f.leads[0], f.leads[-1]
    leads_text = (
        f"+{first}..+{last} h"
        if list(f.leads) == list(range(first, last + 1))
        else ", ".join(f"+{h}" for h in f.leads) + " h"
    )
    print(
        f"\nforecasting the test split through the predictor (Forecast, dataset "
        f"{ref.dataset_id} {ref.content_hash[:19]}..., leads {leads_text}):",
        flush=True,
    )
    scores = predict_commands.forecast_test_split(
        stub,
        Archive(ctx.endpoints.archive_url),
        ref,
        model,
        f.alias,
        f.variable,
        info.metadata.input_steps,
        cast(range, f.leads),  # any sequence of lead hours
        f.init_every,
    )
    inits = scores.inits
    every = "every init time" if f.init_every == 1 else f"every {f.init_every}th init time"
    print(
        f"  init times used: {len(inits)} ({every} of the test split, hourly "
        f"{str(inits[0])[:16]}Z .. {str(inits[-1])[:16]}Z; a lead only where its target lies in "
        f"the split, as the trainer scores); {scores.responses} forecasts in {scores.seconds:.1f} s"
    )
    provenance = ", ".join(f"{m} v{v} ({a})" for m, v, a in sorted(scores.provenance))
    print(f"  provenance of every response: {provenance}")
    problems = _check_methods(scores, version, f.variable)
    if scores.provenance != {(model, promoted, f.alias)}:
        print(f"  ERROR: responses did not all come from v{promoted} ({f.alias})")
        problems.append(f"responses did not all come from v{promoted} ({f.alias})")
    registered = predict_commands.registered_rmse(version, f.variable)
    text, _ = predict_commands.skill_table(scores, registered, f.variable)
    print(
        f"\nforecast skill of {model} v{promoted} served: latitude-weighted RMSE of the "
        "served forecasts against the archive, beside the trainer's registered RMSE and the "
        "registry's baselines; skill = 1 - served / min(persistence, climatology)"
    )
    print(text)
    scored = sorted(scores.sums)
    differing = _compare(scores, registered, f.tolerance)
    if differing:
        problems.append(f"served RMSE differs from the registered RMSE at {len(differing)} leads")
    if len(scored) != len(f.leads):
        problems.append(f"{len(scored)} of {len(f.leads)} leads scored")
    outputs_dir = ctx.run_dir / "outputs"
    outputs_dir.mkdir(parents=True, exist_ok=True)
    init_text = f.save_init or str(inits[0])
    saved = save_forecast(stub, model, f.alias, ref, init_text, f.leads, outputs_dir)
    print(f"\nkept for pictures: {ctx.relative(saved)}")
    rmse_file = outputs_dir / "rmse-by-lead.json"
    rmse_file.write_text(
        json.dumps(rmse_by_lead(ctx, f.variable, scores, promoted, job_name), indent=2) + "\n"
    )
    print(f"kept for pictures: {ctx.relative(rmse_file)}", flush=True)
    outputs = {
        "model": model,
        "alias": f.alias,
        "version": promoted,
        "dataset": _ref(ref),
        "inits": len(inits),
        "responses": scores.responses,
        "served_rmse": {str(lead): scores.rmse(lead) for lead in scored},
        "differing_leads": differing,
        "forecast_file": str(saved),
        "rmse_file": str(rmse_file),
    }
    if problems:
        raise StepFailed("; ".join(problems), outputs)
    return outputs


def _check_methods(
    scores: predict_commands.ForecastScores, version: pb.ModelVersion, variable: str
) -> list[str]:
    """Prints and returns a problem when a lead was served (direct or rolled out) in another
    way than the trainer scored it."""
    registered = predict_commands.registered_methods(version, variable)
    methods = predict_commands.method_mismatches(scores, registered)
    if not methods:
        return []
    listed = ", ".join(f"+{lead} h" for lead in methods)
    print(f"  ERROR: served in another way than the trainer scored them: {listed}")
    return [f"{len(methods)} leads served in another way than they were scored"]


def _compare(
    scores: predict_commands.ForecastScores,
    registered: dict[int, tuple[float, dict[str, float]]],
    tolerance: float | None,
) -> list[int]:
    """Prints how served and registered RMSE compare; returns the leads differing by more
    than the tolerance (none without one: a sample of init times is only reported)."""
    scored = sorted(scores.sums)
    if tolerance is None:
        print(
            f"  (a sample of init times: served RMSE reported, not compared; {len(scored)} leads)"
        )
        return []
    differing = [
        lead for lead in scored if abs(scores.rmse(lead) / registered[lead][0] - 1) > tolerance
    ]
    if differing:
        listed = ", ".join(f"+{lead} h" for lead in differing)
        print(f"  served RMSE differs from the registered RMSE by more than {tolerance:.0%} at:")
        print(f"  {listed}")
    else:
        agree = f"within {tolerance:.0%} at all {len(scored)} leads"
        print(f"  served RMSE agrees with the registered RMSE {agree}")
    return differing


def save_forecast(
    stub: prpb_grpc.PredictorServiceStub,
    model: str,
    alias: str,
    ref: dataset_pb2.DatasetRef,
    init_text: str,
    leads: tuple[int, ...],
    folder: Path,
) -> Path:
    """One init time's forecast at every lead, as `weatherctl predict forecast --out` writes it."""
    from weatherctl.forecast_commands import write_netcdf

    init = _timestamp(init_text)
    request = prpb.ForecastRequest(
        model=prpb.ModelSelector(name=model, alias=alias),
        init_time=init,
        lead_times=[duration_pb2.Duration(seconds=h * HOUR) for h in leads],
        dataset=ref,
    )
    responses = list(stub.Forecast(request, timeout=120))
    stamp = str(np.datetime64(init.seconds, "s"))[:13].replace("-", "").replace("T", "T")
    return write_netcdf(responses, init, folder / f"forecast-{model}-{alias}-{stamp}Z.nc")


def rmse_by_lead(
    ctx: Context, variable: str, scores: predict_commands.ForecastScores, version: int, job: str
) -> dict[str, Any]:
    """RMSE by lead: the served forecasts, every job's registered scores, and the references
    (persistence and climatology as the forecast's job scored them)."""
    leads = sorted(scores.sums)
    series: dict[str, list[float | None]] = {"served": [scores.rmse(lead) for lead in leads]}
    references: dict[str, dict[float, float]] = {"persistence": {}, "climatology": {}}
    for j in ctx.pipeline.jobs:
        entries = {
            s["lead_hours"]: s
            for s in ctx.state.outputs(f"train:{j.name}").get("scores", [])
            if s["variable"] == variable
        }
        series[j.name] = [entries[lead]["model"] if lead in entries else None for lead in leads]
        if j.name == job:
            for name in references:
                references[name] = {lead: entries[lead][name] for lead in leads if lead in entries}
    for name, values in references.items():
        series[name] = [values.get(lead) for lead in leads]
    return {
        "model": ctx.pipeline.model,
        "version": version,
        "job": job,
        "variable": variable,
        "lead_hours": leads,
        "inits": len(scores.inits),
        "rmse": series,
    }


def pictures(ctx: Context, step: Step) -> dict[str, Any]:
    """The run's pictures through weatherctl.plots.demo_pictures: the kept forecast against
    the truth, RMSE by lead, and the wind analyses (climatology, area-mean anomaly series with
    its episodes, trend with significant points)."""
    out = ctx.data_dir / step.item.out
    inputs = picture_inputs(ctx)
    try:
        make = importlib.import_module("weatherctl.plots").demo_pictures
    except (ImportError, AttributeError):
        print(
            "pictures: weatherctl.plots.demo_pictures is not there; its inputs are in "
            f"{ctx.relative(ctx.run_dir / 'outputs')}"
        )
        return {"out": str(out), "files": {}}
    print(f"pictures under {ctx.relative(out)}:")
    made = make(ctx.endpoints.archive_url, out, **inputs)
    files = {name: str(path) for name, path in made.items()}
    for path in files.values():
        print(f"  {ctx.relative(path)}")
    return {"out": str(out), "files": files}


def picture_inputs(ctx: Context) -> dict[str, Any]:
    """demo_pictures' keyword arguments from the run's outputs: the forecast's dataset and
    NetCDF file, the RMSE by lead, the analyses' datasets (by kind), episodes and threshold."""
    forecast = ctx.state.outputs("forecast")
    analyses = {a.name: ctx.state.outputs(f"analysis:{a.name}") for a in ctx.pipeline.analyses}
    inputs: dict[str, Any] = {}
    if ctx.pipeline.forecast is not None:
        inputs["training_dataset"] = ctx.pipeline.forecast.dataset
        inputs["variable"] = ctx.pipeline.forecast.variable
    if forecast.get("forecast_file"):
        inputs["forecast_netcdf"] = forecast["forecast_file"]
    if forecast.get("rmse_file"):
        kept = json.loads(Path(forecast["rmse_file"]).read_text())
        inputs["rmse_by_lead"] = {
            name: {
                lead: value
                for lead, value in zip(kept["lead_hours"], values, strict=True)
                if value is not None
            }
            for name, values in kept["rmse"].items()
            if name != "served"
        }
    for a in ctx.pipeline.analyses:
        dataset = analyses[a.name].get("dataset", {}).get("dataset_id", a.output)
        if a.kind == "climatology":
            inputs["climatology_dataset"] = dataset
        elif a.kind == "area-mean" and a.anomalies:
            inputs["anomaly_dataset"] = dataset
            if a.episodes:
                inputs["episodes"] = [(e.label, e.start, e.end) for e in a.episodes]
        elif a.kind == "trend":
            inputs["trend_dataset"] = dataset
            if a.significance is not None:
                inputs["alpha"] = a.significance
        else:
            continue
        inputs["winds_dataset"] = a.source
        if a.variables:
            inputs["wind_variable"] = a.variables[0]
    return inputs


EXECUTORS: dict[str, Callable[[Context, Step], dict[str, Any]]] = {
    "ingest": ingest,
    "build": build,
    "analysis": analysis,
    "train": train,
    "promote": promote,
    "forecast": forecast,
    "pictures": pictures,
}


def skipped_line(step: Step, outputs: dict[str, Any]) -> str:
    """What a step that was not run had produced, in one line."""
    dataset = outputs.get("dataset") or {}
    version = f"v{outputs.get('version')}"
    if step.kind in ("ingest", "build", "analysis") and dataset:
        return f"{dataset.get('dataset_id')} {version} {str(dataset.get('content_hash'))[:19]}..."
    if step.kind == "train":
        return f"job {outputs.get('job_id')}, registered {outputs.get('model')} {version}"
    if step.kind == "promote":
        moved = sorted(outputs.get("aliases", {}).items())
        return ", ".join(f"{a}=v{v}" for a, v in moved) or "-"
    if step.kind == "forecast":
        served = f"{version} ({outputs.get('alias')})"
        return f"{outputs.get('responses')} forecasts of {served}, {outputs.get('inits')} inits"
    if step.kind == "pictures":
        return f"{len(outputs.get('files', {}))} pictures in {outputs.get('out')}"
    return ""
