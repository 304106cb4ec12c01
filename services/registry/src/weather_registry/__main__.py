"""Runs the registry service: `python -m weather_registry` (settings from REGISTRY_*)."""

from __future__ import annotations

import logging
import sys

from weather_registry.server import build_registry_server
from weather_registry.settings import RegistrySettings
from weather_runtime.logging import configure_logging
from weather_runtime.server import serve
from weather_runtime.settings import SettingsError, load_settings
from weather_runtime.telemetry import init_tracing

log = logging.getLogger("weather_registry")


def main() -> int:
    try:
        settings = load_settings(RegistrySettings)
    except SettingsError as exc:
        print(f"registry: {exc}", file=sys.stderr)
        return 2
    configure_logging("registry", settings.log_level, settings.log_format)
    init_tracing("registry")
    try:
        server, port = build_registry_server(settings)
    except Exception as exc:  # noqa: BLE001 - a clear line instead of a traceback at start-up
        log.error("registry failed to start: %s", exc)
        return 1
    log.info(
        "registry serving",
        extra={"port": port, "metrics_port": server.metrics_port, "database": _safe(settings)},
    )
    serve(server, settings.grace_seconds)
    log.info("registry stopped")
    return 0


def _safe(settings: RegistrySettings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
