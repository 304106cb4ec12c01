"""The code version recorded in lineage: $WEATHER_CODE_VERSION, the git commit, or the package."""

from __future__ import annotations

import os
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path


@cache
def code_version() -> str:
    """What produced an artefact: an explicit version, else git's commit, else the package's."""
    explicit = os.environ.get("WEATHER_CODE_VERSION", "").strip()
    if explicit:
        return explicit
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        if commit:
            return f"git:{commit}"
    except (OSError, subprocess.SubprocessError):
        pass
    return f"weather-trainer {metadata.version('weather-trainer')}"
