"""The suite's domain metrics, defined once and used by the services.

Every metric is made through `counter`, `gauge`, `histogram` or `live_gauge`, which return the
metric already registered under that name when several servers share one process (tests,
`weatherctl up`), so any number of services may build their metrics objects. Names carry their
unit (`_seconds`, `_bytes`) and counters end in `_total`.

`live_gauge` is a gauge computed when Prometheus scrapes: live objects (operation pools, the
trainer's job view, the model server's manager) register a function returning their samples; the
values of every live source are summed per label set. Sources are held weakly (bound methods
through WeakMethod), so a closed service that is garbage-collected stops reporting.
"""

from __future__ import annotations

import inspect
import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from weather_runtime.metrics import _reuse_or_make

log = logging.getLogger(__name__)

M = TypeVar("M")
Samples = Iterable[tuple[Sequence[str], float]]

# request latencies: sub-millisecond up to a minute
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
)
# loads, epochs and operations: a tenth of a second up to an hour
SLOW_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


def _checked(found: Any, kind: type[M], name: str, labels: Sequence[str]) -> M:
    if not isinstance(found, kind):
        raise ValueError(f"metric {name} is already registered as {type(found).__name__}")
    metric: Any = found  # prometheus_client keeps the label names in _labelnames
    known = tuple(metric.labels if isinstance(metric, LiveGauge) else metric._labelnames)
    if known != tuple(labels):
        raise ValueError(f"metric {name} is already registered with labels {known}")
    return found


def counter(
    name: str,
    documentation: str,
    labels: Sequence[str] = (),
    registry: CollectorRegistry = REGISTRY,
) -> Counter:
    """The counter `name` (given with its `_total`), made once per registry."""
    base = name.removesuffix("_total")
    made = _reuse_or_make(
        registry, base, lambda: Counter(base, documentation, list(labels), registry=registry)
    )
    return _checked(made, Counter, name, labels)


def gauge(
    name: str,
    documentation: str,
    labels: Sequence[str] = (),
    registry: CollectorRegistry = REGISTRY,
) -> Gauge:
    """The gauge `name`, made once per registry."""
    made = _reuse_or_make(
        registry, name, lambda: Gauge(name, documentation, list(labels), registry=registry)
    )
    return _checked(made, Gauge, name, labels)


def histogram(
    name: str,
    documentation: str,
    labels: Sequence[str] = (),
    buckets: Sequence[float] = LATENCY_BUCKETS,
    registry: CollectorRegistry = REGISTRY,
) -> Histogram:
    """The histogram `name`, made once per registry."""
    made = _reuse_or_make(
        registry,
        name,
        lambda: Histogram(
            name, documentation, list(labels), buckets=list(buckets), registry=registry
        ),
    )
    return _checked(made, Histogram, name, labels)


class LiveGauge(Collector):
    """A gauge whose samples are read from its live sources at every scrape (summed per label
    set). A failing source is logged and skipped: a scrape never fails because of one."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str]) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = tuple(labels)
        self._sources: list[Callable[[], Callable[[], Samples] | None]] = []
        self._lock = threading.Lock()

    def add_source(self, source: Callable[[], Samples]) -> None:
        """Adds a function returning (label values, value) pairs; a bound method is held weakly."""
        ref: Callable[[], Callable[[], Samples] | None]
        if inspect.ismethod(source):
            ref = weakref.WeakMethod(source)
        else:

            def ref() -> Callable[[], Samples]:
                return source

        with self._lock:
            self._sources = [s for s in self._sources if s() is not None]
            self._sources.append(ref)

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(self.name, self.documentation, labels=list(self.labels))

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            refs = list(self._sources)
        totals: dict[tuple[str, ...], float] = {}
        for ref in refs:
            # resolved one at a time and not kept: a logged traceback holding this frame must
            # not keep a closed service alive
            samples = self._read(ref)
            for values, value in samples:
                key = tuple(str(v) for v in values)
                totals[key] = totals.get(key, 0.0) + float(value)
        family = self._family()
        for key, value in sorted(totals.items()):
            family.add_metric(list(key), value)
        return [family]

    def _read(
        self, ref: Callable[[], Callable[[], Samples] | None]
    ) -> list[tuple[Sequence[str], float]]:
        source = ref()
        if source is None:
            return []
        try:
            return list(source())
        except Exception:  # one broken source must not fail the scrape
            log.warning("metric %s: a source failed", self.name, exc_info=True)
            return []


def live_gauge(
    name: str,
    documentation: str,
    labels: Sequence[str] = (),
    registry: CollectorRegistry = REGISTRY,
) -> LiveGauge:
    """The LiveGauge `name`, registered once per registry."""
    with _live_lock:
        existing = registry._names_to_collectors.get(name)
        if existing is None:
            existing = LiveGauge(name, documentation, labels)
            registry.register(existing)
    return _checked(existing, LiveGauge, name, labels)


_live_lock = threading.Lock()


def lead_hours(seconds: float) -> str:
    """A lead time as the `lead_hours` label: "6", or "1.5" for a fraction of an hour."""
    return f"{seconds / 3600:g}"


# -- the catalogue -----------------------------------------------------------------------------


class ArchiveMetrics:
    """Datasets ingested and bytes written to the archive (ingest and preprocess)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.datasets_ingested = counter(
            "weather_ingest_datasets_total",
            "Ingests finished, by outcome: created (a new dataset version), unchanged (the "
            "same content as the latest version, nothing written), failed, cancelled.",
            ["outcome"],
            registry,
        )
        self.steps_appended = counter(
            "weather_ingest_appended_steps_total",
            "Time steps appended to archive datasets by AppendSteps.",
            [],
            registry,
        )
        self.written_bytes = counter(
            "weather_archive_written_bytes_total",
            "Bytes written to the archive, by service and kind: ingest and build count the "
            "stored (compressed) size of the new dataset, append the appended steps' values.",
            ["service", "kind"],
            registry,
        )


