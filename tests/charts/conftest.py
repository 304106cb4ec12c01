"""Tool fixtures of the chart tests (the machinery is in support.py)."""

from __future__ import annotations

import os

import pytest

from tests.charts.support import REPO, find_executable, missing_tool


@pytest.fixture(scope="session")
def helm() -> str:
    path = find_executable(os.environ.get("HELM"), REPO / ".tools" / "bin" / "helm", "helm")
    if path is None:
        missing_tool("helm", "set HELM or run tools/install_tools.sh")
    return path


@pytest.fixture(scope="session")
def kubernetes_validate() -> str:
    path = find_executable(REPO / ".venv" / "bin" / "kubernetes-validate", "kubernetes-validate")
    if path is None:
        missing_tool("kubernetes-validate", "pip install -r requirements/dev.in")
    return path


@pytest.fixture(scope="session")
def yamllint() -> list[str]:
    path = find_executable(REPO / ".venv" / "bin" / "yamllint", "yamllint")
    if path is None:
        missing_tool("yamllint", "pip install -r requirements/dev.in")
    return [path]
