"""Bad job specs are refused before training, naming the field."""

from __future__ import annotations

import pytest

from tests.trainer.conftest import tiny_spec
from weather_data.archive import Archive
from weather_runtime.errors import InvalidArgument, NotFound
from weather_trainer.spec import ParameterRange, SearchSpec
from weather_trainer.training import validate


def fields(error: InvalidArgument) -> dict[str, str]:
    return {v.field: v.description for v in error.violations}


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"input_steps": 600}, "spec.input_steps", "training split has 504"),
        ({"input_steps": 0}, "spec.input_steps", "at least 1"),
        ({"model_family": "transformer"}, "spec.model_family", "known: climatology, cnn"),
        ({"epochs": 0}, "spec.epochs", "at least 1"),
        ({"epochs": -3}, "spec.epochs", "at least 1"),
        ({"hyperparameters": {"dropout": 0.5}}, "spec.hyperparameters[dropout]", "known:"),
        ({"hyperparameters": {"filters": 1e6}}, "spec.hyperparameters[filters]", "within"),
        ({"hyperparameters": {"depth": 1.5}}, "spec.hyperparameters[depth]", "integer"),
        ({"variables": ("u10",)}, "spec.variables", "forecastable: t2m"),
        ({"lead_steps": (0, 1)}, "spec.lead_steps", "at least one step"),
        ({"lead_steps": (100,)}, "spec.lead_steps", "shortest lead (100 steps) does not fit"),
        ({"lead_steps": (1, 170)}, "spec.lead_steps", "longest lead (170 steps) does not fit"),
        ({"time_step_seconds": 5400.0}, "spec.time_step_seconds", "multiple"),
        ({"strategy": "tpu"}, "spec.strategy", "unknown strategy"),
        (
            {"search": SearchSpec("bayes", (ParameterRange("filters", (4, 8)),))},
            "spec.search.method",
            "known: grid, random",
        ),
        (
            {"search": SearchSpec("grid", (ParameterRange("width", (4, 8)),))},
            "spec.search.parameters[0].name",
            "unknown hyperparameter",
        ),
    ],
)
def test_bad_specs_name_the_field(
    archive: Archive, changes: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate(tiny_spec(**changes), archive)
    assert field in fields(caught.value), caught.value.message
    assert words in fields(caught.value)[field]


def test_every_bad_field_is_named_at_once(archive: Archive) -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate(tiny_spec(epochs=0, input_steps=1000, hyperparameters={"nope": 1}), archive)
    assert {"spec.epochs", "spec.input_steps", "spec.hyperparameters[nope]"} <= set(
        fields(caught.value)
    )


def test_unknown_datasets_are_not_found(archive: Archive) -> None:
    with pytest.raises(NotFound):
        validate(tiny_spec(dataset_id="missing"), archive)


def test_a_good_spec_passes(archive: Archive) -> None:
    validate(tiny_spec(), archive)
    # leads to +100 h: longer than the 72 h validation split, which judges the shorter ones,
    # inside the 168 h test split, which scores them all
    validate(tiny_spec(lead_steps=tuple(range(1, 101))), archive)
    validate(tiny_spec(model_family="ridge", hyperparameters={"l2": 0.1}), archive)
