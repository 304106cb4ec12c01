"""Forecasts through the predictor, scored against the archive's truth (the demo's last step).

The scores are the trainer's (weather_scores.grid): for each lead, over the init times t of the
test split whose target t + lead lies in the split, RMSE = sqrt(mean_t mean_grid w (f - o)^2)
with w = cos(latitude) normalised to mean 1.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import grpc
import numpy as np
from google.protobuf import duration_pb2, timestamp_pb2
from weather.common.v1 import dataset_pb2
from weather.predictor.v1 import predictor_service_pb2 as pb
from weather.predictor.v1 import predictor_service_pb2_grpc as pb_grpc
from weather.registry.v1 import registry_service_pb2 as rpb

from weather_data.archive import Archive
from weather_data.manifest import Manifest
from weather_scores.grid import latitude_weights, mse
from weather_scores.skill import skill_against_best
from weatherctl.output import table
from weatherctl.progress import ProgressBar

HOUR = 3600
# Relative difference from the trainer's registered RMSE above which a lead is reported.
AGREEMENT = 0.01
METHODS = {pb.FORECAST_METHOD_DIRECT: "direct", pb.FORECAST_METHOD_ROLLOUT: "rollout"}


def wait_for_alias(
    stub: pb_grpc.PredictorServiceStub, model: str, alias: str, version: int, timeout: float
) -> pb.GetModelInfoResponse:
    """Polls GetModelInfo until the predictor serves version under alias; TimeoutError with the
    last answer when the deadline passes."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    selector = pb.ModelSelector(name=model, alias=alias)
    while time.monotonic() < deadline:
        try:
            info = stub.GetModelInfo(pb.GetModelInfoRequest(model=selector), timeout=10)
            if info.provenance.model_version == version:
                return info  # type: ignore[no-any-return]
            last = f"{alias} is v{info.provenance.model_version}"
        except grpc.RpcError as exc:
            last = f"{exc.code().name}: {exc.details()}"  # type: ignore[attr-defined]
        time.sleep(0.5)
    raise TimeoutError(f"{model}@{alias} not served as v{version} after {timeout:.0f} s ({last})")


def resolve(archive: Archive, ref: dataset_pb2.DatasetRef) -> Manifest:
    """The archive's version of the dataset with the reference's content hash."""
    for number in reversed(archive.versions(ref.dataset_id)):
        manifest = archive.get(ref.dataset_id, number)
        if manifest.content_hash == ref.content_hash:
            return manifest
    raise LookupError(f"{ref.dataset_id} has no version {ref.content_hash}")


def split_steps(manifest: Manifest, name: str) -> slice:
    """A built training dataset's split as step indices (manifest.extra[<name>_steps])."""
    start, stop = (int(part) for part in manifest.extra[f"{name}_steps"].split(":"))
    return slice(start, stop)


@dataclass
class ForecastScores:
    """Squared-error sums by lead of the forecasts streamed by the predictor."""

    inits: list[np.datetime64] = field(default_factory=list)
    sums: dict[int, float] = field(default_factory=dict)
    counts: dict[int, int] = field(default_factory=dict)
    provenance: set[tuple[str, int, str]] = field(default_factory=set)
    methods: dict[int, set[str]] = field(default_factory=dict)  # lead -> how it was served
    responses: int = 0
    seconds: float = 0.0

    def rmse(self, lead: int) -> float:
        return float(np.sqrt(self.sums[lead] / self.counts[lead]))


