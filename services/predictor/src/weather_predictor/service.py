"""The predictor's operations on numpy windows: one step, streamed forecasts, model info."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from weather_data.archive import Archive
from weather_predictor import forecast
from weather_predictor.models import (
    INIT_TIME,
    LEAD_HOURS,
    SIGNATURE,
    Choice,
    ModelCatalog,
    ModelInfo,
)
from weather_predictor.modelserver_client import ModelServerClient, Target
from weather_predictor.tensors import predict_request_bytes, predict_response_arrays
from weather_runtime.errors import FailedPrecondition, InvalidArgument
from weather_scores.rollout import Rollout

NO_DEADLINE = 365 * 86400.0  # a remaining time above this means the client set none
Window = dict[str, np.ndarray]  # variable -> [input_steps, lat, lon] float32


@dataclass(frozen=True)
class StepResult:
    """A forecast at one lead: [lat, lon] per variable, the version that answered, how."""

    lead_seconds: int
    outputs: dict[str, np.ndarray]
    info: ModelInfo
    alias: str
    rollout: bool = False


class Predictor:
    """Runs models through the model server; knows nothing of gRPC on its own side."""

    def __init__(
        self,
        client: ModelServerClient,
        catalog: ModelCatalog,
        archive: Archive | None,
        default_deadline_seconds: float,
    ) -> None:
        self.client = client
        self.catalog = catalog
        self.archive = archive
        self.default_deadline_seconds = default_deadline_seconds

    def deadline(self, time_remaining: float | None) -> float:
        """The monotonic deadline for model-server calls: the client's, else the default (a
        call without a deadline reports a remaining time of centuries)."""
        remaining = time_remaining
        if remaining is None or remaining > NO_DEADLINE:
            remaining = self.default_deadline_seconds
        return time.monotonic() + remaining

    def choose(
        self, name: str, version: int, alias: str, deadline: float, *, canary: bool = True
    ) -> tuple[Choice, ModelInfo]:
        """The target of a selector and the version it points at now (canary: whether the
        canary share applies; GetModelInfo describes what was asked for, never a draw)."""
        choice = self.catalog.choose(name, version, alias, deadline, canary=canary)
        return choice, self.catalog.resolve(choice, deadline)

    def predict(
        self,
        choice: Choice,
        info: ModelInfo,
        window: Window,
        init_time: int,
        lead_seconds: int,
        deadline: float,
    ) -> StepResult:
        """Predict's one step: only a lead the model was trained on (rollout is Forecast's)."""
        (item,) = forecast.plan(info, [lead_seconds], where="lead_time")
        if item.rollout_steps:
            trained = ", ".join(f"{h:g}" for h in info.lead_hours)
            raise InvalidArgument.field(
                "lead_time",
                f"{lead_seconds / 3600:g} h is not a trained lead ({trained} h); use Forecast, "
                "which rolls out beyond the longest one",
            )
        return self.step(choice, info, window, init_time, lead_seconds, deadline)

    def step(
        self,
        choice: Choice,
        info: ModelInfo,
        window: Window,
        init_time: int,
        lead_seconds: int,
        deadline: float,
    ) -> StepResult:
        """One model call: the forecast at init_time + lead_seconds."""
        spec = choice.target.spec(SIGNATURE)
        inputs = {name: values[np.newaxis] for name, values in window.items()}
        inputs[INIT_TIME] = np.array([init_time], np.int64)
        inputs[LEAD_HOURS] = np.array([lead_seconds / 3600.0], np.float32)
        raw = self.client.predict_bytes(predict_request_bytes(spec, inputs), spec, deadline)
        response, arrays = predict_response_arrays(raw)
        answered = int(response.model_spec.version.value) or info.version
        if answered != info.version:  # the alias moved between resolving and asking
            info = self.catalog.info(info.name, answered, deadline)
        outputs = {}
        for name in info.variables:
            if name not in arrays:
                raise FailedPrecondition(f"{info.name}:{answered} gave no output {name!r}")
            outputs[name] = arrays[name][0]
        return StepResult(lead_seconds, outputs, info, choice.alias)

    def dataset_window(
        self, info: ModelInfo, dataset_id: str, content_hash: str, init_time: int
    ) -> Window:
        """The window ending at init_time, read from the archive."""
        if self.archive is None:
            raise FailedPrecondition("this predictor has no archive configured")
        manifest = forecast.resolve_dataset(self.archive, dataset_id, content_hash)
        return forecast.read_window(self.archive, manifest, info, init_time)

    def forecast(
        self,
        choice: Choice,
        info: ModelInfo,
        window: Window,
        init_time: int,
        leads: list[int],
        deadline: float,
    ) -> Iterator[StepResult]:
        """One result per lead, in the order given: trained leads directly, longer leads by
        rollout (weather_scores.rollout: blocks of the direct leads become the next window;
        every model call is shared between the leads of one request)."""
        plans = forecast.plan(info, leads)
        step = round(info.step_seconds)
        pinned = False

        def direct(current: Window, k: int, j: int) -> dict[str, np.ndarray]:
            nonlocal choice, info, pinned
            answer = self.step(choice, info, current, init_time + k * step, j * step, deadline)
            choice, info, pinned = self._pin(choice, answer, pinned)
            return answer.outputs

        trained = forecast.trained_steps(info)
        states = Rollout(window, direct, trained, forecast.window_steps(info))
        for item in plans:
            shared = step > 0 and (item.rollout_steps or item.lead_seconds // step in trained)
            if not shared or item.lead_seconds % step:
                # a lead off the time step's grid, or no trained leads known: one call
                result = self.step(choice, info, window, init_time, item.lead_seconds, deadline)
                choice, info, pinned = self._pin(choice, result, pinned)
                yield result
                continue
            outputs = states.forecast(item.lead_seconds // step)
            # info is the version that answered (pinned after the first answer)
            rolled = bool(item.rollout_steps)
            yield StepResult(item.lead_seconds, outputs, info, choice.alias, rollout=rolled)

    @staticmethod
    def _pin(choice: Choice, result: StepResult, pinned: bool) -> tuple[Choice, ModelInfo, bool]:
        """After the first answer, the rest of a Forecast asks for that version by number, so an
        alias that moves mid-stream never mixes versions (the alias is still reported)."""
        if pinned:
            return choice, result.info, True
        target = Target(choice.target.name, version=result.info.version)
        return Choice(target, choice.alias), result.info, True
