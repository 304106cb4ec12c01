"""Forecast scores of registered versions as Prometheus gauges (weather_model_skill and
weather_model_score), for the newest versions of every model."""

from __future__ import annotations

import contextlib
import logging
import math
import threading

from weather_registry.gate import skill_score
from weather_registry.records import ModelVersion
from weather_registry.store import RegistryStore
from weather_runtime.domain_metrics import ModelMetrics, lead_hours
from weather_runtime.errors import NotFound

log = logging.getLogger(__name__)


class SkillPublisher:
    """Sets the gauges of a version's metrics; keeps the `keep` newest versions per model."""

    def __init__(self, keep: int = 10) -> None:
        self.metrics = ModelMetrics()
        self.keep = keep
        # model -> version -> the label sets published for it
        self._published: dict[str, dict[int, list[tuple[bool, tuple[str, ...]]]]] = {}
        self._lock = threading.Lock()

    def publish(self, version: ModelVersion) -> None:
        """Publishes the version's scores and skills (dropping the model's oldest versions')."""
        name, number = version.model_name, str(version.version)
        series: list[tuple[bool, tuple[str, ...]]] = []
        for metric in version.metrics:
            lead = lead_hours(metric.lead_time.total_seconds())
            labels = (name, number, metric.variable, lead, metric.name)
            self.metrics.score.labels(*labels, "model").set(metric.value)
            series.append((False, (*labels, "model")))
            for baseline, value in sorted(metric.baselines.items()):
                self.metrics.score.labels(*labels, baseline).set(value)
                series.append((False, (*labels, baseline)))
            skills = [skill_score(metric.value, b, metric.goal) for b in metric.baselines.values()]
            finite = [s for s in skills if math.isfinite(s)]
            if finite:
                # against the better baseline: the one that leaves the least skill
                self.metrics.skill.labels(*labels).set(min(finite))
                series.append((True, labels))
        with self._lock:
            versions = self._published.setdefault(name, {})
            versions[version.version] = series
            for old in sorted(versions)[: max(0, len(versions) - self.keep)]:
                for is_skill, stale in versions.pop(old):
                    gauge = self.metrics.skill if is_skill else self.metrics.score
                    with contextlib.suppress(KeyError):
                        gauge.remove(*stale)

    def publish_stored(self, store: RegistryStore) -> int:
        """Publishes the newest versions of every stored model; returns how many (a failing
        store is logged: the metrics then start with the versions registered from now on)."""
        try:
            return self._publish_stored(store)
        except Exception:
            log.warning("could not publish the stored versions' scores", exc_info=True)
            return 0

    def _publish_stored(self, store: RegistryStore) -> int:
        count, after = 0, None
        while True:
            models = store.list_models("", (), after, 100)
            for model in models:
                first = max(1, model.latest_version - self.keep + 1)
                for number in range(first, model.latest_version + 1):
                    try:
                        self.publish(store.get_version(model.name, number))
                        count += 1
                    except NotFound:
                        continue
            if len(models) < 100:
                return count
            after = models[-1].name
