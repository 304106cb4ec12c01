"""The entry point every service shares: settings, logging, tracing, build, serve."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Callable

from weather_runtime.logging import configure_logging
from weather_runtime.memory import reuse_large_buffers
from weather_runtime.server import ManagedServer, serve
from weather_runtime.settings import S, SettingsError, load_settings
from weather_runtime.telemetry import init_tracing


def run_service(
    name: str,
    settings_class: type[S],
    build: Callable[[S], tuple[ManagedServer, int]],
    describe: Callable[[S], dict[str, object]] = lambda _s: {},
) -> int:
    """Runs a service until SIGTERM; the exit code is 2 for bad settings, 1 when it cannot start."""
    log = logging.getLogger(f"weather_{name}")
    try:
        settings = load_settings(settings_class)
    except SettingsError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    configure_logging(name, settings.log_level, settings.log_format)
    if settings.reuse_large_buffers and reuse_large_buffers():
        log.info("allocator keeps large buffers for reuse")
    init_tracing(name)
    try:
        server, port = build(settings)
    except Exception as exc:  # noqa: BLE001 - a clear line instead of a traceback at start-up
        log.error("%s failed to start: %s", name, exc)
        return 1
    # Everything built so far (TensorFlow's modules, the server) lives as long as the process:
    # moved out of the collector's sight, a full collection no longer walks hundreds of
    # thousands of objects (about 0.1 s each) while requests wait.
    gc.collect()
    gc.freeze()
    log.info(
        "%s serving",
        name,
        extra={"port": port, "metrics_port": server.metrics_port, **describe(settings)},
    )
    serve(server, settings.grace_seconds)
    log.info("%s stopped", name)
    return 0
