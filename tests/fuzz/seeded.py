"""A small real archive for the fuzzers (the bundled navy winds, NetCDF: no ecCodes in this
process) and well-formed requests naming its datasets, which the seeded fuzz mutates."""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import duration_pb2
from google.protobuf.message import Message
from weather.common.v1 import dataset_pb2, operation_pb2, region_pb2
from weather.ingest.v1 import ingest_service_pb2 as ingest_pb
from weather.preprocess.v1 import preprocess_service_pb2 as pre_pb
from weather.preprocess.v1 import preprocess_service_pb2_grpc as pre_grpc
from weather.trainer.v1 import trainer_service_pb2 as train_pb

from tests.fuzz import services
from tests.fuzz.harness import TRACE_TEXT, Outcome, Target
from tests.fuzz.strategies import Payload
from weather_data.archive import Archive
from weather_data.cluster import DaskRuntime

DATA = Path(__file__).resolve().parents[2] / "data" / "demo"
SOURCE = "navy"  # the ingested winds: UWND, VWND monthly 1982-1992 on a 2.5 degree grid
TRAINING = "navy-train"  # a training dataset built from it
RECIPE = f"""
source: {{dataset_id: {SOURCE}}}
variables: [{{name: UWND}}, {{name: VWND}}]
region: {{lat_min: -20, lat_max: 20, lon_min: 150, lon_max: 210}}
split:
  train: {{start: "1982-01-01T00:00:00Z", end: "1989-01-01T00:00:00Z"}}
  validation: {{start: "1989-01-01T00:00:00Z", end: "1991-01-01T00:00:00Z"}}
  test: {{start: "1991-01-01T00:00:00Z", end: "1993-01-01T00:00:00Z"}}
output_dataset_id: {TRAINING}
"""
# the words the seeded requests' strings are drawn from besides the generic ones
WORDS = (SOURCE, TRAINING, "UWND", "VWND", "ridge", "persistence", "climatology", "cnn", "nino4")


@dataclass(frozen=True)
class SeededArchive:
    """The archive folder, the folder the ingest may read (a copy of the source file in it)."""

    archive: Path
    incoming: Path
    source_file: Path
    stats_hash: str  # the training dataset's normalisation statistics


def seed(folder: Path, runtime: DaskRuntime) -> SeededArchive:
    """Ingests the navy winds (a region of them) and builds a training dataset from them, with
    the services' own domain code on the fuzzers' Dask cluster."""
    from tests.preprocess.conftest import ingest_into
    from weather_preprocess.build import Builder
    from weather_preprocess.convert import recipe_from_pb
    from weatherctl.recipes import recipe_from_yaml

    archive = folder / "archive"
    incoming = folder / "incoming"
    incoming.mkdir(parents=True)
    source_file = incoming / "navy.nc"
    shutil.copyfile(DATA / "monthly_navy_winds.cdf", source_file)
    ingest_into(archive, runtime, DATA / "monthly_navy_winds.cdf", SOURCE)
    built = Builder(Archive(str(archive)), runtime).run(
        recipe_from_pb(recipe_from_yaml(RECIPE)),
        "fuzz-seed",
        lambda stage, done: None,
        threading.Event(),
    )
    return SeededArchive(archive, incoming, source_file, built.statistics.stats_hash)


def _ref(dataset_id: str) -> dataset_pb2.DatasetRef:
    return dataset_pb2.DatasetRef(dataset_id=dataset_id)


def ingest_seeds(seeded: SeededArchive) -> dict[str, list[Message]]:
    """Well-formed ingest requests on the real source and datasets (validate-only starts)."""
    return {
        "StartIngest": [
            ingest_pb.StartIngestRequest(
                source_uri=str(seeded.source_file),
                dataset_id="navy-copy",
                variables=["UWND"],
                region=region_pb2.Region(lat_min=-10, lat_max=10, lon_min=160, lon_max=200),
                validate_only=True,
            ),
            ingest_pb.StartIngestRequest(  # time decoding hints that fit the navy winds
                source_uri=str(seeded.source_file),
                dataset_id="navy-hinted",
                time_decoding=ingest_pb.TimeDecoding(
                    variable="TIME", renames={"FNOCY": "latitude", "FNOCX": "longitude"}
                ),
                validate_only=True,
            ),
        ],
        "GetDataset": [ingest_pb.GetDatasetRequest(dataset_id=SOURCE)],
        "ListDatasets": [ingest_pb.ListDatasetsRequest(id_prefix="navy")],
    }


def preprocess_seeds(seeded: SeededArchive) -> dict[str, list[Message]]:
    """Well-formed preprocess requests on the real datasets."""
    from weatherctl.recipes import recipe_from_yaml

    recipe = recipe_from_yaml(RECIPE)
    recipe.output_dataset_id = "navy-train-fuzz"
    return {
        "StartBuild": [pre_pb.StartBuildRequest(recipe=recipe)],
        "StartAnalysis": [
            pre_pb.StartAnalysisRequest(
                source=_ref(SOURCE),
                variables=["UWND"],
                kind=pre_pb.ANALYSIS_KIND_AREA_MEAN,
                named_region="nino4",
                of_anomalies=True,
            )
        ],
        "GetStatistics": [pre_pb.GetStatisticsRequest(stats_hash=seeded.stats_hash)],
    }


def trainer_seeds() -> dict[str, list[Message]]:
    """Well-formed training specs naming the real training dataset (validate-only)."""
    month = duration_pb2.Duration(seconds=2_629_800)  # the dataset's step: a mean month
    specs = [
        train_pb.JobSpec(
            dataset=_ref(TRAINING),
            model_family=family,
            input_steps=2,
            lead_times=[month],
            epochs=1,
            seed=1,
            variables=["UWND"],
        )
        for family in ("ridge", "persistence", "climatology")
    ]
    return {
        "StartTraining": [
            train_pb.StartTrainingRequest(spec=spec, validate_only=True) for spec in specs
        ],
        "ListJobs": [train_pb.ListJobsRequest(dataset_id=TRAINING)],
    }


