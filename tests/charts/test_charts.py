"""Static checks for the Helm charts under charts/ (no cluster needed).

Every chart directory (charts/<name>/Chart.yaml) is picked up, with every
values file in its ci/ folder (or the defaults when it has none), and is
linted, rendered, validated against the Kubernetes OpenAPI schemas and checked
for the platform's invariants: Pod Security Standard "restricted", explicit
resources, native gRPC probes (except the sidecars in NON_GRPC_CONTAINERS), no
service-account token, a NetworkPolicy when enabled. The registry, trainer and
predictor charts also get value-specific and negative cases (for the trainer: single mode's one Recreate replica, the TF_CONFIG every
multiWorker pod builds from its ordinal, object-store credentials, the artefact
root; for the predictor: its three containers, TF Serving's model config
from the ConfigMap-fed volume, the HorizontalPodAutoscaler).

kubernetes-validate has no schema for custom resources and only warns about
them. A kind it finds no schema for fails the schema test unless it is in
SCHEMALESS_KINDS, which names the built-in objects embedded in it (a
DaskCluster's scheduler and worker pod specs and scheduler Service); those are
validated in its place, and its pod specs get the same security checks.

Tools: helm from $HELM or <repo>/.tools/bin/helm (tools/install_tools.sh),
kubernetes-validate and yamllint from <repo>/.venv/bin or PATH. A missing
tool skips the tests that need it, except under CI (env CI set), where it
fails them.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHARTS_DIR = REPO / "charts"
YAMLLINT_CONFIG = CHARTS_DIR / ".yamllint"
RELEASE = "rel"
# kubernetes-validate bundles schemas for 1.25 ... 1.37. Rendered manifests are
# checked against 1.30 (a common production version), the chart's kubeVersion
# floor, and the tool's newest bundled version (its default, no -k).
K8S_VERSION = "1.30.0"
TOOL_TIMEOUT = 60

CHARTS = sorted(p.parent for p in CHARTS_DIR.glob("*/Chart.yaml"))


def _values_files(chart: Path) -> list[Path | None]:
    """The chart's ci/*.yaml, or [None] (its defaults) when it has none."""
    return [*sorted((chart / "ci").glob("*.yaml"))] or [None]


CASES = [
    pytest.param(chart, values, id=f"{chart.name}/{values.stem if values else 'defaults'}")
    for chart in CHARTS
    for values in _values_files(chart)
]
REGISTRY = CHARTS_DIR / "registry"
INGEST = CHARTS_DIR / "ingest"
INGEST_OPERATOR_VALUES = INGEST / "ci" / "operator-values.yaml"  # renders a DaskCluster
TRAINER = CHARTS_DIR / "trainer"

KeyPath = tuple[str, ...]
_TEMPLATE: KeyPath = ("spec", "template", "spec")
_DASK_POD_SPECS: tuple[KeyPath, ...] = (("spec", "scheduler", "spec"), ("spec", "worker", "spec"))
# Kind -> where its pod specs are (a custom resource may embed several).
POD_SPEC_PATHS: dict[str, tuple[KeyPath, ...]] = {
    "Pod": (("spec",),),
    "Deployment": (_TEMPLATE,),
    "StatefulSet": (_TEMPLATE,),
    "DaemonSet": (_TEMPLATE,),
    "ReplicaSet": (_TEMPLATE,),
    "Job": (_TEMPLATE,),
    "CronJob": (("spec", "jobTemplate", *_TEMPLATE),),
    "DaskCluster": _DASK_POD_SPECS,
}
# The only kinds kubernetes-validate may find no schema for, each with the built-in
# objects it embeds ((kind, path) pairs), which are schema-checked in its place.
SCHEMALESS_KINDS: dict[str, tuple[tuple[str, KeyPath], ...]] = {
    "DaskCluster": (
        *(("Pod", path) for path in _DASK_POD_SPECS),
        ("Service", ("spec", "scheduler", "service")),
    ),
}
NO_SCHEMA = re.compile(r"Couldn't find schema for kind (\S+)")
LONG_RUNNING = {"Deployment", "StatefulSet", "DaemonSet"}
SELECTOR_PATH = {
    "NetworkPolicy": ("spec", "podSelector"),
    "PodDisruptionBudget": ("spec", "selector"),
}
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
# Containers of long-running pods that serve no grpc.health.v1, by (app.kubernetes.io/name of
# the workload, container name), with the probes they get instead: "tcpSocket" (readiness and
# liveness on one of the container's ports) or None (no server: no ports, no probes). Every
# other container must use native gRPC probes.
NON_GRPC_CONTAINERS: dict[tuple[str, str], str | None] = {
    ("predictor", "tfserving"): "tcpSocket",  # TensorFlow Serving has no grpc.health.v1
    ("predictor", "serving-sync"): None,  # follows the registry; serves nothing
}


# --- tools


def _missing(what: str, hint: str) -> NoReturn:
    reason = f"{what} not found ({hint})"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _executable(*candidates: str | Path | None) -> str | None:
    for candidate in candidates:
        if not candidate:
            continue
        found = shutil.which(str(candidate))
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def helm() -> str:
    path = _executable(os.environ.get("HELM"), REPO / ".tools" / "bin" / "helm", "helm")
    if path is None:
        _missing("helm", "set HELM or run tools/install_tools.sh")
    return path


@pytest.fixture(scope="session")
def kubernetes_validate() -> str:
    path = _executable(REPO / ".venv" / "bin" / "kubernetes-validate", "kubernetes-validate")
    if path is None:
        _missing("kubernetes-validate", "pip install -r requirements/dev.in")
    return path


@pytest.fixture(scope="session")
def yamllint() -> list[str]:
    path = _executable(REPO / ".venv" / "bin" / "yamllint", "yamllint")
    if path is None:
        _missing("yamllint", "pip install -r requirements/dev.in")
    return [path]


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=False)


