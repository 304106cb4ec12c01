"""The weather-common library chart: a library (renders nothing, installs nowhere), whose
named templates all live in its namespace and cover the helper groups the service charts
share."""

from __future__ import annotations

from typing import Any

import yaml

from tests.charts.support import (
    LIBRARY,
    REGISTRY,
    chart_type,
    container_env,
    defined_templates,
    effective_values,
    manifest_problems,
    one,
    pod_spec,
    render,
    run_tool,
)

# One representative helper per group the library is for.
EXPECTED_HELPERS = {
    "weather-common.name",
    "weather-common.fullname",
    "weather-common.chart",
    "weather-common.labels",
    "weather-common.selectorLabels",
    "weather-common.image",
    "weather-common.podSecurityContext",
    "weather-common.securityContext",
    "weather-common.grpcProbes",
    "weather-common.daskEnv",
    "weather-common.daskCluster",
    "weather-common.storageVolumes",
    "weather-common.archiveCredentials",
    "weather-common.otelEnv",
    "weather-common.portEnv",
    "weather-common.service",
    "weather-common.serviceMonitor",
}


def test_is_a_library_without_values() -> None:
    chart = yaml.safe_load((LIBRARY / "Chart.yaml").read_text())
    assert chart_type(LIBRARY) == "library" and chart["name"] == "weather-common"
    assert not (LIBRARY / "values.yaml").exists(), "its helpers read the calling chart's values"
    assert all(p.name.startswith("_") for p in (LIBRARY / "templates").iterdir()), (
        "only partials: a library chart renders no manifest"
    )


def test_helpers_live_in_its_namespace() -> None:
    names = defined_templates(LIBRARY)
    assert names >= EXPECTED_HELPERS, EXPECTED_HELPERS - names
    assert all(n.startswith("weather-common.") for n in names)


def test_helm_refuses_to_install_it(helm: str) -> None:
    result = run_tool([helm, "template", "rel", str(LIBRARY)])
    assert result.returncode != 0 and "library charts are not installable" in result.stderr


def _registry_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = pod_spec(one(docs, "Deployment"))["containers"]
    return containers[0]


def test_restricted_baseline_comes_back_when_a_key_is_removed(helm: str) -> None:
    docs = render(
        helm,
        REGISTRY,
        None,
        "securityContext.readOnlyRootFilesystem=null",
        "securityContext.capabilities=null",
        "podSecurityContext.runAsNonRoot=null",
        "podSecurityContext.seccompProfile=null",
    )
    spec = pod_spec(one(docs, "Deployment"))
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    context = _registry_container(docs)["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert not manifest_problems(docs, effective_values(REGISTRY, None))


def test_a_value_against_the_baseline_wins_and_the_invariants_catch_it(helm: str) -> None:
    docs = render(helm, REGISTRY, None, "securityContext.readOnlyRootFilesystem=false")
    assert _registry_container(docs)["securityContext"]["readOnlyRootFilesystem"] is False
    assert (
        "Deployment/rel-registry container registry: readOnlyRootFilesystem must be true"
        in manifest_problems(docs, effective_values(REGISTRY, None))
    )


def test_otel_env(helm: str) -> None:
    docs = render(
        helm,
        REGISTRY,
        None,
        "otel.enabled=true",
        "otel.endpoint=http://collector:4317",
        "otel.serviceName=model-registry",
        "otel.resourceAttributes.deployment\\.environment=staging",
        "global.otel.resourceAttributes.team=weather",
        "global.otel.resourceAttributes.deployment\\.environment=production",
    )
    env = container_env(_registry_container(docs))
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://collector:4317"
    assert env["OTEL_SERVICE_NAME"] == "model-registry"
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == (
        "deployment.environment=staging,k8s.namespace.name=weather,"
        "service.namespace=weather-suite,service.version=0.1.0,team=weather"
    ), "sorted; the chart's attribute wins over the global one"
    assert "OTEL_SDK_DISABLED" not in env
    docs = render(
        helm, REGISTRY, None, "global.otel.enabled=true", "global.otel.endpoint=http://g:4317"
    )
    env = container_env(_registry_container(docs))
    assert (
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://g:4317"
        and env["OTEL_SERVICE_NAME"] == "registry"
    )
