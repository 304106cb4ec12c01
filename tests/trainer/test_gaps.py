"""A training dataset whose recipe dropped time steps: no sample pairs times across a gap."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from weather_runtime.errors import FailedPrecondition
from weather_trainer.data import TrainingData
from weather_trainer.model import ForecastContext
from weather_trainer.pipeline import split_samples

GAP = 100  # the step dropped: what was step 101 is now at position 100


def _gapped(data: TrainingData, at: int = GAP) -> TrainingData:
    times = data.times.copy()
    times[at:] += int(data.step_seconds)
    return dataclasses.replace(data, times=times, gapped=True)


def test_samples_across_a_dropped_step_are_left_out(
    training_data: TrainingData, tiny_context: ForecastContext
) -> None:
    whole = split_samples(training_data, tiny_context, "train").pairs
    gapped = split_samples(_gapped(training_data), tiny_context, "train").pairs
    # by hand: a sample uses positions init - 3 .. init (its window) and init + lead
    window = tiny_context.input_steps - 1
    spans_gap = [
        (init, lead)
        for init, lead in map(tuple, whole)
        if init - window < GAP <= init + lead  # something before the gap, something after
    ]
    kept = {tuple(p) for p in whole} - set(spans_gap)
    assert spans_gap and {tuple(p) for p in gapped} == kept
    # a regular dataset keeps every pair, and the same gap flag without a gap changes nothing
    flagged = dataclasses.replace(training_data, gapped=True)
    np.testing.assert_array_equal(split_samples(flagged, tiny_context, "train").pairs, whole)


def test_a_split_with_gaps_everywhere_is_refused(
    training_data: TrainingData, tiny_context: ForecastContext
) -> None:
    times = training_data.times.copy()
    times[1::2] += 1  # every other step off its time: no window of 4 steps is whole
    broken = dataclasses.replace(training_data, times=times, gapped=True)
    with pytest.raises(FailedPrecondition) as refused:
        split_samples(broken, tiny_context, "train")
    assert "era5-t2m-train" in str(refused.value)