@functools.cache
def _template(
    helm: str, chart: Path, values: Path | None = None, sets: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    cmd = [helm, "template", RELEASE, str(chart), "--namespace", "weather"]
    if values is not None:
        cmd += ["-f", str(values)]
    for item in sets:
        cmd += ["--set", item]
    return _run(cmd)


def render(helm: str, chart: Path, values: Path | None = None, *sets: str) -> list[dict[str, Any]]:
    """Rendered manifests of a chart; fails the test when rendering fails."""
    result = _template(helm, chart, values, tuple(sets))
    assert result.returncode == 0, f"helm template failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


# --- helpers


def _dig(obj: Any, *path: str, default: Any = None) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return default
        obj = obj[key]
    return obj


def _merge(base: Any, override: Any) -> Any:
    """Helm-style values merge: maps merge recursively, null deletes, anything else replaces."""
    if not (isinstance(base, dict) and isinstance(override, dict)):
        return override
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge(base.get(key), value) if key in base else value
    return merged


def effective_values(chart: Path, values: Path | None) -> dict[str, Any]:
    merged = yaml.safe_load((chart / "values.yaml").read_text()) or {}
    if values is not None:
        merged = _merge(merged, yaml.safe_load(values.read_text()) or {})
    return merged


def kinds(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d.get("kind") == kind]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = kinds(docs, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def pod_specs(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(where, pod spec) for each pod spec of a workload; where names the path when several."""
    paths = POD_SPEC_PATHS[doc["kind"]]
    where = f"{doc['kind']}/{doc['metadata']['name']}"
    return [
        (f"{where} {'.'.join(path)}" if len(paths) > 1 else where, _dig(doc, *path, default={}))
        for path in paths
    ]


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    """The pod spec of a single-pod-spec workload."""
    ((_, spec),) = pod_specs(doc)
    return spec


def embedded_objects(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The built-in objects embedded in schemaless custom resources, as standalone manifests."""
    objects = []
    for doc in docs:
        for kind, path in SCHEMALESS_KINDS.get(doc.get("kind", ""), ()):
            spec = _dig(doc, *path)
            assert isinstance(spec, dict), f"{doc['kind']}/{doc['metadata']['name']}: no {path}"
            name = "-".join((doc["metadata"]["name"], *path[1:-1]))
            objects.append(
                {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "spec": spec}
            )
    return objects


def container_env(container: dict[str, Any]) -> dict[str, Any]:
    """Env entries by name: the value, or the valueFrom mapping."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    match = (selector or {}).get("matchLabels", {})
    return all(labels.get(k) == v for k, v in match.items())


def _kubeversion_floor(chart: Path) -> str | None:
    constraint = str(yaml.safe_load((chart / "Chart.yaml").read_text()).get("kubeVersion", ""))
    m = re.match(r"\s*>=?\s*v?(\d+)\.(\d+)", constraint)
    return f"{m.group(1)}.{m.group(2)}.0" if m else None


# --- invariants


def _pod_level_problems(where: str, spec: dict[str, Any]) -> list[str]:
    problems = []
    if spec.get("automountServiceAccountToken") is not False:
        problems.append(f"{where}: automountServiceAccountToken must be false")
    if spec.get("enableServiceLinks") is not False:
        problems.append(f"{where}: enableServiceLinks must be false")
    problems += [f"{where}: {key} is not allowed" for key in HOST_NAMESPACES if spec.get(key)]
    if _dig(spec, "securityContext", "runAsNonRoot") is not True:
        problems.append(f"{where}: securityContext.runAsNonRoot must be true")
    problems += [
        f"{where}: hostPath volume {v['name']}" for v in spec.get("volumes", []) if "hostPath" in v
    ]
    if not spec.get("containers"):
        problems.append(f"{where}: no containers")
    return problems


def _container_problems(where: str, container: dict[str, Any], pod_seccomp: Any) -> list[str]:
    sc = container.get("securityContext") or {}
    checks = {
        "readOnlyRootFilesystem must be true": sc.get("readOnlyRootFilesystem") is True,
        "allowPrivilegeEscalation must be false": sc.get("allowPrivilegeEscalation") is False,
        "capabilities.drop must contain ALL": "ALL" in (_dig(sc, "capabilities", "drop") or []),
        "only NET_BIND_SERVICE may be added": not (
            set(_dig(sc, "capabilities", "add") or []) - {"NET_BIND_SERVICE"}
        ),
        "must not run privileged or as root": not (
            sc.get("privileged") or sc.get("runAsNonRoot") is False or sc.get("runAsUser") == 0
        ),
        "seccompProfile must be RuntimeDefault (pod or container)": _dig(
            sc, "seccompProfile", "type", default=pod_seccomp
        )
        in ("RuntimeDefault", "Localhost"),
    }
    for section in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            checks[f"resources.{section}.{resource} missing"] = bool(
                _dig(container, "resources", section, resource)
            )
    return [f"{where}: {message}" for message, ok in checks.items() if not ok]


def _server_problems(where: str, container: dict[str, Any], grace: int) -> list[str]:
    """Long-running gRPC servers: native gRPC probes, and a pod grace above the server's."""
    problems = []
    grpc_ports = {p["containerPort"] for p in container.get("ports", []) if p.get("name") == "grpc"}
    for probe in ("readinessProbe", "livenessProbe"):
        port = _dig(container, probe, "grpc", "port")
        if port is None:
            problems.append(f"{where}: {probe} must be a native grpc probe")
        elif port not in grpc_ports:
            problems.append(f"{where}: {probe} port {port} is not the container port named grpc")
    for name, value in container_env(container).items():
        grace_env = name.endswith("_GRACE_SECONDS") and isinstance(value, str) and value.isdigit()
        if grace_env and grace <= int(value):
            problems.append(f"{where}: terminationGracePeriodSeconds {grace} <= {name}={value}")
    return problems


def _sidecar_problems(where: str, container: dict[str, Any], probe_kind: str | None) -> list[str]:
    """Containers in NON_GRPC_CONTAINERS: the declared probe kind, on the container's own port."""
    problems = []
    ports = {p["containerPort"] for p in container.get("ports", [])} | {
        p["name"] for p in container.get("ports", []) if "name" in p
    }
    if probe_kind is None:
        if ports:
            problems.append(f"{where}: declared as serving nothing but has ports")
        problems += [
            f"{where}: declared as serving nothing but has a {probe}"
            for probe in ("startupProbe", "readinessProbe", "livenessProbe")
            if probe in container
        ]
        return problems
    for probe in ("readinessProbe", "livenessProbe"):
        port = _dig(container, probe, probe_kind, "port")
        if port is None:
            problems.append(f"{where}: {probe} must be a {probe_kind} probe")
        elif port not in ports:
            problems.append(f"{where}: {probe} port {port} is not a port of the container")
    return problems


def pod_problems(doc: dict[str, Any]) -> list[str]:
    problems = []
    for where, spec in pod_specs(doc):
        problems += _pod_level_problems(where, spec)
        pod_seccomp = _dig(spec, "securityContext", "seccompProfile", "type")
        for c in spec.get("initContainers", []) + spec.get("containers", []):
            problems += _container_problems(f"{where} container {c.get('name')}", c, pod_seccomp)
        if doc["kind"] in LONG_RUNNING:
            grace = spec.get("terminationGracePeriodSeconds", 30)
            app = _dig(doc, "metadata", "labels", "app.kubernetes.io/name", default="")
            for c in spec.get("containers", []):
                name = f"{where} container {c.get('name')}"
                if (app, c.get("name")) in NON_GRPC_CONTAINERS:
                    problems += _sidecar_problems(name, c, NON_GRPC_CONTAINERS[app, c["name"]])
                else:
                    problems += _server_problems(name, c, grace)
    return problems


def _doc_problems(doc: dict[str, Any]) -> list[str]:
    where = f"{doc['kind']}/{doc['metadata']['name']}"
    labels = doc["metadata"].get("labels") or {}
    problems = []
    if labels.get("app.kubernetes.io/instance") != RELEASE:
        problems.append(f"{where}: label app.kubernetes.io/instance missing")
    if labels.get("app.kubernetes.io/managed-by") != "Helm":
        problems.append(f"{where}: label app.kubernetes.io/managed-by missing")
    if doc["kind"] in POD_SPEC_PATHS:
        problems += pod_problems(doc)
    if doc["kind"] == "ServiceAccount" and doc.get("automountServiceAccountToken") is not False:
        problems.append(f"{where}: automountServiceAccountToken must be false")
    if doc["kind"] == "Service":
        problems += [
            f"{where}: port grpc needs appProtocol grpc"
            for port in doc["spec"].get("ports", [])
            if port.get("name") == "grpc" and port.get("appProtocol") != "grpc"
        ]
    return problems


def _uncovered(
    workloads: list[dict[str, Any]], covers: list[dict[str, Any]], what: str
) -> list[str]:
    """Workloads whose pods no policy/budget in covers selects."""
    problems = []
    for w in workloads:
        pod_labels = _dig(w, "spec", "template", "metadata", "labels", default={})
        if not any(selects(_dig(c, *SELECTOR_PATH[c["kind"]]), pod_labels) for c in covers):
            problems.append(f"{w['kind']}/{w['metadata']['name']}: no {what} selects its pods")
    return problems


def manifest_problems(docs: list[dict[str, Any]], values: dict[str, Any]) -> list[str]:
    problems = [problem for doc in docs for problem in _doc_problems(doc)]
    workloads = [d for d in docs if d["kind"] in LONG_RUNNING]
    policies = kinds(docs, "NetworkPolicy")
    if _dig(values, "networkPolicy", "enabled"):
        problems += _uncovered(workloads, policies, "NetworkPolicy (networkPolicy.enabled)")
    elif "networkPolicy" in values and policies:
        problems.append("networkPolicy.enabled is false but a NetworkPolicy was rendered")
    if _dig(values, "pdb", "enabled") and int(values.get("replicaCount", 1)) > 1:
        budgets = kinds(docs, "PodDisruptionBudget")
        problems += _uncovered(workloads, budgets, "PodDisruptionBudget (pdb.enabled)")
    return problems


def schema_failures(
    kubernetes_validate: str, manifests: list[Path], versions: list[str | None]
) -> list[str]:
    """kubernetes-validate --strict at each version (None: its newest); a kind it has no
    schema for fails unless it is in SCHEMALESS_KINDS."""
    failures = []
    for version in versions:
        cmd = [kubernetes_validate, "--strict", "--quiet", *map(str, manifests)]
        if version:
            cmd[1:1] = ["-k", version]
        run = _run(cmd)
        output = run.stdout + run.stderr
        unknown = sorted(set(NO_SCHEMA.findall(output)) - SCHEMALESS_KINDS.keys())
        if run.returncode != 0 or unknown:
            failures.append(
                f"[{version or 'newest'}] rc={run.returncode}"
                + (f", no schema for {unknown} (not in SCHEMALESS_KINDS)" if unknown else "")
                + f"\n{output}"
            )
    return failures


def write_manifests(tmp_path: Path, rendered: str, docs: list[dict[str, Any]]) -> list[Path]:
    """The rendered manifests, plus the objects embedded in schemaless kinds if any."""
    files = [tmp_path / "rendered.yaml"]
    files[0].write_text(rendered)
    embedded = embedded_objects(docs)
    if embedded:
        files.append(tmp_path / "embedded.yaml")
        files[1].write_text(yaml.safe_dump_all(embedded))
    return files


# --- every chart, every ci values file


def test_charts_found() -> None:
    for chart in (REGISTRY, TRAINER):
        assert chart in CHARTS, f"no {chart.name} chart under {CHARTS_DIR}"
    assert {c.values[0] for c in CASES} >= {REGISTRY, TRAINER}
    assert len([c for c in CASES if c.values[0] == TRAINER]) >= 5, "trainer ci values files"


@pytest.mark.parametrize(("chart", "values"), CASES)
def test_helm_lint_strict(helm: str, chart: Path, values: Path | None) -> None:
    cmd = [helm, "lint", "--strict", str(chart)] + (["-f", str(values)] if values else [])
    result = _run(cmd)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("chart", "values"), CASES)
def test_rendered_manifests_pass_kubernetes_schemas(
    helm: str, kubernetes_validate: str, chart: Path, values: Path | None, tmp_path: Path
) -> None:
    docs = render(helm, chart, values)
    files = write_manifests(tmp_path, _template(helm, chart, values, ()).stdout, docs)
    versions = list(dict.fromkeys([K8S_VERSION, _kubeversion_floor(chart), None]))
    failures = schema_failures(kubernetes_validate, files, versions)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("chart", "values"), CASES)
def test_rendered_manifests_invariants(helm: str, chart: Path, values: Path | None) -> None:
    docs = render(helm, chart, values)
    assert kinds(docs, "Deployment") or kinds(docs, "StatefulSet"), "chart renders no workload"
    problems = manifest_problems(docs, effective_values(chart, values))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.name)
def test_yamllint(yamllint: list[str], chart: Path) -> None:
    files = [chart / "Chart.yaml", chart / "values.yaml", *sorted((chart / "ci").glob("*.yaml"))]
    result = _run([*yamllint, "--strict", "-c", str(YAMLLINT_CONFIG), *map(str, files)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.name)
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
    stale = [p for p in documented if _dig(values, *p.split("."), default=KeyError) is KeyError]
    assert not undocumented, f"values without ## @param: {undocumented}"
    assert not stale, f"## @param for keys that do not exist: {stale}"


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.name)
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


