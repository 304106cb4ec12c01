"""Runs the ingest service: `python -m weather_ingest` (settings from INGEST_*)."""

from __future__ import annotations

import sys

from weather_ingest.server import build_ingest_server
from weather_ingest.settings import IngestSettings
from weather_runtime.main import run_service


def main() -> int:
    return run_service(
        "ingest", IngestSettings, build_ingest_server, lambda s: {"archive": s.archive_url}
    )


if __name__ == "__main__":
    sys.exit(main())
