"""Server bootstrap: interceptors, size limits, health, reflection, metrics and graceful SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass
from types import FrameType
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from weather_runtime.auth import auth_interceptor
from weather_runtime.interceptors import CallInterceptor, CallMetricsInterceptor
from weather_runtime.metrics import serve_metrics, shared_call_metrics
from weather_runtime.settings import ServiceSettings
from weather_runtime.telemetry import tracing_server_interceptor
from weather_runtime.tls import server_credentials

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceRegistration:
    """A servicer, the generated function that adds it, and its full service name."""

    servicer: Any
    add_to_server: Callable[[Any, grpc.Server], None]
    service_name: str


class ManagedServer:
    """A started-or-not grpc.Server with its health servicer and a graceful stop."""

    def __init__(
        self, server: grpc.Server, health_servicer: health.HealthServicer, names: Sequence[str]
    ) -> None:
        self.server = server
        self.health = health_servicer
        self.service_names = list(names)
        self.metrics_port: int | None = None
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._on_stop: list[Callable[[], None]] = []
        self._on_drain: list[Callable[[], None]] = []
        self._readiness: tuple[Callable[[], bool], float] | None = None

    def start(self) -> None:
        """Starts serving and marks every service SERVING, at once or, with a readiness check,
        once the check first passes (health answers NOT_SERVING until then)."""
        self.server.start()
        if self._readiness is None:
            self._set_health(health_pb2.HealthCheckResponse.SERVING)
            return
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        threading.Thread(target=self._become_ready, name="readiness", daemon=True).start()

    def set_readiness_check(self, check: Callable[[], bool], interval: float = 1.0) -> None:
        """Health stays NOT_SERVING after start until check() returns True (polled every
        interval seconds; an exception counts as not ready), e.g. until the models a replica
        must serve are loaded. Call before start()."""
        self._readiness = (check, interval)

    def _set_health(self, status: int) -> None:
        for name in ["", *self.service_names]:
            self.health.set(name, status)  # type: ignore[arg-type]

    def _become_ready(self) -> None:
        assert self._readiness is not None
        check, interval = self._readiness
        while not self._stopping.is_set():
            try:
                ready = check()
            except Exception:  # not ready yet, whatever the reason
                log.debug("readiness check failed", exc_info=True)
                ready = False
            if ready:
                if not self._stopping.is_set():
                    self._set_health(health_pb2.HealthCheckResponse.SERVING)
                    log.info("ready: health is SERVING")
                return
            self._stopping.wait(interval)

    def add_drain_callback(self, callback: Callable[[], None]) -> None:
        """Runs callback when shutdown begins (ending long-lived streams so the grace suffices)."""
        self._on_drain.append(callback)

    def add_stop_callback(self, callback: Callable[[], None]) -> None:
        """Runs callback after the server stopped (closing stores, pools...)."""
        self._on_stop.append(callback)

    def stop(self, grace: float | None) -> None:
        """Health to NOT_SERVING, then stop accepting calls and let in-flight calls finish."""
        if self._stopping.is_set():
            self._stopped.wait()
            return
        self._stopping.set()
        try:
            self.health.enter_graceful_shutdown()
            _run_all(self._on_drain)
            self.server.stop(grace).wait()
            _run_all(self._on_stop)
        finally:
            self._stopped.set()

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        """Blocks until the server stops; True when it did."""
        return self.server.wait_for_termination(timeout)


def _run_all(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("shutdown callback failed")


def build_server(
    settings: ServiceSettings,
    registrations: Sequence[ServiceRegistration],
    *,
    interceptors: Sequence[grpc.ServerInterceptor] = (),
) -> tuple[ManagedServer, int]:
    """Builds (not starts) a server for the registrations; returns it and the bound port.

    Interceptors run in this order: tracing, call metrics (so calls refused by authentication
    are counted), authentication and authorisation (when <P>AUTH_POLICY_FILE is set), the
    caller's, then error mapping closest to the servicer.
    """
    credentials = server_credentials(settings)  # None without TLS settings: plaintext
    metrics = shared_call_metrics()
    auth = auth_interceptor(settings)  # None without <P>AUTH_POLICY_FILE: no authentication
    chain = [
        tracing_server_interceptor(),
        CallMetricsInterceptor(metrics),
        *([auth] if auth is not None else []),
        *interceptors,
        CallInterceptor(),
    ]
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix="rpc"),
        interceptors=chain,
        options=[
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ],
        maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
    )
    health_servicer = health.HealthServicer(
        experimental_non_blocking=True,
        experimental_thread_pool=futures.ThreadPoolExecutor(max_workers=2),
    )
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [r.service_name for r in registrations]
    for registration in registrations:
        registration.add_to_server(registration.servicer, server)
    reflection.enable_server_reflection(
        [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    if credentials is None:
        port = server.add_insecure_port(settings.address)
    else:
        port = server.add_secure_port(settings.address, credentials)
    if port == 0:
        raise OSError(f"could not bind {settings.address}")
    managed = ManagedServer(server, health_servicer, names)
    if settings.metrics_port >= 0:
        managed.metrics_port = serve_metrics(settings.host, settings.metrics_port)
    return managed, port


def serve(server: ManagedServer, grace: float) -> None:
    """Starts the server and blocks until SIGTERM or SIGINT, then stops it gracefully."""

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, draining for up to %.1f s", signal.Signals(signum).name, grace)
        threading.Thread(target=server.stop, args=(grace,), daemon=True).start()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    server.start()
    server.wait_for_termination()
    server.stop(grace)  # waits for a signal-started stop to finish its callbacks