# --- registry chart


def _registry(helm: str, values: str | None = None, *sets: str) -> list[dict[str, Any]]:
    return render(helm, REGISTRY, REGISTRY / "ci" / values if values else None, *sets)


def _server(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    deployment = one(docs, "Deployment")
    (container,) = [c for c in pod_spec(deployment)["containers"] if c["name"] == "registry"]
    return deployment, container


def _egress_ports(docs: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Egress port -> the rule's `to` peers ([] meaning any destination)."""
    rules = one(docs, "NetworkPolicy")["spec"]["egress"]
    return {p["port"]: rule.get("to", []) for rule in rules for p in rule.get("ports", [])}


def _grpc_peers(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    (rule,) = [
        r
        for r in one(docs, "NetworkPolicy")["spec"]["ingress"]
        if {"port": 50051, "protocol": "TCP"} in r["ports"]
    ]
    peers: list[dict[str, Any]] = rule["from"]
    return peers


def test_registry_defaults_sqlite_on_pvc(helm: str) -> None:
    docs = _registry(helm)
    deployment, container = _server(docs)
    spec = pod_spec(deployment)
    env = container_env(container)

    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert container["image"] == "ghcr.io/weather-suite/registry:0.1.0"
    assert env["REGISTRY_DATABASE_URL"] == "sqlite:////data/registry.db"
    assert env["REGISTRY_PORT"] == "50051" and env["REGISTRY_METRICS_PORT"] == "9101"
    assert env["REGISTRY_MAX_MESSAGE_BYTES"] == "67108864"  # not 6.7108864e+07
    assert env["REGISTRY_GATED_ALIASES"] == "production"
    assert env["REGISTRY_GRACE_SECONDS"] == "10" and spec["terminationGracePeriodSeconds"] > 10
    assert env["OTEL_SDK_DISABLED"] == "true"
    assert "REGISTRY_ARTIFACT_ROOTS" not in env
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"] == {"port": 50051}
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
        "grpc": 50051,
        "metrics": 9101,
    }
    assert (
        spec["securityContext"]["runAsUser"] == 10001
        and spec["securityContext"]["fsGroup"] == 10001
    )

    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert mounts == {"/tmp": "tmp", "/data": "data"}
    assert "emptyDir" in volumes["tmp"]
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "rel-registry-data"
    pvc = one(docs, "PersistentVolumeClaim")
    assert pvc["metadata"]["name"] == "rel-registry-data"
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert pvc["spec"]["resources"]["requests"]["storage"] == "1Gi"

    service = one(docs, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert {p["name"]: (p["port"], p["appProtocol"]) for p in service["spec"]["ports"]} == {
        "grpc": (50051, "grpc"),
        "metrics": (9101, "http"),
    }
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert (
        annotations["prometheus.io/scrape"] == "true"
        and annotations["prometheus.io/port"] == "9101"
    )

    assert not kinds(docs, "Secret")
    assert not kinds(docs, "PodDisruptionBudget"), "a PDB on one replica would block node drains"
    assert _grpc_peers(docs)[0] == {
        "podSelector": {"matchLabels": {"weather.io/registry-client": "true"}}
    }
    assert set(_egress_ports(docs)) == {53}, "sqlite needs DNS only"


def test_registry_sqlite_existing_claims(helm: str) -> None:
    docs = _registry(helm, "sqlite-persistence-values.yaml")
    deployment, container = _server(docs)
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    env = container_env(container)

    assert not kinds(docs, "PersistentVolumeClaim"), "existingClaim must not create a PVC"
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": "registry-data"}
    assert volumes["artifacts"]["persistentVolumeClaim"] == {
        "claimName": "model-artifacts",
        "readOnly": True,
    }
    assert mounts["/artifacts"]["readOnly"] is True and "readOnly" not in mounts["/data"]
    assert env["REGISTRY_ARTIFACT_ROOTS"] == "file:///artifacts"
    assert env["REGISTRY_GATED_ALIASES"] == "production,staging"
    assert env["REGISTRY_GATE_MARGIN"] == "0.02"
    assert env["REGISTRY_LOG_FORMAT"] == "text" and env["REGISTRY_LOG_LEVEL"] == "DEBUG"
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "weather-jobs"}},
        "podSelector": {"matchLabels": {"weather.io/registry-client": "true"}},
    } in _grpc_peers(docs)


def test_registry_postgresql_existing_secret(helm: str) -> None:
    docs = _registry(helm, "postgresql-values.yaml")
    deployment, container = _server(docs)
    env = container_env(container)

    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert env["REGISTRY_DATABASE_URL"] == {
        "secretKeyRef": {"name": "registry-database", "key": "DATABASE_URL"}
    }
    assert not kinds(docs, "Secret") and not kinds(docs, "PersistentVolumeClaim")
    assert "/data" not in {m["mountPath"] for m in container["volumeMounts"]}
    assert one(docs, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability.svc:4317"
    assert env["OTEL_SERVICE_NAME"] == "registry" and "OTEL_SDK_DISABLED" not in env
    names = [e["name"] for e in container["env"]]
    assert names[-2:] == ["OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"], "extraEnv comes last"
    egress = _egress_ports(docs)
    assert egress[5432] == [{"ipBlock": {"cidr": "10.20.0.0/16"}}]
    assert egress[4317] == [] and egress[443] == [] and 53 in egress


def test_registry_postgresql_inline_url_creates_secret(helm: str) -> None:
    values_file = REGISTRY / "ci" / "postgresql-inline-url-values.yaml"
    url = yaml.safe_load(values_file.read_text())["database"]["postgresql"]["url"]
    docs = _registry(helm, values_file.name)
    deployment, container = _server(docs)
    secret = one(docs, "Secret")

    assert secret["metadata"]["name"] == "rel-registry-database"
    assert base64.b64decode(secret["data"]["url"]).decode() == url
    assert container_env(container)["REGISTRY_DATABASE_URL"] == {
        "secretKeyRef": {"name": "rel-registry-database", "key": "url"}
    }
    assert url not in yaml.safe_dump(deployment), "the URL must never appear in the pod spec"
    assert "checksum/database-secret" in deployment["spec"]["template"]["metadata"]["annotations"]
    assert one(docs, "PodDisruptionBudget")["spec"] == {
        "maxUnavailable": 1,
        "selector": {
            "matchLabels": {
                "app.kubernetes.io/name": "registry",
                "app.kubernetes.io/instance": RELEASE,
            }
        },
    }
    assert _egress_ports(docs)[5432] == [], "no CIDR: any destination on 5432"


def test_registry_minimal(helm: str) -> None:
    docs = _registry(helm, "minimal-values.yaml")
    deployment, _ = _server(docs)
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    assert volumes["data"] == {"name": "data", "emptyDir": {}}
    for kind in ("NetworkPolicy", "PodDisruptionBudget", "PersistentVolumeClaim", "Secret"):
        assert not kinds(docs, kind), kind


def test_registry_helm_test_pod(helm: str) -> None:
    docs = _registry(helm)
    pod = one(docs, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["restartPolicy"] == "Never"
    (container,) = pod["spec"]["containers"]
    assert container["image"] == _server(docs)[1]["image"]
    assert container["command"] == [
        "python",
        "-m",
        "weather_runtime.healthcheck",
        "rel-registry:50051",
    ]
    labels = pod["metadata"]["labels"]
    assert not selects({"matchLabels": one(docs, "Service")["spec"]["selector"]}, labels), (
        "Service must not route to it"
    )
    assert any(
        selects(peer.get("podSelector"), labels)
        for peer in _grpc_peers(docs)
        if "namespaceSelector" not in peer
    )


@pytest.mark.parametrize(
    ("sets", "check"),
    [
        pytest.param(
            ("replicaCount=0",),
            lambda d: _server(d)[0]["spec"]["replicas"] == 0,
            id="sqlite-scaled-to-zero",
        ),
        pytest.param(("global.imageRegistry=x",), lambda d: True, id="global-from-parent-chart"),
        pytest.param(
            ("image.digest=sha256:" + "a" * 64,),
            lambda d: _server(d)[1]["image"] == "ghcr.io/weather-suite/registry@sha256:" + "a" * 64,
            id="image-digest",
        ),
        pytest.param(
            ("persistence.storageClass=-",),
            lambda d: one(d, "PersistentVolumeClaim")["spec"]["storageClassName"] == "",
            id="storageclass-dash",
        ),
        pytest.param(
            ("fullnameOverride=" + "x" * 70,),
            lambda d: all(
                len(doc["metadata"]["name"]) <= 63
                for doc in kinds(d, "Deployment") + kinds(d, "Service")
            ),
            id="long-fullname-truncated",
        ),
    ],
)
def test_registry_accepts(helm: str, sets: tuple[str, ...], check: Any) -> None:
    assert check(_registry(helm, None, *sets))


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        pytest.param(("database.type=mysql",), "database.type", id="database-type-enum"),
        pytest.param(("replicaCount=-1",), "replicaCount", id="replicas-negative"),
        pytest.param(("config.gateMargin=2",), "config.gateMargin", id="gate-margin-above-1"),
        pytest.param(("config.gateMargin=-0.1",), "config.gateMargin", id="gate-margin-negative"),
        pytest.param(("config.logLevel=TRACE",), "config.logLevel", id="log-level-enum"),
        pytest.param(("config.logFormat=xml",), "config.logFormat", id="log-format-enum"),
        pytest.param(("service.ports.grpc=70000",), "service.ports.grpc", id="port-range"),
        pytest.param(
            ("config.maxMessageBytes=1048576",), "config.maxMessageBytes", id="message-below-4mib"
        ),
        pytest.param(("config.gatedAliases={a b}",), "gatedAliases", id="alias-whitespace"),
        pytest.param(("unknownKey=1",), "unknownKey", id="unknown-top-level-key"),
        pytest.param(("config.typo=1",), "typo", id="unknown-config-key"),
        pytest.param(
            ("replicaCount=2",),
            "database.type=sqlite allows a single writer",
            id="sqlite-two-replicas",
        ),
        pytest.param(
            ("database.type=postgresql",), "needs the database URL", id="postgresql-without-url"
        ),
        pytest.param(
            (
                "database.type=postgresql",
                "database.postgresql.url=postgresql://u:p@db:5432/r",
                "database.postgresql.existingSecret=s",
            ),
            "only one of",
            id="postgresql-url-and-secret",
        ),
        pytest.param(("otel.enabled=true",), "otel.endpoint", id="otel-without-endpoint"),
    ],
)
def test_registry_rejects(helm: str, sets: tuple[str, ...], message: str) -> None:
    result = _template(helm, REGISTRY, None, sets)
    assert result.returncode != 0, f"helm template accepted {sets}"
    assert message in result.stderr, result.stderr