class OperationMetrics:
    """Long-running operations (ingests, builds, analyses): how many wait and run, how they end."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.current = live_gauge(
            "weather_operations",
            "Long-running operations not finished yet, by service, kind and state "
            "(pending: queued for a worker; running).",
            ["service", "kind", "state"],
            registry,
        )
        self.finished = counter(
            "weather_operations_finished_total",
            "Long-running operations finished, by service, kind and final state "
            "(succeeded, failed, cancelled).",
            ["service", "kind", "state"],
            registry,
        )
        self.duration = histogram(
            "weather_operation_duration_seconds",
            "Run time of finished long-running operations (from start to end, queueing "
            "excluded), by service and kind.",
            ["service", "kind"],
            SLOW_BUCKETS,
            registry,
        )


class TrainingMetrics:
    """Trainer jobs: states, epochs, losses. Published by the trainer's server process (a job
    training in a child process reports its epochs to it through the job's hooks). The job is
    the `job_id` label: Prometheus gives `job` to the scrape job."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.jobs = live_gauge(
            "weather_training_jobs",
            "Training jobs known to the trainer, by state (QUEUED, RUNNING, SUCCEEDED, FAILED, "
            "CANCELLED, INTERRUPTED).",
            ["state"],
            registry,
        )
        self.epoch = live_gauge(
            "weather_training_epoch",
            "The last finished epoch of a recent job (its final model, not search trials).",
            ["job_id", "model_family"],
            registry,
        )
        self.planned_epochs = live_gauge(
            "weather_training_planned_epochs",
            "Epochs a recent job plans to train (early stopping may end it sooner).",
            ["job_id", "model_family"],
            registry,
        )
        self.loss = live_gauge(
            "weather_training_loss",
            "The loss of a recent job's last finished epoch, by split (train, validation).",
            ["job_id", "model_family", "split"],
            registry,
        )
        self.epoch_duration = histogram(
            "weather_training_epoch_duration_seconds",
            "Time to train one epoch, by model family.",
            ["model_family"],
            SLOW_BUCKETS,
            registry,
        )
        self.jobs_finished = counter(
            "weather_training_jobs_finished_total",
            "Training jobs ended by this trainer, by model family and state (SUCCEEDED, FAILED, "
            "CANCELLED, INTERRUPTED).",
            ["model_family", "state"],
            registry,
        )


class ModelMetrics:
    """Forecast scores of registered versions (the registry publishes what it stores)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.skill = gauge(
            "weather_model_skill",
            "Skill score of a registered version against its better baseline at one lead, by "
            "metric (rmse: 1 - rmse / min(persistence, climatology); acc and mae likewise, as "
            "the registry's gate computes them); 1 is perfect, 0 no better than the baseline.",
            ["model", "version", "variable", "lead_hours", "metric"],
            registry,
        )
        self.score = gauge(
            "weather_model_score",
            "A score recorded with a registered version at one lead (rmse, mae, acc, bias), "
            "for the model and for each baseline (system: model, persistence, climatology).",
            ["model", "version", "variable", "lead_hours", "metric", "system"],
            registry,
        )


class ServingMetrics:
    """What the model server serves and how its loads go."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.served_versions = live_gauge(
            "weather_served_versions",
            "Versions the model server serves under a label (the registry alias the serving "
            "sync follows): 1 per model, alias and version.",
            ["model", "alias", "version"],
            registry,
        )
        self.available_versions = live_gauge(
            "weather_modelserver_available_versions",
            "Versions loaded and available in the model server, by model.",
            ["model"],
            registry,
        )
        self.loads = counter(
            "weather_modelserver_model_loads_total",
            "Model version loads finished (load and warm-up), by model and outcome "
            "(available, failed; a retried failure counts once per attempt).",
            ["model", "outcome"],
            registry,
        )
        self.load_duration = histogram(
            "weather_modelserver_model_load_duration_seconds",
            "Time to load and warm up one model version, by model and outcome.",
            ["model", "outcome"],
            SLOW_BUCKETS,
            registry,
        )


class PredictorLatency:
    """The predictor's answered requests by method, model and version: a histogram whose
    children are resolved once per (method, model, version) and then only looked up."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.histogram = histogram(
            "weather_predictor_request_duration_seconds",
            "Time to answer a predictor request (Predict: the whole call; Forecast: the whole "
            "stream), by method and the model and version that answered.",
            ["method", "model", "version"],
            LATENCY_BUCKETS,
            registry,
        )
        self._children: dict[tuple[str, str, int], Any] = {}

    def observe(self, method: str, model: str, version: int, seconds: float) -> None:
        """Records one answered request."""
        key = (method, model, version)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.histogram.labels(method, model, str(version))
        child.observe(seconds)
