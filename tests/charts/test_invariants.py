"""Invariants of every chart (see support.py): helm lint --strict, helm template over every
charts/*/ci/*.yaml, kubernetes-validate on every rendered manifest, the platform's invariants
(Pod Security Standard "restricted", probes, labels, NetworkPolicies, ServiceMonitors),
yamllint, documented values and draft-07 values schemas; the custom-resource checks must bite;
every service chart uses the weather-common library and installs on its own.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.support import (
    APP_CHARTS,
    CASES,
    CHARTS,
    CHARTS_DIR,
    INGEST,
    INGEST_OPERATOR_VALUES,
    K8S_VERSION,
    LIBRARY,
    LIBRARY_NAME,
    PREDICTOR,
    PREPROCESS,
    REGISTRY,
    REPO,
    SERVICE_CHARTS,
    TRAINER,
    UMBRELLA,
    YAMLLINT_CONFIG,
    chart_problems,
    defined_templates,
    dig,
    effective_values,
    kinds,
    kubeversion_floor,
    manifest_problems,
    one,
    redefined_common_helpers,
    render,
    run_tool,
    schema_failures,
    servicemonitor_problems,
    template,
    write_manifests,
)

# --- every chart, every ci values file


def test_charts_found() -> None:
    for chart in (REGISTRY, TRAINER, INGEST, PREPROCESS, PREDICTOR, UMBRELLA, LIBRARY):
        assert chart in CHARTS, f"no {chart.name} chart under {CHARTS_DIR}"
    assert {c.values[0] for c in CASES} >= {REGISTRY, TRAINER, UMBRELLA}
    assert LIBRARY not in {c.values[0] for c in CASES}, "a library chart renders nothing"
    assert len([c for c in CASES if c.values[0] == TRAINER]) >= 5, "trainer ci values files"
    assert len([c for c in CASES if c.values[0] == UMBRELLA]) >= 3, "weather-suite ci values files"


LINT_CASES = [*CASES, pytest.param(LIBRARY, None, id=f"{LIBRARY_NAME}/defaults")]


@pytest.mark.parametrize(("chart", "values"), LINT_CASES)
def test_helm_lint_strict(helm: str, chart: Path, values: Path | None) -> None:
    cmd = [helm, "lint", "--strict", str(chart)] + (["-f", str(values)] if values else [])
    result = run_tool(cmd)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("chart", "values"), CASES)
def test_rendered_manifests_pass_kubernetes_schemas(
    helm: str, kubernetes_validate: str, chart: Path, values: Path | None, tmp_path: Path
) -> None:
    docs = render(helm, chart, values)
    files = write_manifests(tmp_path, template(helm, chart, values, ()).stdout, docs)
    versions = list(dict.fromkeys([K8S_VERSION, kubeversion_floor(chart), None]))
    failures = schema_failures(kubernetes_validate, files, versions)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("chart", "values"), CASES)
def test_rendered_manifests_invariants(helm: str, chart: Path, values: Path | None) -> None:
    docs = render(helm, chart, values)
    assert kinds(docs, "Deployment") or kinds(docs, "StatefulSet"), "chart renders no workload"
    problems = chart_problems(chart, values, docs)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.name)
def test_yamllint(yamllint: list[str], chart: Path) -> None:
    files = [chart / "Chart.yaml", chart / "values.yaml", *sorted((chart / "ci").glob("*.yaml"))]
    files = [f for f in files if f.is_file()]  # the library chart has no values
    result = run_tool([*yamllint, "--strict", "-c", str(YAMLLINT_CONFIG), *map(str, files)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("chart", APP_CHARTS, ids=lambda c: c.name)
def test_values_are_documented(chart: Path) -> None:
    """Every values key carries a `## @param <path> <description>` (itself or an ancestor map)."""
    text = (chart / "values.yaml").read_text()
    values = yaml.safe_load(text) or {}
    documented = set(re.findall(r"^## @param (\S+) \S", text, flags=re.MULTILINE))

    def leaves(node: Any, path: tuple[str, ...] = ()) -> Any:
        if isinstance(node, dict) and node:
            for key, value in node.items():
                yield from leaves(value, (*path, str(key)))
        else:
            yield path

    undocumented = [
        ".".join(path)
        for path in leaves(values)
        if not any(".".join(path[:i]) in documented for i in range(len(path), 0, -1))
    ]
    stale = [p for p in documented if dig(values, *p.split("."), default=KeyError) is KeyError]
    assert not undocumented, f"values without ## @param: {undocumented}"
    assert not stale, f"## @param for keys that do not exist: {stale}"


@pytest.mark.parametrize("chart", APP_CHARTS, ids=lambda c: c.name)
def test_values_schema_is_draft07_and_accepts_ci_values(chart: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema_file = chart / "values.schema.json"
    assert schema_file.is_file(), "every chart ships a values.schema.json"
    schema = json.loads(schema_file.read_text())
    assert schema.get("$schema") == "http://json-schema.org/draft-07/schema#"
    assert schema.get("additionalProperties") is False
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    for values in [None, *sorted((chart / "ci").glob("*.yaml"))]:
        errors = [e.message for e in validator.iter_errors(effective_values(chart, values))]
        assert not errors, f"{values or 'values.yaml'}: {errors}"


# --- custom resources: the checks must bite


def _dask_operator_docs(helm: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    docs = render(helm, INGEST, INGEST_OPERATOR_VALUES)
    return docs, one(docs, "DaskCluster")


def _dask_container(dask: dict[str, Any], role: str) -> dict[str, Any]:
    container: dict[str, Any] = dask["spec"][role]["spec"]["containers"][0]
    return container


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            lambda d: _dask_container(d, "worker")["securityContext"].pop("readOnlyRootFilesystem"),
            "spec.worker.spec container worker: readOnlyRootFilesystem must be true",
            id="worker-writable-root",
        ),
        pytest.param(
            lambda d: _dask_container(d, "worker")["securityContext"]["capabilities"].pop("drop"),
            "spec.worker.spec container worker: capabilities.drop must contain ALL",
            id="worker-keeps-capabilities",
        ),
        pytest.param(
            lambda d: d["spec"]["scheduler"]["spec"]["securityContext"].pop("runAsNonRoot"),
            "spec.scheduler.spec: securityContext.runAsNonRoot must be true",
            id="scheduler-may-run-as-root",
        ),
        pytest.param(
            lambda d: _dask_container(d, "scheduler")["resources"].pop("limits"),
            "spec.scheduler.spec container scheduler: resources.limits.memory missing",
            id="scheduler-without-limits",
        ),
    ],
)
def test_dask_cluster_pod_security_is_checked(helm: str, mutate: Any, expected: str) -> None:
    docs, dask = _dask_operator_docs(helm)
    values = effective_values(INGEST, INGEST_OPERATOR_VALUES)
    assert not manifest_problems(docs, values), "the unmutated render must pass"
    mutate(dask)
    assert f"DaskCluster/{dask['metadata']['name']} {expected}" in manifest_problems(docs, values)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            lambda d: d.update(kind="DaskJob"),
            "no schema for ['DaskJob'] (not in SCHEMALESS_KINDS)",
            id="unlisted-crd",
        ),
        pytest.param(
            lambda d: _dask_container(d, "worker")["securityContext"].update(readOnlyRootFs=True),
            "readOnlyRootFs",
            id="worker-unknown-field",
        ),
        pytest.param(
            lambda d: d["spec"]["scheduler"]["service"]["ports"][0].update(port="tcp-comm"),
            "'tcp-comm' is not of type 'integer'",
            id="scheduler-service-port-not-integer",
        ),
    ],
)
def test_schema_check_rejects_unlisted_crds_and_bad_embedded_objects(
    helm: str, kubernetes_validate: str, tmp_path: Path, mutate: Any, expected: str
) -> None:
    docs, dask = _dask_operator_docs(helm)
    mutate(dask)
    files = write_manifests(tmp_path, yaml.safe_dump_all(docs), docs)
    failures = schema_failures(kubernetes_validate, files, [K8S_VERSION])
    assert failures and expected in failures[0], failures


# --- the library chart and the dependency links

LIBRARY_USERS = [*SERVICE_CHARTS, UMBRELLA]


def _dependencies(chart: Path) -> list[dict[str, Any]]:
    deps: list[dict[str, Any]] = yaml.safe_load((chart / "Chart.yaml").read_text()).get(
        "dependencies", []
    )
    return deps


def _chart_version(chart: Path) -> str:
    return str(yaml.safe_load((chart / "Chart.yaml").read_text())["version"])


@pytest.mark.parametrize("chart", LIBRARY_USERS, ids=lambda c: c.name)
def test_chart_depends_on_the_library(chart: Path) -> None:
    (dep,) = [d for d in _dependencies(chart) if d["name"] == LIBRARY_NAME]
    assert dep["repository"] == f"file://../{LIBRARY_NAME}"
    assert dep["version"] == _chart_version(LIBRARY)
    assert (chart / "charts" / LIBRARY_NAME).resolve() == LIBRARY.resolve()


@pytest.mark.parametrize("chart", LIBRARY_USERS, ids=lambda c: c.name)
def test_dependencies_are_relative_links_to_the_charts_next_door(chart: Path) -> None:
    """charts/<dep> is a relative symbolic link to ../../<dep>, one per Chart.yaml dependency and
    nothing else (a stray packaged .tgz would load the dependency twice), so a clean clone
    installs without `helm dependency build` and without the network."""
    deps = _dependencies(chart)
    assert deps, "no dependencies"
    vendored = sorted(p.name for p in (chart / "charts").iterdir())
    assert vendored == sorted(d["name"] for d in deps)
    for dep in deps:
        link = chart / "charts" / dep["name"]
        assert link.is_symlink(), f"{link} is not a symbolic link"
        assert str(link.readlink()) == f"../../{dep['name']}"
        assert dep["repository"] == f"file://../{dep['name']}"
        assert dep["version"] == _chart_version(CHARTS_DIR / dep["name"])
    if (REPO / ".git").exists() and shutil.which("git"):
        listed = run_tool(["git", "-C", str(REPO), "ls-files", "-s", f"charts/{chart.name}/charts"])
        modes = {line.split()[-1]: line.split()[0] for line in listed.stdout.splitlines()}
        for dep in deps:
            path = f"charts/{chart.name}/charts/{dep['name']}"
            assert modes.get(path, "120000") == "120000", f"{path} is tracked but not as a link"


@pytest.mark.parametrize("chart", LIBRARY_USERS, ids=lambda c: c.name)
def test_no_chart_redefines_a_common_helper(chart: Path) -> None:
    assert not redefined_common_helpers(chart), "use the weather-common.* helpers instead"
    foreign = [n for n in defined_templates(chart) if not n.startswith(f"{chart.name}.")]
    assert not foreign, f"named templates outside the chart's namespace: {foreign}"
    used = {
        m
        for path in (chart / "templates").rglob("*")
        if path.is_file()
        for m in re.findall(r'include "(weather-common\.[^"]+)"', path.read_text())
    }
    assert used, "the chart includes no weather-common helper"
    assert used <= defined_templates(LIBRARY), (
        f"unknown helpers: {used - defined_templates(LIBRARY)}"
    )


def test_the_redefinition_check_bites(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "_helpers.tpl").write_text(
        '{{- define "registry.fullname" -}}x{{- end }}\n'
        '{{- define "registry.databaseSecretName" -}}y{{- end }}\n'
    )
    assert redefined_common_helpers(tmp_path) == ["registry.fullname"]


@pytest.mark.parametrize("chart", SERVICE_CHARTS, ids=lambda c: c.name)
def test_service_chart_installs_alone_from_its_package(
    helm: str, chart: Path, tmp_path: Path
) -> None:
    """`helm package` follows the link: the archive carries the library and renders without the
    rest of the repository."""
    packaged = run_tool([helm, "package", str(chart), "--destination", str(tmp_path)])
    assert packaged.returncode == 0, packaged.stderr
    (archive,) = tmp_path.glob(f"{chart.name}-*.tgz")
    listing = run_tool(["tar", "-tzf", str(archive)]).stdout.split()
    assert f"{chart.name}/charts/{LIBRARY_NAME}/Chart.yaml" in listing
    assert not [p for p in listing if p.endswith(".tgz")]
    alone = tmp_path / "elsewhere"
    alone.mkdir()
    moved = alone / archive.name
    archive.rename(moved)
    result = subprocess.run(
        [helm, "template", "rel", moved.name, "--namespace", "weather"],
        capture_output=True,
        text=True,
        cwd=alone,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert docs == render(helm, chart), "the package renders as the chart folder does"


# --- ServiceMonitors: switchable in every service chart, and the structure check must bite


def _metrics_port(chart: Path) -> int:
    port: int = effective_values(chart, None)["service"]["ports"]["metrics"]
    return port


@pytest.mark.parametrize("chart", SERVICE_CHARTS, ids=lambda c: c.name)
def test_servicemonitor_off_by_default(helm: str, chart: Path) -> None:
    assert not kinds(render(helm, chart), "ServiceMonitor")


@pytest.mark.parametrize("chart", SERVICE_CHARTS, ids=lambda c: c.name)
def test_servicemonitor_scrapes_the_metrics_port(helm: str, chart: Path) -> None:
    docs = render(
        helm,
        chart,
        None,
        "metrics.serviceMonitor.enabled=true",
        "metrics.serviceMonitor.interval=15s",
        "metrics.serviceMonitor.labels.release=kube-prometheus-stack",
    )
    monitor = one(docs, "ServiceMonitor")
    assert not servicemonitor_problems(docs)
    assert monitor["metadata"]["name"] == f"rel-{chart.name}"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": chart.name,
        "app.kubernetes.io/instance": "rel",
    }
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["weather"]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"], endpoint["interval"]) == (
        "metrics",
        "/metrics",
        "15s",
    )
    assert "scrapeTimeout" not in endpoint
    service = next(
        s for s in kinds(docs, "Service") if s["metadata"]["name"] == f"rel-{chart.name}"
    )
    (port,) = [p for p in service["spec"]["ports"] if p["name"] == "metrics"]
    assert (port["port"], port["targetPort"]) == (_metrics_port(chart), "metrics")
    workload = (kinds(docs, "Deployment") + kinds(docs, "StatefulSet"))[0]
    (server,) = [
        c for c in workload["spec"]["template"]["spec"]["containers"] if c["name"] == chart.name
    ]
    (container_port,) = [p for p in server["ports"] if p["name"] == "metrics"]
    env = {e["name"]: e.get("value") for e in server["env"]}
    assert container_port["containerPort"] == _metrics_port(chart)
    assert env[f"{chart.name.upper()}_METRICS_PORT"] == str(_metrics_port(chart))


@pytest.mark.parametrize("chart", SERVICE_CHARTS, ids=lambda c: c.name)
def test_servicemonitor_from_global_values(helm: str, chart: Path) -> None:
    docs = render(
        helm,
        chart,
        None,
        "global.metrics.serviceMonitor.enabled=true",
        "global.metrics.serviceMonitor.interval=1m",
        "global.metrics.serviceMonitor.labels.team=weather",
    )
    monitor = one(docs, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["interval"] == "1m"
    assert monitor["metadata"]["labels"]["team"] == "weather"


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        pytest.param(("metrics.serviceMonitor.interval=soon",), "interval", id="interval"),
        pytest.param(("metrics.serviceMonitor.typo=1",), "typo", id="unknown-key"),
        pytest.param(("metrics.serviceMonitor.labels.a=1",), "labels", id="label-not-string"),
    ],
)
def test_servicemonitor_values_are_checked(helm: str, sets: tuple[str, ...], message: str) -> None:
    result = template(helm, REGISTRY, None, sets)
    assert result.returncode != 0, f"helm template accepted {sets}"
    assert message in result.stderr, result.stderr


def _monitor_docs(helm: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    docs = render(helm, REGISTRY, None, "metrics.serviceMonitor.enabled=true")
    return docs, one(docs, "ServiceMonitor")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            lambda m: m.update(apiVersion="monitoring.coreos.com/v1alpha1"),
            ": apiVersion must be monitoring.coreos.com/v1",
            id="api-version",
        ),
        pytest.param(
            lambda m: m["spec"]["endpoints"][0].update(port="http"),
            " endpoints[0]: port 'http' is no port of the selected Services",
            id="endpoint-port-unknown",
        ),
        pytest.param(
            lambda m: m["spec"]["endpoints"][0].update(targetPort=9101),
            " endpoints[0]: unknown field targetPort",
            id="endpoint-unknown-field",
        ),
        pytest.param(
            lambda m: m["spec"]["selector"].update(matchLabels={"app.kubernetes.io/name": "x"}),
            ": spec.selector selects no Service",
            id="selector-selects-nothing",
        ),
        pytest.param(
            lambda m: m["spec"]["selector"].update(matchLabels={}),
            ": spec.selector.matchLabels is empty (it would select every Service)",
            id="selector-empty",
        ),
        pytest.param(
            lambda m: m["spec"]["endpoints"][0].update(interval="30 seconds"),
            " endpoints[0]: interval '30 seconds' is not a Prometheus duration",
            id="interval-bad",
        ),
        pytest.param(
            lambda m: m["spec"]["endpoints"][0].update(scrapeTimeout="1m"),
            " endpoints[0]: scrapeTimeout exceeds interval",
            id="timeout-above-interval",
        ),
        pytest.param(
            lambda m: m["spec"].update(namespaceSelector={"any": True}),
            ": spec.namespaceSelector.matchNames must be [weather]",
            id="any-namespace",
        ),
        pytest.param(
            lambda m: m["spec"].update(endpoint=[]),
            ": unknown field spec.endpoint",
            id="spec-unknown-field",
        ),
    ],
)
def test_servicemonitor_structure_is_checked(helm: str, mutate: Any, expected: str) -> None:
    docs, monitor = _monitor_docs(helm)
    values = effective_values(REGISTRY, None)
    assert not manifest_problems(docs, values), "the unmutated render must pass"
    mutate(monitor)
    assert f"ServiceMonitor/rel-registry{expected}" in manifest_problems(docs, values)


def test_schema_check_skips_servicemonitors_only(
    helm: str, kubernetes_validate: str, tmp_path: Path
) -> None:
    docs, monitor = _monitor_docs(helm)
    files = write_manifests(tmp_path, yaml.safe_dump_all(docs), docs)
    assert not schema_failures(kubernetes_validate, files, [K8S_VERSION])
    monitor["kind"] = "PodMonitor"
    files = write_manifests(tmp_path, yaml.safe_dump_all(docs), docs)
    failures = schema_failures(kubernetes_validate, files, [K8S_VERSION])
    assert failures and "no schema for ['PodMonitor']" in failures[0], failures


def test_kubeversion_floor_of_every_app_chart() -> None:
    floors = {c.name: kubeversion_floor(c) for c in APP_CHARTS}
    assert all(floors.values()), floors
    assert floors[UMBRELLA.name] == max(
        floors.values(), key=lambda v: tuple(map(int, v.split(".")))
    ), "the umbrella's floor is its highest dependency's"


def test_effective_values_follow_helm_merge() -> None:
    values = effective_values(TRAINER, TRAINER / "ci" / "minimal-values.yaml")
    assert dig(values, "dask", "enabled") is False and dig(values, "dask", "mode") == "local"
    assert json.loads(json.dumps(values)) == values