# --- trainer chart


def _trainer(helm: str, values: str | None = None, *sets: str) -> list[dict[str, Any]]:
    return render(helm, TRAINER, TRAINER / "ci" / values if values else None, *sets)


def _trainer_workload(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Deployment or StatefulSet of the trainer, and its trainer container."""
    (workload,) = kinds(docs, "Deployment") + kinds(docs, "StatefulSet")
    (container,) = [c for c in pod_spec(workload)["containers"] if c["name"] == "trainer"]
    return workload, container


def _volumes(workload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in pod_spec(workload)["volumes"]}


def _mounts(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["mountPath"]: m for m in container["volumeMounts"]}


def _policy_ports(docs: list[dict[str, Any]], direction: str) -> dict[int, list[dict[str, Any]]]:
    """Port -> the rule's peers ([] meaning any), for ingress ("from") or egress ("to")."""
    policy = next(d for d in kinds(docs, "NetworkPolicy") if d["metadata"]["name"] == "rel-trainer")
    peers = "from" if direction == "ingress" else "to"
    return {
        p["port"]: rule.get(peers, [])
        for rule in policy["spec"][direction]
        for p in rule.get("ports", [])
    }


def _tf_config(container: dict[str, Any], ordinal: int | None) -> subprocess.CompletedProcess[str]:
    """Runs the container's rendered wrapper (command) as the pod with this ordinal would,
    with `printenv TF_CONFIG` in place of the server (args)."""
    env = {k: v for k, v in container_env(container).items() if isinstance(v, str)}
    env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
    if ordinal is not None:
        env["POD_INDEX"] = str(ordinal)
    shell, flags, script, name = container["command"]
    assert (shell, flags, name) == ("/bin/sh", "-ec", "trainer")
    return subprocess.run(
        [shutil.which("sh") or shell, flags, script, name, "printenv", "TF_CONFIG"],
        capture_output=True,
        text=True,
        env=env,
        timeout=TOOL_TIMEOUT,
        check=False,
    )


def test_trainer_single_mode_one_recreate_replica(helm: str) -> None:
    docs = _trainer(helm)
    workload, container = _trainer_workload(docs)
    spec = pod_spec(workload)
    env = container_env(container)

    assert workload["kind"] == "Deployment" and not kinds(docs, "StatefulSet")
    assert workload["spec"]["replicas"] == 1
    assert workload["spec"]["strategy"] == {"type": "Recreate"}, "one writer of the job records"
    assert container["image"] == "ghcr.io/weather-suite/trainer:0.1.0"
    assert "command" not in container and "args" not in container, "the image's entrypoint"
    assert env["TRAINER_PORT"] == "50054" and env["TRAINER_METRICS_PORT"] == "9104"
    assert env["TRAINER_WORK_ROOT"] == "/work"
    assert env["TRAINER_ARTIFACT_ROOT"] == "", "empty: SavedModels and checkpoints on the work root"
    assert env["TRAINER_ARCHIVE_URL"] == "file:///archive"
    assert "envFrom" not in container, "no credentials Secret by default"
    assert env["TRAINER_REGISTRY_ADDRESS"] == "" and env["TRAINER_REGISTRY_TIMEOUT_SECONDS"] == "30"
    assert env["TRAINER_MAX_RUNNING"] == "1" and env["TRAINER_AUTO_RESUME"] == "false"
    assert env["TRAINER_MAX_MESSAGE_BYTES"] == "67108864"
    assert env["TRAINER_USE_DASK"] == "true" and env["TRAINER_DASK_SCHEDULER"] == ""
    assert env["TRAINER_GRACE_SECONDS"] == "30" and spec["terminationGracePeriodSeconds"] == 40
    assert env["HOME"] == "/tmp" and env["OTEL_SDK_DISABLED"] == "true"
    assert env["OMP_NUM_THREADS"] == {
        "resourceFieldRef": {"containerName": "trainer", "resource": "limits.cpu", "divisor": "1"}
    }
    assert not {"TF_CONFIG", "TF_CONFIG_WORKERS", "POD_INDEX"} & env.keys()
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"] == {"port": 50054}
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
        "grpc": 50054,
        "metrics": 9104,
    }
    assert container["resources"] == {
        "requests": {"cpu": "2", "memory": "4Gi"},
        "limits": {"cpu": "4", "memory": "4Gi"},
    }
    assert spec["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["readOnlyRootFilesystem"] is True

    volumes, mounts = _volumes(workload), _mounts(container)
    assert {path: m["name"] for path, m in mounts.items()} == {
        "/tmp": "tmp",
        "/scratch": "scratch",
        "/work": "work",
        "/archive": "archive",
    }
    assert "emptyDir" in volumes["tmp"] and "emptyDir" in volumes["scratch"]
    assert volumes["work"]["persistentVolumeClaim"] == {"claimName": "rel-trainer-work"}
    assert volumes["archive"]["persistentVolumeClaim"] == {
        "claimName": "rel-preprocess-archive",
        "readOnly": True,
    }
    assert mounts["/archive"]["readOnly"] is True
    (pvc,) = kinds(docs, "PersistentVolumeClaim")
    assert pvc["metadata"]["name"] == "rel-trainer-work"
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"

    (service,) = kinds(docs, "Service")
    assert service["spec"]["selector"] == {
        "app.kubernetes.io/name": "trainer",
        "app.kubernetes.io/instance": RELEASE,
    }
    assert not kinds(docs, "PodDisruptionBudget"), "a PDB on one pod would block node drains"
    assert not kinds(docs, "DaskCluster")
    assert set(_policy_ports(docs, "ingress")) == {50054, 9104}
    assert set(_policy_ports(docs, "egress")) == {53}, "local Dask, no registry: DNS only"


@pytest.mark.parametrize(
    ("values", "sets"),
    [
        pytest.param(None, ("training.mode=multiWorker", "training.workers=3"), id="set"),
        pytest.param("multiworker-values.yaml", (), id="ci-values"),
    ],
)
def test_trainer_multiworker_tf_config_per_pod(
    helm: str, values: str | None, sets: tuple[str, ...]
) -> None:
    docs = _trainer(helm, values, *sets)
    workload, container = _trainer_workload(docs)
    env = container_env(container)
    hosts = [f"rel-trainer-{i}.rel-trainer-workers.weather.svc:2222" for i in range(3)]

    assert workload["kind"] == "StatefulSet" and not kinds(docs, "Deployment")
    assert workload["metadata"]["name"] == "rel-trainer"
    assert workload["spec"]["replicas"] == 3
    assert workload["spec"]["serviceName"] == "rel-trainer-workers"
    assert workload["spec"]["podManagementPolicy"] == "Parallel"
    assert env["POD_INDEX"] == {
        "fieldRef": {"fieldPath": "metadata.labels['apps.kubernetes.io/pod-index']"}
    }
    assert json.loads(env["TF_CONFIG_WORKERS"]) == hosts
    assert container["args"] == ["python", "-m", "weather_trainer"]
    for ordinal in range(3):
        run = _tf_config(container, ordinal)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout) == {
            "cluster": {"worker": hosts},
            "task": {"type": "worker", "index": ordinal},
        }
    for bad in (3, None):  # outside training.workers; label missing (Kubernetes < 1.28)
        run = _tf_config(container, bad)
        assert run.returncode == 1 and not run.stdout and "trainer:" in run.stderr

    assert {p["name"]: p["containerPort"] for p in container["ports"]}["collective"] == 2222
    services = {s["metadata"]["name"]: s["spec"] for s in kinds(docs, "Service")}
    assert services["rel-trainer"]["selector"] == {
        "app.kubernetes.io/name": "trainer",
        "app.kubernetes.io/instance": RELEASE,
        "statefulset.kubernetes.io/pod-name": "rel-trainer-0",
    }, "the API is served by the chief only"
    headless = services["rel-trainer-workers"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    assert [p["port"] for p in headless["ports"]] == [2222]

    (pvc,) = kinds(docs, "PersistentVolumeClaim")
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"], "every worker mounts the work root"
    assert _volumes(workload)["work"]["persistentVolumeClaim"]["claimName"] == "rel-trainer-work"
    selector = {"app.kubernetes.io/name": "trainer", "app.kubernetes.io/instance": RELEASE}
    workers = {"podSelector": {"matchLabels": selector}}
    assert _policy_ports(docs, "ingress")[2222] == [workers]
    assert _policy_ports(docs, "egress")[2222] == [workers]
    assert one(docs, "PodDisruptionBudget")["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": selector},
    }, "drains evict one worker at a time"


