"""`weatherctl demo`, the main job: a fresh suite on embedded defaults running the bundled
pipeline file, data/pipelines/demo.yaml.

The pipeline ingests the bundled files, builds the demo's training dataset, runs the navy wind
climate analyses (the NINO4 area-mean anomaly with its ENSO episodes, the monthly climatology,
the linear trend with its p-values), trains and scores the convolutional network and the Dask
ridge regression on the ERA5 test week (each registered by the trainer with its lineage and
metrics), takes the network through the registry's promotion gate, asks the gate about the
ridge and stages it; then, once the serving sync has put the promoted version behind the model
server's `production` label, forecasts the test week through the predictor, scores it against
the archive's truth and draws the pictures, all in one trace. `weatherctl pipeline run` runs
the same file step by step (weatherctl.pipeline).
"""

from __future__ import annotations

from pathlib import Path

from weatherctl.pipeline.commands import DEMO_FILE
from weatherctl.pipeline.commands import run_demo as _run_demo

__all__ = ["DEMO_FILE", "run_demo"]


def run_demo(data_dir: Path) -> int:
    """Runs the main job in data_dir (emptied first); returns the process exit code."""
    return _run_demo(data_dir)
