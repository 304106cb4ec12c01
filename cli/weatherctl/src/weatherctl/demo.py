"""`weatherctl demo`, the main job: start the suite on embedded defaults and run the pipeline.

The pipeline ingests the bundled files, builds the demo's training dataset, runs the navy wind
climate analysis, trains and scores the convolutional network and the Dask ridge regression on
the ERA5 test week (each registered by the trainer with its lineage and metrics), and takes the
network through the registry's promotion gate; then, once the serving sync has put the
promoted version behind the model server's `production` label, forecasts the test week through
the predictor and scores it against the archive's truth, all in one trace.
"""

from __future__ import annotations

import contextlib
import queue
import shutil
import threading
import time
from pathlib import Path

import grpc
from opentelemetry import trace
from weather.common.v1 import dataset_pb2
from weather.ingest.v1 import ingest_service_pb2 as ipb
from weather.ingest.v1 import ingest_service_pb2_grpc as ipb_grpc
from weather.predictor.v1 import predictor_service_pb2_grpc as prpb_grpc
from weather.preprocess.v1 import preprocess_service_pb2 as ppb
from weather.preprocess.v1 import preprocess_service_pb2_grpc as ppb_grpc
from weather.registry.v1 import registry_service_pb2 as pb
from weather.registry.v1 import registry_service_pb2_grpc as pb_grpc
from weather.trainer.v1 import trainer_service_pb2 as tpb
from weather.trainer.v1 import trainer_service_pb2_grpc as tpb_grpc

from weather_data.archive import Archive
from weather_runtime.identity import with_actor
from weather_runtime.telemetry import init_tracing, instrumented_channel
from weatherctl import data_commands, predict_commands
from weatherctl.launcher import LocalSuite, source_root
from weatherctl.output import table
from weatherctl.recipes import recipe_from_yaml
from weatherctl.registry_commands import gate_table
from weatherctl.train_commands import describe as describe_job
from weatherctl.train_commands import follow as follow_job
from weatherctl.train_commands import score_table, spec_from_yaml

MODEL = "era5-t2m-forecast"
SOURCES = (
    ("era5-2mt-2019-03-uk.grib", "era5-t2m", 0),
    ("monthly_navy_winds.cdf", "navy-winds", 0),
    ("eraint_uvz.nc", "era-interim-uvz", 2000),
)
ENSO_EPISODES = (
    ("El Nino 1982-83", "1982-09", "1983-02"),
    ("El Nino 1987", "1987-01", "1987-09"),
    ("La Nina 1988-89", "1988-06", "1989-03"),
)
# Training jobs of the demo (job specs under data/jobs/), in order.
JOBS = (("cnn", "era5-t2m-cnn.yaml"), ("ridge", "era5-t2m-ridge.yaml"))
VARIABLE = "t2m"
LEADS = range(1, 25)  # +1 h .. +24 h
# How long the serving sync may take to copy, load and label the promoted version.
SERVING_TIMEOUT = 180.0
# Every INIT_EVERY-th init time of the test split is forecast (1: all of them).
INIT_EVERY = 1


def _watch(stub: pb_grpc.RegistryServiceStub, sink: queue.Queue[pb.RegistryEvent]) -> grpc.Future:
    call = stub.WatchEvents(pb.WatchEventsRequest(model_name=MODEL, start_after_sequence=0))

    def drain() -> None:
        try:
            for message in call:
                sink.put(message.event)
        except grpc.RpcError:
            return

    threading.Thread(target=drain, daemon=True).start()
    return call  # type: ignore[no-any-return]


