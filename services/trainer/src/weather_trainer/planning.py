"""Training plans: a spec checked against its dataset, its forecast context, the trial grid."""

# A training job (training.py) and a search trial (search.py, on a Dask worker) plan alike; this
# module imports neither, so the two do not import each other (tests/trainer/test_import_graph).

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from weather_runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument
from weather_scores.rollout import rollout_steps
from weather_trainer import distribute
from weather_trainer.data import DAY_SECONDS, TrainingData, climatology, day_slots
from weather_trainer.model import HOUR_SECONDS, ForecastContext, Hyperparameter, ModelFamily
from weather_trainer.models import FAMILIES, family_names
from weather_trainer.spec import MAX_SCORED_HOURS, SearchSpec, TrainSpec

CLIMATOLOGY_FOLDS = 4
METHODS = ("grid", "random")
DEFAULT_RANDOM_TRIALS = 8
GRID_POINTS = 3


@dataclass(frozen=True)
class Plan:
    """What a checked spec resolves to on its dataset."""

    family: ModelFamily
    variables: tuple[str, ...]
    stride: int
    step_seconds: float
    lead_steps: tuple[int, ...]
    scored_steps: int = 0  # the longest lead scored (model steps): beyond lead_steps, rolled out

    @property
    def rolled_out_leads(self) -> tuple[int, ...]:
        """The leads (model steps) scored by rollout, beyond the longest trained one."""
        return tuple(range(max(self.lead_steps, default=0) + 1, self.scored_steps + 1))


def _check_hyperparameters(spec: TrainSpec, family: ModelFamily) -> list[FieldViolation]:
    declared = {p.name: p for p in family.hyperparameters}
    known = ", ".join(sorted(declared)) or "none"
    problems = []
    for name, value in sorted(spec.hyperparameters.items()):
        field = f"spec.hyperparameters[{name}]"
        if name not in declared:
            problems.append(
                FieldViolation(field, f"unknown hyperparameter of {family.name}; known: {known}")
            )
        elif why := declared[name].check(float(value)):
            problems.append(FieldViolation(field, why))
    if spec.search is not None:
        problems += check_search(spec.search, family)
    return problems


def _check_numbers(spec: TrainSpec) -> list[FieldViolation]:
    problems = []
    if spec.epochs < 1:
        problems.append(FieldViolation("spec.epochs", f"must be at least 1, got {spec.epochs}"))
    if spec.input_steps < 1:
        problems.append(
            FieldViolation("spec.input_steps", f"must be at least 1, got {spec.input_steps}")
        )
    if spec.early_stopping_patience < 0:
        problems.append(FieldViolation("spec.early_stopping_patience", "must not be negative"))
    if spec.batch_size < 0:
        problems.append(FieldViolation("spec.batch_size", "must not be negative"))
    if spec.time_step_seconds < 0:
        problems.append(FieldViolation("spec.time_step_seconds", "must not be negative"))
    if any(step < 1 for step in spec.lead_steps):
        problems.append(FieldViolation("spec.lead_steps", "every lead must be at least one step"))
    if not 0 <= spec.max_lead_hours <= MAX_SCORED_HOURS:
        problems.append(
            FieldViolation(
                "spec.scoring.max_lead_hours", f"must be within [0, {MAX_SCORED_HOURS}] hours"
            )
        )
    return problems


