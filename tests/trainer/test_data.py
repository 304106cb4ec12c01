"""Training data: versions, splits, statistics and climatologies of a built dataset."""

from __future__ import annotations

import numpy as np
import pytest

from weather_data.archive import Archive
from weather_runtime.errors import FailedPrecondition, NotFound
from weather_trainer.data import TrainingData, climatology, fold_of, open_training_data, slot_of


def test_the_latest_version_and_its_splits_and_statistics(training_data: TrainingData) -> None:
    manifest = training_data.manifest
    assert manifest.dataset_id == "era5-t2m-train"
    assert training_data.splits == {
        "train": slice(0, 504),
        "validation": slice(504, 576),
        "test": slice(576, 744),
    }
    assert training_data.forecastable == ("t2m",)
    stats = training_data.statistics["t2m"]
    assert 270 < stats.mean < 290 and 0 < stats.std < 10
    assert training_data.stats_hash == manifest.extra["stats_hash"]
    assert training_data.recipe_hash == manifest.extra["recipe_hash"]
    assert training_data.step_seconds == 3600
    assert not training_data.global_grid
    assert training_data.times[0] == 1551398400  # 2019-03-01T00:00Z


def test_a_content_hash_selects_its_version(archive: Archive, training_data: TrainingData) -> None:
    same = open_training_data(archive, "era5-t2m-train", training_data.manifest.content_hash)
    assert same.manifest.version == training_data.manifest.version
    with pytest.raises(FailedPrecondition):
        open_training_data(archive, "era5-t2m-train", "sha256:" + "0" * 64)


def test_unknown_datasets_are_not_found(archive: Archive) -> None:
    with pytest.raises(NotFound) as caught:
        open_training_data(archive, "no-such-dataset", "")
    assert caught.value.resource_type == "dataset"


def test_an_ingested_dataset_is_not_a_training_dataset(archive: Archive) -> None:
    with pytest.raises(FailedPrecondition, match="not a built training dataset"):
        open_training_data(archive, "era5-t2m", "")


def test_hour_of_day_climatology_is_the_training_mean_by_hour(
    training_data: TrainingData,
) -> None:
    clim = climatology(training_data, ("t2m",), 24)
    values = training_data.read(("t2m",), 0, 504)
    hours = slot_of(training_data.times[:504], 24)
    assert clim.shape == (24, 33, 49, 1)
    np.testing.assert_allclose(clim[6], values[hours == 6].mean(axis=0), rtol=1e-6)


def test_cross_fitted_climatologies_leave_their_fold_out(training_data: TrainingData) -> None:
    train = training_data.splits["train"]
    folds = fold_of(np.arange(0, 744), train, 4)
    assert set(folds[:504]) == {0, 1, 2, 3} and set(folds[504:]) == {-1}
    assert np.all(np.diff(folds[:504]) >= 0)  # contiguous blocks
    left_out = climatology(training_data, ("t2m",), 24, leave_out=1, folds=4)
    values = training_data.read(("t2m",), 0, 504)
    keep = (folds[:504] != 1) & (slot_of(training_data.times[:504], 24) == 12)
    np.testing.assert_allclose(left_out[12], values[keep].mean(axis=0), rtol=1e-6)