def test_trainer_multiworker_ci_values(helm: str) -> None:
    docs = _trainer(helm, "multiworker-values.yaml")
    workload, container = _trainer_workload(docs)
    env = container_env(container)
    labels = workload["spec"]["template"]["metadata"]["labels"]

    assert env["TRAINER_WORK_ROOT"] == "/artifacts" and "/artifacts" in _mounts(container)
    assert env["TRAINER_REGISTRY_ADDRESS"] == "registry.weather-registry.svc:50051"
    assert labels["weather.io/registry-client"] == "true", "admitted by the registry's policy"
    assert env["TRAINER_DASK_SCHEDULER"] == "tcp://dask-scheduler.dask.svc:8786"
    assert "TRAINER_DASK_LOCAL_WORKERS" not in env and "/scratch" not in _mounts(container)
    assert env["TRAINER_AUTO_RESUME"] == "true"
    assert pod_spec(workload)["terminationGracePeriodSeconds"] == 70
    egress = _policy_ports(docs, "egress")
    assert egress[50051][0]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "weather-registry"}
    }
    assert egress[8786] == [{"ipBlock": {"cidr": "10.30.0.0/16"}}] and 4317 in egress


def test_trainer_object_store_credentials_from_secret(helm: str) -> None:
    docs = _trainer(helm, "object-store-values.yaml")
    workload, container = _trainer_workload(docs)
    env = container_env(container)

    assert env["TRAINER_ARCHIVE_URL"] == "s3://weather-archive/archive"
    assert container["envFrom"] == [{"secretRef": {"name": "trainer-s3-credentials"}}]
    assert not kinds(docs, "Secret"), "credentials come from an existing Secret"
    assert "archive" not in _volumes(workload), "no archive volume with an object store"
    assert "/archive" not in _mounts(container)
    assert not any("AWS" in name for name in env), "no credentials inline"
    (pvc,) = kinds(docs, "PersistentVolumeClaim")
    assert pvc["metadata"]["name"] == "rel-trainer-work", "only the work root is a claim"
    egress = _policy_ports(docs, "egress")
    assert egress[443] == [{"ipBlock": {"cidr": "10.40.0.0/16"}}]
    assert egress[50051] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "registry"}}}
    ]
    assert env["TRAINER_REGISTRY_TIMEOUT_SECONDS"] == "15"


def test_trainer_artifact_root_on_object_store(helm: str) -> None:
    docs = _trainer(helm, "artifact-store-values.yaml")
    workload, container = _trainer_workload(docs)
    env = container_env(container)

    assert workload["kind"] == "Deployment"
    assert env["TRAINER_ARTIFACT_ROOT"] == "s3://weather-models/trainer"
    assert env["TRAINER_WORK_ROOT"] == "/work", "job records stay on the work volume"
    assert container["envFrom"] == [{"secretRef": {"name": "trainer-artifacts-s3"}}]
    assert not kinds(docs, "Secret"), "credentials come from an existing Secret"
    assert not any("AWS" in name for name in env), "no credentials inline"
    assert "artifacts-key" not in _volumes(workload)
    assert env["TRAINER_ARCHIVE_URL"] == "file:///archive" and "/archive" in _mounts(container)
    (pvc,) = kinds(docs, "PersistentVolumeClaim")
    assert pvc["spec"]["resources"]["requests"]["storage"] == "5Gi", "job records: a small claim"
    egress = _policy_ports(docs, "egress")
    assert egress[443] == [], "the artefact root alone opens HTTPS (no CIDR: any destination)"
    assert set(egress) == {53, 443, 50051}


def test_trainer_artifact_root_in_every_worker(helm: str) -> None:
    docs = _trainer(helm, "gcs-key-file-values.yaml", "artifacts.root=gs://weather-models/trainer")
    workload, container = _trainer_workload(docs)
    env = container_env(container)

    assert workload["kind"] == "StatefulSet", "the pod template is shared with multiWorker"
    assert env["TRAINER_ARTIFACT_ROOT"] == "gs://weather-models/trainer"
    assert env["GOOGLE_APPLICATION_CREDENTIALS"] == "/var/run/secrets/archive/key.json", (
        "the archive's key serves both stores"
    )
    assert "artifacts-key" not in _volumes(workload) and "envFrom" not in container


def test_trainer_artifact_key_file(helm: str) -> None:
    docs = _trainer(
        helm,
        "object-store-values.yaml",
        "artifacts.root=gs://weather-models/trainer",
        "artifacts.credentials.keyFile.existingSecret=trainer-models-gcs-key",
    )
    workload, container = _trainer_workload(docs)
    env = container_env(container)
    volumes, mounts = _volumes(workload), _mounts(container)

    assert env["GOOGLE_APPLICATION_CREDENTIALS"] == "/var/run/secrets/artifacts/key.json"
    assert volumes["artifacts-key"]["secret"] == {
        "secretName": "trainer-models-gcs-key",
        "defaultMode": 0o440,
        "items": [{"key": "key.json", "path": "key.json"}],
    }
    assert mounts["/var/run/secrets/artifacts"] == {
        "name": "artifacts-key",
        "mountPath": "/var/run/secrets/artifacts",
        "readOnly": True,
    }
    assert container["envFrom"] == [{"secretRef": {"name": "trainer-s3-credentials"}}]
    assert _policy_ports(docs, "egress")[443] == [{"ipBlock": {"cidr": "10.40.0.0/16"}}]


def test_trainer_artifact_credentials_stay_off_dask_workers(helm: str) -> None:
    docs = _trainer(
        helm,
        "operator-values.yaml",
        "artifacts.root=s3://weather-models/trainer",
        "artifacts.credentials.existingSecret=trainer-artifacts-s3",
        "artifacts.credentials.keyFile.existingSecret=trainer-models-key",
        "artifacts.credentials.keyFile.env=MODELS_KEY_FILE",
    )
    _, container = _trainer_workload(docs)
    assert container["envFrom"] == [{"secretRef": {"name": "trainer-artifacts-s3"}}]
    assert _policy_ports(docs, "egress")[443] == []

    worker_spec = one(docs, "DaskCluster")["spec"]["worker"]["spec"]
    (worker,) = worker_spec["containers"]
    assert "envFrom" not in worker, "Dask workers never publish"
    assert not {"TRAINER_ARTIFACT_ROOT", "MODELS_KEY_FILE"} & container_env(worker).keys()
    assert "artifacts-key" not in {v["name"] for v in worker_spec["volumes"]}
    dask_policy = next(
        d for d in kinds(docs, "NetworkPolicy") if d["metadata"]["name"] == "rel-trainer-dask"
    )
    dask_ports = {p["port"] for r in dask_policy["spec"]["egress"] for p in r.get("ports", [])}
    assert 443 not in dask_ports, "the archive is a claim: the workers need no object store"


def test_trainer_gcs_key_file_and_cluster_domain(helm: str) -> None:
    docs = _trainer(helm, "gcs-key-file-values.yaml")
    workload, container = _trainer_workload(docs)
    env = container_env(container)
    volumes, mounts = _volumes(workload), _mounts(container)

    assert container["image"] == "ghcr.io/weather-suite/trainer@sha256:" + "0123456789abcdef" * 4
    assert env["GOOGLE_APPLICATION_CREDENTIALS"] == "/var/run/secrets/archive/key.json"
    assert volumes["archive-key"]["secret"]["secretName"] == "trainer-gcs-key"
    assert mounts["/var/run/secrets/archive"]["readOnly"] is True
    assert "archive" not in volumes and "envFrom" not in container
    assert json.loads(env["TF_CONFIG_WORKERS"]) == [
        f"rel-trainer-{i}.rel-trainer-workers.weather.svc.cluster.local:2222" for i in range(2)
    ]
    assert env["TRAINER_USE_DASK"] == "false" and "TRAINER_DASK_SCHEDULER" not in env
    assert one(docs, "PersistentVolumeClaim")["spec"]["storageClassName"] == "filestore"


def test_trainer_dask_operator(helm: str) -> None:
    docs = _trainer(helm, "operator-values.yaml")
    workload, container = _trainer_workload(docs)
    env = container_env(container)
    dask = one(docs, "DaskCluster")

    assert env["TRAINER_DASK_SCHEDULER"] == "tcp://rel-trainer-dask-scheduler.weather.svc:8786"
    assert env["TRAINER_MAX_RUNNING"] == "2" and env["TRAINER_LOG_FORMAT"] == "text"
    for role in ("scheduler", "worker"):
        (dask_container,) = dask["spec"][role]["spec"]["containers"]
        assert dask_container["image"] == container["image"], "the trainer image by default"
        assert dask_container["command"][:2] == ["dask", role], (
            "the image's entrypoint is the server"
        )
        assert "args" not in dask_container
    assert dask["spec"]["worker"]["replicas"] == 3
    assert not kinds(docs, "PersistentVolumeClaim"), "existing work claim, archive claim"
    assert _volumes(workload)["work"]["persistentVolumeClaim"] == {"claimName": "model-artifacts"}
    assert {d["metadata"]["name"] for d in kinds(docs, "NetworkPolicy")} == {
        "rel-trainer",
        "rel-trainer-dask",
    }


