"""Trainer fixtures: the demo training dataset built once per session, opened data, tiny specs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.trainer.service_support import build_demo_archive
from weather_data.archive import Archive
from weather_data.cluster import DaskRuntime
from weather_trainer.data import TrainingData, open_training_data
from weather_trainer.model import ForecastContext
from weather_trainer.spec import TrainSpec
from weather_trainer.training import build_context, check

DATASET = "era5-t2m-train"
# A network small enough to train in seconds: 4 input steps, leads of 1 to 3 h.
TINY_CNN: dict[str, float] = {
    "filters": 4,
    "depth": 1,
    "leads_per_init": 1,
    "ridge_start": 0,
    "window_summary": 2,
}


def tiny_spec(**changes: object) -> TrainSpec:
    """A CNN spec on the demo dataset that trains in seconds."""
    values: dict[str, object] = {
        "dataset_id": DATASET,
        "content_hash": "",
        "model_family": "cnn",
        "hyperparameters": dict(TINY_CNN),
        "input_steps": 4,
        "lead_steps": (1, 2, 3),
        "epochs": 2,
        "seed": 7,
        "batch_size": 64,
    }
    values.update(changes)
    return TrainSpec(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def demo_archive(tmp_path_factory: pytest.TempPathFactory, dask_runtime: DaskRuntime) -> Path:
    """An archive holding era5-t2m (ingested from the bundled GRIB) and era5-t2m-train (built
    with data/recipes/era5-t2m.yaml), as the preprocess service writes them."""
    return build_demo_archive(tmp_path_factory.mktemp("trainer") / "archive", dask_runtime)


@pytest.fixture(scope="session")
def archive(demo_archive: Path) -> Archive:
    return Archive(str(demo_archive))


@pytest.fixture(scope="session")
def training_data(archive: Archive) -> TrainingData:
    return open_training_data(archive, DATASET, "")


@pytest.fixture(scope="session")
def tiny_context(training_data: TrainingData) -> ForecastContext:
    """The context of tiny_spec() (4 input steps, leads 1-3 h, cross-fitted climatologies)."""
    spec = tiny_spec()
    return build_context(spec, training_data, check(spec, training_data))
