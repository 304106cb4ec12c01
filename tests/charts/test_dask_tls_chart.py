"""Dask over mutual TLS in the charts (dask.tls): the service's env, the DaskCluster's scheduler
and workers serving with the Secret, tls:// addresses; and the settings values the charts pass
through (limits, source policy, clock skew) rendered as the service reads them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.charts.support import (
    CHARTS_DIR,
    INGEST,
    INGEST_OPERATOR_VALUES,
    PREPROCESS,
    container_env,
    mounts_by_path,
    one,
    pod_spec,
    render,
    template,
)

TRAINER = CHARTS_DIR / "trainer"
REGISTRY = CHARTS_DIR / "registry"
TLS_FILES = [
    "--protocol",
    "tls",
    "--tls-ca-file",
    "/etc/weather/tls/ca.crt",
    "--tls-cert",
    "/etc/weather/tls/tls.crt",
    "--tls-key",
    "/etc/weather/tls/tls.key",
]


def _service(docs: list[dict[str, Any]], name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    (workload,) = [
        d
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet") and name in d["metadata"]["name"]
    ]
    containers = {c["name"]: c for c in pod_spec(workload)["containers"]}
    return workload, containers[name]


def _dask_pods(docs: list[dict[str, Any]]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """The DaskCluster's scheduler and worker: (pod spec, container)."""
    cluster = one(docs, "DaskCluster")["spec"]
    return {
        role: (cluster[role]["spec"], cluster[role]["spec"]["containers"][0])
        for role in ("scheduler", "worker")
    }


def _start(container: dict[str, Any]) -> list[str]:
    return list(container.get("command") or container["args"])


@pytest.mark.parametrize(("chart", "prefix"), [(INGEST, "INGEST_"), (PREPROCESS, "PREPROCESS_")])
def test_a_local_cluster_serves_with_the_pod_certificate(
    helm: str, chart: Any, prefix: str
) -> None:
    docs = render(helm, chart)
    _, container = _service(docs, chart.name)
    env = container_env(container)
    assert env[f"{prefix}DASK_SCHEDULER"] == ""
    assert env[f"{prefix}DASK_TLS_CA_FILE"] == "/etc/weather/tls/ca.crt"
    assert env[f"{prefix}DASK_TLS_CERT_FILE"] == "/etc/weather/tls/tls.crt"
    assert env[f"{prefix}DASK_TLS_KEY_FILE"] == "/etc/weather/tls/tls.key"
    assert env[f"{prefix}DASK_REQUIRE_ENCRYPTION"] == "true"
    # the gRPC Secret's mount: no second volume for the same files
    assert mounts_by_path(container)["/etc/weather/tls"]["name"] == "tls"
    assert "/etc/weather/dask-tls" not in mounts_by_path(container)


def test_without_any_certificate_a_local_cluster_keeps_its_throwaway_tls(helm: str) -> None:
    # tls.enabled=false leaves no Secret: the service's local cluster makes its own certificates
    docs = render(helm, INGEST, None, "tls.enabled=false")
    env = container_env(_service(docs, "ingest")[1])
    assert not [name for name in env if name.startswith("INGEST_DASK_TLS")]


@pytest.mark.parametrize(
    ("chart", "values", "start"),
    [
        pytest.param(INGEST, INGEST_OPERATOR_VALUES, "args", id="ingest"),
        pytest.param(TRAINER, None, "command", id="trainer"),
    ],
)
def test_the_dask_cluster_serves_tls_with_the_chart_secret(
    helm: str, chart: Any, values: Any, start: str
) -> None:
    sets = () if values else ("dask.mode=operator", "archive.url=s3://bucket/archive")
    docs = render(helm, chart, values, *sets)
    _, container = _service(docs, chart.name)
    prefix = chart.name.upper() + "_"
    address = f"tls://rel-{chart.name}-dask-scheduler.weather.svc:8786"
    env = container_env(container)
    assert env[f"{prefix}DASK_SCHEDULER"] == address
    assert env[f"{prefix}DASK_TLS_CERT_FILE"] == "/etc/weather/tls/tls.crt"
    for role, (spec, dask) in _dask_pods(docs).items():
        assert start in dask
        args = _start(dask)
        assert args[args.index("--protocol") : args.index("--protocol") + 8] == TLS_FILES, role
        assert container_env(dask)["DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION"] == "true"
        assert mounts_by_path(dask)["/etc/weather/tls"] == {
            "name": "dask-tls",
            "mountPath": "/etc/weather/tls",
            "readOnly": True,
        }
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["dask-tls"]["secret"] == {
            "secretName": f"rel-{chart.name}-tls",
            "defaultMode": 0o440,
        }
    worker = _start(_dask_pods(docs)["worker"][1])
    # the operator's DASK_SCHEDULER_ADDRESS is tcp://: the worker is given the tls:// one
    assert worker[worker.index("worker") + 1] == address


