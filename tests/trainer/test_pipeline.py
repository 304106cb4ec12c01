"""The tf.data pipeline: windows of past steps to the target, block by block, seeded shuffling."""

from __future__ import annotations

import dataclasses

import numpy as np

from weather_trainer import pipeline
from weather_trainer.data import TrainingData
from weather_trainer.features import CLIMATOLOGY_FOLD, INIT_TIME, LEAD_HOURS
from weather_trainer.model import ForecastContext


def test_samples_lie_inside_their_split(
    training_data: TrainingData, tiny_context: ForecastContext
) -> None:
    train = pipeline.split_samples(training_data, tiny_context, "train")
    test = pipeline.split_samples(training_data, tiny_context, "test")
    # training inits need their whole window inside the data; targets stay inside the split
    assert train.pairs[:, 0].min() == 3
    assert (train.pairs[:, 0] + train.pairs[:, 1]).max() == 503
    # test inits start at the split (the window reaches back before it)
    assert test.pairs[:, 0].min() == 576
    assert (test.pairs[:, 0] + test.pairs[:, 1]).max() == 743
    assert test.size == sum(168 - lead for lead in (1, 2, 3))


def test_a_sample_is_the_window_up_to_init_and_the_state_at_init_plus_lead(
    training_data: TrainingData, tiny_context: ForecastContext
) -> None:
    test = pipeline.split_samples(training_data, tiny_context, "test")
    pairs = test.pairs[[0, 100, -1]]
    inputs, targets = test.read_block(pairs)
    everything = training_data.read(("t2m",), 0, 744)[..., 0]
    for i, (init, lead) in enumerate(pairs):
        np.testing.assert_array_equal(inputs["t2m"][i], everything[init - 3 : init + 1])
        np.testing.assert_array_equal(targets["t2m"][i], everything[init + lead])
        assert inputs[INIT_TIME][i] == training_data.times[init]
        assert inputs[LEAD_HOURS][i] == lead
        assert inputs[CLIMATOLOGY_FOLD][i] == -1


def test_training_samples_see_the_climatology_without_their_fold(
    training_data: TrainingData, tiny_context: ForecastContext
) -> None:
    train = pipeline.split_samples(training_data, tiny_context, "train")
    inputs, _ = train.read_block(train.pairs[[0, -1]])
    assert list(inputs[CLIMATOLOGY_FOLD]) == [0, 3]


def test_small_blocks_give_the_same_samples_as_memory(
    training_data: TrainingData, tiny_context: ForecastContext
) -> None:
    """Data read a few steps at a time (as when it does not fit in memory) feeds the same
    samples, each exactly once a pass, as the whole split loaded at once."""
    validation = pipeline.split_samples(training_data, tiny_context, "validation")
    small = dataclasses.replace(validation, block_inits=5)
    assert len(small.blocks()) > 10
    batches = list(pipeline.dataset(small, 16, shuffle=True, seed=3).as_numpy_iterator())
    streamed = np.concatenate(
        [inputs[INIT_TIME] * 10 + inputs[LEAD_HOURS] for inputs, _ in batches]
    )
    memory_inputs, memory_targets = validation.arrays()
    expected = memory_inputs[INIT_TIME] * 10 + memory_inputs[LEAD_HOURS]
    assert sorted(streamed.tolist()) == sorted(expected.tolist())
    assert streamed.tolist() != expected.tolist()  # shuffled
    first_inputs, first_targets = batches[0]
    key = first_inputs[INIT_TIME][0] * 10 + first_inputs[LEAD_HOURS][0]
    row = int(np.flatnonzero(expected == key)[0])
    np.testing.assert_array_equal(first_inputs["t2m"][0], memory_inputs["t2m"][row])
    np.testing.assert_array_equal(first_targets["t2m"][0], memory_targets["t2m"][row])


def test_shuffling_is_seeded(training_data: TrainingData, tiny_context: ForecastContext) -> None:
    validation = pipeline.split_samples(training_data, tiny_context, "validation")

    def order(seed: int) -> list[int]:
        data = pipeline.dataset(validation, 32, shuffle=True, seed=seed)
        return [int(t) for inputs, _ in data.as_numpy_iterator() for t in inputs[INIT_TIME]]

    assert order(5) == order(5)
    assert order(5) != order(6)


def test_leads_per_init_draws_that_many_leads_and_weights_follow_the_lead(
    training_data: TrainingData, tiny_context: ForecastContext
) -> None:
    train = pipeline.split_samples(training_data, tiny_context, "train")
    weights = np.arange(4, dtype=np.float64)[:, None] + 1  # lead l -> weight l + 1
    data = pipeline.dataset(train, 50, shuffle=True, seed=1, leads_per_init=1, lead_weights=weights)
    seen = [
        (int(t), float(lead), float(w))
        for inputs, _, sample_weights in data.as_numpy_iterator()
        for t, lead, w in zip(
            inputs[INIT_TIME], inputs[LEAD_HOURS], sample_weights["t2m"], strict=True
        )
    ]
    assert len(seen) == len({t for t, _, _ in seen}) == 500  # inits 3..502, one lead each
    assert all(w == lead + 1 for _, lead, w in seen)
    assert pipeline.steps_per_pass(train, 50, 1) == 10
