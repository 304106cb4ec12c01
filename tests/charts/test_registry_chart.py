"""The registry chart: SQLite on a volume or PostgreSQL from a Secret, its Service, probes,
NetworkPolicy and helm test pod, and the values it rejects."""

from __future__ import annotations

from typing import Any

import pytest

from tests.charts.support import (
    REGISTRY,
    RELEASE,
    container_env,
    health_probe_port,
    kinds,
    mounts_by_path,
    one,
    pod_spec,
    render,
    selects,
    template,
)


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
        # TLS on by default: the health check over mTLS, not the kubelet's gRPC probe
        assert "exec" in container[probe] and health_probe_port(container[probe]) == 50051
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
    assert mounts == {
        "/tmp": "tmp",
        "/data": "data",
        "/etc/weather/tls": "tls",
        "/etc/weather/auth": "auth",
    }
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
        *("--ca", "/etc/weather/tls/ca.crt", "--cert", "/etc/weather/tls/tls.crt"),
        *("--key", "/etc/weather/tls/tls.key", "--server-name", "rel-registry"),
    ]
    assert mounts_by_path(container)["/etc/weather/tls"] == {
        "name": "tls",
        "mountPath": "/etc/weather/tls",
        "readOnly": True,
    }
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


def test_registry_postgresql_url_key_defaults_and_any_destination(helm: str) -> None:
    docs = _registry(helm, "postgresql-no-cidr-values.yaml")
    _, container = _server(docs)
    assert container_env(container)["REGISTRY_DATABASE_URL"] == {
        "secretKeyRef": {"name": "registry-database", "key": "url"}
    }
    assert not kinds(docs, "Secret"), "the chart never creates the database Secret"
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
            ("database.type=postgresql",),
            "needs the database URL from a Secret",
            id="postgresql-without-secret",
        ),
        pytest.param(
            (
                "database.type=postgresql",
                "database.postgresql.url=postgresql://u:p@db:5432/r",
            ),
            "Additional property url is not allowed",
            id="postgresql-url-in-values",
        ),
        pytest.param(("otel.enabled=true",), "otel.endpoint", id="otel-without-endpoint"),
    ],
)
def test_registry_rejects(helm: str, sets: tuple[str, ...], message: str) -> None:
    result = template(helm, REGISTRY, None, sets)
    assert result.returncode != 0, f"helm template accepted {sets}"
    assert message in result.stderr, result.stderr
