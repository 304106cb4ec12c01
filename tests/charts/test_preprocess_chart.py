"""The preprocess chart: the archive-service shape it shares with ingest (same resources and
settings under its own names and ports, without ingest's source roots), its archive claim, and
the values it rejects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.charts.support import (
    INGEST,
    PREPROCESS,
    container_env,
    kinds,
    one,
    pod_spec,
    render,
    template,
    values_files,
)


def _shape(docs: list[dict[str, Any]], prefix: str) -> tuple[list[tuple[str, str]], list[str]]:
    """The resources (kind, name without the chart) and the service's env names without its
    prefix: what the two archive services must share."""
    resources = sorted(
        (d["kind"], d["metadata"]["name"].replace(f"rel-{prefix}", "rel-X")) for d in docs
    )
    (container,) = pod_spec(one(docs, "Deployment"))["containers"]
    env = [e["name"].replace(prefix.upper(), "X") for e in container["env"]]
    return resources, env


@pytest.mark.parametrize("values", [v.name for v in values_files(PREPROCESS) if v], ids=str)
def test_preprocess_has_the_shape_of_ingest(helm: str, values: str) -> None:
    ingest = _shape(render(helm, INGEST, INGEST / "ci" / values), "ingest")
    preprocess = _shape(render(helm, PREPROCESS, PREPROCESS / "ci" / values), "preprocess")
    assert preprocess[0] == ingest[0]
    # ingest's own: the source roots, their schemes and hosts, the append stream's size
    own = {"X_ALLOWED_ROOTS", "X_ALLOWED_SCHEMES", "X_ALLOWED_HOSTS", "X_MAX_APPEND_BYTES"}
    assert preprocess[1] == [e for e in ingest[1] if e not in own]


def test_preprocess_defaults(helm: str) -> None:
    docs = render(helm, PREPROCESS)
    (container,) = pod_spec(one(docs, "Deployment"))["containers"]
    env = container_env(container)
    assert env["PREPROCESS_PORT"] == "50053" and env["PREPROCESS_METRICS_PORT"] == "9103"
    assert env["PREPROCESS_ARCHIVE_URL"] == "file:///archive"
    assert "PREPROCESS_ALLOWED_ROOTS" not in env
    assert one(docs, "PersistentVolumeClaim")["metadata"]["name"] == "rel-preprocess-archive"


def test_preprocess_reads_the_ingest_claim(helm: str, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(
        "archive:\n  persistence:\n    existingClaim: '{{ .Release.Name }}-ingest-archive'\n"
    )
    docs = render(helm, PREPROCESS, values)
    assert not kinds(docs, "PersistentVolumeClaim")
    volumes = {v["name"]: v for v in pod_spec(one(docs, "Deployment"))["volumes"]}
    assert volumes["archive"]["persistentVolumeClaim"] == {"claimName": "rel-ingest-archive"}


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        pytest.param(("config.allowedRoots={file:///x}",), "allowedRoots", id="no-source-roots"),
        pytest.param(("incoming.existingClaim=x",), "incoming", id="no-incoming-claim"),
        pytest.param(("dask.mode=external",), "dask.scheduler.address", id="external-no-address"),
        pytest.param(("archive.url=file:///data",), "archive.url is for object stores", id="file"),
    ],
)
def test_preprocess_rejects(helm: str, sets: tuple[str, ...], message: str) -> None:
    result = template(helm, PREPROCESS, None, sets)
    assert result.returncode != 0, f"helm template accepted {sets}"
    assert message in result.stderr, result.stderr
