"""Hyperparameter search: grid or random trials, on Dask workers when there is a cluster.

Each trial fits the family with its hyperparameters in workdir/search/trial-<n> (on a Dask worker
when a client is given, else in this process), is recorded in workdir/search/trials.json (a
rerun skips finished trials) and reported through hooks.on_trial. The best trial by validation
loss is the final model: its weights are loaded, not retrained.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import dask
import distributed
import numpy as np

from weather_data.archive import Archive
from weather_runtime.operations import Cancelled
from weather_trainer.data import TrainingData, open_training_data
from weather_trainer.model import FitJob, Fitted, ForecastContext, ModelFamily
from weather_trainer.models import FAMILIES
from weather_trainer.planning import build_context, candidates, check
from weather_trainer.spec import Epoch, Hooks, TrainSpec, TrialResult

WEIGHTS = "model.weights.h5"


@dataclass(frozen=True)
class SearchOutcome:
    """The finished trials, the best one's hyperparameters and its fitted model."""

    trials: tuple[TrialResult, ...]
    hyperparameters: dict[str, float]
    fitted: Fitted


def _trial_spec(spec: TrainSpec, hyperparameters: dict[str, float]) -> TrainSpec:
    return replace(spec, hyperparameters={**spec.hyperparameters, **hyperparameters}, search=None)


def run_trial(
    archive_url: str,
    spec: TrainSpec,
    number: int,
    hyperparameters: dict[str, float],
    folder: str,
    context: ForecastContext | None = None,
) -> dict[str, Any]:
    """Fits one trial (in whatever process runs it: a Dask worker or this one) and saves its
    weights in folder; returns the TrialResult fields and its epochs."""
    started = time.monotonic()
    trial_spec = _trial_spec(spec, hyperparameters)
    with dask.config.set(scheduler="synchronous"):  # a Dask task reads its data itself
        data = open_training_data(Archive(archive_url), spec.dataset_id, spec.content_hash)
        plan = check(trial_spec, data)
        context = context or build_context(trial_spec, data, plan)
        family = FAMILIES[spec.model_family]
        workdir = pathlib.Path(folder)
        workdir.mkdir(parents=True, exist_ok=True)
        job = FitJob(
            data,
            context,
            trial_spec,
            trial_spec.hyperparameters,
            workdir,
            Hooks(),
            report_epochs=False,
        )
        fitted = family.fit(job)
    fitted.model.save_weights(str(workdir / WEIGHTS))
    worker = f"{socket.gethostname()}:{os.getpid()}"
    return {
        "number": number,
        "hyperparameters": trial_spec.hyperparameters,
        "validation_loss": float(fitted.validation_loss),
        "epochs": len(fitted.epochs),
        "seconds": time.monotonic() - started,
        "worker": worker,
        "epoch_log": [asdict(e) for e in fitted.epochs],
    }


def _load(record: pathlib.Path) -> dict[int, dict[str, Any]]:
    if not record.exists():
        return {}
    return {int(r["number"]): r for r in json.loads(record.read_text())}


def _save(record: pathlib.Path, done: dict[int, dict[str, Any]]) -> None:
    temp = record.with_suffix(".tmp")
    temp.write_text(json.dumps([done[n] for n in sorted(done)], indent=1))
    os.replace(temp, record)


def _result(raw: dict[str, Any]) -> TrialResult:
    return TrialResult(
        number=int(raw["number"]),
        hyperparameters={k: float(v) for k, v in dict(raw["hyperparameters"]).items()},
        validation_loss=float(raw["validation_loss"]),
        epochs=int(raw["epochs"]),
        seconds=float(raw["seconds"]),
        worker=str(raw["worker"]),
    )


def run(
    spec: TrainSpec,
    archive_url: str,
    data: TrainingData,
    context: ForecastContext,
    family: ModelFamily,
    workdir: pathlib.Path,
    hooks: Hooks,
    dask_client: distributed.Client | None,
) -> SearchOutcome:
    """Runs the missing trials of spec.search and returns the best."""
    assert spec.search is not None
    folder = workdir / "search"
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / "trials.json"
    done = _load(record)
    plan = candidates(spec.search, family, spec.seed)
    pending = [(n, hp) for n, hp in enumerate(plan, start=1) if n not in done]
    for raw in done.values():
        hooks.on_trial(_result(raw))

    def finished(raw: dict[str, Any]) -> None:
        done[int(raw["number"])] = raw
        _save(record, done)
        hooks.on_trial(_result(raw))
        hooks.on_stage("searching", 0.05 + 0.75 * len(done) / max(1, len(plan)))

    if dask_client is not None:
        _run_on_cluster(spec, archive_url, context, pending, folder, hooks, dask_client, finished)
    else:
        for number, hp in pending:
            if hooks.cancel.is_set():
                raise Cancelled()
            finished(
                run_trial(archive_url, spec, number, hp, str(folder / f"trial-{number}"), context)
            )
    if hooks.cancel.is_set():
        raise Cancelled()
    best = min(done.values(), key=lambda r: _loss_key(float(r["validation_loss"])))
    hyperparameters = family.resolved(
        {k: float(v) for k, v in dict(best["hyperparameters"]).items()}
    )
    model = family.build(context, hyperparameters)
    model.load_weights(str(folder / f"trial-{best['number']}" / WEIGHTS))
    epochs = [Epoch(**e) for e in best.get("epoch_log", [])]
    trials = tuple(_result(done[n]) for n in sorted(done))
    fitted = Fitted(model, epochs, float(best["validation_loss"]))
    return SearchOutcome(trials, hyperparameters, fitted)


def _loss_key(loss: float) -> float:
    return loss if np.isfinite(loss) else float("inf")


def _run_on_cluster(
    spec: TrainSpec,
    archive_url: str,
    context: ForecastContext,
    pending: list[tuple[int, dict[str, float]]],
    folder: pathlib.Path,
    hooks: Hooks,
    client: distributed.Client,
    finished: Callable[[dict[str, Any]], None],
) -> None:
    """Trials as Dask tasks, at most parallel_trials (default: one per worker) at a time."""
    assert spec.search is not None
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    limit = spec.search.parallel_trials or workers
    queue = list(pending)
    active: list[distributed.Future] = []

    def submit() -> None:
        number, hp = queue.pop(0)
        active.append(
            client.submit(
                run_trial,
                archive_url,
                spec,
                number,
                hp,
                str(folder / f"trial-{number}"),
                context,
                key=f"trial-{number}-{os.getpid()}-{time.time_ns()}",
                pure=False,
            )
        )

    for _ in range(min(limit, len(queue))):
        submit()
    while active:
        if hooks.cancel.is_set():
            client.cancel(active)
            raise Cancelled()
        ready = [future for future in active if future.done()]
        if not ready:
            time.sleep(0.2)
            continue
        for future in ready:
            active.remove(future)
            finished(future.result())
            if queue:
                submit()
