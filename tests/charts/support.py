"""Shared machinery of the chart tests (tests/charts/test_*.py): where the charts and tools
are, rendering (helm template), the Kubernetes schema check (kubernetes-validate) and the
platform's invariants over rendered manifests.

Every chart directory (charts/<name>/Chart.yaml) is picked up. Application charts (the
service charts and the weather-suite umbrella) are linted, rendered with every values file
in their ci/ folder (or their defaults when they have none), validated against the
Kubernetes OpenAPI schemas and checked for the platform's invariants: Pod Security Standard
"restricted", explicit resources, gRPC health probes (native, or with TLS the
weather_runtime.healthcheck exec probe over mTLS; except the sidecars in NON_GRPC_CONTAINERS),
no service-account token, a default-deny NetworkPolicy when enabled with port-scoped rules,
well-formed ServiceMonitors and cert-manager Certificates. The weather-common library chart is
linted only (it renders nothing).

kubernetes-validate has no schema for custom resources and only warns about them. A kind it
finds no schema for fails the schema test unless it is in SCHEMALESS_KINDS, which names the
built-in objects embedded in it (a DaskCluster's scheduler and worker pod specs and scheduler
Service); those are validated in its place, and its pod specs get the same security checks.
A ServiceMonitor or Certificate embeds no built-in object: servicemonitor_problems and
certificate_problems check their structure.

Tools: helm from $HELM or <repo>/.tools/bin/helm (tools/install_tools.sh),
kubernetes-validate and yamllint from <repo>/.venv/bin or PATH. A missing tool skips the
tests that need it, except under CI (env CI set), where it fails them (see conftest.py).
"""

from __future__ import annotations

import functools
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

LIBRARY_NAME = "weather-common"
UMBRELLA_NAME = "weather-suite"


def chart_type(chart: Path) -> str:
    return str(yaml.safe_load((chart / "Chart.yaml").read_text()).get("type", "application"))


CHARTS = sorted(p.parent for p in CHARTS_DIR.glob("*/Chart.yaml"))
# Charts that render (helm refuses to template a library chart).
APP_CHARTS = [c for c in CHARTS if chart_type(c) == "application"]
LIBRARY = CHARTS_DIR / LIBRARY_NAME
UMBRELLA = CHARTS_DIR / UMBRELLA_NAME
# The charts of one service each, which the umbrella installs.
SERVICE_CHARTS = [c for c in APP_CHARTS if c != UMBRELLA]


def values_files(chart: Path) -> list[Path | None]:
    """The chart's ci/*.yaml, or [None] (its defaults) when it has none."""
    return [*sorted((chart / "ci").glob("*.yaml"))] or [None]


CASES = [
    pytest.param(chart, values, id=f"{chart.name}/{values.stem if values else 'defaults'}")
    for chart in APP_CHARTS
    for values in values_files(chart)
]
REGISTRY = CHARTS_DIR / "registry"
INGEST = CHARTS_DIR / "ingest"
INGEST_OPERATOR_VALUES = INGEST / "ci" / "operator-values.yaml"  # renders a DaskCluster
PREPROCESS = CHARTS_DIR / "preprocess"
TRAINER = CHARTS_DIR / "trainer"
PREDICTOR = CHARTS_DIR / "predictor"

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
    # Prometheus operator: embeds no built-in object; servicemonitor_problems checks it.
    "ServiceMonitor": (),
    # cert-manager: embeds no built-in object; certificate_problems checks it.
    "Certificate": (),
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


def missing_tool(what: str, hint: str) -> NoReturn:
    reason = f"{what} not found ({hint})"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def find_executable(*candidates: str | Path | None) -> str | None:
    for candidate in candidates:
        if not candidate:
            continue
        found = shutil.which(str(candidate))
        if found:
            return found
    return None


# --- rendering


def run_tool(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=False)