def start_seeded(folder: Path, runtime: DaskRuntime) -> services.Running:
    """Ingest, preprocess and trainer on one seeded archive, as targets with seeds (the starts
    pinned to validate_only where the API has it; preprocess operations run for real)."""
    from tests.ingest.conftest import start_ingest
    from tests.preprocess.conftest import start_preprocess
    from tests.trainer.service_support import start_trainer

    archive = seed(folder, runtime)
    words = [*WORDS, str(archive.source_file), str(archive.incoming)]
    ingest = start_ingest(folder, runtime, allowed_roots=[str(archive.incoming)])
    preprocess = start_preprocess(archive.archive, runtime)
    trainer = start_trainer(archive.archive, folder / "work", None, isolation="thread")
    validate_only = {"validate_only": True}
    ingest_seeds_ = ingest_seeds(archive)
    preprocess_seeds_ = preprocess_seeds(archive)
    trainer_seeds_ = trainer_seeds()
    targets = [
        Target(
            services.SERVICES["ingest"][0],
            ingest.channel,
            words,
            seeds=ingest_seeds_,
            pins={"StartIngest": validate_only},
            skip=frozenset(m.name for m in services.SERVICES["ingest"][0].methods)
            - set(ingest_seeds_),
        ),
        Target(
            services.SERVICES["preprocess"][0],
            preprocess.channel,
            words,
            seeds=preprocess_seeds_,
            skip=frozenset(m.name for m in services.SERVICES["preprocess"][0].methods)
            - set(preprocess_seeds_),
        ),
        Target(
            services.SERVICES["trainer"][0],
            trainer.channel,
            words,
            seeds=trainer_seeds_,
            pins={"StartTraining": validate_only},
            skip=frozenset(m.name for m in services.SERVICES["trainer"][0].methods)
            - set(trainer_seeds_),
        ),
    ]
    stops = [
        ingest.channel.close,
        lambda: ingest.server.stop(5),
        preprocess.channel.close,
        lambda: preprocess.server.stop(5),
        trainer.stop,
    ]
    return services.Running(targets, stops)


TERMINAL = (
    operation_pb2.OPERATION_STATE_SUCCEEDED,
    operation_pb2.OPERATION_STATE_FAILED,
    operation_pb2.OPERATION_STATE_CANCELLED,
)
# what an operation may end with when a mutated request was accepted but the data refuse it
CLEAN_ERRORS = frozenset(
    {
        "",
        "INVALID_ARGUMENT",
        "FAILED_PRECONDITION",
        "NOT_FOUND",
        "RESOURCE_EXHAUSTED",
        "OUT_OF_RANGE",
        "CANCELLED",
        "ALREADY_EXISTS",
        "ABORTED",  # two builds of the same output dataset: the later commit loses
        "UNAVAILABLE",
    }
)
_REFERENCE = re.compile(r"[0-9a-f]{32}")  # an error reference: alike problems count once
_RESPONSES: dict[str, Any] = {
    "StartBuild": pre_pb.StartBuildResponse,
    "StartAnalysis": pre_pb.StartAnalysisResponse,
}


@dataclass
class Collected:
    """The outcomes of one seeded RPC's calls, and the request that started each operation
    (fuzz_rpc's on_outcome)."""

    method: str
    outcomes: list[Outcome] = field(default_factory=list)
    examples: dict[str, str] = field(default_factory=dict)

    def __call__(self, outcome: Outcome, payload: Payload) -> None:
        self.outcomes.append(outcome)
        for operation_id in started_operations([outcome], self.method):
            self.examples[operation_id] = repr(payload)

    @property
    def operations(self) -> list[str]:
        return list(self.examples)


def started_operations(outcomes: Sequence[Outcome], method: str) -> list[str]:
    """Operation ids in the successful responses of a preprocess Start call."""
    parse = _RESPONSES.get(method)
    if parse is None:
        return []
    found = []
    for outcome in outcomes:
        if outcome.code == grpc.StatusCode.OK and outcome.response:
            operation_id = parse.FromString(outcome.response).operation.operation_id
            if operation_id:
                found.append(operation_id)
    return found


def operation_ends(
    channel: grpc.Channel, operation_ids: Sequence[str], timeout: float = 240
) -> dict[str, tuple[str, str]]:
    """operation id -> (error code, '' when it succeeded; error message), once each ended."""
    stub = pre_grpc.PreprocessServiceStub(channel)
    ended: dict[str, tuple[str, str]] = {}
    deadline = time.monotonic() + timeout
    while len(ended) < len(operation_ids):
        if time.monotonic() > deadline:
            raise AssertionError(f"operations still running: {set(operation_ids) - set(ended)}")
        for operation_id in operation_ids:
            if operation_id not in ended:
                status = stub.GetOperation(
                    pre_pb.GetOperationRequest(operation_id=operation_id), timeout=10
                ).operation
                if status.state in TERMINAL:
                    ended[operation_id] = (status.error.code, status.error.message)
        time.sleep(0.2)
    return ended


def operation_problems(ends: dict[str, tuple[str, str]]) -> list[tuple[str, str]]:
    """(operation id, problem) of operations that ended with an unclean code or a stack trace
    in their message."""
    return [
        (operation_id, f"operation ended {code}: {_REFERENCE.sub('<ref>', message)[:300]!r}")
        for operation_id, (code, message) in ends.items()
        if code not in CLEAN_ERRORS or TRACE_TEXT.search(message)
    ]
