"""The weather-common library chart: a library (renders nothing, installs nowhere), whose
named templates all live in its namespace and cover the helper groups the service charts
share."""

from __future__ import annotations

import yaml

from tests.charts.support import LIBRARY, chart_type, defined_templates, run_tool

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
