"""The ingest chart (the archive-service shape of weather-common, shared with preprocess): the
Deployment's settings, source roots, the archive claim or object store, Dask in its three
modes, and the values it rejects."""

from __future__ import annotations

from typing import Any

import pytest

from tests.charts.support import (
    INGEST,
    INGEST_OPERATOR_VALUES,
    container_env,
    kinds,
    mounts_by_path,
    one,
    pod_spec,
    render,
    template,
    volumes_by_name,
)


def _ingest(helm: str, values: str | None = None, *sets: str) -> list[dict[str, Any]]:
    return render(helm, INGEST, INGEST / "ci" / values if values else None, *sets)


def _server(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    deployment = one(docs, "Deployment")
    (container,) = pod_spec(deployment)["containers"]
    return deployment, container


def _egress(docs: list[dict[str, Any]], policy: str = "rel-ingest") -> dict[int, list[Any]]:
    (doc,) = [d for d in kinds(docs, "NetworkPolicy") if d["metadata"]["name"] == policy]
    return {p["port"]: r.get("to", []) for r in doc["spec"]["egress"] for p in r.get("ports", [])}


def test_ingest_defaults_local_dask_and_archive_claim(helm: str) -> None:
    docs = _ingest(helm)
    deployment, container = _server(docs)
    env = container_env(container)

    assert container["name"] == "ingest"
    assert container["image"] == "ghcr.io/weather-suite/ingest:0.1.0"
    assert env["INGEST_PORT"] == "50052" and env["INGEST_METRICS_PORT"] == "9102"
    assert env["INGEST_ARCHIVE_URL"] == "file:///archive"
    assert env["INGEST_ALLOWED_ROOTS"] == "file:///incoming"
    assert env["INGEST_DASK_SCHEDULER"] == "" and env["INGEST_DASK_LOCAL_WORKERS"] == "2"
    assert env["DASK_TEMPORARY_DIRECTORY"] == "/scratch" and env["OTEL_SDK_DISABLED"] == "true"
    names = [e["name"] for e in container["env"]]
    assert names.index("INGEST_HOST") + 1 == names.index("INGEST_ALLOWED_ROOTS")
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert pod_spec(deployment)["terminationGracePeriodSeconds"] == 40
    volumes, mounts = volumes_by_name(deployment), mounts_by_path(container)
    assert set(mounts) == {"/tmp", "/scratch", "/archive", "/etc/weather/tls", "/etc/weather/auth"}
    assert volumes["archive"]["persistentVolumeClaim"] == {"claimName": "rel-ingest-archive"}
    pvc = one(docs, "PersistentVolumeClaim")
    assert pvc["metadata"]["name"] == "rel-ingest-archive"
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert set(_egress(docs)) == {53}, "local Dask, archive on a volume: DNS only"
    assert not kinds(docs, "DaskCluster")


def test_ingest_remote_roots_open_https(helm: str) -> None:
    docs = _ingest(helm, None, "config.allowedRoots={https://data.example.org/}")
    assert _egress(docs)[443] == [], "remote sources: HTTPS to any destination"
    docs = _ingest(helm, "object-store-values.yaml")
    _, container = _server(docs)
    assert container["envFrom"] == [{"secretRef": {"name": "ingest-s3-credentials"}}]
    assert container_env(container)["INGEST_ARCHIVE_URL"] == "s3://weather-archive/archive"
    assert not kinds(docs, "PersistentVolumeClaim") and "/archive" not in mounts_by_path(container)
    assert _egress(docs)[443] == [{"ipBlock": {"cidr": "10.40.0.0/16"}}]


def test_ingest_dask_operator_workers_share_the_archive_and_sources(helm: str) -> None:
    docs = render(helm, INGEST, INGEST_OPERATOR_VALUES)
    _, container = _server(docs)
    dask = one(docs, "DaskCluster")
    assert container_env(container)["INGEST_DASK_SCHEDULER"] == (
        "tls://rel-ingest-dask-scheduler.weather.svc:8786"
    )
    worker_spec = dask["spec"]["worker"]["spec"]
    (worker,) = worker_spec["containers"]
    assert worker["args"][:2] == ["dask", "worker"] and "command" not in worker
    assert worker["image"] == "ghcr.io/dask/dask:2026.8.0"
    mounts = {m["mountPath"]: m for m in worker["volumeMounts"]}
    assert mounts["/incoming"]["readOnly"] is True and "/archive" in mounts
    volumes = {v["name"]: v for v in worker_spec["volumes"]}
    assert volumes["archive"]["persistentVolumeClaim"] == {"claimName": "weather-archive"}
    assert volumes["incoming"]["persistentVolumeClaim"]["claimName"] == "weather-incoming"
    assert _egress(docs)[8786][0]["podSelector"] == {
        "matchLabels": {"dask.org/cluster-name": "rel-ingest-dask"}
    }
    assert set(_egress(docs, "rel-ingest-dask")) == {53}


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        pytest.param(("dask.mode=external",), "dask.scheduler.address", id="external-no-address"),
        pytest.param(
            ("dask.mode=operator", "dask.operator.worker.replicas=0"),
            "replicas",
            id="operator-no-workers",
        ),
        pytest.param(
            ("dask.mode=operator", "archive.persistence.enabled=false"),
            "an archive the workers can share",
            id="operator-emptydir-archive",
        ),
        pytest.param(("archive.url=file:///data",), "archive.url is for object stores", id="file"),
        pytest.param(("otel.enabled=true",), "otel.endpoint", id="otel-without-endpoint"),
        pytest.param(("config.allowedRoots={data}",), "allowedRoots", id="root-without-scheme"),
    ],
)
def test_ingest_rejects(helm: str, sets: tuple[str, ...], message: str) -> None:
    result = template(helm, INGEST, None, sets)
    assert result.returncode != 0, f"helm template accepted {sets}"
    assert message in result.stderr, result.stderr