@functools.cache
def template(
    helm: str, chart: Path, values: Path | None = None, sets: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    cmd = [helm, "template", RELEASE, str(chart), "--namespace", "weather"]
    if values is not None:
        cmd += ["-f", str(values)]
    for item in sets:
        cmd += ["--set", item]
    return run_tool(cmd)


def render(helm: str, chart: Path, values: Path | None = None, *sets: str) -> list[dict[str, Any]]:
    """Rendered manifests of a chart; fails the test when rendering fails."""
    result = template(helm, chart, values, tuple(sets))
    assert result.returncode == 0, f"helm template failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


# --- helpers


def dig(obj: Any, *path: str, default: Any = None) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return default
        obj = obj[key]
    return obj


def merge_values(base: Any, override: Any) -> Any:
    """Helm-style values merge: maps merge recursively, null deletes, anything else replaces."""
    if not (isinstance(base, dict) and isinstance(override, dict)):
        return override
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_values(base.get(key), value) if key in base else value
    return merged


def effective_values(chart: Path, values: Path | None) -> dict[str, Any]:
    merged = yaml.safe_load((chart / "values.yaml").read_text()) or {}
    if values is not None:
        merged = merge_values(merged, yaml.safe_load(values.read_text()) or {})
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
        (f"{where} {'.'.join(path)}" if len(paths) > 1 else where, dig(doc, *path, default={}))
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
            spec = dig(doc, *path)
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


def kubeversion_floor(chart: Path) -> str | None:
    constraint = str(yaml.safe_load((chart / "Chart.yaml").read_text()).get("kubeVersion", ""))
    m = re.match(r"\s*>=?\s*v?(\d+)\.(\d+)", constraint)
    return f"{m.group(1)}.{m.group(2)}.0" if m else None


def volumes_by_name(workload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in pod_spec(workload)["volumes"]}


def mounts_by_path(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["mountPath"]: m for m in container["volumeMounts"]}


# --- invariants


def _pod_level_problems(where: str, spec: dict[str, Any]) -> list[str]:
    problems = []
    if spec.get("automountServiceAccountToken") is not False:
        problems.append(f"{where}: automountServiceAccountToken must be false")
    if spec.get("enableServiceLinks") is not False:
        problems.append(f"{where}: enableServiceLinks must be false")
    problems += [f"{where}: {key} is not allowed" for key in HOST_NAMESPACES if spec.get(key)]
    if dig(spec, "securityContext", "runAsNonRoot") is not True:
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
        "capabilities.drop must contain ALL": "ALL" in (dig(sc, "capabilities", "drop") or []),
        "only NET_BIND_SERVICE may be added": not (
            set(dig(sc, "capabilities", "add") or []) - {"NET_BIND_SERVICE"}
        ),
        "must not run privileged or as root": not (
            sc.get("privileged") or sc.get("runAsNonRoot") is False or sc.get("runAsUser") == 0
        ),
        "seccompProfile must be RuntimeDefault (pod or container)": dig(
            sc, "seccompProfile", "type", default=pod_seccomp
        )
        in ("RuntimeDefault", "Localhost"),
    }
    for section in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            checks[f"resources.{section}.{resource} missing"] = bool(
                dig(container, "resources", section, resource)
            )
    return [f"{where}: {message}" for message, ok in checks.items() if not ok]


HEALTHCHECK = ["python", "-m", "weather_runtime.healthcheck"]
HEALTHCHECK_TLS_ARGS = ("--ca", "--cert", "--key", "--server-name")


def health_probe_port(probe: dict[str, Any] | None) -> int | None:
    """The port a gRPC health probe checks: a native grpc probe's, or that of the exec probe
    running weather_runtime.healthcheck on 127.0.0.1:<port> over TLS (the kubelet's gRPC probe
    cannot present a client certificate). None for any other probe."""
    port = dig(probe, "grpc", "port")
    if port is not None:
        return int(port)
    command = dig(probe, "exec", "command") or []
    if command[:3] != HEALTHCHECK or len(command) < 4:
        return None
    host, _, number = str(command[3]).rpartition(":")
    if host != "127.0.0.1" or not number.isdigit():
        return None
    if not all(flag in command[4:] for flag in HEALTHCHECK_TLS_ARGS):
        return None
    return int(number)


def _server_problems(where: str, container: dict[str, Any], grace: int) -> list[str]:
    """Long-running gRPC servers: native gRPC probes (exec health checks over TLS), and a pod
    grace above the server's."""
    problems = []
    grpc_ports = {p["containerPort"] for p in container.get("ports", []) if p.get("name") == "grpc"}
    for probe in ("readinessProbe", "livenessProbe"):
        port = health_probe_port(container.get(probe))
        if port is None:
            # (or the weather_runtime.healthcheck exec probe over TLS)
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
        port = dig(container, probe, probe_kind, "port")
        if port is None:
            problems.append(f"{where}: {probe} must be a {probe_kind} probe")
        elif port not in ports:
            problems.append(f"{where}: {probe} port {port} is not a port of the container")
    return problems


def pod_problems(doc: dict[str, Any]) -> list[str]:
    problems = []
    for where, spec in pod_specs(doc):
        problems += _pod_level_problems(where, spec)
        pod_seccomp = dig(spec, "securityContext", "seccompProfile", "type")
        for c in spec.get("initContainers", []) + spec.get("containers", []):
            problems += _container_problems(f"{where} container {c.get('name')}", c, pod_seccomp)
        if doc["kind"] in LONG_RUNNING:
            grace = spec.get("terminationGracePeriodSeconds", 30)
            app = dig(doc, "metadata", "labels", "app.kubernetes.io/name", default="")
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
        pod_labels = dig(w, "spec", "template", "metadata", "labels", default={})
        if not any(selects(dig(c, *SELECTOR_PATH[c["kind"]]), pod_labels) for c in covers):
            problems.append(f"{w['kind']}/{w['metadata']['name']}: no {what} selects its pods")
    return problems


