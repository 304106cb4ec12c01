"""Runs the ingest service: `python -m weather_ingest` (settings from INGEST_*)."""

from __future__ import annotations

import logging
import sys

from weather_ingest.server import build_ingest_server
from weather_ingest.settings import IngestSettings
from weather_runtime.logging import configure_logging
from weather_runtime.server import serve
from weather_runtime.settings import SettingsError, load_settings
from weather_runtime.telemetry import init_tracing

log = logging.getLogger("weather_ingest")


def main() -> int:
    try:
        settings = load_settings(IngestSettings)
    except SettingsError as exc:
        print(f"ingest: {exc}", file=sys.stderr)
        return 2
    configure_logging("ingest", settings.log_level, settings.log_format)
    init_tracing("ingest")
    try:
        server, port = build_ingest_server(settings)
    except Exception as exc:  # noqa: BLE001 - a clear line instead of a traceback at start-up
        log.error("ingest failed to start: %s", exc)
        return 1
    log.info("ingest serving", extra={"port": port, "archive": settings.archive_url})
    serve(server, settings.grace_seconds)
    log.info("ingest stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
