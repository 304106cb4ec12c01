"""A training job end to end: check the spec, fit (or search), score on the references, export."""

from __future__ import annotations

import json
import logging
import pathlib
import shutil
import time
from dataclasses import replace

import distributed

from weather_data.archive import Archive
from weather_runtime import spans
from weather_runtime.operations import Cancelled
from weather_trainer import distribute, export, pipeline, scoring, search, storage
from weather_trainer.data import TrainingData
from weather_trainer.data import open_training_data as open_data
from weather_trainer.fitting import CHECKPOINTS
from weather_trainer.model import FitJob, Fitted, ForecastContext, ModelFamily
from weather_trainer.models import FAMILIES
from weather_trainer.planning import build_context, check, family_for
from weather_trainer.spec import Epoch, Hooks, Outcome, TrainSpec, TrialResult

# check and build_context live in planning (search.py plans with them too); named here as well
# for the callers that plan and train
__all__ = ["SAVED_MODEL", "build_context", "check", "train", "validate", "with_defaults"]

log = logging.getLogger(__name__)

SAVED_MODEL = "saved_model"


def validate(spec: TrainSpec, archive: Archive) -> None:
    """Every check train() makes before it trains (NotFound for an unknown dataset)."""
    family_for(spec)
    check(spec, open_data(archive, spec.dataset_id, spec.content_hash))


def _metadata(
    spec: TrainSpec,
    data: TrainingData,
    context: ForecastContext,
    family: ModelFamily,
    hyperparameters: dict[str, float],
    fitted: Fitted,
) -> dict[str, object]:
    units = {v.name: v.units for v in data.manifest.variables}
    return {
        "family": family.name,
        "hyperparameters": hyperparameters,
        "variables": [{"name": n, "units": units.get(n, "")} for n in context.variables],
        "latitude": [float(x) for x in context.latitude],
        "longitude": [float(x) for x in context.longitude],
        "global_grid": context.global_grid,
        "time_step_seconds": context.step_seconds,
        "input_steps": context.input_steps,
        "lead_hours": list(context.lead_hours),
        "max_lead_hours": spec.max_lead_hours,
        "dataset_id": data.manifest.dataset_id,
        "dataset_version": data.manifest.version,
        "dataset_hash": data.manifest.content_hash,
        "recipe_hash": data.recipe_hash,
        "stats_hash": data.stats_hash,
        "climatology_folds": len(context.fold_climatology),
        "seed": spec.seed,
        "epochs": len(fitted.epochs),
        "validation_loss": fitted.validation_loss,
        "resumed_from_epoch": fitted.resumed_from_epoch,
        "signature": export.SIGNATURE,
    }


