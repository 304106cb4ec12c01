"""Prometheus metrics of gRPC calls (count by method and code, latency) and their HTTP endpoint."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class CallMetrics:
    """Counters and a latency histogram of the RPCs a server handles."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.started = _reuse_or_make(
            registry,
            "grpc_server_started_total",
            lambda: Counter(
                "grpc_server_started",
                "RPCs started on the server.",
                ["grpc_service", "grpc_method"],
                registry=registry,
            ),
        )
        self.handled = _reuse_or_make(
            registry,
            "grpc_server_handled_total",
            lambda: Counter(
                "grpc_server_handled",
                "RPCs completed on the server, by status code.",
                ["grpc_service", "grpc_method", "grpc_code"],
                registry=registry,
            ),
        )
        self.latency = _reuse_or_make(
            registry,
            "grpc_server_handling_seconds",
            lambda: Histogram(
                "grpc_server_handling_seconds",
                "Time to handle an RPC, by status code.",
                ["grpc_service", "grpc_method", "grpc_code"],
                buckets=_BUCKETS,
                registry=registry,
            ),
        )

    def method(self, full_method: str) -> MethodMetrics:
        """The metrics of one /package.Service/Method, their labels resolved once."""
        return MethodMetrics(self, *split_method(full_method))


class MethodMetrics:
    """One method's started counter, and its handled counter and latency histogram per code."""

    def __init__(self, metrics: CallMetrics, service: str, method: str) -> None:
        self._metrics = metrics
        self._labels = (service, method)
        self._started = metrics.started.labels(service, method)
        self._by_code: dict[str, tuple[Counter, Histogram]] = {}

    def start(self) -> None:
        """Counts one started call."""
        self._started.inc()

    def record(self, code: str, seconds: float) -> None:
        """Counts one finished call with its status code name and duration."""
        children = self._by_code.get(code)
        if children is None:
            children = self._by_code[code] = (
                self._metrics.handled.labels(*self._labels, code),
                self._metrics.latency.labels(*self._labels, code),
            )
        children[0].inc()
        children[1].observe(seconds)


def split_method(full_method: str) -> tuple[str, str]:
    """("pkg.Service", "Method") from "/pkg.Service/Method"."""
    _, _, rest = full_method.partition("/")
    service, _, method = rest.partition("/")
    return service, method


def _reuse_or_make(registry: CollectorRegistry, sample_name: str, make):  # type: ignore[no-untyped-def]
    # Several servers in one process (tests, `weatherctl up`) share the default registry.
    existing = registry._names_to_collectors.get(sample_name)
    return existing if existing is not None else make()


_shared: CallMetrics | None = None


def shared_call_metrics() -> CallMetrics:
    """The process-wide CallMetrics on the default registry."""
    global _shared
    if _shared is None:
        _shared = CallMetrics()
    return _shared


def serve_metrics(host: str, port: int) -> int:
    """Starts the /metrics HTTP endpoint in a daemon thread; returns its port."""
    bind = "::" if host in ("[::]", "::") else host
    server, _thread = start_http_server(port, addr=bind)
    return int(server.server_port)
