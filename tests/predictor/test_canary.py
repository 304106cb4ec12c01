"""The canary share: production requests go to the canary alias with the configured probability."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from weather.predictor.v1 import predictor_service_pb2 as pb

from tests.predictor.conftest import SOLO
from tests.predictor.support import RunningPredictor, predict_request, selector


def _answers(predictor: RunningPredictor, count: int, name: str = "forecast") -> Counter[tuple]:
    seen: Counter[tuple] = Counter()
    request = predict_request(name)
    for _ in range(count):
        p = predictor.stub.Predict(request, timeout=30).provenance
        seen[(p.alias, p.model_version)] += 1
    return seen


def test_share_0_3_sends_about_30_percent_to_canary(
    predictors: Callable[..., RunningPredictor],
) -> None:
    seen = _answers(predictors(canary_share=0.3), 400)
    assert set(seen) == {("production", 1), ("canary", 2)}
    fraction = seen[("canary", 2)] / 400
    assert 0.2 <= fraction <= 0.4, seen  # 0.3 +- 3.2 standard deviations


def test_share_0_sends_none_to_canary(predictors: Callable[..., RunningPredictor]) -> None:
    seen = _answers(predictors(canary_share=0.0), 100)
    assert seen == Counter({("production", 1): 100})


def test_without_a_canary_label_production_answers_everything(
    predictors: Callable[..., RunningPredictor],
) -> None:
    seen = _answers(predictors(canary_share=1.0), 20, SOLO)
    assert seen == Counter({("production", 1): 20})


def test_explicit_aliases_are_never_redirected(
    predictors: Callable[..., RunningPredictor],
) -> None:
    predictor = predictors(canary_share=1.0)
    p = predictor.stub.Predict(predict_request(alias="staging"), timeout=30).provenance
    assert (p.alias, p.model_version) == ("staging", 2)
    p = predictor.stub.Predict(predict_request(version=1), timeout=30).provenance
    assert (p.alias, p.model_version) == ("", 1)


def test_model_info_describes_production_whatever_the_share(
    predictors: Callable[..., RunningPredictor],
) -> None:
    predictor = predictors(canary_share=1.0)
    for _ in range(5):
        info = predictor.stub.GetModelInfo(pb.GetModelInfoRequest(model=selector("forecast")))
        assert (info.provenance.alias, info.provenance.model_version) == ("production", 1)
    p = predictor.stub.Predict(predict_request(), timeout=30).provenance
    assert (p.alias, p.model_version) == ("canary", 2)  # share 1.0: every Predict goes there