def train(
    spec: TrainSpec,
    archive: Archive,
    workdir: pathlib.Path,
    hooks: Hooks,
    *,
    dask_client: distributed.Client | None = None,
    checkpoint_mirror: str = "",
) -> Outcome:
    """Trains (or searches, then keeps the best trial), scores on the test split against
    persistence and climatology, exports workdir/saved_model. Rerun with the same workdir after
    an interruption, it continues from the last finished epoch. With checkpoint_mirror (an
    fsspec URL), the checkpoints are copied there after every epoch and fetched from there when
    workdir has none (a job resumed on another node). Raises Cancelled on cancel."""
    started = time.monotonic()
    hooks.on_stage("preparing", 0.0)
    family = family_for(spec)
    strategy = distribute.strategy_for(spec.strategy) if spec.strategy != "default" else None
    with spans.step("train: prepare", **{"dataset.id": spec.dataset_id}):
        data = open_data(archive, spec.dataset_id, spec.content_hash)
        plan = check(spec, data)
        context = build_context(spec, data, plan)
    workdir.mkdir(parents=True, exist_ok=True)
    hooks = _epoch_spans(hooks)
    if checkpoint_mirror:
        hooks = _mirroring(hooks, workdir / CHECKPOINTS, checkpoint_mirror)
    trials: tuple[TrialResult, ...] = ()
    hyperparameters = family.resolved(spec.hyperparameters)
    if hooks.cancel.is_set():
        raise Cancelled()
    if spec.search is not None:
        hooks.on_stage("searching", 0.05)
        with spans.step("train: search", **{"model.family": family.name}):
            found = search.run(
                spec, archive.url, data, context, family, workdir, hooks, dask_client
            )
        trials, hyperparameters, fitted = found.trials, found.hyperparameters, found.fitted
    else:
        hooks.on_stage("training", 0.05)
        job = FitJob(data, context, spec, hyperparameters, workdir, hooks, strategy, dask_client)
        attributes: dict[str, int | str] = {"model.family": family.name, "epochs": spec.epochs}
        with spans.step("train: fit", **attributes):
            fitted = family.fit(job)
    if hooks.cancel.is_set():
        raise Cancelled()
    hooks.on_stage("scoring", 0.85)
    test = pipeline.split_samples(data, context, "test")
    rollout = None
    if plan.rolled_out_leads:  # scored beyond the trained leads (spec.max_lead_hours)
        rollout = pipeline.split_samples(data, context, "test", plan.rolled_out_leads)
    references = {
        name: FAMILIES[name].build(context, {}) for name in ("persistence", "climatology")
    }
    with spans.step("train: score", references=len(references)):
        scores = scoring.score(
            {"model": fitted.model, **references},
            test,
            progress=lambda done: hooks.on_stage("scoring", 0.85 + 0.1 * done),
            rollout=rollout,
        )
    hooks.on_stage("exporting", 0.95)
    metadata = _metadata(spec, data, context, family, hyperparameters, fitted)
    metadata["scores"] = [
        {
            "variable": s.variable,
            "lead_hours": s.lead_seconds / 3600,
            "method": s.method,
            "skill_score": s.skill_score,
            "model_rmse": s.model.rmse,
            "persistence_rmse": s.persistence.rmse,
            "climatology_rmse": s.climatology.rmse,
        }
        for s in scores
    ]
    target = workdir / SAVED_MODEL
    with spans.step("train: export SavedModel", path=str(target)):
        inputs, outputs = export.export(fitted.model, context, target, metadata)
    shutil.rmtree(workdir / CHECKPOINTS, ignore_errors=True)
    metadata["seconds"] = time.monotonic() - started
    (workdir / "outcome.json").write_text(json.dumps(metadata, default=str, indent=1))
    hooks.on_stage("done", 1.0)
    return Outcome(
        saved_model_dir=str(target),
        inputs=inputs,
        outputs=outputs,
        scores=scores,
        epochs=tuple(fitted.epochs),
        trials=trials,
        dataset_hash=data.manifest.content_hash,
        recipe_hash=data.recipe_hash,
        stats_hash=data.stats_hash,
        metadata=metadata,
        resumed_from_epoch=fitted.resumed_from_epoch,
    )


def _epoch_spans(hooks: Hooks) -> Hooks:
    """Hooks that also record each finished epoch as a span (its duration, losses), a child
    of the span current when the epoch ends (the fit)."""

    def on_epoch(epoch: Epoch, total: int) -> None:
        end = time.time_ns()
        span = spans.tracer().start_span(
            f"epoch {epoch.epoch}",
            start_time=end - int(epoch.seconds * 1e9),
            attributes={
                "epoch": epoch.epoch,
                "epochs": total,
                "loss.train": epoch.train_loss,
                "loss.validation": epoch.validation_loss,
            },
        )
        span.end(end_time=end)
        hooks.on_epoch(epoch, total)

    return Hooks(
        on_stage=hooks.on_stage, on_epoch=on_epoch, on_trial=hooks.on_trial, cancel=hooks.cancel
    )


def _mirroring(hooks: Hooks, checkpoints: pathlib.Path, mirror: str) -> Hooks:
    """Hooks that first bring back mirrored checkpoints (when there are none here), then copy
    the checkpoints to the mirror at the end of every epoch, before reporting it."""
    if not checkpoints.exists():
        fetched = storage.download_tree(mirror, checkpoints)
        if fetched:
            log.info("fetched %d checkpoint files from %s", fetched, mirror)

    def on_epoch(epoch: Epoch, total: int) -> None:
        storage.upload_tree(checkpoints, mirror)
        hooks.on_epoch(epoch, total)

    return Hooks(
        on_stage=hooks.on_stage, on_epoch=on_epoch, on_trial=hooks.on_trial, cancel=hooks.cancel
    )


def with_defaults(spec: TrainSpec, **changes: object) -> TrainSpec:
    """A copy of a spec with some fields changed (tests, search trials)."""
    return replace(spec, **changes)  # type: ignore[arg-type]
