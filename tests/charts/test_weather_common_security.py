"""The weather-common security helpers in every service chart: TLS and mTLS from a mounted
Secret (or a cert-manager Certificate), exec health probes over mTLS, the auth policy, JWKS,
static and client tokens, and the NetworkPolicy flows they add; and in the umbrella, the
global values and the registry's identities for the suite's own callers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.support import (
    PREDICTOR,
    REGISTRY,
    REPO,
    SERVICE_CHARTS,
    TRAINER,
    UMBRELLA,
    container_env,
    effective_values,
    health_probe_port,
    kinds,
    manifest_problems,
    one,
    pod_specs,
    render,
    subchart_of,
    template,
)

TLS_DIR = "/etc/weather/tls"
AUTH_DIR = "/etc/weather/auth"
ROLES = {"reader", "trainer", "operator", "admin"}
# The containers serving gRPC, and those calling other services (with their env prefix).
SERVERS = {c.name: (c.name, f"{c.name.upper()}_") for c in SERVICE_CHARTS}
CLIENTS = {"trainer": ("trainer", "TRAINER_"), "predictor": ("serving-sync", "SERVING_SYNC_")}
SERVER_TLS = ("TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CLIENT_CA_FILE")
CLIENT_TLS = ("CLIENT_CA_FILE", "CLIENT_CERT_FILE", "CLIENT_KEY_FILE")
AUTH_SETS = (
    "auth.jwks.secret=weather-jwks",
    "auth.issuer=https://issuer.example",
    "auth.audience=weather",
    "auth.staticTokensSecret=weather-static-tokens",
)


def _workload(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (workload,) = kinds(docs, "Deployment") + kinds(docs, "StatefulSet")
    return workload


def _containers(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    ((_, spec),) = pod_specs(_workload(docs))
    return {c["name"]: c for c in spec["containers"]}


def _volumes(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    ((_, spec),) = pod_specs(_workload(docs))
    return {v["name"]: v for v in spec["volumes"]}


def _mount(container: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((m for m in container.get("volumeMounts", []) if m["name"] == name), None)


@pytest.mark.parametrize("chart", SERVICE_CHARTS, ids=lambda c: c.name)
def test_tls_on_by_default_from_the_mounted_secret(helm: str, chart: Path) -> None:
    docs = render(helm, chart)
    containers = _containers(docs)
    name, prefix = SERVERS[chart.name]
    server = containers[name]
    env = container_env(server)
    assert {env[prefix + k] for k in SERVER_TLS} == {
        f"{TLS_DIR}/tls.crt",
        f"{TLS_DIR}/tls.key",
        f"{TLS_DIR}/ca.crt",
    }
    assert env[prefix + "TLS_CLIENT_CA_FILE"] == f"{TLS_DIR}/ca.crt", "mTLS by default"
    assert _volumes(docs)["tls"]["secret"]["secretName"] == f"rel-{chart.name}-tls"
    for container in containers.values():
        mount = _mount(container, "tls")
        if mount:
            # subPath mounts never see a rotated Secret
            assert mount == {"name": "tls", "mountPath": TLS_DIR, "readOnly": True}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        command = server[probe]["exec"]["command"]
        assert health_probe_port(server[probe]) == effective_port(chart)
        assert command[command.index("--server-name") + 1] == f"rel-{chart.name}"
    if chart.name in CLIENTS:
        client_name, client_prefix = CLIENTS[chart.name]
        client_env = container_env(containers[client_name])
        assert [client_env[client_prefix + k] for k in CLIENT_TLS] == [
            f"{TLS_DIR}/ca.crt",
            f"{TLS_DIR}/tls.crt",
            f"{TLS_DIR}/tls.key",
        ]
    # The predictor calls TF Serving on 127.0.0.1 in the pod, in plaintext.
    assert not {k for k in env if k.startswith(prefix + "CLIENT_")} or chart.name == "trainer"


def effective_port(chart: Path) -> int:
    values = yaml.safe_load((chart / "values.yaml").read_text())
    return int(values["service"]["ports"]["grpc"])


@pytest.mark.parametrize("chart", SERVICE_CHARTS, ids=lambda c: c.name)
def test_tls_off_means_plaintext_and_native_grpc_probes(helm: str, chart: Path) -> None:
    docs = render(helm, chart, None, "tls.enabled=false")
    assert "tls" not in _volumes(docs)
    for container in _containers(docs).values():
        env = container_env(container)
        assert not [k for k in env if "TLS_" in k or k.endswith(CLIENT_TLS)], container["name"]
    server = _containers(docs)[SERVERS[chart.name][0]]
    assert server["readinessProbe"]["grpc"] == {"port": effective_port(chart)}
    (test_pod,) = kinds(docs, "Pod")
    assert "--ca" not in test_pod["spec"]["containers"][0]["command"]


def test_tls_without_mutual_drops_the_client_ca(helm: str) -> None:
    env = container_env(_containers(render(helm, REGISTRY, None, "tls.mutual=false"))["registry"])
    assert "REGISTRY_TLS_CERT_FILE" in env and "REGISTRY_TLS_CLIENT_CA_FILE" not in env


@pytest.mark.parametrize("chart", SERVICE_CHARTS, ids=lambda c: c.name)
def test_cert_manager_certificate(helm: str, chart: Path) -> None:
    docs = render(
        helm,
        chart,
        None,
        "tls.certManager.enabled=true",
        "tls.certManager.issuerRef.name=weather-ca",
        "tls.certManager.issuerRef.kind=ClusterIssuer",
        "tls.secretName=custom-tls",
    )
    cert = one(docs, "Certificate")
    name = f"rel-{chart.name}"
    assert (
        cert["spec"]["secretName"] == "custom-tls" == _volumes(docs)["tls"]["secret"]["secretName"]
    )
    assert cert["spec"]["dnsNames"] == [
        name,
        f"{name}.weather",
        f"{name}.weather.svc",
        f"{name}.weather.svc.cluster.local",
    ]
    assert {"server auth", "client auth"} <= set(cert["spec"]["usages"])
    assert cert["spec"]["issuerRef"] == {
        "name": "weather-ca",
        "kind": "ClusterIssuer",
        "group": "cert-manager.io",
    }
    assert cert["spec"]["privateKey"]["rotationPolicy"] == "Always"


def test_cert_manager_needs_an_issuer_and_follows_tls(helm: str) -> None:
    result = template(helm, REGISTRY, None, ("tls.certManager.enabled=true",))
    assert result.returncode != 0 and "tls.certManager.issuerRef.name" in result.stderr
    off = render(
        helm,
        REGISTRY,
        None,
        "tls.enabled=false",
        "tls.certManager.enabled=true",
        "tls.certManager.issuerRef.name=ca",
    )
    assert not kinds(off, "Certificate"), "no Certificate without TLS"
    assert not kinds(render(helm, REGISTRY), "Certificate"), "off by default"


def _policy_rules(docs: list[dict[str, Any]], chart: str) -> dict[str, Any]:
    (cm,) = [
        c for c in kinds(docs, "ConfigMap") if c["metadata"]["name"] == f"rel-{chart}-auth-policy"
    ]
    policy: dict[str, Any] = yaml.safe_load(cm["data"]["policy.yaml"])
    return policy


def _proto_methods(chart: str) -> set[str]:
    methods = set()
    for proto in (REPO / "protos" / "weather" / chart).rglob("*.proto"):
        text = proto.read_text()
        package = re.search(r"^package (\S+);", text, re.M)
        assert package
        for service, body in re.findall(r"^service (\w+) \{(.*?)^\}", text, re.M | re.S):
            methods |= {
                f"{package.group(1)}.{service}/{m}" for m in re.findall(r"rpc (\w+)\(", body)
            }
    return methods


@pytest.mark.parametrize("chart", SERVICE_CHARTS, ids=lambda c: c.name)
def test_auth_policy_covers_every_rpc(helm: str, chart: Path) -> None:
    docs = render(helm, chart)
    policy = _policy_rules(docs, chart.name)
    assert set(policy) == {"rules"}, "identities only when auth.identities is set"
    methods = _proto_methods(chart.name)
    assert methods, "no RPC found in the protos"
    assert set(policy["rules"]) == methods, "a rule for every RPC of the service, no other"
    assert set(policy["rules"].values()) <= ROLES
    runtime = REPO / "libs" / "runtime" / "src" / "weather_runtime" / "policy.yaml"
    if runtime.is_file():  # the suite's policy: the chart's file is its slice
        suite = yaml.safe_load(runtime.read_text())["rules"]
        assert {m: suite.get(m) for m in methods} == policy["rules"]
    server_name, prefix = SERVERS[chart.name]
    env = container_env(_containers(docs)[server_name])
    assert env[prefix + "AUTH_POLICY_FILE"] == f"{AUTH_DIR}/policy.yaml"
    assert not {prefix + k for k in ("AUTH_JWKS_FILE", "AUTH_JWT_ISSUER")} & env.keys()
    (source,) = _volumes(docs)["auth"]["projected"]["sources"]
    assert source == {
        "configMap": {
            "name": f"rel-{chart.name}-auth-policy",
            "items": [{"key": "policy.yaml", "path": "policy.yaml"}],
        }
    }


@pytest.mark.parametrize("chart", SERVICE_CHARTS, ids=lambda c: c.name)
def test_auth_credentials_are_mounted_from_named_objects(helm: str, chart: Path) -> None:
    client = ("auth.clientTokenSecret=client-token",) if chart.name in CLIENTS else ()
    docs = render(helm, chart, None, *AUTH_SETS, *client)
    containers = _containers(docs)
    server_name, prefix = SERVERS[chart.name]
    env = container_env(containers[server_name])
    assert {k: env[prefix + k] for k in ("AUTH_JWKS_FILE", "AUTH_STATIC_TOKENS_FILE")} == {
        "AUTH_JWKS_FILE": f"{AUTH_DIR}/jwks.json",
        "AUTH_STATIC_TOKENS_FILE": f"{AUTH_DIR}/static-tokens.yaml",
    }
    assert env[prefix + "AUTH_JWT_ISSUER"] == "https://issuer.example"
    assert env[prefix + "AUTH_JWT_AUDIENCE"] == "weather"
    sources = _volumes(docs)["auth"]["projected"]["sources"]
    secrets = {s["secret"]["name"]: s["secret"]["items"] for s in sources if "secret" in s}
    assert secrets["weather-jwks"] == [{"key": "jwks.json", "path": "jwks.json"}]
    assert secrets["weather-static-tokens"] == [
        {"key": "tokens.yaml", "path": "static-tokens.yaml"}
    ]
    for container in containers.values():
        mount = _mount(container, "auth")
        assert mount is None or mount == {"name": "auth", "mountPath": AUTH_DIR, "readOnly": True}
    if client:
        client_name, client_prefix = CLIENTS[chart.name]
        client_env = container_env(containers[client_name])
        assert client_env[client_prefix + "CLIENT_TOKEN_FILE"] == f"{AUTH_DIR}/client-token"
        assert secrets["client-token"] == [{"key": "token", "path": "client-token"}]


def test_auth_existing_policy_and_jwks_configmap(helm: str) -> None:
    docs = render(
        helm,
        REGISTRY,
        None,
        "auth.policy.existingConfigMap=site-policy",
        "auth.policy.key=registry.yaml",
        "auth.jwks.configMap=site-jwks",
        "auth.jwks.key=keys.json",
        "auth.issuer=https://issuer.example",
    )
    assert not kinds(docs, "ConfigMap"), "the chart's policy is replaced"
    assert _volumes(docs)["auth"]["projected"]["sources"] == [
        {
            "configMap": {
                "name": "site-policy",
                "items": [{"key": "registry.yaml", "path": "policy.yaml"}],
            }
        },
        {"configMap": {"name": "site-jwks", "items": [{"key": "keys.json", "path": "jwks.json"}]}},
    ]


def test_auth_off_leaves_only_the_client_token(helm: str) -> None:
    docs = render(helm, TRAINER, None, "auth.enabled=false", "auth.clientTokenSecret=t")
    env = container_env(_containers(docs)["trainer"])
    assert not [k for k in env if "_AUTH_" in k] and not kinds(docs, "ConfigMap")
    assert env["TRAINER_CLIENT_TOKEN_FILE"] == f"{AUTH_DIR}/client-token"
    assert _volumes(docs)["auth"]["projected"]["sources"] == [
        {"secret": {"name": "t", "items": [{"key": "token", "path": "client-token"}]}}
    ]
    docs = render(helm, REGISTRY, None, "auth.enabled=false")
    assert "auth" not in _volumes(docs) and not kinds(docs, "ConfigMap")


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        pytest.param(
            ("auth.jwks.secret=a", "auth.jwks.configMap=b", "auth.issuer=i"),
            "only one of auth.jwks.configMap and auth.jwks.secret",
            id="jwks-twice",
        ),
        pytest.param(("auth.jwks.secret=a",), "auth.jwks needs auth.issuer", id="jwks-no-issuer"),
        pytest.param(("auth.token=abc",), "token", id="no-literal-token"),
        pytest.param(("auth.identities.x=root",), "identities", id="unknown-role"),
        pytest.param(("tls.certManager.issuerRef.kind=Vault",), "kind", id="issuer-kind"),
    ],
)
def test_security_values_are_checked(helm: str, sets: tuple[str, ...], message: str) -> None:
    result = template(helm, REGISTRY, None, sets)
    assert result.returncode != 0, f"helm template accepted {sets}"
    assert message in result.stderr, result.stderr


@pytest.mark.parametrize("chart", SERVICE_CHARTS, ids=lambda c: c.name)
def test_networkpolicy_dns_weatherctl_and_prometheus(helm: str, chart: Path) -> None:
    docs = render(
        helm,
        chart,
        None,
        "networkPolicy.metrics.podSelector.matchLabels.app\\.kubernetes\\.io/name=prometheus",
    )
    (policy,) = [
        p for p in kinds(docs, "NetworkPolicy") if p["metadata"]["name"] == f"rel-{chart.name}"
    ]
    (dns,) = [r for r in policy["spec"]["egress"] if {"port": 53, "protocol": "UDP"} in r["ports"]]
    assert dns["to"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}
    ]
    grpc, metrics = policy["spec"]["ingress"][:2]
    assert {"podSelector": {"matchLabels": {"weather.io/client": "true"}}} in grpc["from"]
    assert metrics["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
        }
    ]


def test_umbrella_shares_tls_and_auth_and_wires_the_registry_callers(helm: str) -> None:
    docs = render(
        helm,
        UMBRELLA,
        None,
        "global.tls.certManager.enabled=true",
        "global.tls.certManager.issuerRef.name=weather-ca",
        "global.auth.jwks.configMap=weather-jwks",
        "global.auth.issuer=https://issuer.example",
        "global.auth.audience=weather",
    )
    certificates = {c["metadata"]["name"]: c for c in kinds(docs, "Certificate")}
    assert set(certificates) == {f"rel-{c.name}" for c in SERVICE_CHARTS}
    assert {c["spec"]["issuerRef"]["name"] for c in certificates.values()} == {"weather-ca"}
    for chart in SERVICE_CHARTS:
        sub = [d for d in docs if subchart_of(d) == chart.name]
        server_name, prefix = SERVERS[chart.name]
        env = container_env(_containers(sub)[server_name])
        assert env[prefix + "AUTH_JWT_ISSUER"] == "https://issuer.example"
        assert env[prefix + "AUTH_JWT_AUDIENCE"] == "weather"
        assert env[prefix + "AUTH_JWKS_FILE"] == f"{AUTH_DIR}/jwks.json"
    registry = [d for d in docs if subchart_of(d) == "registry"]
    # The trainer and the predictor pods call the registry with their own certificates.
    assert _policy_rules(registry, "registry")["identities"] == {
        "rel-trainer": ["trainer"],
        "rel-predictor": ["reader"],
    }
    assert {"rel-trainer", "rel-predictor"} <= {
        c["spec"]["commonName"] for c in certificates.values()
    }
    sync = container_env(
        _containers([d for d in docs if subchart_of(d) == "predictor"])["serving-sync"]
    )
    assert sync["SERVING_SYNC_REGISTRY_ADDRESS"] == "rel-registry:50051"
    assert sync["SERVING_SYNC_CLIENT_CERT_FILE"] == f"{TLS_DIR}/tls.crt"


def test_predictor_pod_shares_one_auth_volume(helm: str) -> None:
    docs = render(helm, PREDICTOR, None, *AUTH_SETS, "auth.clientTokenSecret=sync-token")
    containers = _containers(docs)
    assert _mount(containers["tfserving"], "tls") is None, "TF Serving reads no certificate"
    assert _mount(containers["predictor"], "auth") and _mount(containers["serving-sync"], "auth")
    assert "PREDICTOR_CLIENT_TOKEN_FILE" not in container_env(containers["predictor"])


@pytest.mark.parametrize("chart", [*SERVICE_CHARTS, UMBRELLA], ids=lambda c: c.name)
def test_readme_documents_the_security_values(chart: Path) -> None:
    readme = (chart / "README.md").read_text()
    assert "docs/security-charts.md" in readme
    keys = ("global.tls.certManager", "global.auth") if chart == UMBRELLA else ("tls.", "auth.")
    assert all(key in readme for key in keys), keys
    assert (REPO / "docs" / "security-charts.md").is_file()


def _security_docs(helm: str) -> list[dict[str, Any]]:
    return render(helm, REGISTRY, REGISTRY / "ci" / "security-values.yaml")


def _policy(docs: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = one(docs, "NetworkPolicy")["spec"]
    return spec


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            lambda d: _policy(d).update(policyTypes=["Ingress"]),
            "NetworkPolicy/rel-registry: policyTypes must be [Ingress, Egress] (default deny)",
            id="no-egress-default-deny",
        ),
        pytest.param(
            lambda d: _policy(d)["ingress"][0].pop("from"),
            "NetworkPolicy/rel-registry ingress[0]: allows every source",
            id="ingress-from-anywhere",
        ),
        pytest.param(
            lambda d: _policy(d)["egress"][0].pop("ports"),
            "NetworkPolicy/rel-registry egress[0]: allows every port",
            id="egress-every-port",
        ),
        pytest.param(
            lambda d: _policy(d).update(podSelector={}),
            "NetworkPolicy/rel-registry: podSelector must name the pods (matchLabels)",
            id="selects-every-pod",
        ),
        pytest.param(
            lambda d: one(d, "Certificate")["spec"].update(usages=["server auth"]),
            "Certificate/rel-registry: usages lack ['client auth']",
            id="certificate-server-only",
        ),
        pytest.param(
            lambda d: one(d, "Certificate")["spec"].update(secretName="elsewhere"),
            "Certificate/rel-registry: secretName 'elsewhere' is mounted by no pod",
            id="certificate-secret-unused",
        ),
        pytest.param(
            lambda d: one(d, "Certificate")["spec"].update(dnsNames=["example.com"]),
            "Certificate/rel-registry: dnsNames name no Service of the release",
            id="certificate-wrong-names",
        ),
        pytest.param(
            lambda d: one(d, "Certificate")["spec"]["issuerRef"].pop("name"),
            "Certificate/rel-registry: issuerRef.name missing",
            id="certificate-no-issuer",
        ),
        pytest.param(
            lambda d: one(d, "Certificate").update(apiVersion="cert-manager.io/v1alpha2"),
            "Certificate/rel-registry: apiVersion must be cert-manager.io/v1",
            id="certificate-old-api",
        ),
    ],
)
def test_networkpolicy_and_certificate_checks_bite(helm: str, mutate: Any, expected: str) -> None:
    docs = _security_docs(helm)
    values = effective_values(REGISTRY, REGISTRY / "ci" / "security-values.yaml")
    assert not manifest_problems(docs, values), "the unmutated render must pass"
    mutate(docs)
    assert expected in manifest_problems(docs, values)


@pytest.mark.parametrize("chart", SERVICE_CHARTS, ids=lambda c: c.name)
def test_otlp_egress_to_the_collector(helm: str, chart: Path) -> None:
    collector = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}}
    }
    sets = ("otel.enabled=true", "otel.endpoint=http://otel-collector.observability.svc:4317")
    for extra, expected in (
        ((), None),
        (
            (
                "networkPolicy.egress.otlpTo[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name=observability",
            ),
            [collector],
        ),
    ):
        docs = render(helm, chart, None, *sets, *extra)
        (policy,) = [
            p for p in kinds(docs, "NetworkPolicy") if p["metadata"]["name"] == f"rel-{chart.name}"
        ]
        (rule,) = [
            r for r in policy["spec"]["egress"] if {"port": 4317, "protocol": "TCP"} in r["ports"]
        ]
        assert rule.get("to") == expected