def _data_pipeline(suite: LocalSuite, actor: str) -> ppb.BuildResult:
    """Ingest, training dataset, navy-wind analysis; returns the build (for the lineage)."""
    ingest = ipb_grpc.IngestServiceStub(
        with_actor(instrumented_channel(suite.services["ingest"].address), actor)
    )
    preprocess = ppb_grpc.PreprocessServiceStub(
        with_actor(instrumented_channel(suite.services["preprocess"].address), actor)
    )
    print("\ningesting the bundled files:")
    for name, dataset_id, year in SOURCES:
        request = ipb.StartIngestRequest(
            source_uri=str(source_root() / "demo" / name),
            dataset_id=dataset_id,
            reference_year=year,
        )
        done = data_commands.follow(
            ingest, ingest.StartIngest(request).operation.operation_id, quiet=True
        )
        if done.operation.state != data_commands.SUCCEEDED:
            raise RuntimeError(f"ingest of {name} failed: {data_commands.failure(done.operation)}")
        print("  " + data_commands.describe_manifest(done.result))
    print("\nbuilding the training dataset (data/recipes/era5-t2m.yaml):")
    recipe = recipe_from_yaml((source_root() / "recipes" / "era5-t2m.yaml").read_text())
    built = data_commands.follow(
        preprocess,
        preprocess.StartBuild(ppb.StartBuildRequest(recipe=recipe)).operation.operation_id,
        quiet=True,
    )
    if built.operation.state != data_commands.SUCCEEDED:
        raise RuntimeError(f"build failed: {data_commands.failure(built.operation)}")
    data_commands.print_build(built.build)
    print("\nnavy winds: zonal wind anomaly, area mean over NINO4 (5S-5N, 160E-150W):")
    analysis = ppb.StartAnalysisRequest(
        source=dataset_pb2.DatasetRef(dataset_id="navy-winds"),
        variables=["UWND"],
        kind=ppb.ANALYSIS_KIND_AREA_MEAN,
        named_region="nino4",
        of_anomalies=True,
        output_dataset_id="navy-winds-nino4-anomaly",
    )
    done = data_commands.follow(
        preprocess, preprocess.StartAnalysis(analysis).operation.operation_id, quiet=True
    )
    if done.operation.state != data_commands.SUCCEEDED:
        raise RuntimeError(f"analysis failed: {data_commands.failure(done.operation)}")
    _print_enso(done.analysis)
    return built.build  # type: ignore[no-any-return]


def _print_enso(result: ppb.AnalysisResult) -> None:
    """Mean anomaly over the known ENSO episodes, from the series the service returned."""
    values = {p.time.ToDatetime(): p.values["UWND"] for p in result.series}
    rows = []
    for label, start, end in ENSO_EPISODES:
        chosen = [v for t, v in values.items() if start <= t.strftime("%Y-%m") <= end]
        rows.append([label, f"{start}..{end}", f"{sum(chosen) / len(chosen):+.2f} m/s"])
    print(table(rows, ["episode", "months", "mean UWND anomaly"]))
    print("  (westerly anomalies in El Nino, easterly in La Nina)")


def _train(suite: LocalSuite, actor: str) -> dict[str, tpb.Job]:
    """Trains, scores and registers the demo's models; returns the finished jobs by family."""
    channel = with_actor(instrumented_channel(suite.services["trainer"].address), actor)
    stub = tpb_grpc.TrainerServiceStub(channel)
    finished = {}
    try:
        for family, name in JOBS:
            spec = spec_from_yaml((source_root() / "jobs" / name).read_text())
            spec.model_name = MODEL
            print(f"\ntraining {family} (data/jobs/{name}):")
            job = stub.StartTraining(tpb.StartTrainingRequest(spec=spec)).job
            job = follow_job(stub, job.job_id)
            if job.state != tpb.JOB_STATE_SUCCEEDED:
                raise RuntimeError(f"training {family} failed: {describe_job(job)}")
            print(f"\n{family}: RMSE (K) on the test week, init times from 2019-03-25 00Z")
            print(score_table(job))
            losing = [s for s in job.scores if s.skill_score <= 0]
            verdict = "beats" if not losing else f"does not beat ({len(losing)} leads)"
            print(f"  {family} {verdict} the better of persistence and climatology at every lead")
            print(f"  registered {job.registered_model} v{job.registered_version}")
            finished[family] = job
    finally:
        channel.close()
    return finished


