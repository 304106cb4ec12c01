"""Runs the registry service: `python -m weather_registry` (settings from REGISTRY_*)."""

from __future__ import annotations

import sys

from sqlalchemy.engine import make_url

from weather_registry.server import build_registry_server
from weather_registry.settings import RegistrySettings
from weather_runtime.main import run_service


def _describe(settings: RegistrySettings) -> dict[str, object]:
    return {"database": make_url(settings.database_url).render_as_string(hide_password=True)}


def main() -> int:
    return run_service("registry", RegistrySettings, build_registry_server, _describe)


if __name__ == "__main__":
    sys.exit(main())
