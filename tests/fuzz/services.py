"""Every service in-process on port 0 with temporary stores, as fuzz targets (the suites' helpers)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import text_format
from tensorflow_serving.apis import model_service_pb2, prediction_service_pb2
from weather.ingest.v1 import ingest_service_pb2
from weather.predictor.v1 import predictor_service_pb2
from weather.preprocess.v1 import preprocess_service_pb2
from weather.registry.v1 import registry_service_pb2
from weather.trainer.v1 import trainer_service_pb2

from tests.fuzz import tensors
from tests.fuzz.harness import Target
from weather_data.cluster import DaskRuntime, DaskSettings

MODEL = "forecast"
ALIASES = ("production", "staging", "canary", "stable")
# every service's gRPC services, from the generated descriptors
SERVICES = {
    "registry": [registry_service_pb2.DESCRIPTOR.services_by_name["RegistryService"]],
    "ingest": [ingest_service_pb2.DESCRIPTOR.services_by_name["IngestService"]],
    "preprocess": [preprocess_service_pb2.DESCRIPTOR.services_by_name["PreprocessService"]],
    "trainer": [trainer_service_pb2.DESCRIPTOR.services_by_name["TrainerService"]],
    "predictor": [predictor_service_pb2.DESCRIPTOR.services_by_name["PredictorService"]],
    "modelserver": [
        prediction_service_pb2.DESCRIPTOR.services_by_name["PredictionService"],
        model_service_pb2.DESCRIPTOR.services_by_name["ModelService"],
    ],
}


@dataclass
class Running:
    """The targets of one service and what stops it."""

    targets: list[Target]
    stops: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        for stop in reversed(self.stops):
            with contextlib.suppress(Exception):
                stop()

    def target(self, service: str) -> Target:
        return next(t for t in self.targets if t.name == service)


def dask_runtime() -> DaskRuntime:
    """A one-worker local cluster, started only if an operation reaches Dask."""
    return DaskRuntime(DaskSettings(local_workers=1, local_threads=1, memory_limit="1GiB"))


def start_registry(folder: Path) -> Running:
    from tests.conftest import start_registry as start
    from tests.registry.helpers import HASH_A, make_artifact, version_request

    root = folder / "artifacts"
    root.mkdir(parents=True)
    running = start(f"sqlite:///{folder / 'registry.db'}", root)
    artifact = make_artifact(root, "v1")
    stub = running.stub
    stub.CreateRegisteredModel(registry_service_pb2.CreateRegisteredModelRequest(name=MODEL))
    stub.CreateModelVersion(version_request(MODEL, artifact))
    vocabulary = [MODEL, *ALIASES, "t2m", "rmse", str(artifact), str(root), HASH_A, "1", "tester"]
    target = Target(SERVICES["registry"][0], running.channel, vocabulary)
    return Running([target], [running.channel.close, lambda: running.server.stop(1)])


def start_ingest(folder: Path, runtime: DaskRuntime) -> Running:
    from tests.ingest.conftest import start_ingest as start

    scratch = folder / "incoming"
    running = start(folder, runtime, allowed_roots=[str(scratch)])
    vocabulary = [
        str(scratch),
        f"{scratch}/missing.nc",
        f"file://{scratch}/missing.csv",
        "fuzz",
        "era5",
        "csv",
        "netcdf",
        "grib",
        "zarr",
        "t2m",
        "K",
    ]
    target = Target(SERVICES["ingest"][0], running.channel, vocabulary, tensors.overrides())
    return Running([target], [running.channel.close, lambda: running.server.stop(5)])


def start_preprocess(folder: Path, runtime: DaskRuntime) -> Running:
    from tests.preprocess.conftest import start_preprocess as start

    archive = folder / "archive"
    archive.mkdir(parents=True)
    running = start(archive, runtime)
    vocabulary = ["era5", "navy", "t2m", "u10", "mean", "sha256:" + "0" * 64, "1H", "D"]
    target = Target(SERVICES["preprocess"][0], running.channel, vocabulary)
    return Running([target], [running.channel.close, lambda: running.server.stop(5)])


def start_trainer(folder: Path) -> Running:
    """A trainer running jobs in threads on an empty archive (jobs end at once, unregistered)."""
    from tests.trainer.service_support import start_trainer as start

    archive = folder / "archive"
    archive.mkdir(parents=True)
    running = start(archive, folder / "work", None, isolation="thread")
    vocabulary = ["era5-t2m-train", "cnn", "ridge", "persistence", "t2m", "job-1", "filters"]
    target = Target(SERVICES["trainer"][0], running.channel, vocabulary)
    return Running([target], [running.stop])


def _models(folder: Path) -> Path:
    """<folder>/models/<forecast>/1 and 2: tiny SavedModels in the trainer's layout."""
    from tests.modelserver.support import build_saved_model
    from tests.predictor.support import install_model

    root = folder / "models"
    for version in (1, 2):
        source = build_saved_model(folder / "build" / str(version), float(version))
        install_model(root / MODEL, version, source)
    return root


def _modelserver(root: Path, config_file: Path) -> object:
    from tests.modelserver.support import model_config, server_config, start_modelserver

    config = server_config(
        model_config(
            MODEL,
            root / MODEL,
            policy="all {}",
            labels={"production": 1, "staging": 2, "canary": 2},
        )
    )
    config_file.write_text(text_format.MessageToString(config))
    return start_modelserver(model_config_file=str(config_file))


MODELSERVER_WORDS = (
    MODEL,
    *ALIASES,
    "serving_default",
    "window_mean",
    "t2m",
    "init_time",
    "lead_hours",
    "signature_def",
    "tensorflow",
)


def start_modelserver_and_predictor(folder: Path) -> Running:
    """Two model servers on the same models: one serves the PredictionService target and the
    predictor, the other the ModelService target (its random reloads change what it serves)."""
    from tests.predictor.support import start_predictor

    root = _models(folder)
    serving = _modelserver(root, folder / "serving.config")
    reloaded = _modelserver(root, folder / "reloaded.config")
    predictor = start_predictor(
        modelserver_address=f"127.0.0.1:{serving.port}",  # type: ignore[attr-defined]
        model_root=str(root),
        archive_url=str(folder / "archive"),
    )
    words = [*MODELSERVER_WORDS, str(root), str(root / MODEL)]
    prediction, model = SERVICES["modelserver"]
    targets = [
        Target(prediction, serving.channel, words, tensors.overrides()),  # type: ignore[attr-defined]
        Target(model, reloaded.channel, words),  # type: ignore[attr-defined]
        Target(
            SERVICES["predictor"][0], predictor.channel, [*words, "tiny-t2m"], tensors.overrides()
        ),
    ]
    stops = [serving.stop, reloaded.stop, predictor.stop]  # type: ignore[attr-defined]
    return Running(targets, stops)


def start_all(folder: Path, runtime: DaskRuntime) -> Iterator[Running]:
    """Starts the services one after the other (for the long run): yields each while it runs."""
    starters: list[Callable[[], Running]] = [
        lambda: start_registry(folder / "registry"),
        lambda: start_ingest(folder / "ingest", runtime),
        lambda: start_preprocess(folder / "preprocess", runtime),
        lambda: start_trainer(folder / "trainer"),
        lambda: start_modelserver_and_predictor(folder / "serving"),
    ]
    for starter in starters:
        running = starter()
        try:
            yield running
        finally:
            running.stop()


def all_rpcs() -> list[str]:
    """'<full service name>/<method>' of every RPC the fuzz covers."""
    return [
        f"{service.full_name}/{method.name}"
        for services in SERVICES.values()
        for service in services
        for method in service.methods
    ]
