"""Invariants of every chart (see support.py): helm lint --strict, helm template over every
charts/*/ci/*.yaml, kubernetes-validate on every rendered manifest, the platform's invariants
(Pod Security Standard "restricted", probes, labels, NetworkPolicies, ServiceMonitors),
yamllint, documented values and draft-07 values schemas; the custom-resource checks must bite;
every service chart uses the weather-common library and installs on its own; every pod spec
meets the Pod Security Standard "restricted" with defaults and with every optional feature on
(restricted_pod_security_problems), and no password, token or key is a plain value in values,
schemas or renders (secret_*_problems); both checks must bite.
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
    POD_SPEC_PATHS,
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
    pod_specs,
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


# --- Pod Security Standard "restricted", with defaults and with every optional feature on

# The volume types the "restricted" profile allows.
RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
SECCOMP_OK = {"RuntimeDefault", "Localhost"}


def _restricted_container_problems(
    where: str, container: dict[str, Any], pod_sc: dict[str, Any]
) -> list[str]:
    sc = container.get("securityContext") or {}
    caps = sc.get("capabilities") or {}
    problems = []
    if sc.get("privileged"):
        problems.append("privileged")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation must be false")
    if "ALL" not in (caps.get("drop") or []):
        problems.append("capabilities.drop must contain ALL")
    added = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
    if added:
        problems.append(f"capabilities.add {sorted(added)} (only NET_BIND_SERVICE)")
    if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
        problems.append("runAsNonRoot must be true (pod or container)")
    if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
        problems.append("runAsUser 0")
    seccomp = dig(sc, "seccompProfile", "type", default=dig(pod_sc, "seccompProfile", "type"))
    if seccomp not in SECCOMP_OK:
        problems.append(f"seccompProfile {seccomp!r} (RuntimeDefault or Localhost)")
    if sc.get("procMount", "Default") != "Default":
        problems.append("procMount must be Default")
    if dig(sc, "windowsOptions", "hostProcess"):
        problems.append("windowsOptions.hostProcess")
    if any(p.get("hostPort") for p in container.get("ports", [])):
        problems.append("hostPort")
    return [f"{where} container {container.get('name')}: {p}" for p in problems]


def restricted_pod_security_problems(docs: list[dict[str, Any]]) -> list[str]:
    """Every pod spec of a render (Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets,
    Jobs, CronJobs and the DaskCluster's scheduler and workers) against the Kubernetes Pod
    Security Standard "restricted" (and no service-account token): one line per violation."""
    problems = []
    for doc in docs:
        if doc.get("kind") not in POD_SPEC_PATHS:
            continue
        for where, spec in pod_specs(doc):
            pod_sc = spec.get("securityContext") or {}
            pod = [
                f"{key} is true" for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key)
            ]
            if spec.get("automountServiceAccountToken") is not False:
                pod.append("automountServiceAccountToken must be false")
            for volume in spec.get("volumes", []):
                kinds_ = set(volume) - {"name"}
                if not kinds_ <= RESTRICTED_VOLUME_TYPES:
                    pod.append(f"volume {volume.get('name')} of type {sorted(kinds_)}")
            if pod_sc.get("sysctls"):
                pod.append("sysctls")
            if dig(pod_sc, "seccompProfile", "type", default="RuntimeDefault") not in SECCOMP_OK:
                pod.append("securityContext.seccompProfile must be RuntimeDefault or Localhost")
            problems += [f"{where}: {p}" for p in pod]
            containers = [
                *spec.get("initContainers", []),
                *spec.get("containers", []),
                *spec.get("ephemeralContainers", []),
            ]
            if not containers:
                problems.append(f"{where}: no containers")
            for container in containers:
                problems += _restricted_container_problems(where, container, pod_sc)
    return problems


# Every optional feature of the service charts on (the ci/ files switch on the rest: Dask
# operator and external modes, multi-worker training, object stores, claims, autoscaling).
ALL_FEATURES = (
    "tls.certManager.enabled=true",
    "tls.certManager.issuerRef.name=weather-ca",
    "auth.jwks.secret=weather-jwks",
    "auth.issuer=https://issuer.example",
    "auth.audience=weather",
    "auth.staticTokensSecret=weather-static-tokens",
    "otel.enabled=true",
    "otel.endpoint=http://otel-collector.observability.svc:4317",
    "metrics.serviceMonitor.enabled=true",
)
CLIENT_CHARTS = {"trainer", "predictor"}
UMBRELLA_FEATURES = (
    "global.tls.certManager.enabled=true",
    "global.tls.certManager.issuerRef.name=weather-ca",
    "global.auth.jwks.configMap=weather-jwks",
    "global.auth.issuer=https://issuer.example",
    "global.auth.audience=weather",
    "global.auth.staticTokensSecret=weather-static-tokens",
    "global.otel.enabled=true",
    "global.otel.endpoint=http://otel-collector.observability.svc:4317",
    "global.metrics.serviceMonitor.enabled=true",
    "trainer.auth.clientTokenSecret=trainer-token",
    "predictor.auth.clientTokenSecret=sync-token",
)


def all_features(chart: Path) -> tuple[str, ...]:
    if chart == UMBRELLA:
        return UMBRELLA_FEATURES
    extra = ("auth.clientTokenSecret=client-token",) if chart.name in CLIENT_CHARTS else ()
    return (*ALL_FEATURES, *extra)


@pytest.mark.parametrize("features", [False, True], ids=["defaults", "all-features"])
@pytest.mark.parametrize(("chart", "values"), CASES)
def test_every_pod_meets_restricted_pod_security(
    helm: str, chart: Path, values: Path | None, features: bool
) -> None:
    docs = render(helm, chart, values, *(all_features(chart) if features else ()))
    assert [d for d in docs if d.get("kind") in POD_SPEC_PATHS], "no pod spec rendered"
    problems = restricted_pod_security_problems(docs)
    assert not problems, "\n".join(problems)
    if features:
        assert kinds(docs, "Certificate") and kinds(docs, "ServiceMonitor")
        problems = chart_problems(chart, values, docs)
        assert not problems, "\n".join(problems)


def _bad_pod_manifest() -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"name": "bad"},
        "spec": {
            "template": {
                "spec": {
                    "hostNetwork": True,
                    "securityContext": {"runAsUser": 0, "seccompProfile": {"type": "Unconfined"}},
                    "volumes": [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}],
                    "initContainers": [{"name": "setup", "securityContext": {"privileged": True}}],
                    "containers": [
                        {
                            "name": "app",
                            "ports": [{"containerPort": 80, "hostPort": 80}],
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "runAsNonRoot": True,
                                "capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]},
                            },
                        }
                    ],
                }
            }
        },
    }


def test_restricted_pod_security_check_bites() -> None:
    problems = restricted_pod_security_problems([_bad_pod_manifest()])
    expected = [
        "Deployment/bad: hostNetwork is true",
        "Deployment/bad: automountServiceAccountToken must be false",
        "Deployment/bad: volume docker of type ['hostPath']",
        "Deployment/bad: securityContext.seccompProfile must be RuntimeDefault or Localhost",
        "Deployment/bad container setup: privileged",
        "Deployment/bad container setup: allowPrivilegeEscalation must be false",
        "Deployment/bad container setup: capabilities.drop must contain ALL",
        "Deployment/bad container setup: runAsNonRoot must be true (pod or container)",
        "Deployment/bad container setup: runAsUser 0",
        "Deployment/bad container app: capabilities.add ['SYS_ADMIN'] (only NET_BIND_SERVICE)",
        "Deployment/bad container app: runAsUser 0",
        "Deployment/bad container app: hostPort",
    ]
    for line in expected:
        assert line in problems, f"{line!r} not reported: {problems}"


def test_restricted_pod_security_check_bites_on_a_rendered_pod(helm: str) -> None:
    docs = render(helm, REGISTRY)
    assert not restricted_pod_security_problems(docs)
    spec = one(docs, "Deployment")["spec"]["template"]["spec"]
    spec["containers"][0]["securityContext"]["capabilities"]["add"] = ["NET_ADMIN"]
    spec["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    assert restricted_pod_security_problems(docs) == [
        "Deployment/rel-registry: volume host of type ['hostPath']",
        "Deployment/rel-registry container registry: capabilities.add ['NET_ADMIN']"
        " (only NET_BIND_SERVICE)",
    ]


# --- secrets never in plain values

# Names of settings that hold a secret; a name ending in one of REFERENCE_SUFFIXES names where
# the secret is (a Secret, its key, a mounted file) instead.
SECRETISH = re.compile(
    r"pass(word|wd|phrase)?$|token|secret|credential|(access|private|api|signing|client)_?key$",
    re.I,
)
REFERENCE_SUFFIXES = re.compile(
    r"(secrets?|secretname|secretkey|secretref|tokenkey|tokenskey|configmap|file|path|dir|name"
    r"|ref|enabled)$",
    re.I,
)
USERINFO_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.I)
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
SECRET_ENV = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|KEY|CREDENTIAL")
URL_ENV = re.compile(r"(_URL|_URI|_DSN|_ENDPOINT)$")
ENV_REFERENCE_SUFFIXES = ("_FILE", "_PATH", "_DIR", "_ID", "_NAME")


def _secret_value_problems(where: str, key: str, value: Any) -> list[str]:
    if not isinstance(value, str) or not value:
        return []
    problems = []
    if USERINFO_PASSWORD.search(value):
        problems.append(f"{where}: a URL with user:password@")
    if PRIVATE_KEY.search(value):
        problems.append(f"{where}: a private key")
    if SECRETISH.search(key) and not REFERENCE_SUFFIXES.search(key):
        problems.append(f"{where}: a literal secret (use a Secret name)")
    return problems


def secret_values_problems(values: Any, path: str = "") -> list[str]:
    """Values (values.yaml, ci/*.yaml) carrying a password, token or key instead of the name of
    the Secret that holds it."""
    problems = []
    if isinstance(values, dict):
        for key, value in values.items():
            where = f"{path}.{key}" if path else str(key)
            problems += _secret_value_problems(where, str(key), value)
            problems += secret_values_problems(value, where)
    elif isinstance(values, list):
        for i, item in enumerate(values):
            problems += secret_values_problems(item, f"{path}[{i}]")
    return problems


def secret_schema_problems(schema: Any, path: str = "") -> list[str]:
    """values.schema.json properties that would take a secret as a plain value (secret-looking
    names without a reference suffix), and secret-looking defaults."""
    problems = []
    if isinstance(schema, dict):
        for key, sub in (schema.get("properties") or {}).items():
            where = f"{path}.{key}" if path else key
            takes_string = isinstance(sub, dict) and sub.get("type") == "string"
            if takes_string and SECRETISH.search(key) and not REFERENCE_SUFFIXES.search(key):
                problems.append(f"schema {where}: a property for a literal secret")
            problems += _secret_value_problems(f"schema {where} default", key, dig(sub, "default"))
            problems += secret_schema_problems(sub, where)
        for key in ("items", "additionalProperties"):
            problems += secret_schema_problems(schema.get(key), f"{path}[]")
        for name, sub in (schema.get("definitions") or {}).items():
            problems += secret_schema_problems(sub, f"#{name}")
    return problems


def secret_manifest_problems(docs: list[dict[str, Any]]) -> list[str]:
    """Rendered objects: no Secret rendered from values, no env var with a literal value whose
    name looks secret, no URL with a password or private key in env or ConfigMaps."""
    problems = []
    for doc in docs:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] == "Secret":
            problems.append(f"{where}: the charts take Secret names only, never render one")
        if doc["kind"] == "ConfigMap":
            for key, value in (doc.get("data") or {}).items():
                problems += [
                    p
                    for p in _secret_value_problems(f"{where} {key}", "", value)
                    if "literal" not in p
                ]
        if doc["kind"] not in POD_SPEC_PATHS:
            continue
        for spot, spec in pod_specs(doc):
            for c in [*spec.get("initContainers", []), *spec.get("containers", [])]:
                for env in c.get("env", []):
                    name, value = env["name"], env.get("value")
                    at = f"{spot} container {c['name']} env {name}"
                    if not isinstance(value, str) or not value:
                        continue
                    if USERINFO_PASSWORD.search(value) or PRIVATE_KEY.search(value):
                        problems.append(f"{at}: a secret in a literal value")
                    elif (
                        SECRET_ENV.search(name)
                        and not value.startswith("/")  # a path (GOOGLE_APPLICATION_CREDENTIALS)
                        and not URL_ENV.search(name)  # a URL without user:password@ is fine
                        and not name.endswith(ENV_REFERENCE_SUFFIXES)
                    ):
                        problems.append(f"{at}: a literal value for a secret-looking name")
    return problems


@pytest.mark.parametrize("chart", APP_CHARTS, ids=lambda c: c.name)
def test_no_secret_in_values_or_schema(chart: Path) -> None:
    problems = []
    for path in [chart / "values.yaml", *sorted((chart / "ci").glob("*.yaml"))]:
        problems += [
            f"{path.relative_to(CHARTS_DIR)}: {p}"
            for p in secret_values_problems(yaml.safe_load(path.read_text()) or {})
        ]
    schema = chart / "values.schema.json"
    if schema.is_file():
        problems += secret_schema_problems(json.loads(schema.read_text()))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("features", [False, True], ids=["defaults", "all-features"])
@pytest.mark.parametrize(("chart", "values"), CASES)
def test_no_secret_in_rendered_manifests(
    helm: str, chart: Path, values: Path | None, features: bool
) -> None:
    docs = render(helm, chart, values, *(all_features(chart) if features else ()))
    problems = secret_manifest_problems(docs)
    assert not problems, "\n".join(problems)


def test_secret_checks_bite() -> None:
    values = {
        "database": {"postgresql": {"url": "postgresql://u:hunter2@db:5432/r"}},
        "auth": {"token": "abc", "clientTokenSecret": "ok", "clientTokenKey": "token"},
        "s3": {"accessKey": "AKIA", "secretAccessKey": "x", "existingSecret": "fine"},
        "tls": {"key": "-----BEGIN EC PRIVATE KEY-----\n..."},
        "password": "",
    }
    assert secret_values_problems(values) == [
        "database.postgresql.url: a URL with user:password@",
        "auth.token: a literal secret (use a Secret name)",
        "s3.accessKey: a literal secret (use a Secret name)",
        "s3.secretAccessKey: a literal secret (use a Secret name)",
        "tls.key: a private key",
    ]
    schema = {
        "properties": {
            "db": {
                "properties": {"password": {"type": "string"}, "passwordSecret": {"type": "string"}}
            }
        }
    }
    assert secret_schema_problems(schema) == ["schema db.password: a property for a literal secret"]
    env = [
        {"name": "REGISTRY_DATABASE_URL", "value": "postgresql://u:p@db/r"},
        {"name": "AWS_SECRET_ACCESS_KEY", "value": "abc"},
        {"name": "WEATHER_TOKEN", "value": "abc"},
        {"name": "REGISTRY_TLS_KEY_FILE", "value": "/etc/weather/tls/tls.key"},
        {"name": "PREDICTOR_ARCHIVE_URL", "value": "s3://bucket/archive"},
    ]
    doc = {
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "env": env}]},
    }
    secret = {"kind": "Secret", "metadata": {"name": "s"}, "data": {"url": "eA=="}}
    assert secret_manifest_problems([doc, secret]) == [
        "Pod/p container c env REGISTRY_DATABASE_URL: a secret in a literal value",
        "Pod/p container c env AWS_SECRET_ACCESS_KEY: a literal value for a secret-looking name",
        "Pod/p container c env WEATHER_TOKEN: a literal value for a secret-looking name",
        "Secret/s: the charts take Secret names only, never render one",
    ]