def forecast_test_split(
    stub: pb_grpc.PredictorServiceStub,
    archive: Archive,
    ref: dataset_pb2.DatasetRef,
    model: str,
    alias: str,
    variable: str,
    input_steps: int,
    leads: range,
    init_every: int = 1,
    quiet: bool = False,
) -> ForecastScores:
    """Forecasts every init_every-th init time of the test split (those with a full input window
    and at least one target inside the split) for the leads whose target lies in the split, and
    accumulates the latitude-weighted squared error against the archive's truth. Shows the
    init times done on stderr unless quiet."""
    manifest = resolve(archive, ref)
    test = split_steps(manifest, "test")
    ds = archive.open(manifest)
    times = ds["time"].values.astype("datetime64[s]")
    seconds = times.astype(np.int64)
    truth = np.asarray(ds[variable].values, dtype=np.float64)  # [time, lat, lon]
    weights = latitude_weights(ds["latitude"].values)
    step = int(seconds[1] - seconds[0])
    scores = ForecastScores()
    first = max(test.start, input_steps - 1)
    started = time.monotonic()
    inits = range(first, test.stop - 1, init_every)
    label = f"forecast {model}@{alias}"
    with ProgressBar(label, len(inits), unit="inits", quiet=quiet) as bar:
        for init in inits:
            wanted = [lead for lead in leads if init + lead * HOUR // step < test.stop]
            request = pb.ForecastRequest(
                model=pb.ModelSelector(name=model, alias=alias),
                init_time=timestamp_pb2.Timestamp(seconds=int(seconds[init])),
                lead_times=[duration_pb2.Duration(seconds=lead * HOUR) for lead in wanted],
                dataset=ref,
            )
            scores.inits.append(times[init])
            for response in stub.Forecast(request, timeout=120):
                lead = response.lead_time.seconds // HOUR
                target = init + response.lead_time.seconds // step
                if int(seconds[target]) != response.valid_time.seconds:
                    raise RuntimeError(
                        f"valid time of +{lead} h from {times[init]} is not the truth's"
                    )
                [output] = [f for f in response.outputs if f.variable == variable]
                forecast = np.frombuffer(output.data, dtype="<f4").reshape(tuple(output.shape))
                error = forecast.astype(np.float64) - truth[target]
                scores.sums[lead] = scores.sums.get(lead, 0.0) + float(mse(error, weights))
                scores.counts[lead] = scores.counts.get(lead, 0) + 1
                scores.methods.setdefault(lead, set()).add(METHODS.get(response.method, "?"))
                p = response.provenance
                scores.provenance.add((p.model_name, p.model_version, p.alias))
                scores.responses += 1
            bar.advance(detail=f"{scores.responses} forecasts")
    scores.seconds = time.monotonic() - started
    return scores


def registered_rmse(
    version: rpb.ModelVersion, variable: str
) -> dict[int, tuple[float, dict[str, float]]]:
    """The version's registered RMSE by lead hour, with the baselines' RMSE by name."""
    found = {}
    for metric in version.metrics:
        if metric.name == "rmse" and metric.variable == variable:
            baselines = {b.baseline: b.value for b in metric.baselines}
            found[metric.lead_time.seconds // HOUR] = (metric.value, baselines)
    return found


def registered_methods(version: rpb.ModelVersion, variable: str) -> dict[int, str]:
    """How the trainer made the forecasts it scored (RMSE), by lead hour: "direct" or
    "rollout" (older versions did not say: "direct")."""
    return {
        metric.lead_time.seconds // HOUR: metric.method or "direct"
        for metric in version.metrics
        if metric.name == "rmse" and metric.variable == variable
    }


def method_mismatches(scores: ForecastScores, registered: dict[int, str]) -> list[int]:
    """The leads served in another way than the trainer scored them (or in several ways)."""
    return [
        lead
        for lead, served in sorted(scores.methods.items())
        if served != {registered.get(lead, "direct")}
    ]


def skill_table(
    scores: ForecastScores, registered: dict[int, tuple[float, dict[str, float]]], variable: str
) -> tuple[str, list[int]]:
    """The forecast table by lead and the leads whose RMSE differs from the registered one by
    more than AGREEMENT."""
    rows, differing = [], []
    for lead in sorted(scores.sums):
        rmse = scores.rmse(lead)
        model, baselines = registered[lead]
        persistence, climatology = baselines["persistence"], baselines["climatology"]
        difference = rmse / model - 1
        if abs(difference) > AGREEMENT:
            differing.append(lead)
        rows.append(
            [
                variable,
                f"+{lead} h",
                "/".join(sorted(scores.methods.get(lead, set()))) or "-",
                str(scores.counts[lead]),
                f"{rmse:.3f}",
                f"{model:.3f}",
                f"{difference * 100:+.2f}%",
                f"{persistence:.3f}",
                f"{climatology:.3f}",
                f"{skill_against_best(rmse, (persistence, climatology)):+.3f}",
            ]
        )
    headers = [
        "var",
        "lead",
        "method",
        "inits",
        "served",
        "registered",
        "diff",
        "persist.",
        "clim.",
        "skill",
    ]
    return table(rows, headers), differing