def _promote(stub: pb_grpc.RegistryServiceStub, jobs: dict[str, tpb.Job]) -> bool:
    """The network goes to production through the gate; the ridge is judged, then staged."""
    network, ridge = jobs["cnn"].registered_version, jobs["ridge"].registered_version
    try:
        change = stub.SetAlias(
            pb.SetAliasRequest(model_name=MODEL, alias="production", version=network)
        ).change
    except grpc.RpcError as refused:
        print(f"\nERROR: the gate refused the network v{network}: {refused.details()}")  # type: ignore[attr-defined]
        return False
    print(f"\npromoted v{change.to_version} (cnn) to production; the gate's checks (RMSE):")
    print(gate_table(change.gate))
    judged = pb.SetAliasRequest(
        model_name=MODEL, alias="production", version=ridge, validate_only=True
    )
    try:
        stub.SetAlias(judged)
        print(f"\nthe gate would also accept v{ridge} (ridge) for production")
    except grpc.RpcError as refused:
        print(f"\nthe gate would refuse v{ridge} (ridge): {refused.code().name}")  # type: ignore[attr-defined]
        print(f"  {refused.details()}")  # type: ignore[attr-defined]
    stub.SetAlias(pb.SetAliasRequest(model_name=MODEL, alias="staging", version=ridge))
    return True


def _registry_round_trip(suite: LocalSuite, actor: str, jobs: dict[str, tpb.Job]) -> bool:
    """The gate, integrity, history and the event stream; True when all held."""
    address = suite.services["registry"].address
    print("\nthe registry:")
    channel = with_actor(instrumented_channel(address), actor)
    stub = pb_grpc.RegistryServiceStub(channel)
    # The watch is long-lived and cancelled at the end: a plain channel keeps call.cancel().
    watch_channel = with_actor(grpc.insecure_channel(address), actor)
    events: queue.Queue[pb.RegistryEvent] = queue.Queue()
    try:
        watch_call = _watch(pb_grpc.RegistryServiceStub(watch_channel), events)
        gate_ok = _promote(stub, jobs)
        network = jobs["cnn"]
        verified = stub.VerifyModelVersion(
            pb.VerifyModelVersionRequest(model_name=MODEL, version=network.registered_version)
        )
        lineage = stub.GetModelVersion(
            pb.GetModelVersionRequest(model_name=MODEL, version=network.registered_version)
        ).version.lineage
        print(
            f"\nv{network.registered_version} lineage: job {lineage.training_job_id}, dataset "
            f"{lineage.dataset.dataset_id} {lineage.dataset.content_hash[:19]}..., statistics "
            f"{lineage.normalisation_stats_hash[:19]}..., code {lineage.code_version}"
        )
        print(
            f"integrity of v{network.registered_version}: {pb.VerifyResult.Name(verified.result)}"
        )
        history = stub.ListAliasHistory(pb.ListAliasHistoryRequest(model_name=MODEL)).changes
        print("\nalias history:")
        rows = [[c.alias, c.from_version or "-", c.to_version, c.actor] for c in history]
        print(table(rows, ["alias", "from", "to", "actor"]))
        received: list[pb.RegistryEvent] = []
        with contextlib.suppress(queue.Empty):
            while len(received) < 4:  # two versions created, two aliases moved
                received.append(events.get(timeout=10))
        watch_call.cancel()
        names = [
            f"{pb.EventType.Name(e.type).removeprefix('EVENT_TYPE_')}(v{e.version})"
            for e in received
        ]
        print("\nevents streamed: " + ", ".join(names))
    finally:
        channel.close()
        watch_channel.close()
    return gate_ok and verified.result == pb.VERIFY_RESULT_MATCH