def test_trainer_minimal(helm: str) -> None:
    docs = _trainer(helm, "minimal-values.yaml")
    workload, container = _trainer_workload(docs)
    volumes = _volumes(workload)
    assert volumes["work"] == {"name": "work", "emptyDir": {}}
    assert volumes["archive"] == {"name": "archive", "emptyDir": {}}
    assert container_env(container)["TRAINER_USE_DASK"] == "false"
    assert "/scratch" not in _mounts(container)
    for kind in ("NetworkPolicy", "PodDisruptionBudget", "PersistentVolumeClaim", "DaskCluster"):
        assert not kinds(docs, kind), kind


def test_trainer_helm_test_pod(helm: str) -> None:
    docs = _trainer(helm, None, "training.mode=multiWorker")
    pod = one(docs, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = pod["spec"]["containers"]
    assert container["command"] == [
        "python",
        "-m",
        "weather_runtime.healthcheck",
        "rel-trainer:50054",
    ]
    labels = pod["metadata"]["labels"]
    for service in kinds(docs, "Service"):
        assert not selects({"matchLabels": service["spec"]["selector"]}, labels), "no routing to it"
    assert any(
        selects(peer.get("podSelector"), labels) for peer in _policy_ports(docs, "ingress")[50054]
    )


@pytest.mark.parametrize(
    ("sets", "check"),
    [
        pytest.param(
            ("fullnameOverride=" + "x" * 70, "training.mode=multiWorker"),
            lambda d: (
                len(one(d, "StatefulSet")["metadata"]["name"]) <= 52
                and all(len(s["metadata"]["name"]) <= 63 for s in kinds(d, "Service"))
            ),
            id="long-fullname-truncated",
        ),
        pytest.param(
            ("training.mode=multiWorker", "work.persistence.existingClaim=shared-work"),
            lambda d: not kinds(d, "PersistentVolumeClaim"),
            id="multiworker-existing-claim",
        ),
        pytest.param(
            ("training.threadsFromCpuLimit=false",),
            lambda d: "OMP_NUM_THREADS" not in container_env(_trainer_workload(d)[1]),
            id="threads-off",
        ),
        pytest.param(
            ("registry.address=rel-registry:50051", "registry.clientLabel=false"),
            lambda d: (
                "weather.io/registry-client"
                not in _trainer_workload(d)[0]["spec"]["template"]["metadata"]["labels"]
            ),
            id="registry-without-client-label",
        ),
        pytest.param(
            ("training.mode=multiWorker", "training.workers=1"),
            lambda d: not kinds(d, "PodDisruptionBudget"),
            id="one-worker-no-pdb",
        ),
        pytest.param(
            ("artifacts.root=file:///work/published",),
            lambda d: (
                container_env(_trainer_workload(d)[1])["TRAINER_ARTIFACT_ROOT"]
                == "file:///work/published"
                and 443 not in _policy_ports(d, "egress")
            ),
            id="artifact-root-on-work-volume-no-egress",
        ),
        pytest.param(
            (
                "archive.url=s3://weather-archive/archive",
                "archive.credentials.existingSecret=s3",
                "artifacts.root=s3://weather-models/trainer",
                "artifacts.credentials.existingSecret=s3",
            ),
            lambda d: _trainer_workload(d)[1]["envFrom"] == [{"secretRef": {"name": "s3"}}],
            id="one-secret-for-archive-and-artifacts",
        ),
    ],
)
def test_trainer_accepts(helm: str, sets: tuple[str, ...], check: Any) -> None:
    assert check(_trainer(helm, None, *sets))


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        pytest.param(("training.mode=parallel",), "training.mode", id="mode-enum"),
        pytest.param(("training.workers=0",), "training.workers", id="workers-zero"),
        pytest.param(
            ("training.mode=multiWorker", "work.persistence.enabled=false"),
            "needs a work root every worker shares",
            id="multiworker-emptydir-work",
        ),
        pytest.param(
            ("training.mode=multiWorker", "work.persistence.accessModes={ReadWriteOnce}"),
            "ReadWriteMany",
            id="multiworker-rwo-work",
        ),
        pytest.param(
            ("training.mode=multiWorker", "training.collectivePort=50054"),
            "clashes with a service port",
            id="collective-port-clash",
        ),
        pytest.param(("registry.address=registry",), "registry.address", id="registry-no-port"),
        pytest.param(("registry.timeoutSeconds=0",), "registry.timeoutSeconds", id="timeout-zero"),
        pytest.param(("config.maxRunning=17",), "config.maxRunning", id="max-running-above-16"),
        pytest.param(("config.graceSeconds=3601",), "config.graceSeconds", id="grace-too-long"),
        pytest.param(("work.mountPath=/tmp",), "work.mountPath", id="work-on-tmp"),
        pytest.param(("dask.mode=external",), "dask.scheduler.address", id="external-no-address"),
        pytest.param(
            ("archive.url=file:///data",), "archive.url is for object stores", id="file-url"
        ),
        pytest.param(
            ("dask.mode=operator", "dask.operator.image.repository=ghcr.io/dask/dask"),
            "dask.operator.image.tag",
            id="operator-image-without-tag",
        ),
        pytest.param(("otel.enabled=true",), "otel.endpoint", id="otel-without-endpoint"),
        pytest.param(("replicaCount=2",), "replicaCount", id="no-replica-count"),
        pytest.param(("training.typo=1",), "typo", id="unknown-training-key"),
        pytest.param(("artifacts.typo=1",), "typo", id="unknown-artifacts-key"),
        pytest.param(
            ("artifacts.root=weather-models/trainer",), "artifacts.root", id="root-without-scheme"
        ),
        pytest.param(("artifacts.root=s3:// x",), "artifacts.root", id="root-with-space"),
        pytest.param(
            ("artifacts.root=file:///data/models",),
            "must be a folder under work.mountPath",
            id="file-root-off-the-work-volume",
        ),
        pytest.param(
            ("artifacts.root=file:///work",),
            "must be a folder under work.mountPath",
            id="file-root-is-the-work-root",
        ),
        pytest.param(
            ("artifacts.root=file:///work/jobs",),
            "other than its jobs/ and requests/",
            id="file-root-in-the-job-records",
        ),
        pytest.param(
            (
                "archive.url=gs://weather-archive/archive",
                "archive.credentials.keyFile.existingSecret=archive-key",
                "artifacts.root=gs://weather-models/trainer",
                "artifacts.credentials.keyFile.existingSecret=models-key",
            ),
            "both set GOOGLE_APPLICATION_CREDENTIALS",
            id="two-key-files-one-env",
        ),
    ],
)
def test_trainer_rejects(helm: str, sets: tuple[str, ...], message: str) -> None:
    result = _template(helm, TRAINER, None, sets)
    assert result.returncode != 0, f"helm template accepted {sets}"
    assert message in result.stderr, result.stderr


# --- predictor chart

PREDICTOR = CHARTS_DIR / "predictor"
PREDICTOR_IMAGE = "ghcr.io/weather-suite/predictor:0.1.0"


def _predictor(helm: str, values: str | None = None, *sets: str) -> list[dict[str, Any]]:
    return render(helm, PREDICTOR, PREDICTOR / "ci" / values if values else None, *sets)


