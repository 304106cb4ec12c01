"""weather_scores.skill: skill against a reference and against the better of several."""

from __future__ import annotations

import math

import pytest

from weather_scores import skill


def test_skill_of_an_error_is_one_minus_the_ratio() -> None:
    assert skill.skill_score(1.0, 4.0) == pytest.approx(0.75)
    assert skill.skill_score(4.0, 4.0) == 0.0
    assert skill.skill_score(6.0, 4.0) == pytest.approx(-0.5)


def test_skill_of_a_score_perfect_at_one() -> None:
    assert skill.skill_score(0.8, 0.6, perfect=1.0) == pytest.approx(0.5)


def test_skill_against_a_perfect_reference() -> None:
    assert skill.skill_score(0.0, 0.0) == 0.0
    assert skill.skill_score(0.1, 0.0) == -math.inf


def test_skill_against_the_better_reference() -> None:
    # the issue's +24 h figures: model 1.479 K, persistence 1.538 K, climatology about 1.90 K
    assert skill.skill_against_best(1.479, (1.538, 1.90)) == pytest.approx(0.038, abs=5e-4)
    assert skill.skill_against_best(2.0, (4.0, 2.5)) == pytest.approx(0.2)
    assert skill.skill_against_best(1.0, (0.0, 2.0)) == 0.0
    assert skill.skill_against_best(1.0, ()) == 0.0


def test_beats_every_reference() -> None:
    assert skill.beats(1.0, (1.5, 2.0))
    assert not skill.beats(1.6, (1.5, 2.0))
    assert not skill.beats(1.5, (1.5, 2.0))
