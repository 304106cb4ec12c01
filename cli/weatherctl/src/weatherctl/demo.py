"""`weatherctl demo`, the main job: start the suite on embedded defaults and run the pipeline.

Until the data and training services land, the pipeline is a registry round trip: a model, two
versions with their artefacts, the promotion gate accepting one and refusing the other, an
integrity check, the audit history and the event stream, all in one trace.
"""

from __future__ import annotations

import json
import queue
import shutil
import threading
from pathlib import Path

import grpc
from opentelemetry import trace
from weather.registry.v1 import registry_service_pb2 as pb
from weather.registry.v1 import registry_service_pb2_grpc as pb_grpc

from weather_runtime.artifacts import directory_digest
from weather_runtime.identity import with_actor
from weather_runtime.telemetry import init_tracing, instrumented_channel
from weatherctl.launcher import LocalSuite
from weatherctl.output import table
from weatherctl.registry_commands import gate_table

MODEL = "era5-t2m-demo"

# Scores the demo registers. They are inputs of this round trip, NOT measured skill: the trainer
# (a later issue) replaces them with scores computed on the bundled ERA5 test week. The baseline
# columns are the persistence and hour-of-day climatology RMSE (K) measured on that week.
DEMO_SCORES = {
    "candidate": {1: 0.52, 6: 1.60, 12: 1.75, 24: 1.40},
    "weak": {1: 0.55, 6: 1.70, 12: 2.10, 24: 1.45},
}
BASELINES = {
    1: {"persistence": 0.578, "climatology": 1.804},
    6: {"persistence": 2.720, "climatology": 1.826},
    12: {"persistence": 3.694, "climatology": 1.851},
    24: {"persistence": 1.538, "climatology": 1.889},
}


def _metrics(scores: dict[int, float]) -> list[pb.Metric]:
    metrics = []
    for lead, value in scores.items():
        metric = pb.Metric(name="rmse", variable="t2m", value=value, goal=pb.METRIC_GOAL_MINIMIZE)
        metric.lead_time.FromSeconds(lead * 3600)
        metric.baselines.extend(
            pb.BaselineScore(baseline=k, value=v) for k, v in BASELINES[lead].items()
        )
        metrics.append(metric)
    return metrics


def _artifact(root: Path, name: str, scores: dict[int, float]) -> Path:
    """A stand-in artefact directory (the trainer will export real SavedModels here)."""
    folder = root / "artifacts" / MODEL / name
    (folder / "assets").mkdir(parents=True, exist_ok=True)
    (folder / "assets" / "metadata.json").write_text(
        json.dumps({"model": MODEL, "variant": name, "scores": scores}, indent=2)
    )
    return folder


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


def run_demo(data_dir: Path) -> int:
    """Runs the main job; returns the process exit code."""
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    provider = init_tracing("weatherctl")
    tracer = trace.get_tracer("weatherctl.demo")
    print(f"starting the suite under {data_dir} ...", flush=True)
    with LocalSuite(data_dir) as suite, tracer.start_as_current_span("pipeline-run") as span:
        registry = suite.services["registry"]
        print(f"registry serving on {registry.address}")
        actor = "weatherctl-demo"
        channel = with_actor(instrumented_channel(registry.address), actor)
        stub = pb_grpc.RegistryServiceStub(channel)
        # The watch is long-lived and cancelled at the end: a plain channel keeps call.cancel().
        watch_channel = with_actor(grpc.insecure_channel(registry.address), actor)
        events: queue.Queue[pb.RegistryEvent] = queue.Queue()
        stub.CreateRegisteredModel(
            pb.CreateRegisteredModelRequest(name=MODEL, description="UK 2 m temperature forecaster")
        )
        watch_call = _watch(pb_grpc.RegistryServiceStub(watch_channel), events)
        versions = {}
        for name, scores in DEMO_SCORES.items():
            folder = _artifact(data_dir, name, scores)
            digest = directory_digest(str(folder))
            created = stub.CreateModelVersion(
                pb.CreateModelVersionRequest(
                    model_name=MODEL,
                    artifact_uri=str(folder),
                    artifact_digest=digest.digest,
                    metrics=_metrics(scores),
                    tags={"variant": name},
                    request_id=f"demo-{name}",
                )
            ).version
            versions[name] = created.version
            print(f"registered {MODEL} v{created.version} ({name}) digest {digest.digest[:23]}…")

        change = stub.SetAlias(
            pb.SetAliasRequest(model_name=MODEL, alias="production", version=versions["candidate"])
        ).change
        print("\n(the model scores above are demo inputs, not measured; the baselines are the")
        print(" persistence and climatology RMSE measured on the ERA5 March 2019 test week)")
        print(f"\npromoted v{change.to_version} to production; the gate's checks:")
        print(gate_table(change.gate))
        try:
            stub.SetAlias(
                pb.SetAliasRequest(model_name=MODEL, alias="production", version=versions["weak"])
            )
            print("\nERROR: the gate let the weak version into production")
            return 1
        except grpc.RpcError as refused:
            print(f"\npromotion of v{versions['weak']} refused: {refused.code().name}")  # type: ignore[attr-defined]
            print(f"  {refused.details()}")  # type: ignore[attr-defined]
        stub.SetAlias(
            pb.SetAliasRequest(model_name=MODEL, alias="staging", version=versions["weak"])
        )

        verified = stub.VerifyModelVersion(
            pb.VerifyModelVersionRequest(model_name=MODEL, version=versions["candidate"])
        )
        print(f"\nintegrity of v{versions['candidate']}: {pb.VerifyResult.Name(verified.result)}")
        history = stub.ListAliasHistory(pb.ListAliasHistoryRequest(model_name=MODEL)).changes
        print("\nalias history:")
        print(
            table(
                [[c.alias, c.from_version or "-", c.to_version, c.actor] for c in history],
                ["alias", "from", "to", "actor"],
            )
        )
        received = [events.get(timeout=10) for _ in range(4)]
        watch_call.cancel()
        print(
            "\nevents streamed: "
            + ", ".join(
                f"{pb.EventType.Name(e.type).removeprefix('EVENT_TYPE_')}(v{e.version})"
                for e in received
            )
        )
        trace_id = format(span.get_span_context().trace_id, "032x")
        channel.close()
        watch_channel.close()
    provider.force_flush()
    print(f"\ntrace id of this run: {trace_id}")
    print("suite stopped cleanly")
    ok = verified.result == pb.VERIFY_RESULT_MATCH
    return 0 if ok else 1