def _check_data(spec: TrainSpec, data: TrainingData, plan: Plan) -> list[FieldViolation]:
    problems = []
    known = data.forecastable
    for name in spec.variables:
        if name not in known:
            problems.append(
                FieldViolation(
                    "spec.variables",
                    f"unknown variable {name!r}; forecastable: {', '.join(known) or 'none'}",
                )
            )
    if not plan.lead_steps:
        return problems
    before = (spec.input_steps - 1) * plan.stride
    after = max(plan.lead_steps) * plan.stride
    train = data.splits["train"]
    length = train.stop - train.start
    if before + after >= length:
        problems.append(
            FieldViolation(
                "spec.input_steps",
                f"a window of {spec.input_steps} steps and the longest lead "
                f"({max(plan.lead_steps)} steps) need {before + after + 1} time steps of "
                f"{plan.step_seconds:g} s; the training split has {length}",
            )
        )
    problems += _check_scoring(spec, data, plan)
    # the test split scores every trained lead; the validation split judges the leads that fit
    # in it (a 3-day validation split still validates a model trained to +72 h on its shorter
    # leads), so it must hold the shortest
    for name, steps in (("validation", min(plan.lead_steps)), ("test", max(plan.lead_steps))):
        part = data.splits[name]
        if steps * plan.stride >= part.stop - part.start:
            which = "shortest" if name == "validation" else "longest"
            problems.append(
                FieldViolation(
                    "spec.lead_steps",
                    f"the {which} lead ({steps} steps) does not fit in the "
                    f"{name} split ({part.stop - part.start} steps)",
                )
            )
    return problems


def _check_scoring(spec: TrainSpec, data: TrainingData, plan: Plan) -> list[FieldViolation]:
    """Leads scored beyond the trained ones: whole time steps, rolled out one trained step at a
    time, their targets inside the test split."""
    if plan.scored_steps <= max(plan.lead_steps):
        return []
    field = "spec.scoring.max_lead_hours"
    step_hours = plan.step_seconds / HOUR_SECONDS
    if abs(spec.max_lead_hours / step_hours - plan.scored_steps) > 1e-9:
        return [FieldViolation(field, f"must be a multiple of the {step_hours:g} h time step")]
    if rollout_steps(plan.scored_steps, plan.lead_steps, 1, spec.input_steps) is None:
        return [
            FieldViolation(
                field,
                f"leads beyond the longest trained lead ({max(plan.lead_steps) * step_hours:g} h) "
                f"are rolled out in blocks of the leads 1, 2, ... time steps: the "
                f"{step_hours:g} h time step must be a lead",
            )
        ]
    test = data.splits["test"]
    if plan.scored_steps * plan.stride >= test.stop - test.start:
        return [
            FieldViolation(
                field,
                f"{spec.max_lead_hours} h does not fit in the test split "
                f"({(test.stop - test.start) * data.step_seconds / HOUR_SECONDS:g} h)",
            )
        ]
    return []