def test_a_dask_secret_of_its_own_is_mounted_beside_the_grpc_one(helm: str) -> None:
    docs = render(helm, INGEST, INGEST_OPERATOR_VALUES, "dask.tls.secretName=dask-certs")
    workload, container = _service(docs, "ingest")
    env = container_env(container)
    assert env["INGEST_DASK_TLS_CA_FILE"] == "/etc/weather/dask-tls/ca.crt"
    assert env["INGEST_DASK_TLS_KEY_FILE"] == "/etc/weather/dask-tls/tls.key"
    assert mounts_by_path(container)["/etc/weather/dask-tls"]["readOnly"] is True
    volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
    assert volumes["dask-tls"]["secret"]["secretName"] == "dask-certs"
    assert volumes["tls"]["secret"]["secretName"] == "rel-ingest-tls"
    for spec, _ in _dask_pods(docs).values():
        pod_volumes = {v["name"]: v for v in spec["volumes"]}
        assert pod_volumes["dask-tls"]["secret"]["secretName"] == "dask-certs"


def test_dask_tls_off_is_plain_tcp(helm: str) -> None:
    docs = render(helm, INGEST, INGEST_OPERATOR_VALUES, "dask.tls.enabled=false")
    env = container_env(_service(docs, "ingest")[1])
    assert env["INGEST_DASK_SCHEDULER"] == "tcp://rel-ingest-dask-scheduler.weather.svc:8786"
    assert "INGEST_DASK_TLS_CA_FILE" not in env
    for spec, dask in _dask_pods(docs).values():
        assert "--protocol" not in _start(dask)
        assert "dask-tls" not in {v["name"] for v in spec["volumes"]}
    external = render(
        helm,
        PREPROCESS,
        None,
        "dask.mode=external",
        "dask.scheduler.address=tcp://dask.example:8786",
        "dask.tls.enabled=false",
    )
    assert "PREPROCESS_DASK_TLS_CA_FILE" not in container_env(_service(external, "preprocess")[1])


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        pytest.param(
            ("dask.mode=external", "dask.scheduler.address=tcp://dask.example:8786"),
            "needs a tls:// dask.scheduler.address",
            id="external-tcp",
        ),
        pytest.param(
            ("dask.mode=operator", "tls.enabled=false"),
            "needs a certificate",
            id="operator-without-certificate",
        ),
    ],
)
def test_dask_tls_rejects(helm: str, sets: tuple[str, ...], message: str) -> None:
    result = template(helm, INGEST, INGEST_OPERATOR_VALUES, sets)
    assert result.returncode != 0, f"helm template accepted {sets}"
    assert message in result.stderr, result.stderr


def test_settings_values_render_as_the_service_reads_them(helm: str, tmp_path: Path) -> None:
    docs = render(
        helm,
        INGEST,
        None,
        "config.maxTimeSteps=240",
        "config.maxGridPoints=2000000000",
        "config.maxOperationsPerCaller=3",
        "config.allowedSchemes={file,s3}",
        "config.allowedHosts={era5-bucket}",
        "auth.clockSkewSeconds=0",
    )
    env = container_env(_service(docs, "ingest")[1])
    assert env["INGEST_MAX_TIME_STEPS"] == "240"
    assert env["INGEST_MAX_GRID_POINTS"] == "2000000000"  # no exponent
    assert env["INGEST_MAX_OPERATIONS_PER_CALLER"] == "3"
    assert env["INGEST_ALLOWED_SCHEMES"] == "file,s3"
    assert env["INGEST_ALLOWED_HOSTS"] == "era5-bucket"
    assert env["INGEST_AUTH_CLOCK_SKEW_SECONDS"] == "0"  # zero is a value, not "unset"
    defaults = container_env(_service(render(helm, INGEST), "ingest")[1])
    assert defaults["INGEST_MAX_TIME_STEPS"] == "1000000"
    assert defaults["INGEST_MAX_APPEND_BYTES"] == "536870912"
    assert defaults["INGEST_ALLOWED_SCHEMES"] == ""
    trainer = container_env(
        _service(render(helm, TRAINER, None, "config.maxJobsPerCaller=2"), "trainer")[1]
    )
    assert trainer["TRAINER_MAX_JOBS_PER_CALLER"] == "2"
    assert trainer["TRAINER_ISOLATION"] == "process"
    values = tmp_path / "registry.yaml"
    values.write_text("config:\n  watchPollSeconds: 0.25\n  allowedHosts: [models, archive]\n")
    registry = container_env(_service(render(helm, REGISTRY, values), "registry")[1])
    assert registry["REGISTRY_WATCH_POLL_SECONDS"] == "0.25"
    assert registry["REGISTRY_ALLOWED_HOSTS"] == "models,archive"


@pytest.mark.parametrize(
    ("chart", "sets"),
    [
        pytest.param(INGEST, ("config.maxTimeSteps=-1",), id="negative-steps"),
        pytest.param(INGEST, ("config.maxOperationsPerCaller=0",), id="zero-per-caller"),
        pytest.param(TRAINER, ("config.isolation=fork",), id="unknown-isolation"),
        pytest.param(INGEST, ("dask.tls.unknown=x",), id="unknown-dask-tls-key"),
    ],
)
def test_the_schemas_refuse_bad_settings(helm: str, chart: Any, sets: tuple[str, ...]) -> None:
    result = template(helm, chart, None, sets)
    assert result.returncode != 0, f"helm template accepted {sets}"
    assert "values don't meet the specifications of the schema" in result.stderr, result.stderr
