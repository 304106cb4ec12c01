"""The weather-suite umbrella chart: every service chart as a dependency (each switchable),
the shared `global` values reaching every service (OTLP endpoint, object-store archive and its
credentials, registry address, ServiceMonitors), the local settings winning over them, and the
Grafana dashboards ConfigMap for the sidecar."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.support import (
    INGEST,
    REGISTRY,
    SERVICE_CHARTS,
    UMBRELLA,
    container_env,
    kinds,
    pod_spec,
    render,
    run_tool,
    template,
)

SERVICES = [c.name for c in SERVICE_CHARTS]
OTLP = "http://otel-collector.observability.svc:4317"
OBJECT_STORE_VALUES = UMBRELLA / "ci" / "object-store-values.yaml"
PARTIAL_VALUES = UMBRELLA / "ci" / "partial-values.yaml"
# Containers that run our code, by workload: each gets the OTEL_* variables.
TRACED = {
    "rel-registry": ["registry"],
    "rel-ingest": ["ingest"],
    "rel-preprocess": ["preprocess"],
    "rel-trainer": ["trainer"],
    "rel-predictor": ["predictor", "serving-sync"],
}


def _suite(helm: str, values: Path | None = None, *sets: str) -> list[dict[str, Any]]:
    return render(helm, UMBRELLA, values, *sets)


def _workloads(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["name"]: d for d in kinds(docs, "Deployment") + kinds(docs, "StatefulSet")
    }


def _container(docs: list[dict[str, Any]], workload: str, name: str) -> dict[str, Any]:
    containers: list[dict[str, Any]] = pod_spec(_workloads(docs)[workload])["containers"]
    (container,) = [c for c in containers if c["name"] == name]
    return container


def _env(docs: list[dict[str, Any]], workload: str, name: str) -> dict[str, Any]:
    return container_env(_container(docs, workload, name))


def test_dependencies_are_the_service_charts_each_switchable() -> None:
    chart = yaml.safe_load((UMBRELLA / "Chart.yaml").read_text())
    deps = {d["name"]: d for d in chart["dependencies"]}
    assert set(deps) == {*SERVICES, "weather-common"}
    for name in SERVICES:
        assert deps[name]["repository"] == f"file://../{name}"
        assert deps[name]["condition"] == f"{name}.enabled"
    values = yaml.safe_load((UMBRELLA / "values.yaml").read_text())
    assert all(values[name]["enabled"] is True for name in SERVICES), "every service on by default"


def test_defaults_render_every_service(helm: str) -> None:
    docs = _suite(helm)
    assert set(_workloads(docs)) == {f"rel-{name}" for name in SERVICES}
    assert {s["metadata"]["name"] for s in kinds(docs, "Service")} == {
        f"rel-{name}" for name in SERVICES
    }
    assert {p["metadata"]["name"] for p in kinds(docs, "Pod")} == {
        f"rel-{name}-test-connection" for name in SERVICES
    }, "helm test checks every service"
    # one archive: the claim ingest creates, mounted by the others
    assert {c["metadata"]["name"] for c in kinds(docs, "PersistentVolumeClaim")} == {
        "rel-registry-data",
        "rel-ingest-archive",
        "rel-trainer-work",
    }
    for workload in ("rel-preprocess", "rel-trainer", "rel-predictor"):
        volumes = {v["name"]: v for v in pod_spec(_workloads(docs)[workload])["volumes"]}
        assert volumes["archive"]["persistentVolumeClaim"]["claimName"] == "rel-ingest-archive"
    # the registry clients find this release's registry, and its NetworkPolicy admits them
    assert _env(docs, "rel-trainer", "trainer")["TRAINER_REGISTRY_ADDRESS"] == "rel-registry:50051"
    sync = _env(docs, "rel-predictor", "serving-sync")
    assert sync["SERVING_SYNC_REGISTRY_ADDRESS"] == "rel-registry:50051"
    for workload in ("rel-trainer", "rel-predictor"):
        labels = _workloads(docs)[workload]["spec"]["template"]["metadata"]["labels"]
        assert labels["weather.io/registry-client"] == "true"
    # tracing off everywhere, no ServiceMonitors
    for workload, containers in TRACED.items():
        for name in containers:
            assert _env(docs, workload, name)["OTEL_SDK_DISABLED"] == "true", (workload, name)
    assert not kinds(docs, "ServiceMonitor")


def test_a_service_renders_as_its_own_chart_does(helm: str) -> None:
    """The umbrella adds nothing to a service beyond the values it passes (the registry: the
    suite's callers by certificate name)."""
    suite = _suite(helm)
    identities = ("auth.identities.rel-trainer={trainer}", "auth.identities.rel-predictor={reader}")
    for chart, sets in ((REGISTRY, identities), (INGEST, ())):
        alone = render(helm, chart, None, *sets)
        for doc in alone:
            if doc["kind"] == "Pod":
                continue
            (twin,) = [
                d
                for d in suite
                if (d["kind"], d["metadata"]["name"]) == (doc["kind"], doc["metadata"]["name"])
            ]
            assert twin == doc, f"{doc['kind']}/{doc['metadata']['name']}"


def test_globals_reach_every_service(helm: str) -> None:
    docs = _suite(helm, OBJECT_STORE_VALUES)
    for workload, containers in TRACED.items():
        for name in containers:
            env = _env(docs, workload, name)
            assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == OTLP, (workload, name)
            assert "OTEL_SDK_DISABLED" not in env
            attributes = dict(a.split("=", 1) for a in env["OTEL_RESOURCE_ATTRIBUTES"].split(","))
            assert attributes["deployment.environment"] == "production"
            assert attributes["k8s.namespace.name"] == "weather"
    assert _env(docs, "rel-predictor", "serving-sync")["OTEL_SERVICE_NAME"] == "serving-sync"
    assert _env(docs, "rel-predictor", "predictor")["OTEL_SERVICE_NAME"] == "predictor"
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in _env(docs, "rel-predictor", "tfserving")

    # the object-store archive and its Secret, in every archive user and its Dask workers
    for workload in ("rel-ingest", "rel-preprocess", "rel-trainer", "rel-predictor"):
        name = workload.removeprefix("rel-")
        container = _container(docs, workload, name)
        assert container_env(container)[f"{name.upper()}_ARCHIVE_URL"] == (
            "s3://weather-archive/archive"
        )
        assert {"secretRef": {"name": "weather-archive-s3"}} in container["envFrom"]
        assert "archive" not in {v["name"] for v in pod_spec(_workloads(docs)[workload])["volumes"]}
    assert "rel-ingest-archive" not in {
        c["metadata"]["name"] for c in kinds(docs, "PersistentVolumeClaim")
    }
    assert "envFrom" not in _container(docs, "rel-registry", "registry"), (
        "the registry has no archive"
    )

    # ServiceMonitors: one per service, global labels and interval, the trainer's own interval
    monitors = {m["metadata"]["name"]: m for m in kinds(docs, "ServiceMonitor")}
    assert set(monitors) == {f"rel-{name}" for name in SERVICES}
    for name, monitor in monitors.items():
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        interval = monitor["spec"]["endpoints"][0]["interval"]
        assert interval == ("60s" if name == "rel-trainer" else "15s"), name


def test_local_settings_win_over_globals(helm: str) -> None:
    docs = _suite(
        helm,
        OBJECT_STORE_VALUES,
        "trainer.registry.address=registry.elsewhere.svc:50051",
        "trainer.otel.endpoint=http://trainer-collector:4317",
        "ingest.archive.url=gs://ingest-only/archive",
        "ingest.archive.credentials.existingSecret=ingest-gcs",
        "predictor.metrics.serviceMonitor.enabled=false",
    )
    trainer = _env(docs, "rel-trainer", "trainer")
    assert trainer["TRAINER_REGISTRY_ADDRESS"] == "registry.elsewhere.svc:50051"
    assert trainer["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://trainer-collector:4317"
    ingest = _container(docs, "rel-ingest", "ingest")
    assert container_env(ingest)["INGEST_ARCHIVE_URL"] == "gs://ingest-only/archive"
    assert ingest["envFrom"] == [{"secretRef": {"name": "ingest-gcs"}}]
    assert "rel-predictor" in {m["metadata"]["name"] for m in kinds(docs, "ServiceMonitor")}, (
        "global.metrics.serviceMonitor.enabled turns it on whatever the chart says"
    )


def test_global_registry_address(helm: str) -> None:
    docs = _suite(
        helm, None, "registry.enabled=false", "global.registry.address=registry.shared:50051"
    )
    assert "rel-registry" not in _workloads(docs)
    assert (
        _env(docs, "rel-trainer", "trainer")["TRAINER_REGISTRY_ADDRESS"] == "registry.shared:50051"
    )
    sync = _env(docs, "rel-predictor", "serving-sync")
    assert sync["SERVING_SYNC_REGISTRY_ADDRESS"] == "registry.shared:50051"


def test_conditions_switch_services_off(helm: str) -> None:
    docs = _suite(helm, PARTIAL_VALUES)
    assert set(_workloads(docs)) == {"rel-registry", "rel-predictor"}
    assert not [
        c for c in kinds(docs, "ConfigMap") if c["metadata"]["name"].endswith("-dashboards")
    ]
    volumes = {v["name"]: v for v in pod_spec(_workloads(docs)["rel-predictor"])["volumes"]}
    assert volumes["archive"]["persistentVolumeClaim"]["claimName"] == "weather-archive"


def _dashboards(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (configmap,) = [
        c for c in kinds(docs, "ConfigMap") if c["metadata"]["name"].endswith("-dashboards")
    ]
    return configmap


def test_dashboards_configmap_for_the_grafana_sidecar(helm: str) -> None:
    configmap = _dashboards(_suite(helm))
    assert configmap["metadata"]["name"] == "rel-weather-suite-dashboards"
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    files = sorted(p.name for p in (UMBRELLA / "dashboards").glob("*.json"))
    assert files and sorted(configmap["data"]) == files
    for name, text in configmap["data"].items():
        dashboard = json.loads(text)
        assert dashboard == json.loads((UMBRELLA / "dashboards" / name).read_text())
        assert isinstance(dashboard.get("title"), str) and dashboard["title"], name
        assert isinstance(dashboard.get("panels", []), list), name
    assert len(yaml.safe_dump(configmap).encode()) < 1024 * 1024, "ConfigMaps hold at most 1 MiB"


def test_dashboards_label_namespace_and_switch(helm: str) -> None:
    configmap = _dashboards(
        _suite(
            helm,
            OBJECT_STORE_VALUES,
            "dashboards.label=grafana_dashboards",
            "dashboards.labelValue=weather",
        )
    )
    labels = configmap["metadata"]["labels"]
    assert labels["grafana_dashboards"] == "weather" and "grafana_dashboard" not in labels
    assert configmap["metadata"]["namespace"] == "monitoring"
    assert configmap["metadata"]["annotations"] == {"grafana_folder": "Weather"}
    docs = _suite(helm, None, "dashboards.enabled=false")
    assert not [
        c for c in kinds(docs, "ConfigMap") if c["metadata"]["name"].endswith("-dashboards")
    ]


def test_a_broken_dashboard_stops_the_render(helm: str, tmp_path: Path) -> None:
    copy = tmp_path / UMBRELLA.name
    shutil.copytree(UMBRELLA, copy)  # the links to the other charts become copies
    (copy / "dashboards" / "broken.json").write_text('{"title": "half')
    result = run_tool([helm, "template", "rel", str(copy), "--namespace", "weather"])
    assert result.returncode != 0
    assert "dashboards/broken.json is not a JSON object" in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        pytest.param(
            ("registry.enabled=false",), "needs global.registry.address", id="no-registry"
        ),
        pytest.param(("global.otel.enabled=true",), "global.otel.endpoint", id="otel-no-endpoint"),
        pytest.param(
            ("global.archive.url=file:///data",), "archive.url is for object stores", id="file-url"
        ),
        pytest.param(("global.typo=1",), "typo", id="unknown-global"),
        pytest.param(("dashboards.typo=1",), "typo", id="unknown-dashboards-key"),
        pytest.param(("trainer.typo=1",), "typo", id="subchart-schema-applies"),
        pytest.param(
            ("global.metrics.serviceMonitor.interval=often",), "interval", id="bad-interval"
        ),
    ],
)
def test_rejects(helm: str, sets: tuple[str, ...], message: str) -> None:
    result = template(helm, UMBRELLA, None, sets)
    assert result.returncode != 0, f"helm template accepted {sets}"
    assert message in result.stderr, result.stderr
