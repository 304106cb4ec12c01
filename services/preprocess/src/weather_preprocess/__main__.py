"""Runs the preprocess service: `python -m weather_preprocess` (settings from PREPROCESS_*)."""

from __future__ import annotations

import sys

from weather_preprocess.server import build_preprocess_server
from weather_preprocess.settings import PreprocessSettings
from weather_runtime.main import run_service


def main() -> int:
    return run_service(
        "preprocess",
        PreprocessSettings,
        build_preprocess_server,
        lambda s: {"archive": s.archive_url},
    )


if __name__ == "__main__":
    sys.exit(main())
