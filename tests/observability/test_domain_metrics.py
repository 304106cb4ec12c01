"""weather_runtime.domain_metrics and the services' metric sources, in process (no suite)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Counter

from weather_runtime.domain_metrics import (
    LiveGauge,
    PredictorLatency,
    counter,
    histogram,
    lead_hours,
    live_gauge,
)
from weather_runtime.operations import Operations
from weather_runtime.work import State
from weather_trainer.job_metrics import JobMetrics
from weather_trainer.jobs import JobRecord, Progress
from weather_trainer.spec import Epoch, TrainSpec


def value(name: str, labels: dict[str, str], registry: CollectorRegistry = REGISTRY) -> float:
    found = registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def test_a_metric_is_made_once_per_registry() -> None:
    registry = CollectorRegistry()
    first = counter("t_things_total", "Things.", ["kind"], registry)
    again = counter("t_things_total", "Things.", ["kind"], registry)
    assert first is again and isinstance(first, Counter)
    first.labels("a").inc(2)
    assert registry.get_sample_value("t_things_total", {"kind": "a"}) == 2
    with pytest.raises(ValueError, match="labels"):
        counter("t_things_total", "Things.", ["other"], registry)
    with pytest.raises(ValueError, match="Counter"):
        histogram("t_things", "Things.", ["kind"], registry=registry)


def test_live_gauge_sums_live_sources_and_survives_a_failing_one() -> None:
    registry = CollectorRegistry()
    gauge = live_gauge("t_live", "Live.", ["k"], registry)
    assert live_gauge("t_live", "Live.", ["k"], registry) is gauge
    assert isinstance(gauge, LiveGauge)

    class Source:
        def __init__(self, n: float) -> None:
            self.n = n

        def samples(self) -> Iterator[tuple[tuple[str], float]]:
            yield ("a",), self.n

    one, two = Source(1), Source(2)
    gauge.add_source(one.samples)
    gauge.add_source(two.samples)

    def broken() -> Iterator[tuple[tuple[str], float]]:
        raise RuntimeError("a source that fails")

    gauge.add_source(broken)
    assert registry.get_sample_value("t_live", {"k": "a"}) == 3
    del two
    gc.collect()  # a garbage-collected service stops reporting (bound methods held weakly)
    assert registry.get_sample_value("t_live", {"k": "a"}) == 1


def test_lead_hours_label() -> None:
    assert [lead_hours(s) for s in (3600, 6 * 3600, 5400, 1800)] == ["1", "6", "1.5", "0.5"]


def test_predictor_latency_resolves_children_once() -> None:
    registry = CollectorRegistry()
    latency = PredictorLatency(registry)
    for seconds in (0.001, 0.002, 0.5):
        latency.observe("Predict", "m", 3, seconds)
    latency.observe("Forecast", "m", 4, 1.0)
    name = "weather_predictor_request_duration_seconds"
    labels = {"method": "Predict", "model": "m", "version": "3"}
    assert registry.get_sample_value(f"{name}_count", labels) == 3
    assert registry.get_sample_value(f"{name}_sum", labels) == pytest.approx(0.503)
    assert registry.get_sample_value(f"{name}_bucket", {**labels, "le": "0.001"}) == 1
    assert len(latency._children) == 2


def test_operations_pending_running_and_finished() -> None:
    service = f"test-{id(object())}"
    operations: Operations[int] = Operations(1, service=service)
    release = threading.Event()
    started = threading.Event()

    def blocking(_progress: object, _cancel: threading.Event) -> int:
        started.set()
        release.wait(10)
        return 1

    def failing(_progress: object, _cancel: threading.Event) -> int:
        raise ValueError("broken")

    def gauge(kind: str, state: str) -> float:
        return value("weather_operations", {"service": service, "kind": kind, "state": state})

    try:
        first = operations.submit(blocking, "ingest")
        operations.submit(blocking, "ingest")
        operations.submit(failing, "build")
        assert started.wait(10)
        assert gauge("ingest", "running") == 1
        assert gauge("ingest", "pending") == 1
        assert gauge("build", "pending") == 1 and gauge("build", "running") == 0
        release.set()
        *_, snapshot = operations.watch(first.operation_id, lambda: True)
        deadline = threading.Event()
        for _ in range(100):
            if gauge("build", "pending") == 0 and gauge("ingest", "pending") == 0:
                break
            deadline.wait(0.05)
        finished = "weather_operations_finished_total"
        labels = {"service": service, "kind": "ingest", "state": "succeeded"}
        for _ in range(100):
            if value(finished, labels) == 2:
                break
            deadline.wait(0.05)
        assert value(finished, labels) == 2
        assert value(finished, {**labels, "kind": "build", "state": "failed"}) == 1
        assert gauge("ingest", "running") == 0 and gauge("ingest", "pending") == 0
        duration = "weather_operation_duration_seconds_count"
        assert value(duration, {"service": service, "kind": "ingest"}) == 2
        assert value(duration, {"service": service, "kind": "build"}) == 0  # failures: not timed
        assert snapshot.state == "SUCCEEDED"
    finally:
        release.set()
        operations.close()


def _record(job_id: str, state: State, epochs: int = 0, planned: int = 3) -> JobRecord:
    spec = TrainSpec(
        dataset_id="d",
        content_hash="",
        model_family="fam-" + job_id[:4],
        hyperparameters={},
        input_steps=2,
        lead_steps=(1,),
        epochs=planned,
        seed=1,
        batch_size=8,
    )
    return JobRecord(
        job_id=job_id,
        spec=spec,
        state=state,
        creator="t",
        create_time=datetime.now(tz=UTC),
        progress=Progress(epoch=epochs, total_epochs=planned),
        epochs=tuple(Epoch(e, 1.0 / e, 2.0 / e, 0.5) for e in range(1, epochs + 1)),
    )


def test_job_metrics_from_saved_records() -> None:
    metrics = JobMetrics(recent=2)
    job = f"job{id(metrics)}"
    family = "fam-" + job[:4]
    metrics.saw(_record(job, State.QUEUED))
    metrics.saw(_record(job, State.RUNNING))
    metrics.saw(_record(job, State.RUNNING, epochs=1))
    metrics.saw(_record(job, State.RUNNING, epochs=1))  # the same epoch again: observed once
    metrics.saw(_record(job, State.RUNNING, epochs=2))
    labels = {"job_id": job, "model_family": family}
    # several JobMetrics share the process's gauges: read this one's sources directly
    assert dict(metrics._epochs()) == {(job, family): 2}
    assert dict(metrics._planned()) == {(job, family): 3}
    assert dict(metrics._losses()) == {
        (job, family, "train"): 0.5,
        (job, family, "validation"): 1.0,
    }
    assert dict(metrics._jobs())[(State.RUNNING,)] == 1
    assert value("weather_training_epoch", labels) >= 2
    count = "weather_training_epoch_duration_seconds_count"
    assert value(count, {"model_family": family}) == 2
    metrics.saw(_record(job, State.SUCCEEDED, epochs=2))
    assert dict(metrics._jobs())[(State.SUCCEEDED,)] == 1
    assert dict(metrics._jobs())[(State.RUNNING,)] == 0
    finished = "weather_training_jobs_finished_total"
    assert value(finished, {"model_family": family, "state": State.SUCCEEDED}) == 1
    metrics.saw(_record(job, State.SUCCEEDED, epochs=2))  # saved again: counted once
    assert value(finished, {"model_family": family, "state": State.SUCCEEDED}) == 1
    # only the most recent jobs keep epoch and loss series
    for other in ("a", "b"):
        metrics.saw(_record(f"{other}{job}", State.RUNNING, epochs=1))
    assert {key[0] for key, _ in metrics._epochs()} == {f"a{job}", f"b{job}"}