def _plan(
    spec: TrainSpec, data: TrainingData, family: ModelFamily
) -> tuple[Plan, list[FieldViolation]]:
    problems = []
    dataset_step = data.step_seconds
    step = spec.time_step_seconds or dataset_step
    stride = round(step / dataset_step) if dataset_step > 0 else 1
    if dataset_step <= 0 or stride < 1 or abs(stride * dataset_step - step) > 1e-6:
        problems.append(
            FieldViolation(
                "spec.time_step_seconds",
                f"must be a positive multiple of the dataset's step ({dataset_step:g} s)",
            )
        )
        stride, step = 1, dataset_step
    leads = spec.lead_steps or tuple(range(1, max(1, int(DAY_SECONDS // max(step, 1))) + 1))
    variables = spec.variables or data.forecastable
    leads = tuple(sorted(set(leads)))
    scored = int(spec.max_lead_hours * HOUR_SECONDS // step) if step > 0 else 0
    plan = Plan(family, tuple(variables), stride, step, leads, max(scored, *leads))
    return plan, problems


def family_for(spec: TrainSpec) -> ModelFamily:
    """The spec's model family; INVALID_ARGUMENT naming spec.model_family when unknown."""
    family = FAMILIES.get(spec.model_family)
    if family is None:
        raise InvalidArgument.field(
            "spec.model_family",
            f"unknown model family {spec.model_family!r}; known: {', '.join(family_names())}",
        )
    return family


def check(spec: TrainSpec, data: TrainingData) -> Plan:
    """The spec's plan on its dataset; InvalidArgument naming every bad field."""
    family = family_for(spec)
    distribute.check_strategy(spec.strategy)
    problems = _check_numbers(spec) + _check_hyperparameters(spec, family)
    plan, more = _plan(spec, data, family)
    problems += more + _check_data(spec, data, plan)
    if problems:
        raise InvalidArgument(problems)
    if not plan.variables:
        raise FailedPrecondition(f"{data.manifest.dataset_id} has no forecastable variable")
    return plan


def build_context(spec: TrainSpec, data: TrainingData, plan: Plan) -> ForecastContext:
    """Normalisation, climatologies (whole training split and cross-fitted) and grid."""
    slots = day_slots(plan.step_seconds)
    variables = plan.variables
    full = climatology(data, variables, slots)
    try:
        folds = np.stack(
            [
                climatology(data, variables, slots, k, CLIMATOLOGY_FOLDS)
                for k in range(CLIMATOLOGY_FOLDS)
            ]
        )
    except FailedPrecondition:  # too short to leave a fold out: no cross-fitting
        folds = np.zeros((0, *full.shape), dtype=np.float32)
    stats = [data.statistics[name] for name in variables]
    return ForecastContext(
        variables=variables,
        mean=tuple(s.mean for s in stats),
        std=tuple(s.std for s in stats),
        climatology=full,
        fold_climatology=folds,
        latitude=data.latitude,
        longitude=data.longitude,
        global_grid=data.global_grid,
        step_seconds=plan.step_seconds,
        stride=plan.stride,
        input_steps=spec.input_steps,
        lead_steps=plan.lead_steps,
    )


def check_search(search: SearchSpec, family: ModelFamily) -> list[FieldViolation]:
    """What is wrong with a search spec for a family."""
    declared = {p.name: p for p in family.hyperparameters}
    problems = []
    if search.method not in METHODS:
        problems.append(
            FieldViolation(
                "spec.search.method",
                f"unknown method {search.method!r}; known: {', '.join(METHODS)}",
            )
        )
    if not search.parameters:
        problems.append(FieldViolation("spec.search.parameters", "must not be empty"))
    if search.max_trials < 0 or search.parallel_trials < 0:
        problems.append(FieldViolation("spec.search", "trial counts must not be negative"))
    for i, parameter in enumerate(search.parameters):
        field = f"spec.search.parameters[{i}]"
        known = declared.get(parameter.name)
        if known is None:
            problems.append(
                FieldViolation(
                    f"{field}.name",
                    f"unknown hyperparameter of {family.name}; known: "
                    f"{', '.join(sorted(declared)) or 'none'}",
                )
            )
            continue
        bounds = list(parameter.values) or [parameter.low, parameter.high]
        for value in bounds:
            if why := known.check(float(value)):
                problems.append(FieldViolation(field, why))
        if not parameter.values and parameter.low > parameter.high:
            problems.append(FieldViolation(field, "low must not exceed high"))
        if parameter.log and not parameter.values and parameter.low <= 0:
            problems.append(FieldViolation(field, "a log range needs a positive low"))
    return problems


def _grid_values(parameter: Hyperparameter, low: float, high: float, log: bool) -> list[float]:
    points = np.geomspace(low, high, GRID_POINTS) if log else np.linspace(low, high, GRID_POINTS)
    values = [float(round(v)) if parameter.integer else float(v) for v in points]
    return sorted(set(values))


def candidates(search: SearchSpec, family: ModelFamily, seed: int) -> list[dict[str, float]]:
    """The trials' hyperparameters, in trial order."""
    declared = {p.name: p for p in family.hyperparameters}
    if search.method == "grid":
        axes = [
            [float(v) for v in p.values] or _grid_values(declared[p.name], p.low, p.high, p.log)
            for p in search.parameters
        ]
        names = [p.name for p in search.parameters]
        grid = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes)]
        return grid[: search.max_trials] if search.max_trials else grid
    rng = np.random.default_rng(seed)
    trials = []
    for _ in range(search.max_trials or DEFAULT_RANDOM_TRIALS):
        draw = {}
        for p in search.parameters:
            if p.values:
                value = float(rng.choice(np.asarray(p.values, dtype=float)))
            elif p.log:
                value = float(np.exp(rng.uniform(np.log(p.low), np.log(p.high))))
            else:
                value = float(rng.uniform(p.low, p.high))
            draw[p.name] = float(round(value)) if declared[p.name].integer else value
        trials.append(draw)
    return trials
