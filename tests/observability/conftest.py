"""One suite run shared by the observability tests of a module.

`suite` starts every service (weatherctl's LocalSuite) in a temporary folder with `suite_env`
added to each service's environment: a test module overrides that fixture to pass, say, OTEL_*
variables. `workload` runs a small real pipeline through the services: ingest the bundled ERA5
GRIB, build the training dataset from data/recipes/era5-t2m.yaml, train a tiny network for one
epoch (registered by the trainer), point `staging` at it, wait until the predictor serves it
and call the predictor. `prometheus` scrapes every service's /metrics once a second; it starts
before the workload when a test asks for it first.

Nothing here imports cfgrib or ecCodes: the data plane runs in the service processes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from google.protobuf import duration_pb2, timestamp_pb2
from weather.common.v1 import dataset_pb2, field_pb2
from weather.common.v1 import operation_pb2 as opb
from weather.ingest.v1 import ingest_service_pb2 as ipb
from weather.ingest.v1 import ingest_service_pb2_grpc as ipb_grpc
from weather.predictor.v1 import predictor_service_pb2 as prpb
from weather.predictor.v1 import predictor_service_pb2_grpc as prpb_grpc
from weather.preprocess.v1 import preprocess_service_pb2 as ppb
from weather.preprocess.v1 import preprocess_service_pb2_grpc as ppb_grpc
from weather.registry.v1 import registry_service_pb2 as rpb
from weather.registry.v1 import registry_service_pb2_grpc as rpb_grpc
from weather.trainer.v1 import trainer_service_pb2 as tpb
from weather.trainer.v1 import trainer_service_pb2_grpc as tpb_grpc

from tests.observability.prometheus import PROMETHEUS_ENV, Prometheus, prometheus_binary
from weather_runtime.auth import BearerTokenInterceptor
from weather_runtime.identity import with_actor
from weatherctl.launcher import LocalSuite, source_root
from weatherctl.recipes import recipe_from_yaml

ACTOR = "observability-test"
MODEL = "obs-t2m"
ALIAS = "staging"  # not gated: the tiny network need not beat the baselines
GRIB = "era5-2mt-2019-03-uk.grib"
SOURCE_DATASET = "era5-t2m"
TRAINING_DATASET = "era5-t2m-train"
LEAD_HOURS = (1, 2, 3)
INPUT_STEPS = 4
PREDICTOR_CALLS = 3  # of each of Predict and Forecast
SERVING_TIMEOUT = 180.0
# A network that trains in seconds (tests/trainer/conftest.py's TINY_CNN), for one epoch.
TINY_CNN = {"filters": 4, "depth": 1, "leads_per_init": 1, "ridge_start": 0, "window_summary": 2}


@dataclass
class Workload:
    """What the pipeline run did, for the tests to compare with what the services report."""

    dataset_bytes: int = 0
    build_dataset: str = ""
    job_id: str = ""
    job_epochs: int = 0
    model: str = MODEL
    version: int = 0
    alias: str = ALIAS
    leads_scored: list[float] = field(default_factory=list)
    # (method, model, version) of every predictor answer
    answers: list[tuple[str, str, int]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


@pytest.fixture(scope="module")
def suite_env() -> dict[str, str]:
    """Extra environment of every service process; override it in a test module."""
    return {}


@pytest.fixture(scope="module")
def suite(
    tmp_path_factory: pytest.TempPathFactory, suite_env: dict[str, str]
) -> Iterator[LocalSuite]:
    """Every service running on loopback, each with its metrics port."""
    running = LocalSuite(tmp_path_factory.mktemp("suite"), extra_env=suite_env)
    started = time.monotonic()
    running.start(timeout=120)
    running.start_seconds = time.monotonic() - started  # type: ignore[attr-defined]
    try:
        yield running
    finally:
        running.stop()


def metrics_targets(suite: LocalSuite) -> dict[str, list[str]]:
    """Prometheus scrape targets: service name -> its metrics address."""
    return {
        name: [f"127.0.0.1:{service.metrics_port}"]
        for name, service in suite.services.items()
        if service.metrics_port
    }


@pytest.fixture(scope="module")
def prometheus(suite: LocalSuite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """A real Prometheus scraping every service of the suite once a second."""
    binary = prometheus_binary()
    if binary is None:
        pytest.skip(
            f"no Prometheus: {PROMETHEUS_ENV} is unset and no `prometheus` is on PATH "
            "(`make test` installs it with tools/prometheus.sh)"
        )
    server = Prometheus(binary, tmp_path_factory.mktemp("prometheus"), metrics_targets(suite))
    server.start()
    try:
        server.wait_targets_up()
        yield server
    finally:
        server.stop()


def _channel(suite: LocalSuite, name: str) -> grpc.Channel:
    address, security = suite.services[name].address, suite.client_tls  # mTLS by default
    if security is None:
        channel = grpc.insecure_channel(address)
    else:
        channel = grpc.secure_channel(address, security.credentials())
    if suite.client_token_file:  # authentication on by default: weatherctl's token
        token = Path(suite.client_token_file).read_text().strip()
        channel = grpc.intercept_channel(channel, BearerTokenInterceptor(lambda: token))
    return with_actor(channel, ACTOR)


def _follow_operation(stub: Any, operation_id: str, timeout: float = 300) -> Any:
    """The last WatchOperation message (ingest or preprocess); fails unless it succeeded."""
    request_type = (
        ipb.WatchOperationRequest
        if isinstance(stub, ipb_grpc.IngestServiceStub)
        else ppb.WatchOperationRequest
    )
    messages = list(stub.WatchOperation(request_type(operation_id=operation_id), timeout=timeout))
    last = messages[-1] if messages else None
    assert last is not None, f"no status for operation {operation_id}"
    assert last.operation.state == opb.OPERATION_STATE_SUCCEEDED, f"{operation_id}: {last}"
    return last


def _ingest(suite: LocalSuite, work: Workload) -> None:
    with _channel(suite, "ingest") as channel:
        stub = ipb_grpc.IngestServiceStub(channel)
        request = ipb.StartIngestRequest(
            source_uri=str(source_root() / "demo" / GRIB), dataset_id=SOURCE_DATASET
        )
        started = stub.StartIngest(request, timeout=60)
        done = _follow_operation(stub, started.operation.operation_id)
        work.dataset_bytes = int(done.result.size_bytes)


def _build(suite: LocalSuite, work: Workload) -> None:
    recipe = recipe_from_yaml((source_root() / "recipes" / "era5-t2m.yaml").read_text())
    with _channel(suite, "preprocess") as channel:
        stub = ppb_grpc.PreprocessServiceStub(channel)
        started = stub.StartBuild(ppb.StartBuildRequest(recipe=recipe), timeout=60)
        _follow_operation(stub, started.operation.operation_id)
        work.build_dataset = recipe.output_dataset_id


def _train(suite: LocalSuite, work: Workload) -> None:
    spec = tpb.JobSpec(
        dataset=dataset_pb2.DatasetRef(dataset_id=TRAINING_DATASET),
        model_family="cnn",
        hyperparameters=TINY_CNN,
        input_steps=INPUT_STEPS,
        lead_times=[duration_pb2.Duration(seconds=h * 3600) for h in LEAD_HOURS],
        epochs=1,
        seed=7,
        batch_size=64,
        model_name=MODEL,
        description="observability test: a tiny network, one epoch",
    )
    with _channel(suite, "trainer") as channel:
        stub = tpb_grpc.TrainerServiceStub(channel)
        job = stub.StartTraining(tpb.StartTrainingRequest(spec=spec), timeout=60).job
        for message in stub.WatchJob(tpb.WatchJobRequest(job_id=job.job_id), timeout=600):
            job = message.job
        assert job.state == tpb.JOB_STATE_SUCCEEDED, f"training failed: {job}"
    work.job_id = job.job_id
    work.job_epochs = len(job.epochs)
    work.version = int(job.registered_version)
    assert job.registered_model == MODEL and work.version > 0, job
    work.leads_scored = sorted(s.lead_time.seconds / 3600 for s in job.scores)


def _stage(suite: LocalSuite, work: Workload) -> None:
    with _channel(suite, "registry") as channel:
        rpb_grpc.RegistryServiceStub(channel).SetAlias(
            rpb.SetAliasRequest(model_name=MODEL, alias=ALIAS, version=work.version), timeout=30
        )


def _wait_served(stub: prpb_grpc.PredictorServiceStub, work: Workload) -> prpb.GetModelInfoResponse:
    deadline = time.monotonic() + SERVING_TIMEOUT
    selector = prpb.ModelSelector(name=MODEL, alias=ALIAS)
    last = "no answer yet"
    while time.monotonic() < deadline:
        try:
            info = stub.GetModelInfo(prpb.GetModelInfoRequest(model=selector), timeout=10)
            if info.provenance.model_version == work.version:
                return info  # type: ignore[no-any-return]
            last = f"{ALIAS} is v{info.provenance.model_version}"
        except grpc.RpcError as exc:
            last = f"{exc.code().name}: {exc.details()}"  # type: ignore[attr-defined]
        time.sleep(0.5)
    raise TimeoutError(f"{MODEL}@{ALIAS} not served as v{work.version} ({last})")


def _predict(suite: LocalSuite, work: Workload) -> None:
    with _channel(suite, "predictor") as channel:
        stub = prpb_grpc.PredictorServiceStub(channel)
        info = _wait_served(stub, work)
        meta = info.metadata
        selector = prpb.ModelSelector(name=MODEL, alias=ALIAS)
        shape = [meta.input_steps, len(meta.latitudes), len(meta.longitudes)]
        window = np.full(shape, 280.0, dtype="<f4")
        # init times on the test split (25-31 March 2019), with a full input window before them
        first_init = int(np.datetime64("2019-03-26T00:00:00", "s").astype(np.int64))
        for call in range(PREDICTOR_CALLS):
            init = timestamp_pb2.Timestamp(seconds=first_init + call * 3600)
            answer = stub.Predict(
                prpb.PredictRequest(
                    model=selector,
                    inputs=[
                        field_pb2.GriddedField(
                            variable="t2m",
                            units="K",
                            shape=shape,
                            dtype=field_pb2.DATA_TYPE_FLOAT32,
                            data=window.tobytes(),
                        )
                    ],
                    init_time=init,
                    lead_time=duration_pb2.Duration(seconds=LEAD_HOURS[0] * 3600),
                ),
                timeout=60,
            )
            p = answer.provenance
            work.answers.append(("Predict", p.model_name, int(p.model_version)))
            responses = list(
                stub.Forecast(
                    prpb.ForecastRequest(
                        model=selector,
                        init_time=init,
                        lead_times=[duration_pb2.Duration(seconds=h * 3600) for h in LEAD_HOURS],
                        dataset=dataset_pb2.DatasetRef(dataset_id=TRAINING_DATASET),
                    ),
                    timeout=120,
                )
            )
            assert len(responses) == len(LEAD_HOURS)
            p = responses[-1].provenance
            work.answers.append(("Forecast", p.model_name, int(p.model_version)))


@pytest.fixture(scope="module")
def workload(suite: LocalSuite) -> Workload:
    """The small pipeline run through the suite (once per module)."""
    work = Workload()
    for name, step in (
        ("ingest", _ingest),
        ("build", _build),
        ("train", _train),
        ("stage", _stage),
        ("predict", _predict),
    ):
        started = time.monotonic()
        try:
            step(suite, work)
        except Exception as exc:
            logs = _log_tails(suite)
            raise AssertionError(f"workload step {name} failed: {exc}\n{logs}") from exc
        work.seconds[name] = time.monotonic() - started
    return work


def _log_tails(suite: LocalSuite, size: int = 1500) -> str:
    parts = []
    for name, service in suite.services.items():
        path: Path = service.log_path
        if path.exists():
            parts.append(f"--- {name} ---\n{path.read_text(errors='replace')[-size:]}")
    return "\n".join(parts)
