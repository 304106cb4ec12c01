"""Prometheus metrics of the model server: model calls, batch sizes, warm-up, version loads."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ModelServerMetrics:
    """What the model server counts (on the default registry, shared by servers in a process)."""

    def __init__(self) -> None:
        self.model_calls = Counter(
            "weather_modelserver_model_calls",
            "Calls of a model signature (one per batch when requests are batched).",
            ["model", "version", "signature"],
        )
        self.batch_requests = Histogram(
            "weather_modelserver_batch_requests",
            "Predict requests merged into one model call.",
            ["model", "version", "signature"],
            buckets=_SIZES,
        )
        self.batch_rows = Histogram(
            "weather_modelserver_batch_rows",
            "Rows (batch dimension) of one model call.",
            ["model", "version", "signature"],
            buckets=_SIZES,
        )
        self.warmup_requests = Counter(
            "weather_modelserver_warmup_requests",
            "Warm-up requests replayed from assets.extra/tf_serving_warmup_requests.",
            ["model", "version"],
        )
        self.version_loads = Counter(
            "weather_modelserver_version_loads",
            "Version loads by outcome (available, failed).",
            ["model", "outcome"],
        )

    def model_call(
        self, model: str, version: int, signature: str, requests: int, rows: int
    ) -> None:
        """Counts one model call that answered `requests` requests with `rows` rows in all."""
        labels = (model, str(version), signature)
        self.model_calls.labels(*labels).inc()
        self.batch_requests.labels(*labels).observe(requests)
        self.batch_rows.labels(*labels).observe(rows)


_shared: ModelServerMetrics | None = None


def shared_metrics() -> ModelServerMetrics:
    """The process-wide metrics (several servers in one process share them)."""
    global _shared
    if _shared is None:
        _shared = ModelServerMetrics()
    return _shared
