"""The predictor chart: its three containers (predictor, the TF Serving model server, the
serving sync), TF Serving's model config from the ConfigMap-fed volume, the
HorizontalPodAutoscaler, object stores, and the values it rejects."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.support import (
    CASES,
    CHARTS,
    PREDICTOR,
    RELEASE,
    TOOL_TIMEOUT,
    container_env,
    effective_values,
    health_probe_port,
    kinds,
    manifest_problems,
    mounts_by_path,
    one,
    pod_spec,
    render,
    run_tool,
    selects,
    volumes_by_name,
)

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
    volumes = volumes_by_name(deployment)

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
    (configmap,) = [c for c in kinds(docs, "ConfigMap") if c["data"].get("models.config")]
    assert volumes["tfserving-config"]["configMap"]["name"] == configmap["metadata"]["name"]
    assert configmap["data"]["models.config"].split() == ["model_config_list", "{", "}"]
    assert "max_batch_size { value: 32 }" in configmap["data"]["batching.config"]
    (init,) = spec["initContainers"]
    assert init["image"] == PREDICTOR_IMAGE
    assert init["command"][-2:] == ["/etc/tfserving/models.config", "/models/models.config"]
    assert mounts_by_path(init)["/etc/tfserving"] == {
        "name": "tfserving-config",
        "mountPath": "/etc/tfserving",
        "readOnly": True,
    }
    assert (
        mounts_by_path(init)["/models"]["name"] == "models"
        and "readOnly" not in mounts_by_path(init)["/models"]
    )
    assert mounts_by_path(tfs)["/etc/tfserving"]["name"] == "tfserving-config"
    assert mounts_by_path(tfs)["/models"] == {
        "name": "models",
        "mountPath": "/models",
        "readOnly": True,
    }
    assert volumes["models"] == {"name": "models", "emptyDir": {"sizeLimit": "10Gi"}}
    assert "checksum/tfserving-config" in deployment["spec"]["template"]["metadata"]["annotations"]

    # the sync writes the serving base; the predictor reads it
    assert "readOnly" not in mounts_by_path(sync)["/models"]
    assert mounts_by_path(predictor)["/models"]["readOnly"] is True
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
        "SERVING_SYNC_MODEL_SERVER_PLAINTEXT": "true",  # TF Serving on loopback: no TLS
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
        # the sync's pacing (sync.*, the service's defaults)
        "SERVING_SYNC_BACKOFF_INITIAL_SECONDS": "0.5",
        "SERVING_SYNC_BACKOFF_MAX_SECONDS": "30",
        "SERVING_SYNC_STATUS_POLL_SECONDS": "0.2",
        "SERVING_SYNC_UNLOAD_POLL_SECONDS": "5",
        "SERVING_SYNC_LOG_LEVEL": "INFO",
        "SERVING_SYNC_LOG_FORMAT": "json",
        "HOME": "/tmp",
        # mTLS to the registry (and the model server) with the pod's certificate
        "SERVING_SYNC_CLIENT_CA_FILE": "/etc/weather/tls/ca.crt",
        "SERVING_SYNC_CLIENT_CERT_FILE": "/etc/weather/tls/tls.crt",
        "SERVING_SYNC_CLIENT_KEY_FILE": "/etc/weather/tls/tls.key",
        # the sync is traced like the other services (weather-common.otelEnv): off by default
        "OTEL_SDK_DISABLED": "true",
    }
    for c in containers.values():
        assert "envFrom" not in c, "no credentials Secret by default"

    # probes: gRPC health (over mTLS) on the predictor, TCP on TF Serving, none on the sync
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert health_probe_port(predictor[probe]) == 50055
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
    tmp = {name: mounts_by_path(c)["/tmp"]["name"] for name, c in containers.items()}
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
    assert "archive" not in volumes_by_name(deployment) and "/archive" not in mounts_by_path(
        predictor
    )
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
    volumes = volumes_by_name(deployment)

    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert not kinds(docs, "HorizontalPodAutoscaler") and not kinds(docs, "PodDisruptionBudget")
    pvc = one(docs, "PersistentVolumeClaim")
    assert pvc["metadata"]["name"] == "rel-predictor-models"
    assert pvc["spec"]["storageClassName"] == "standard"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert volumes["models"]["persistentVolumeClaim"] == {"claimName": "rel-predictor-models"}
    (config,) = [
        c["data"]["models.config"] for c in kinds(docs, "ConfigMap") if "models.config" in c["data"]
    ]
    assert 'name: "temperature"' in config and 'base_path: "/models/temperature"' in config
    assert 'model_platform: "tensorflow"' in config
    assert volumes["artifacts"]["persistentVolumeClaim"] == {
        "claimName": "model-artifacts",
        "readOnly": True,
    }
    assert mounts_by_path(containers["serving-sync"])["/artifacts"]["readOnly"] is True
    assert "/artifacts" not in mounts_by_path(containers["predictor"])
    assert "/artifacts" not in mounts_by_path(containers["tfserving"])
    assert volumes["archive"]["persistentVolumeClaim"]["claimName"] == "weather-archive"
    assert set(_predictor_policy(docs, "egress")) == {53, 50051}


def test_predictor_helm_test_pod(helm: str) -> None:
    docs = _predictor(helm)
    pod = one(docs, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = pod["spec"]["containers"]
    assert container["command"][3] == "rel-predictor:50055"
    assert container["command"][-2:] == ["--server-name", "rel-predictor"]
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
    result = run_tool(cmd)
    assert result.returncode != 0, f"helm template accepted {sets}"
    assert message in result.stderr, result.stderr
    assert "Invalid type" not in result.stderr, "rejected for its type, not its value"


def test_predictor_accepts_a_canary_share(helm: str) -> None:
    cmd = [helm, "template", RELEASE, str(PREDICTOR), "--set-json", "config.canaryShare=0.25"]
    result = run_tool(cmd)
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    env = container_env(_predictor_pod(docs)[1]["predictor"])
    assert env["PREDICTOR_CANARY_SHARE"] == "0.25"
