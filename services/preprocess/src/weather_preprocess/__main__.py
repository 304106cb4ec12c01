"""Runs the preprocess service: `python -m weather_preprocess` (settings from PREPROCESS_*)."""

from __future__ import annotations

import logging
import sys

from weather_preprocess.server import build_preprocess_server
from weather_preprocess.settings import PreprocessSettings
from weather_runtime.logging import configure_logging
from weather_runtime.server import serve
from weather_runtime.settings import SettingsError, load_settings
from weather_runtime.telemetry import init_tracing

log = logging.getLogger("weather_preprocess")


def main() -> int:
    try:
        settings = load_settings(PreprocessSettings)
    except SettingsError as exc:
        print(f"preprocess: {exc}", file=sys.stderr)
        return 2
    configure_logging("preprocess", settings.log_level, settings.log_format)
    init_tracing("preprocess")
    try:
        server, port = build_preprocess_server(settings)
    except Exception as exc:  # noqa: BLE001 - a clear line instead of a traceback at start-up
        log.error("preprocess failed to start: %s", exc)
        return 1
    log.info("preprocess serving", extra={"port": port, "archive": settings.archive_url})
    serve(server, settings.grace_seconds)
    log.info("preprocess stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
