"""WeatherBench 2 scores: definitions, and the references on the demo data."""

from __future__ import annotations

import numpy as np
import pytest

from weather_trainer import pipeline, scoring
from weather_trainer.data import TrainingData
from weather_trainer.model import ForecastContext
from weather_trainer.models import FAMILIES
from weather_trainer.spec import TrainSpec
from weather_trainer.training import build_context, check


def test_scores_of_known_errors() -> None:
    sums = scoring._Sums()
    weights = np.array([1.5, 0.5])
    observed_anomaly = np.array([[[1.0, -1.0], [2.0, 0.0]]])
    forecast_anomaly = observed_anomaly.copy()
    error = np.full((1, 2, 2), 2.0)
    sums.add(error, forecast_anomaly, observed_anomaly, weights)
    sums.add(-error, 2 * forecast_anomaly, observed_anomaly, weights)
    scores = sums.scores()
    assert scores.rmse == pytest.approx(2.0)
    assert scores.bias == pytest.approx(0.0)
    assert scores.mae == pytest.approx(2.0)
    assert scores.acc == pytest.approx(1.0)  # a scaled anomaly still correlates perfectly


def test_references_on_the_demo_test_split(training_data: TrainingData) -> None:
    """Persistence reproduces the data README's figures; climatology is the hour-of-day mean of
    the training split (1-21 March)."""
    spec = TrainSpec("era5-t2m-train", "", "persistence", input_steps=1, lead_steps=(1, 6, 12, 24))
    context: ForecastContext = build_context(spec, training_data, check(spec, training_data))
    test = pipeline.split_samples(training_data, context, "test")
    persistence = FAMILIES["persistence"].build(context, {})
    climatology = FAMILIES["climatology"].build(context, {})
    scores = scoring.score(
        {"model": persistence, "persistence": persistence, "climatology": climatology}, test
    )
    rmse = {round(s.lead_seconds / 3600): s.persistence.rmse for s in scores}
    assert rmse == pytest.approx({1: 0.578, 6: 2.720, 12: 3.694, 24: 1.538}, abs=5e-4)
    for s in scores:
        assert s.model.rmse == pytest.approx(s.persistence.rmse, abs=1e-4)
        assert 1.8 < s.climatology.rmse < 2.0
        assert s.climatology.acc == 0.0
        assert s.samples == 168 - round(s.lead_seconds / 3600)
    assert "| t2m | 24 |" in scoring.skill_table(scores)


def test_rolled_out_references_score_as_the_references(training_data: TrainingData) -> None:
    """Scored to +6 h with leads 1-3 h trained: leads 4-6 h are rolled out. Rolled out one step
    at a time, persistence stays persistence (each forecast is the newest window step) and
    climatology stays the climatology of the target's hour (the init time advances a step each
    call), so each scores exactly as the reference does at every rolled-out lead."""
    spec = TrainSpec(
        "era5-t2m-train", "", "persistence", input_steps=2, lead_steps=(1, 2, 3), max_lead_hours=6
    )
    plan = check(spec, training_data)
    assert plan.rolled_out_leads == (4, 5, 6)
    context = build_context(spec, training_data, plan)
    test = pipeline.split_samples(training_data, context, "test")
    rollout = pipeline.split_samples(training_data, context, "test", plan.rolled_out_leads)
    references = {
        name: FAMILIES[name].build(context, {}) for name in ("persistence", "climatology")
    }
    for name in ("persistence", "climatology"):
        scores = scoring.score({"model": references[name], **references}, test, rollout=rollout)
        assert [(round(s.lead_seconds / 3600), s.method) for s in scores] == [
            (1, "direct"), (2, "direct"), (3, "direct"),
            (4, "rollout"), (5, "rollout"), (6, "rollout"),
        ]  # fmt: skip
        for s in scores:
            reference = getattr(s, name)
            assert s.model.rmse == pytest.approx(reference.rmse, abs=1e-4)
            assert s.model.acc == pytest.approx(reference.acc, abs=1e-4)
            assert s.samples == 168 - round(s.lead_seconds / 3600)
        assert "| t2m | 6 | rollout |" in scoring.skill_table(scores)


def test_scored_leads_beyond_what_a_rollout_can_reach_are_invalid(
    training_data: TrainingData,
) -> None:
    """Rollout needs the time step as a trained lead and targets inside the test split."""
    from weather_runtime.errors import InvalidArgument

    for leads, hours in (((2, 4), 8), ((1, 2), 24 * 7), ((1,), -1)):
        spec = TrainSpec(
            "era5-t2m-train", "", "persistence", lead_steps=leads, max_lead_hours=hours
        )
        with pytest.raises(InvalidArgument) as caught:
            check(spec, training_data)
        assert "spec.scoring.max_lead_hours" in str(caught.value)