def _forecast(suite: LocalSuite, actor: str, jobs: dict[str, tpb.Job]) -> bool:
    """Waits until the predictor serves the promoted network as production, forecasts the test
    week through it and compares the scores with the registered ones (a difference of more than
    1% is reported). True when every response came from the promoted version and all 24 leads
    were scored."""
    promoted = jobs["cnn"].registered_version
    registry_channel = with_actor(instrumented_channel(suite.services["registry"].address), actor)
    channel = with_actor(instrumented_channel(suite.services["predictor"].address), actor)
    try:
        version = (
            pb_grpc.RegistryServiceStub(registry_channel)
            .GetModelVersion(pb.GetModelVersionRequest(model_name=MODEL, version=promoted))
            .version
        )
        stub = prpb_grpc.PredictorServiceStub(channel)
        print(f"\nserving: waiting for the predictor to serve {MODEL}@production ...", flush=True)
        waited = time.monotonic()
        info = predict_commands.wait_for_alias(stub, MODEL, "production", promoted, SERVING_TIMEOUT)
        print(
            f"  production is v{info.provenance.model_version} on the model server after "
            f"{time.monotonic() - waited:.1f} s (signature {info.signature_name}, "
            f"{info.metadata.input_steps} input steps)"
        )
        ref = version.lineage.dataset
        print(
            f"\nforecasting the test week through the predictor (Forecast, dataset "
            f"{ref.dataset_id} {ref.content_hash[:19]}..., leads +1..+24 h):",
            flush=True,
        )
        scores = predict_commands.forecast_test_split(
            stub,
            Archive(suite.archive_url),
            ref,
            MODEL,
            "production",
            VARIABLE,
            info.metadata.input_steps,
            LEADS,
            INIT_EVERY,
        )
    finally:
        channel.close()
        registry_channel.close()
    inits = scores.inits
    every = "every init time" if INIT_EVERY == 1 else f"every {INIT_EVERY}th init time"
    print(
        f"  init times used: {len(inits)} ({every} of the test split, hourly "
        f"{str(inits[0])[:16]}Z .. {str(inits[-1])[:16]}Z; a lead only where its target lies in "
        f"the split, as the trainer scores); {scores.responses} forecasts in {scores.seconds:.1f} s"
    )
    provenance = ", ".join(f"{m} v{v} ({a})" for m, v, a in sorted(scores.provenance))
    print(f"  provenance of every response: {provenance}")
    served_promoted = scores.provenance == {(MODEL, promoted, "production")}
    if not served_promoted:
        print(f"  ERROR: responses did not all come from v{promoted} (production)")
    registered = predict_commands.registered_rmse(version, VARIABLE)
    text, differing = predict_commands.skill_table(scores, registered, VARIABLE)
    print(
        f"\nforecast skill of {MODEL} v{promoted} served: latitude-weighted RMSE (K) of the "
        "served forecasts against the archive, beside the trainer's registered RMSE and the "
        "registry's baselines; skill = 1 - served / min(persistence, climatology)"
    )
    print(text)
    leads = len(scores.sums)
    if differing:
        listed = ", ".join(f"+{lead} h" for lead in differing)
        print(f"  served RMSE differs from the registered RMSE by more than 1% at: {listed}")
    else:
        print(f"  served RMSE agrees with the registered RMSE within 1% at all {leads} leads")
    return served_promoted and leads == len(LEADS)


def run_demo(data_dir: Path) -> int:
    """Runs the main job; returns the process exit code."""
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    provider = init_tracing("weatherctl")
    tracer = trace.get_tracer("weatherctl.demo")
    print(f"starting the suite under {data_dir} ...", flush=True)
    with LocalSuite(data_dir) as suite, tracer.start_as_current_span("pipeline-run") as span:
        actor = "weatherctl-demo"
        for name, service in suite.services.items():
            where = service.address if service.spec.serves_grpc else "(sidecar, no gRPC port)"
            print(f"  {name:<12} {where}")
        _data_pipeline(suite, actor)
        jobs = _train(suite, actor)
        ok = _registry_round_trip(suite, actor, jobs)
        # serving follows the promotion; without one there is nothing to forecast with
        ok = ok and _forecast(suite, actor, jobs)
        trace_id = format(span.get_span_context().trace_id, "032x")
    provider.force_flush()
    print(f"\ntrace id of this run: {trace_id}")
    print("suite stopped cleanly")
    return 0 if ok else 1