def _predictor_pod(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The Deployment and its containers by name."""
    deployment = one(docs, "Deployment")
    return deployment, {c["name"]: c for c in pod_spec(deployment)["containers"]}


def _predictor_policy(docs: list[dict[str, Any]], direction: str) -> dict[int, list[Any]]:
    peers = "from" if direction == "ingress" else "to"
    return {
        p["port"]: rule.get(peers, [])
        for rule in one(docs, "NetworkPolicy")["spec"][direction]
        for p in rule.get("ports", [])
    }


def _flag(args: list[str], name: str) -> str | None:
    values = [a.split("=", 1)[1] for a in args if a.startswith(f"--{name}=")]
    assert len(values) <= 1, f"--{name} given {len(values)} times"
    return values[0] if values else None


def test_predictor_chart_found() -> None:
    assert PREDICTOR in CHARTS
    assert len([c for c in CASES if c.values[0] == PREDICTOR]) >= 4, "predictor ci values files"


def test_predictor_defaults_three_containers(helm: str) -> None:
    docs = _predictor(helm)
    deployment, containers = _predictor_pod(docs)
    spec = pod_spec(deployment)
    volumes = _volumes(deployment)

    assert list(containers) == ["predictor", "tfserving", "serving-sync"]
    predictor, tfs, sync = (
        containers["predictor"],
        containers["tfserving"],
        containers["serving-sync"],
    )

    # images and ports
    assert predictor["image"] == PREDICTOR_IMAGE and sync["image"] == PREDICTOR_IMAGE
    assert "command" not in predictor and "args" not in predictor, "the image's entrypoint"
    assert sync["command"] == ["python", "-m", "weather_predictor.sync"]
    assert re.fullmatch(r"tensorflow/serving:\d+\.\d+\.\d+", tfs["image"]), "pinned by tag"
    assert {p["name"]: p["containerPort"] for p in predictor["ports"]} == {
        "grpc": 50055,
        "metrics": 9106,
    }
    assert {p["name"]: p["containerPort"] for p in tfs["ports"]} == {"tfs-grpc": 8500}
    assert "ports" not in sync

    # TF Serving: the binary (not the image's entrypoint script), config from the models volume
    assert tfs["command"] == ["/usr/bin/tensorflow_model_server"]
    args = tfs["args"]
    assert _flag(args, "port") == "8500" and _flag(args, "rest_api_port") == "0"
    assert _flag(args, "model_config_file") == "/models/models.config"
    assert _flag(args, "model_config_file_poll_wait_seconds") == "60"
    assert _flag(args, "enable_batching") == "true"
    assert _flag(args, "batching_parameters_file") == "/etc/tfserving/batching.config"
    assert not [a for a in args if a.startswith(("--model_name", "--model_base_path"))]

    # The config file's path is where the init container copies the ConfigMap's initial config.
    configmap = one(docs, "ConfigMap")
    assert volumes["tfserving-config"]["configMap"]["name"] == configmap["metadata"]["name"]
    assert configmap["data"]["models.config"].split() == ["model_config_list", "{", "}"]
    assert "max_batch_size { value: 32 }" in configmap["data"]["batching.config"]
    (init,) = spec["initContainers"]
    assert init["image"] == PREDICTOR_IMAGE
    assert init["command"][-2:] == ["/etc/tfserving/models.config", "/models/models.config"]
    assert _mounts(init)["/etc/tfserving"] == {
        "name": "tfserving-config",
        "mountPath": "/etc/tfserving",
        "readOnly": True,
    }
    assert (
        _mounts(init)["/models"]["name"] == "models" and "readOnly" not in _mounts(init)["/models"]
    )
    assert _mounts(tfs)["/etc/tfserving"]["name"] == "tfserving-config"
    assert _mounts(tfs)["/models"] == {"name": "models", "mountPath": "/models", "readOnly": True}
    assert volumes["models"] == {"name": "models", "emptyDir": {"sizeLimit": "10Gi"}}
    assert "checksum/tfserving-config" in deployment["spec"]["template"]["metadata"]["annotations"]

    # the sync writes the serving base; the predictor reads it
    assert "readOnly" not in _mounts(sync)["/models"]
    assert _mounts(predictor)["/models"]["readOnly"] is True
    env, sync_env = container_env(predictor), container_env(sync)
    assert env["PREDICTOR_PORT"] == "50055" and env["PREDICTOR_METRICS_PORT"] == "9106"
    assert env["PREDICTOR_MODELSERVER_ADDRESS"] == "127.0.0.1:8500"
    assert env["PREDICTOR_MODEL_ROOT"] == "/models"
    assert env["PREDICTOR_ARCHIVE_URL"] == "file:///archive"
    assert env["PREDICTOR_CANARY_SHARE"] == "0" and env["PREDICTOR_MAX_IN_FLIGHT"] == "64"
    assert env["PREDICTOR_DEFAULT_DEADLINE_SECONDS"] == "30"
    assert env["PREDICTOR_REQUIRED_MODELS"] == ""  # no models named: no readiness gate
    assert env["PREDICTOR_MODELSERVER_MAX_MESSAGE_BYTES"] == "268435456"
    assert env["PREDICTOR_GRACE_SECONDS"] == "20" and spec["terminationGracePeriodSeconds"] == 30
    assert sync_env == {
        "SERVING_SYNC_REGISTRY_ADDRESS": "rel-registry:50051",
        "SERVING_SYNC_MODEL_SERVER_ADDRESS": "127.0.0.1:8500",
        "SERVING_SYNC_SERVING_BASE_PATH": "/models",
        "SERVING_SYNC_MODEL_SERVER_BASE_PATH": "/models",
        "SERVING_SYNC_CONFIG_FILE_NAME": "models.config",
        "SERVING_SYNC_MODEL_NAMES": "",
        "SERVING_SYNC_ALIASES": "production,staging,canary",
        "SERVING_SYNC_RPC_TIMEOUT_SECONDS": "30",
        "SERVING_SYNC_RELOAD_TIMEOUT_SECONDS": "120",
        "SERVING_SYNC_LOAD_TIMEOUT_SECONDS": "600",
        "SERVING_SYNC_RESYNC_SECONDS": "300",
        "SERVING_SYNC_FAILED_LOAD_RETRY_SECONDS": "900",
        "SERVING_SYNC_LOG_LEVEL": "INFO",
        "SERVING_SYNC_LOG_FORMAT": "json",
        "HOME": "/tmp",
    }
    for c in containers.values():
        assert "envFrom" not in c, "no credentials Secret by default"

    # probes: native gRPC on the predictor, TCP on TF Serving, none on the sync
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert predictor[probe]["grpc"] == {"port": 50055}
        assert tfs[probe]["tcpSocket"] == {"port": "tfs-grpc"}
        assert probe not in sync
    assert tfs["startupProbe"]["failureThreshold"] * tfs["startupProbe"]["periodSeconds"] >= 300
    assert tfs["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "20"]

    # security: non-root, read-only root, own /tmp emptyDir for every container
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 10001
    for c in [*containers.values(), init]:
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["runAsNonRoot"] is True and sc["capabilities"]["drop"] == ["ALL"]
        assert c["resources"]["limits"]["memory"] and c["resources"]["requests"]["cpu"]
    tmp = {name: _mounts(c)["/tmp"]["name"] for name, c in containers.items()}
    assert tmp == {"predictor": "tmp", "tfserving": "tfserving-tmp", "serving-sync": "sync-tmp"}
    assert all("emptyDir" in volumes[v] for v in tmp.values())
    assert spec["automountServiceAccountToken"] is False

    # autoscaling: the HPA owns the replica count
    assert "replicas" not in deployment["spec"]
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    hpa = one(docs, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert hpa["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 70},
            },
        }
    ]
    assert "behavior" not in hpa["spec"]
    selector = {"app.kubernetes.io/name": "predictor", "app.kubernetes.io/instance": RELEASE}
    assert one(docs, "PodDisruptionBudget")["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": selector},
    }

    # Service, network
    service = one(docs, "Service")
    assert service["spec"]["selector"] == selector
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {
        "grpc": 50055,
        "metrics": 9106,
    }
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["weather.io/registry-client"] == "true", "admitted by the registry's policy"
    ingress = _predictor_policy(docs, "ingress")
    assert set(ingress) == {50055, 9106}, "TF Serving's port is for localhost only"
    assert {"podSelector": {"matchLabels": {"weather.io/predictor-client": "true"}}} in ingress[
        50055
    ]
    assert ingress[9106] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    egress = _predictor_policy(docs, "egress")
    assert set(egress) == {53, 50051}, "DNS and the registry; archive and models on volumes"
    assert egress[50051] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "registry"}}}
    ]
    assert volumes["archive"]["persistentVolumeClaim"] == {
        "claimName": "rel-preprocess-archive",
        "readOnly": True,
    }
    assert not kinds(docs, "PersistentVolumeClaim") and not kinds(docs, "Secret")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            lambda c: c["tfserving"].update(readinessProbe={"grpc": {"port": 8500}}),
            "container tfserving: readinessProbe must be a tcpSocket probe",
            id="tfserving-grpc-probe",
        ),
        pytest.param(
            lambda c: c["tfserving"]["livenessProbe"].update(tcpSocket={"port": 8501}),
            "container tfserving: livenessProbe port 8501 is not a port of the container",
            id="tfserving-probe-elsewhere",
        ),
        pytest.param(
            lambda c: c["serving-sync"].update(livenessProbe={"tcpSocket": {"port": 1}}),
            "container serving-sync: declared as serving nothing but has a livenessProbe",
            id="sync-probe",
        ),
        pytest.param(
            lambda c: c["predictor"].update(readinessProbe={"tcpSocket": {"port": "grpc"}}),
            "container predictor: readinessProbe must be a native grpc probe",
            id="predictor-not-exempt",
        ),
    ],
)
def test_predictor_sidecar_probes_are_checked(helm: str, mutate: Any, expected: str) -> None:
    docs = _predictor(helm)
    values = effective_values(PREDICTOR, None)
    assert not manifest_problems(docs, values), "the unmutated render must pass"
    mutate(_predictor_pod(docs)[1])
    assert f"Deployment/rel-predictor {expected}" in manifest_problems(docs, values)


@pytest.mark.parametrize("present", [False, True], ids=["absent", "present"])
def test_predictor_init_container_copies_initial_config(
    helm: str, tmp_path: Path, present: bool
) -> None:
    """Runs the init container's script: the ConfigMap's config is copied unless the sync's is there."""
    (init,) = pod_spec(one(_predictor(helm), "Deployment"))["initContainers"]
    shell, flags, script, source, target = init["command"]
    assert (shell, flags) == ("/bin/sh", "-ec")
    src, dst = tmp_path / "configmap" / "models.config", tmp_path / "models" / "models.config"
    src.parent.mkdir()
    dst.parent.mkdir()
    src.write_text("initial")
    if present:
        dst.write_text("written by the sync")
    script = script.replace(target, str(dst)).replace(source, str(src))
    run = subprocess.run(
        [shutil.which("sh") or shell, flags, script, str(src), str(dst)],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert dst.read_text() == ("written by the sync" if present else "initial")
    assert sorted(p.name for p in dst.parent.iterdir()) == ["models.config"], "no partial file"


def test_predictor_object_store_models_and_archive(helm: str) -> None:
    docs = _predictor(helm, "object-store-values.yaml")
    deployment, containers = _predictor_pod(docs)
    predictor, sync = containers["predictor"], containers["serving-sync"]
    env, sync_env = container_env(predictor), container_env(sync)

    assert predictor["envFrom"] == [{"secretRef": {"name": "predictor-archive-s3"}}]
    assert sync["envFrom"] == [{"secretRef": {"name": "predictor-models-s3"}}]
    assert "envFrom" not in containers["tfserving"], "TF Serving reads local copies only"
    assert not kinds(docs, "Secret"), "credentials come from existing Secrets"
    assert not any("AWS" in name for c in containers.values() for name in container_env(c))
    assert env["PREDICTOR_ARCHIVE_URL"] == "s3://weather-archive/archive"
    assert "archive" not in _volumes(deployment) and "/archive" not in _mounts(predictor)
    assert env["PREDICTOR_CANARY_SHARE"] == "0.1" and env["PREDICTOR_MAX_IN_FLIGHT"] == "128"
    assert env["PREDICTOR_DEFAULT_DEADLINE_SECONDS"] == "10"
    assert sync_env["SERVING_SYNC_MODEL_NAMES"] == "temperature,precipitation"
    # ready only once both models serve their default alias
    assert env["PREDICTOR_REQUIRED_MODELS"] == "temperature,precipitation"
    assert sync_env["SERVING_SYNC_REGISTRY_ADDRESS"] == "registry.weather-registry.svc:50051"
    assert sync_env["SERVING_SYNC_RPC_TIMEOUT_SECONDS"] == "15"
    assert sync_env["SERVING_SYNC_LOG_FORMAT"] == "text" and env["PREDICTOR_LOG_FORMAT"] == "text"
    egress = _predictor_policy(docs, "egress")
    assert egress[443] == [{"ipBlock": {"cidr": "10.40.0.0/16"}}]
    assert egress[50051][0]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "weather-registry"}
    }
    assert set(egress) == {53, 443, 50051}


