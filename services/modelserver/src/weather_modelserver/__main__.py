"""Runs the model server: `python -m weather_modelserver` (settings from MODELSERVER_*)."""

from __future__ import annotations

import sys

from weather_modelserver.server import build_modelserver_server
from weather_modelserver.settings import ModelServerSettings
from weather_runtime.main import run_service


def _describe(settings: ModelServerSettings) -> dict[str, object]:
    if settings.model_config_file:
        return {"model_config_file": settings.model_config_file}
    return {"model_name": settings.model_name, "model_base_path": settings.model_base_path}


def main() -> int:
    return run_service("modelserver", ModelServerSettings, build_modelserver_server, _describe)


if __name__ == "__main__":
    sys.exit(main())
