"""The network's corrections up to network_leads: beyond them the model is its linear part."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.trainer.conftest import TINY_CNN, tiny_spec
from weather_trainer import pipeline, scoring
from weather_trainer.data import TrainingData
from weather_trainer.model import FitJob, Fitted, ForecastContext
from weather_trainer.models import FAMILIES
from weather_trainer.spec import Hooks


def _fit(
    family: str, hp: dict[str, float], data: TrainingData, context: ForecastContext, tmp: Path
) -> Fitted:
    spec = tiny_spec(model_family=family, hyperparameters=hp)
    job = FitJob(data, context, spec, hp, tmp / family, Hooks())
    return FAMILIES[family].fit(job)


def test_beyond_network_leads_the_network_is_the_pooled_ridge(
    training_data: TrainingData, tiny_context: ForecastContext, tmp_path: Path
) -> None:
    network = dict(TINY_CNN, ridge_start=1, network_leads=2, pooling=1.0, output_penalty=0.0)
    cnn = _fit("cnn", network, training_data, tiny_context, tmp_path)
    ridge = _fit("ridge", {"pooling": 1.0}, training_data, tiny_context, tmp_path)
    # trained on the leads up to 2 steps only
    assert len(cnn.epochs) == 2
    test = pipeline.split_samples(training_data, tiny_context, "test")
    inputs, _ = test.arrays()
    lead = inputs["lead_hours"]
    ours = scoring.predict(cnn.model, inputs)["t2m"]
    linear = scoring.predict(ridge.model, inputs)["t2m"]
    # +3 h: the frozen ridge start alone, the same pooled ridge the ridge family fits
    np.testing.assert_allclose(ours[lead == 3], linear[lead == 3], atol=1e-3)
    # +1 h and +2 h: the trained convolutions correct it
    for hours in (1, 2):
        assert np.abs(ours[lead == hours] - linear[lead == hours]).mean() > 1e-3
