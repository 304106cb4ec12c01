"""WeatherBench 2 scores on the test split, the same way for the model and the references.

With w the latitude weights cos(lat) normalised to mean 1 over the grid's latitudes, for each
variable and lead, over the init times t whose target t + lead lies in the test split:
RMSE = sqrt(mean_t mean_grid w (f - o)^2); bias = mean_t mean_grid w (f - o);
MAE = mean_t mean_grid w |f - o|; ACC = mean_t sum w f'o' / sqrt(sum w f'^2 sum w o'^2) with
f' = f - c, o' = o - c and c the training split's climatology at the target's time of day
(the climatology forecast has f' = 0: its ACC is reported as 0). The per-sample scores are
weather_scores.grid's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np

from weather_scores import grid
from weather_scores.grid import latitude_weights
from weather_scores.rollout import Rollout
from weather_scores.rollout import method as rollout_method
from weather_trainer.data import day_slots, slot_of
from weather_trainer.features import CLIMATOLOGY_FOLD, INIT_TIME, LEAD_HOURS
from weather_trainer.model import ForecastContext
from weather_trainer.pipeline import Samples
from weather_trainer.spec import LeadScores, SystemScores

PREDICT_BATCH = 64
SYSTEMS = ("model", "persistence", "climatology")


@dataclass
class _Sums:
    """Per-init-time scores summed over init times."""

    mse: float = 0.0
    bias: float = 0.0
    mae: float = 0.0
    acc: float = 0.0
    count: int = 0

    def add(
        self,
        error: np.ndarray,
        forecast_anomaly: np.ndarray,
        observed_anomaly: np.ndarray,
        weights: np.ndarray,
    ) -> None:
        """error and anomalies: [n, lat, lon]; weights [lat]."""
        self.mse += float(grid.mse(error, weights).sum())
        self.bias += float(grid.bias(error, weights).sum())
        self.mae += float(grid.mae(error, weights).sum())
        self.acc += float(grid.acc(forecast_anomaly, observed_anomaly, weights).sum())
        self.count += int(error.shape[0])

    def scores(self) -> SystemScores:
        n = max(self.count, 1)
        return SystemScores(
            rmse=float(np.sqrt(self.mse / n)),
            bias=self.bias / n,
            mae=self.mae / n,
            acc=self.acc / n,
        )


@dataclass
class _Table:
    sums: dict[tuple[str, int, str], _Sums] = field(default_factory=dict)

    def get(self, variable: str, lead: int, system: str) -> _Sums:
        return self.sums.setdefault((variable, lead, system), _Sums())


def predict(model: keras.Model, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Physical forecasts of a model on physical inputs, in batches."""
    total = len(inputs[LEAD_HOURS])
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, total, PREDICT_BATCH):
        batch = {k: v[start : start + PREDICT_BATCH] for k, v in inputs.items()}
        out = model(batch, training=False)
        parts.append({k: np.asarray(v) for k, v in out.items()})
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def score(
    systems: dict[str, keras.Model],
    samples: Samples,
    progress: Callable[[float], None] = lambda done: None,
    rollout: Samples | None = None,
) -> tuple[LeadScores, ...]:
    """Scores of every system (by name, "model", "persistence", "climatology") by variable and
    lead on the samples (the test split's), the model's leads "direct"; with rollout (samples at
    leads beyond the longest trained one), also at those leads, the model rolled out in blocks of
    its direct leads as the predictor's Forecast does (weather_scores.rollout), the references
    called directly at the lead, as at the direct leads, and these leads labelled "rollout"."""
    context: ForecastContext = samples.context
    weights = latitude_weights(context.latitude)
    slots = day_slots(context.step_seconds)
    table = _Table()
    blocks = samples.blocks()
    extra = rollout.blocks() if rollout is not None else []
    total = len(blocks) + len(extra)
    for done, pairs in enumerate(blocks, start=1):
        inputs, targets = samples.read_block(pairs)
        target_times = inputs[INIT_TIME] + np.round(inputs[LEAD_HOURS] * 3600).astype(np.int64)
        clim = context.climatology[slot_of(target_times, slots)]  # [n, lat, lon, V]
        forecasts = {name: predict(model, inputs) for name, model in systems.items()}
        for lead in np.unique(pairs[:, 1]):
            rows = pairs[:, 1] == lead
            _add(table, context, int(lead), forecasts, targets, clim, rows, weights)
        progress(done / total)
    for done, pairs in enumerate(extra, start=len(blocks) + 1):
        assert rollout is not None
        _score_rollout(table, systems, rollout, pairs, weights, slots)
        progress(done / total)
    out = []
    rolled = set(rollout.pairs[:, 1].tolist()) if rollout is not None else set()
    leads = sorted({lead for (_, lead, _) in table.sums})
    for variable in context.variables:
        for lead in leads:
            if (variable, lead, "model") not in table.sums:
                continue
            model = table.get(variable, lead, "model")
            direct = lead not in rolled or lead in context.lead_steps
            out.append(
                LeadScores(
                    variable=variable,
                    lead_seconds=lead * context.step_seconds,
                    model=model.scores(),
                    persistence=table.get(variable, lead, "persistence").scores(),
                    climatology=table.get(variable, lead, "climatology").scores(),
                    samples=model.count,
                    method=rollout_method(0 if direct else lead),
                )
            )
    return tuple(out)


