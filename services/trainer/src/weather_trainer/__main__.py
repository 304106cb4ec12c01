"""Runs the trainer service: `python -m weather_trainer` (settings from TRAINER_*)."""

from __future__ import annotations

import sys

from weather_runtime.main import run_service
from weather_trainer.server import build_trainer_server
from weather_trainer.settings import TrainerSettings


def main() -> int:
    return run_service(
        "trainer",
        TrainerSettings,
        build_trainer_server,
        lambda s: {"archive": s.archive_url, "work_root": s.work_root},
    )


if __name__ == "__main__":
    sys.exit(main())
