"""python -m weather_predictor.sync: the serving sync as a sidecar, until SIGTERM."""

from __future__ import annotations

import sys

from weather_predictor.sync.service import run
from weather_predictor.sync.settings import load_sync_settings
from weather_runtime.logging import configure_logging
from weather_runtime.settings import SettingsError
from weather_runtime.telemetry import init_tracing


def main() -> int:
    """Exit code 2 for bad settings, 0 after a clean stop."""
    try:
        settings = load_sync_settings()
    except SettingsError as exc:
        print(f"serving-sync: {exc}", file=sys.stderr)
        return 2
    configure_logging("serving-sync", settings.log_level, settings.log_format)
    init_tracing("serving-sync")
    try:
        run(settings)
    except SettingsError as exc:  # a TLS file missing or not matching, found at start
        print(f"serving-sync: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