def test_predictor_fixed_replicas_without_hpa(helm: str) -> None:
    docs = _predictor(helm, "fixed-replicas-values.yaml")
    deployment, containers = _predictor_pod(docs)
    tfs = containers["tfserving"]

    assert not kinds(docs, "HorizontalPodAutoscaler")
    assert deployment["spec"]["replicas"] == 3
    assert one(docs, "PodDisruptionBudget")["spec"]["minAvailable"] == 2
    assert _flag(tfs["args"], "rest_api_port") == "8501"
    assert {p["name"]: p["containerPort"] for p in tfs["ports"]} == {
        "tfs-grpc": 8500,
        "tfs-rest": 8501,
    }
    assert _flag(tfs["args"], "enable_batching") is None
    assert _flag(tfs["args"], "batching_parameters_file") is None
    assert _flag(tfs["args"], "model_config_file_poll_wait_seconds") == "0"
    assert tfs["args"][-1] == "--tensorflow_intra_op_parallelism=2", "extraArgs come last"
    assert tfs["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
    env = container_env(containers["predictor"])
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability.svc:4317"
    assert "OTEL_SDK_DISABLED" not in env
    assert set(_predictor_policy(docs, "ingress")) == {50055, 9106}, "REST port stays closed"
    assert 4317 in _predictor_policy(docs, "egress")


def test_predictor_models_on_pvc(helm: str) -> None:
    docs = _predictor(helm, "pvc-models-values.yaml")
    deployment, containers = _predictor_pod(docs)
    volumes = _volumes(deployment)

    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert not kinds(docs, "HorizontalPodAutoscaler") and not kinds(docs, "PodDisruptionBudget")
    pvc = one(docs, "PersistentVolumeClaim")
    assert pvc["metadata"]["name"] == "rel-predictor-models"
    assert pvc["spec"]["storageClassName"] == "standard"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert volumes["models"]["persistentVolumeClaim"] == {"claimName": "rel-predictor-models"}
    config = one(docs, "ConfigMap")["data"]["models.config"]
    assert 'name: "temperature"' in config and 'base_path: "/models/temperature"' in config
    assert 'model_platform: "tensorflow"' in config
    assert volumes["artifacts"]["persistentVolumeClaim"] == {
        "claimName": "model-artifacts",
        "readOnly": True,
    }
    assert _mounts(containers["serving-sync"])["/artifacts"]["readOnly"] is True
    assert "/artifacts" not in _mounts(containers["predictor"])
    assert "/artifacts" not in _mounts(containers["tfserving"])
    assert volumes["archive"]["persistentVolumeClaim"]["claimName"] == "weather-archive"
    assert set(_predictor_policy(docs, "egress")) == {53, 50051}


def test_predictor_helm_test_pod(helm: str) -> None:
    docs = _predictor(helm)
    pod = one(docs, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = pod["spec"]["containers"]
    assert container["command"][-1] == "rel-predictor:50055"
    labels = pod["metadata"]["labels"]
    assert not selects({"matchLabels": one(docs, "Service")["spec"]["selector"]}, labels)
    assert any(
        selects(peer.get("podSelector"), labels)
        for peer in _predictor_policy(docs, "ingress")[50055]
    )


@pytest.mark.parametrize(
    ("sets", "check"),
    [
        pytest.param(
            ("tfserving.image.digest=sha256:" + "b" * 64,),
            lambda d: (
                _predictor_pod(d)[1]["tfserving"]["image"]
                == "tensorflow/serving@sha256:" + "b" * 64
            ),
            id="tfserving-digest",
        ),
        pytest.param(
            ("autoscaling.minReplicas=3", "autoscaling.maxReplicas=10"),
            lambda d: (
                one(d, "HorizontalPodAutoscaler")["spec"]["minReplicas"] == 3
                and one(d, "HorizontalPodAutoscaler")["spec"]["maxReplicas"] == 10
            ),
            id="hpa-bounds",
        ),
        pytest.param(
            ("autoscaling.minReplicas=1",),
            lambda d: not kinds(d, "PodDisruptionBudget"),
            id="hpa-min-one-no-pdb",
        ),
        pytest.param(
            ("autoscaling.enabled=false", "replicaCount=0"),
            lambda d: one(d, "Deployment")["spec"]["replicas"] == 0,
            id="scaled-to-zero",
        ),
        pytest.param(
            ("registry.clientLabel=false",),
            lambda d: (
                "weather.io/registry-client"
                not in one(d, "Deployment")["spec"]["template"]["metadata"]["labels"]
            ),
            id="registry-without-client-label",
        ),
        pytest.param(
            ("models.mountPath=/srv/models",),
            lambda d: (
                _flag(_predictor_pod(d)[1]["tfserving"]["args"], "model_config_file")
                == "/srv/models/models.config"
                and container_env(_predictor_pod(d)[1]["predictor"])["PREDICTOR_MODEL_ROOT"]
                == "/srv/models"
            ),
            id="models-mount-path",
        ),
        pytest.param(
            ("artifacts.objectStore=true",),
            lambda d: _predictor_policy(d, "egress")[443] == [],
            id="artifacts-store-any-destination",
        ),
        pytest.param(
            ("fullnameOverride=" + "x" * 70,),
            lambda d: all(len(doc["metadata"]["name"]) <= 63 for doc in d if doc["kind"] != "Pod"),
            id="long-fullname-truncated",
        ),
    ],
)
def test_predictor_accepts(helm: str, sets: tuple[str, ...], check: Any) -> None:
    assert check(_predictor(helm, None, *sets))


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        pytest.param(("unknownKey=1",), "unknownKey", id="unknown-top-level-key"),
        pytest.param(("tfserving.typo=1",), "typo", id="unknown-tfserving-key"),
        # `--set` leaves 1.5 a string; `--set-json` (the "json:" prefix here) makes it a number.
        pytest.param(("json:config.canaryShare=1.5",), "config.canaryShare", id="canary-above-1"),
        pytest.param(("json:config.canaryShare=-0.1",), "config.canaryShare", id="canary-negative"),
        pytest.param(("replicaCount=-1",), "replicaCount", id="replicas-negative"),
        pytest.param(("autoscaling.minReplicas=0",), "autoscaling.minReplicas", id="hpa-min-0"),
        pytest.param(
            ("autoscaling.minReplicas=5", "autoscaling.maxReplicas=3"),
            "must be at least autoscaling.minReplicas",
            id="hpa-max-below-min",
        ),
        pytest.param(("config.maxInFlight=0",), "config.maxInFlight", id="in-flight-zero"),
        pytest.param(("tfserving.image.tag=",), "tfserving.image.tag", id="tfserving-unpinned"),
        pytest.param(("registry.address=registry",), "registry.address", id="registry-no-port"),
        pytest.param(
            ("models.persistence.enabled=true",),
            "needs a single pod",
            id="pvc-with-hpa",
        ),
        pytest.param(
            ("json:config.canaryShare=0.2", "models.aliases={production}"),
            'needs "canary" in models.aliases',
            id="canary-share-without-canary-alias",
        ),
        pytest.param(
            ("config.defaultAlias=stable",), "config.defaultAlias", id="default-alias-not-served"
        ),
        pytest.param(
            ("models.names={temperature}", "models.initial={wind}"),
            "is not in models.names",
            id="initial-model-not-served",
        ),
        pytest.param(("tfserving.port=50055",), "must differ", id="tfserving-port-clash"),
        pytest.param(("models.mountPath=/tmp",), "models.mountPath", id="models-on-tmp"),
        pytest.param(
            ("archive.url=file:///data",), "archive.url is for object stores", id="file-url"
        ),
        pytest.param(("otel.enabled=true",), "otel.endpoint", id="otel-without-endpoint"),
    ],
)
def test_predictor_rejects(helm: str, sets: tuple[str, ...], message: str) -> None:
    cmd = [helm, "template", RELEASE, str(PREDICTOR), "--namespace", "weather"]
    for item in sets:
        cmd += ["--set-json", item[5:]] if item.startswith("json:") else ["--set", item]
    result = _run(cmd)
    assert result.returncode != 0, f"helm template accepted {sets}"
    assert message in result.stderr, result.stderr
    assert "Invalid type" not in result.stderr, "rejected for its type, not its value"


def test_predictor_accepts_a_canary_share(helm: str) -> None:
    cmd = [helm, "template", RELEASE, str(PREDICTOR), "--set-json", "config.canaryShare=0.25"]
    result = _run(cmd)
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    env = container_env(_predictor_pod(docs)[1]["predictor"])
    assert env["PREDICTOR_CANARY_SHARE"] == "0.25"