def _add(
    table: _Table,
    context: ForecastContext,
    lead: int,
    forecasts: dict[str, dict[str, np.ndarray]],
    targets: dict[str, np.ndarray],
    clim: np.ndarray,
    rows: np.ndarray,
    weights: np.ndarray,
) -> None:
    """Adds the scores of every system at one lead over some rows of its forecasts, targets and
    climatology (the reference of the anomalies)."""
    for v, variable in enumerate(context.variables):
        observed = targets[variable][rows].astype(np.float64)
        reference = clim[rows, ..., v].astype(np.float64)
        for name, forecast in forecasts.items():
            f = forecast[variable][rows].astype(np.float64)
            table.get(variable, lead, name).add(
                f - observed, f - reference, observed - reference, weights
            )


def _score_rollout(
    table: _Table,
    systems: dict[str, keras.Model],
    samples: Samples,
    pairs: np.ndarray,
    weights: np.ndarray,
    slots: int,
) -> None:
    """Scores one block of (init, lead) pairs at rolled-out leads: the model rolled out from
    each distinct init time in one batch, up to the block's longest lead; the references called
    at the lead."""
    context = samples.context
    state, rows, targets = samples.read_inits(pairs)
    init_times = state.pop(INIT_TIME)
    n = len(init_times)
    step_seconds = round(context.step_seconds)

    def direct(window: dict[str, np.ndarray], k: int, j: int) -> dict[str, np.ndarray]:
        inputs = {
            **window,
            INIT_TIME: init_times + k * step_seconds,
            LEAD_HOURS: np.full(n, j * step_seconds / 3600.0, np.float32),
            CLIMATOLOGY_FOLD: np.full(n, -1, np.int32),
        }
        return predict(systems["model"], inputs)

    model = Rollout(state, direct, context.lead_steps, context.input_steps, keep=False)
    for lead in np.unique(pairs[:, 1]):
        at = pairs[:, 1] == lead
        chosen = rows[at]
        lead_hours = lead * context.step_seconds / 3600.0
        inputs = {name: values[chosen] for name, values in state.items()}
        inputs[INIT_TIME] = init_times[chosen]
        inputs[LEAD_HOURS] = np.full(len(chosen), lead_hours, np.float32)
        inputs[CLIMATOLOGY_FOLD] = np.full(len(chosen), -1, np.int32)
        rolled = model.forecast(int(lead))
        forecasts = {"model": {name: values[chosen] for name, values in rolled.items()}}
        for name, system in systems.items():
            if name != "model":
                forecasts[name] = predict(system, inputs)
        target_times = inputs[INIT_TIME] + round(lead * context.step_seconds)
        clim = context.climatology[slot_of(target_times, slots)]
        lead_targets = {name: values[at] for name, values in targets.items()}
        everything = np.ones(len(chosen), dtype=bool)
        _add(table, context, int(lead), forecasts, lead_targets, clim, everything, weights)


def skill_table(scores: tuple[LeadScores, ...]) -> str:
    """A markdown table: RMSE of the model (direct or rolled out) and the references and the
    skill score by lead."""
    lines = [
        "| variable | lead (h) | method | model RMSE | persistence RMSE | climatology RMSE | "
        "skill | model ACC | samples |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in scores:
        lines.append(
            f"| {s.variable} | {s.lead_seconds / 3600:g} | {s.method} | {s.model.rmse:.3f} | "
            f"{s.persistence.rmse:.3f} | {s.climatology.rmse:.3f} | {s.skill_score:+.3f} | "
            f"{s.model.acc:.3f} | {s.samples} |"
        )
    return "\n".join(lines)


def reference_mse(samples: Samples, max_blocks: int = 64) -> np.ndarray:
    """Latitude-weighted MSE of the better of persistence and climatology by lead and variable,
    [max lead + 1, variable], from (at most max_blocks evenly spread) blocks of the samples."""
    context = samples.context
    weights = latitude_weights(context.latitude)
    slots = day_slots(context.step_seconds)
    leads = max(context.lead_steps) + 1
    variables = len(context.variables)
    persistence = np.zeros((leads, variables))
    climatology = np.zeros((leads, variables))
    counts = np.zeros((leads, 1))
    blocks = samples.blocks()
    chosen = np.unique(np.linspace(0, len(blocks) - 1, min(max_blocks, len(blocks))).astype(int))
    for index in chosen:
        pairs = blocks[index]
        inputs, targets = samples.read_block(pairs)
        target_times = inputs[INIT_TIME] + np.round(inputs[LEAD_HOURS] * 3600).astype(np.int64)
        clim = context.climatology[slot_of(target_times, slots)]
        observed = np.stack([targets[v] for v in context.variables], axis=-1)
        last = np.stack([inputs[v][:, -1] for v in context.variables], axis=-1)
        p = grid.mse(last - observed, weights, latitude_axis=1)  # [n, V]
        c = grid.mse(clim - observed, weights, latitude_axis=1)
        np.add.at(persistence, pairs[:, 1], p)
        np.add.at(climatology, pairs[:, 1], c)
        np.add.at(counts, pairs[:, 1], 1)
    best = np.minimum(persistence, climatology) / np.maximum(counts, 1)
    fallback = best[counts[:, 0] > 0].mean(axis=0) if (counts > 0).any() else np.ones(variables)
    best[counts[:, 0] == 0] = fallback
    return np.maximum(best, 1e-12)
