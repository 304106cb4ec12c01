"""tf.data input pipeline over the Zarr dataset, read block of init times by block of time.

A sample is one (init time, lead) pair of a split: the inputs are the window of past steps of
every variable up to the init time, the init time and the lead; the target is the state at
init + lead. Targets (and init times) lie inside the split; the window may reach back before it.
Only one block of time steps per reader is in memory at a time, so the data need not fit in
memory; blocks are visited in a seeded random order, interleaved, shuffled and prefetched.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from weather_runtime.errors import FailedPrecondition, PreconditionViolation
from weather_trainer.data import TrainingData, fold_of
from weather_trainer.features import CLIMATOLOGY_FOLD, INIT_TIME, LEAD_HOURS
from weather_trainer.model import ForecastContext

Arrays = tuple[dict[str, np.ndarray], dict[str, np.ndarray]]
BLOCK_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Samples:
    """The (init index, lead steps) pairs of one split, and how to read them by blocks."""

    data: TrainingData
    context: ForecastContext
    pairs: np.ndarray  # [n, 2] int64: dataset index of the init time, lead in model steps
    block_inits: int  # init times (dataset steps) per block
    cross_fit: bool = False  # training samples see the climatology of the other folds

    @property
    def size(self) -> int:
        return int(self.pairs.shape[0])

    @property
    def before(self) -> int:
        return (self.context.input_steps - 1) * self.context.stride

    def blocks(self) -> list[np.ndarray]:
        """Pairs grouped by blocks of consecutive init times."""
        if not self.size:
            return []
        keys = (self.pairs[:, 0] - self.pairs[0, 0]) // self.block_inits
        cuts = np.flatnonzero(np.diff(keys)) + 1
        return list(np.split(self.pairs, cuts))

    def read_block(self, pairs: np.ndarray) -> Arrays:
        """Inputs and physical targets of some pairs of one block, read in one slice."""
        stride = self.context.stride
        first = int(pairs[:, 0].min()) - self.before
        stop = int((pairs[:, 0] + pairs[:, 1] * stride).max()) + 1
        values = self.data.read(self.context.variables, first, stop)  # [T, lat, lon, V]
        inits = pairs[:, 0] - first
        window_index = inits[:, None] + np.arange(-self.before, 1, stride)[None, :]
        windows = values[window_index]  # [n, S, lat, lon, V]
        targets = values[inits + pairs[:, 1] * stride]  # [n, lat, lon, V]
        inputs = {name: windows[..., i] for i, name in enumerate(self.context.variables)}
        inputs[INIT_TIME] = self.data.times[pairs[:, 0]].astype(np.int64)
        inputs[LEAD_HOURS] = (pairs[:, 1] * self.context.step_seconds / 3600.0).astype(np.float32)
        folds = len(self.context.fold_climatology)
        if self.cross_fit and folds:
            target_index = pairs[:, 0] + pairs[:, 1] * stride
            inputs[CLIMATOLOGY_FOLD] = fold_of(target_index, self.data.splits["train"], folds)
        else:
            inputs[CLIMATOLOGY_FOLD] = np.full(len(pairs), -1, dtype=np.int32)
        outputs = {name: targets[..., i] for i, name in enumerate(self.context.variables)}
        return inputs, outputs

    def read_inits(
        self, pairs: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]]:
        """For some pairs of one block, read in one slice: the windows of their distinct init
        times (INIT_TIME beside them), each pair's row in those, and every pair's physical
        target (the inputs of the pairs themselves, read_block's, would repeat each window)."""
        stride = self.context.stride
        inits, rows = np.unique(pairs[:, 0], return_inverse=True)
        first = int(inits.min()) - self.before
        stop = int((pairs[:, 0] + pairs[:, 1] * stride).max()) + 1
        values = self.data.read(self.context.variables, first, stop)  # [T, lat, lon, V]
        window_index = (inits - first)[:, None] + np.arange(-self.before, 1, stride)[None, :]
        windows = values[window_index]  # [inits, S, lat, lon, V]
        targets = values[pairs[:, 0] - first + pairs[:, 1] * stride]  # [n, lat, lon, V]
        names = self.context.variables
        state = {name: windows[..., i] for i, name in enumerate(names)}
        state[INIT_TIME] = self.data.times[inits].astype(np.int64)
        outputs = {name: targets[..., i] for i, name in enumerate(names)}
        return state, rows.reshape(-1), outputs

    def iter_blocks(self) -> Iterator[tuple[np.ndarray, Arrays]]:
        """(pairs, arrays) block by block in time order (scoring, in-memory loading)."""
        for pairs in self.blocks():
            yield pairs, self.read_block(pairs)

    def arrays(self) -> Arrays:
        """Every sample in memory (small data, benchmarks)."""
        parts = [arrays for _, arrays in self.iter_blocks()]
        inputs = {k: np.concatenate([p[0][k] for p in parts]) for k in parts[0][0]}
        outputs = {k: np.concatenate([p[1][k] for p in parts]) for k in parts[0][1]}
        return inputs, outputs


def split_samples(
    data: TrainingData,
    context: ForecastContext,
    split: str,
    leads: tuple[int, ...] | None = None,
) -> Samples:
    """Every (init, lead) pair of a split whose target lies inside it, for the context's leads
    (or the leads given, in model steps); training samples see cross-fitted climatologies."""
    part = data.splits[split]
    before = (context.input_steps - 1) * context.stride
    first = max(part.start, before)
    given = leads is not None  # scoring's extra leads: none may fit
    leads = context.lead_steps if leads is None else leads
    pairs = [
        (init, lead)
        for init in range(first, part.stop)
        for lead in leads
        if init + lead * context.stride < part.stop
    ]
    lat, lon = context.grid_shape
    step_bytes = lat * lon * len(context.variables) * 4
    longest = max(leads, default=0) * context.stride
    block = max(1, BLOCK_BYTES // max(1, step_bytes) - before - longest)
    block = min(block, 48)
    found = aligned(data, context, np.asarray(pairs, dtype=np.int64).reshape(-1, 2))
    if pairs and not len(found) and not given:
        raise FailedPrecondition(
            f"the {split} split of {data.manifest.dataset_id} has no sample whose input window "
            "and target miss every time step its recipe dropped",
            [PreconditionViolation("TRAINING_SPLIT", "spec.dataset_id", "gaps everywhere")],
        )
    return Samples(data, context, found, block, split == "train")


def aligned(data: TrainingData, context: ForecastContext, pairs: np.ndarray) -> np.ndarray:
    """The pairs whose input window and target lie at their nominal times: in a dataset whose
    recipe dropped time steps (gapped), a pair across a gap would pair the wrong times."""
    if not data.gapped or not len(pairs):
        return pairs
    inits = pairs[:, 0]
    before = (context.input_steps - 1) * context.stride
    window = inits[:, None] + np.arange(-before, 1, context.stride)[None, :]
    expected = np.arange(-(context.input_steps - 1), 1) * context.step_seconds
    ok = np.all(data.times[window] - data.times[inits][:, None] == expected[None, :], axis=1)
    targets = data.times[inits + pairs[:, 1] * context.stride] - data.times[inits]
    ok &= targets == pairs[:, 1] * context.step_seconds
    return pairs[ok]


def _signature(
    context: ForecastContext,
) -> tuple[dict[str, tf.TensorSpec], dict[str, tf.TensorSpec]]:
    lat, lon = context.grid_shape
    inputs = {
        name: tf.TensorSpec((context.input_steps, lat, lon), tf.float32)
        for name in context.variables
    }
    inputs[INIT_TIME] = tf.TensorSpec((), tf.int64)
    inputs[LEAD_HOURS] = tf.TensorSpec((), tf.float32)
    inputs[CLIMATOLOGY_FOLD] = tf.TensorSpec((), tf.int32)
    outputs = {name: tf.TensorSpec((lat, lon), tf.float32) for name in context.variables}
    return inputs, outputs


def dataset(
    samples: Samples,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int,
    leads_per_init: int = 0,
    readers: int = 2,
    lead_weights: np.ndarray | None = None,
) -> tf.data.Dataset:
    """Batches of (inputs, physical targets[, sample weights]); leads_per_init > 0 draws that
    many leads per init time afresh each pass (the others are skipped that pass); lead_weights
    [lead, variable] adds per-variable sample weights by lead."""
    blocks = samples.blocks()

    def generate(block: np.int64, draw: np.int64) -> Iterator[tuple[dict[str, np.ndarray], ...]]:
        pairs = blocks[int(block)]
        rng = np.random.default_rng([seed, int(draw) & 0x7FFFFFFF, int(block)])
        if leads_per_init > 0:
            keep = np.zeros(len(pairs), dtype=bool)
            for init in np.unique(pairs[:, 0]):
                rows = np.flatnonzero(pairs[:, 0] == init)
                keep[rng.choice(rows, min(leads_per_init, rows.size), replace=False)] = True
            pairs = pairs[keep]
        if shuffle:
            pairs = pairs[rng.permutation(len(pairs))]
        inputs, outputs = samples.read_block(pairs)
        if lead_weights is None:
            for i in range(len(pairs)):
                yield {k: v[i] for k, v in inputs.items()}, {k: v[i] for k, v in outputs.items()}
            return
        weights = lead_weights[pairs[:, 1]].astype(np.float32)
        names = samples.context.variables
        for i in range(len(pairs)):
            yield (
                {k: v[i] for k, v in inputs.items()},
                {k: v[i] for k, v in outputs.items()},
                {name: weights[i, j] for j, name in enumerate(names)},
            )

    signature: tuple[dict[str, tf.TensorSpec], ...] = _signature(samples.context)
    if lead_weights is not None:
        signature += ({name: tf.TensorSpec((), tf.float32) for name in samples.context.variables},)
    order = tf.data.Dataset.range(len(blocks))
    if shuffle:
        order = order.shuffle(len(blocks), seed=seed, reshuffle_each_iteration=True)
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    pipeline = tf.data.Dataset.zip(order, draws).interleave(
        lambda block, draw: tf.data.Dataset.from_generator(
            generate, output_signature=signature, args=(block, draw)
        ),
        cycle_length=readers,
        block_length=1,
        num_parallel_calls=readers,
        deterministic=True,
    )
    if shuffle:
        pipeline = pipeline.shuffle(max(batch_size * 8, 256), seed=seed)
    pipeline = pipeline.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return pipeline.with_options(options)


def steps_per_pass(samples: Samples, batch_size: int, leads_per_init: int) -> int:
    """Batches in one pass of dataset(...)."""
    if leads_per_init > 0:
        _, counts = np.unique(samples.pairs[:, 0], return_counts=True)
        total = int(np.minimum(counts, leads_per_init).sum())
    else:
        total = samples.size
    return max(1, -(-total // batch_size))
