"""Version folders under a model's base path: `<base_path>/<version>/saved_model.pb`."""

from __future__ import annotations

import logging
from pathlib import Path

SAVED_MODEL_FILE = "saved_model.pb"

log = logging.getLogger(__name__)


def find_versions(base_path: str) -> dict[int, Path]:
    """Complete versions by number: numeric folders that hold a saved_model.pb (a folder still
    being copied, without it, is not a version yet). A missing base path holds none."""
    root = Path(base_path)
    try:
        children = list(root.iterdir())
    except FileNotFoundError:
        return {}
    except OSError as exc:
        log.warning("cannot list %s: %s", root, exc)
        return {}
    found: dict[int, Path] = {}
    for child in children:
        if not child.name.isdigit() or not child.is_dir():
            continue
        if (child / SAVED_MODEL_FILE).is_file():
            version = int(child.name)
            # "007" and "7" are the same version; the plainer spelling wins.
            if version not in found or len(child.name) < len(found[version].name):
                found[version] = child
    return found