def networkpolicy_problems(docs: list[dict[str, Any]]) -> list[str]:
    """Each NetworkPolicy denies by default in both directions (policyTypes Ingress and
    Egress) and allows only port-scoped flows (any port only between named pods of the
    namespace), ingress from named peers."""
    problems = []
    for policy in kinds(docs, "NetworkPolicy"):
        where = f"NetworkPolicy/{policy['metadata']['name']}"
        spec = policy.get("spec") or {}
        if sorted(spec.get("policyTypes") or []) != ["Egress", "Ingress"]:
            problems.append(f"{where}: policyTypes must be [Ingress, Egress] (default deny)")
        if not dig(spec, "podSelector", "matchLabels"):
            problems.append(f"{where}: podSelector must name the pods (matchLabels)")
        for direction, peers in (("ingress", "from"), ("egress", "to")):
            for i, rule in enumerate(spec.get(direction) or []):
                # Any port only between named pods of the namespace (a Dask cluster's own).
                named_pods = rule.get(peers) and all(
                    set(peer) == {"podSelector"} and dig(peer, "podSelector", "matchLabels")
                    for peer in rule[peers]
                )
                if not rule.get("ports") and not named_pods:
                    problems.append(f"{where} {direction}[{i}]: allows every port")
                if direction == "ingress" and not rule.get(peers):
                    problems.append(f"{where} ingress[{i}]: allows every source")
    return problems


def certificate_problems(docs: list[dict[str, Any]]) -> list[str]:
    """Each cert-manager Certificate: cert-manager.io/v1, fills a Secret some pod of the render
    mounts, names the render's Services it is for, serves both ends of mTLS (server auth and
    client auth) and names its issuer."""
    problems = []
    mounted = {
        v["secret"]["secretName"]
        for d in docs
        if d.get("kind") in POD_SPEC_PATHS
        for _, spec in pod_specs(d)
        for v in spec.get("volumes", [])
        if "secret" in v
    }
    services = {s["metadata"]["name"] for s in kinds(docs, "Service")}
    for cert in kinds(docs, "Certificate"):
        where = f"Certificate/{cert['metadata']['name']}"
        spec = cert.get("spec") or {}
        if cert.get("apiVersion") != "cert-manager.io/v1":
            problems.append(f"{where}: apiVersion must be cert-manager.io/v1")
        if spec.get("secretName") not in mounted:
            problems.append(f"{where}: secretName {spec.get('secretName')!r} is mounted by no pod")
        if not services & set(spec.get("dnsNames") or []):
            problems.append(f"{where}: dnsNames name no Service of the release")
        missing = {"server auth", "client auth"} - set(spec.get("usages") or [])
        if missing:
            problems.append(f"{where}: usages lack {sorted(missing)}")
        if not dig(spec, "issuerRef", "name"):
            problems.append(f"{where}: issuerRef.name missing")
    return problems


def manifest_problems(docs: list[dict[str, Any]], values: dict[str, Any]) -> list[str]:
    problems = [problem for doc in docs for problem in _doc_problems(doc)]
    problems += servicemonitor_problems(docs)
    problems += networkpolicy_problems(docs)
    problems += certificate_problems(docs)
    workloads = [d for d in docs if d["kind"] in LONG_RUNNING]
    policies = kinds(docs, "NetworkPolicy")
    if dig(values, "networkPolicy", "enabled"):
        problems += _uncovered(workloads, policies, "NetworkPolicy (networkPolicy.enabled)")
    elif "networkPolicy" in values and policies:
        problems.append("networkPolicy.enabled is false but a NetworkPolicy was rendered")
    if dig(values, "pdb", "enabled") and int(values.get("replicaCount", 1)) > 1:
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
        run = run_tool(cmd)
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


# --- ServiceMonitor (monitoring.coreos.com/v1): no schema in kubernetes-validate

