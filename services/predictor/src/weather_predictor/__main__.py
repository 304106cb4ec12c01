"""Runs the predictor service: `python -m weather_predictor` (settings from PREDICTOR_*)."""

from __future__ import annotations

import sys

from weather_predictor.server import build_predictor_server
from weather_predictor.settings import PredictorSettings
from weather_runtime.main import run_service


def main() -> int:
    return run_service(
        "predictor",
        PredictorSettings,
        build_predictor_server,
        lambda s: {"modelserver": s.modelserver_address, "canary_share": s.canary_share},
    )


if __name__ == "__main__":
    sys.exit(main())