SERVICEMONITOR_SPEC_KEYS = {
    "jobLabel",
    "targetLabels",
    "podTargetLabels",
    "selector",
    "namespaceSelector",
    "endpoints",
    "sampleLimit",
}
SERVICEMONITOR_ENDPOINT_KEYS = {
    "port",
    "path",
    "scheme",
    "interval",
    "scrapeTimeout",
    "honorLabels",
    "relabelings",
    "metricRelabelings",
}
DURATION = re.compile(r"^(?:[0-9]+(?:ms|s|m|h))+$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def duration_seconds(duration: str) -> float:
    return sum(
        int(n) * _UNIT_SECONDS[unit] for n, unit in re.findall(r"([0-9]+)(ms|s|m|h)", duration)
    )


def _endpoint_problems(at: str, endpoint: dict[str, Any], ports: set[Any]) -> list[str]:
    problems = [
        f"{at}: unknown field {k}" for k in sorted(set(endpoint) - SERVICEMONITOR_ENDPOINT_KEYS)
    ]
    if endpoint.get("port") not in ports:
        problems.append(f"{at}: port {endpoint.get('port')!r} is no port of the selected Services")
    if not str(endpoint.get("path", "/metrics")).startswith("/"):
        problems.append(f"{at}: path must be absolute")
    if endpoint.get("scheme", "http") not in ("http", "https"):
        problems.append(f"{at}: scheme must be http or https")
    durations = {k: str(endpoint[k]) for k in ("interval", "scrapeTimeout") if k in endpoint}
    bad = [k for k, v in durations.items() if not DURATION.match(v)]
    problems += [f"{at}: {k} {durations[k]!r} is not a Prometheus duration" for k in bad]
    if (
        not bad
        and len(durations) == 2
        and duration_seconds(durations["scrapeTimeout"]) > duration_seconds(durations["interval"])
    ):
        problems.append(f"{at}: scrapeTimeout exceeds interval")
    return problems


def servicemonitor_problems(docs: list[dict[str, Any]], namespace: str = "weather") -> list[str]:
    """Each ServiceMonitor: the operator's API version and known fields, a non-empty selector
    that picks Services of the same render, in the release's namespace, and endpoints that name
    a port of those Services, scrape an absolute path and carry valid durations."""
    problems = []
    services = kinds(docs, "Service")
    for monitor in kinds(docs, "ServiceMonitor"):
        where = f"ServiceMonitor/{monitor['metadata']['name']}"
        if monitor.get("apiVersion") != "monitoring.coreos.com/v1":
            problems.append(f"{where}: apiVersion must be monitoring.coreos.com/v1")
        spec = monitor.get("spec") or {}
        problems += [
            f"{where}: unknown field spec.{k}" for k in sorted(set(spec) - SERVICEMONITOR_SPEC_KEYS)
        ]
        selector = spec.get("selector") or {}
        if not selector.get("matchLabels"):
            problems.append(
                f"{where}: spec.selector.matchLabels is empty (it would select every Service)"
            )
        if dig(spec, "namespaceSelector", "matchNames") != [namespace]:
            problems.append(f"{where}: spec.namespaceSelector.matchNames must be [{namespace}]")
        selected = [s for s in services if selects(selector, s["metadata"].get("labels") or {})]
        if not selected:
            problems.append(f"{where}: spec.selector selects no Service")
        ports = {p.get("name") for s in selected for p in s["spec"].get("ports", [])}
        endpoints = spec.get("endpoints") or []
        if not endpoints:
            problems.append(f"{where}: no endpoints")
        for i, endpoint in enumerate(endpoints):
            problems += _endpoint_problems(f"{where} endpoints[{i}]", endpoint, ports)
    return problems


# --- the umbrella: each service's resources are checked with that service's values


def subchart_of(doc: dict[str, Any]) -> str:
    """The chart a rendered object comes from, by its helm.sh/chart label (<name>-<version>)."""
    label = dig(doc, "metadata", "labels", "helm.sh/chart", default="")
    return str(label).rsplit("-", 1)[0]


def chart_problems(chart: Path, values: Path | None, docs: list[dict[str, Any]]) -> list[str]:
    """manifest_problems of a render; for the umbrella, per service chart with the values that
    chart sees (its values.yaml under the umbrella's <name> section)."""
    merged = effective_values(chart, values)
    if chart != UMBRELLA:
        return manifest_problems(docs, merged)
    problems = []
    for sub in sorted({subchart_of(d) for d in docs}):
        sub_docs = [d for d in docs if subchart_of(d) == sub]
        sub_chart = CHARTS_DIR / sub
        sub_values = {}
        if sub_chart in SERVICE_CHARTS:
            sub_values = merge_values(effective_values(sub_chart, None), merged.get(sub) or {})
        problems += manifest_problems(sub_docs, sub_values)
    return problems


# --- the library chart's helpers

DEFINE = re.compile(r"\{\{-?\s*define\s+\"([^\"]+)\"")


def defined_templates(chart: Path) -> set[str]:
    """Names of the named templates ({{ define }}) in a chart's own templates/ folder."""
    return {
        name
        for path in (chart / "templates").rglob("*")
        if path.is_file()
        for name in DEFINE.findall(path.read_text())
    }


def redefined_common_helpers(chart: Path) -> list[str]:
    """The chart's named templates that define a helper the library chart has (same name after
    the chart prefix, e.g. registry.fullname for weather-common.fullname)."""
    common = {name.split(".", 1)[-1] for name in defined_templates(LIBRARY)}
    return sorted(n for n in defined_templates(chart) if n.split(".", 1)[-1] in common)
