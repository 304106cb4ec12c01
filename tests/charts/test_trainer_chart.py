"""The trainer chart: single mode's one Recreate replica, the TF_CONFIG every multiWorker pod
builds from its ordinal, object-store credentials, the artefact root, Dask, and the values it
rejects."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

import pytest

from tests.charts.support import (
    RELEASE,
    TOOL_TIMEOUT,
    TRAINER,
    container_env,
    health_probe_port,
    kinds,
    mounts_by_path,
    one,
    pod_spec,
    render,
    selects,
    template,
    volumes_by_name,
)


def _trainer(helm: str, values: str | None = None, *sets: str) -> list[dict[str, Any]]:
    return render(helm, TRAINER, TRAINER / "ci" / values if values else None, *sets)


def _trainer_workload(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Deployment or StatefulSet of the trainer, and its trainer container."""
    (workload,) = kinds(docs, "Deployment") + kinds(docs, "StatefulSet")
    (container,) = [c for c in pod_spec(workload)["containers"] if c["name"] == "trainer"]
    return workload, container


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
        assert health_probe_port(container[probe]) == 50054
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

    volumes, mounts = volumes_by_name(workload), mounts_by_path(container)
    assert {path: m["name"] for path, m in mounts.items()} == {
        "/tmp": "tmp",
        "/scratch": "scratch",
        "/work": "work",
        "/archive": "archive",
        "/etc/weather/tls": "tls",
        "/etc/weather/auth": "auth",
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
    assert (
        volumes_by_name(workload)["work"]["persistentVolumeClaim"]["claimName"]
        == "rel-trainer-work"
    )
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

    assert env["TRAINER_WORK_ROOT"] == "/artifacts" and "/artifacts" in mounts_by_path(container)
    assert env["TRAINER_REGISTRY_ADDRESS"] == "registry.weather-registry.svc:50051"
    assert labels["weather.io/registry-client"] == "true", "admitted by the registry's policy"
    assert env["TRAINER_DASK_SCHEDULER"] == "tls://dask-scheduler.dask.svc:8786"
    assert "TRAINER_DASK_LOCAL_WORKERS" not in env and "/scratch" not in mounts_by_path(container)
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
    assert "archive" not in volumes_by_name(workload), "no archive volume with an object store"
    assert "/archive" not in mounts_by_path(container)
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
    assert "artifacts-key" not in volumes_by_name(workload)
    assert env["TRAINER_ARCHIVE_URL"] == "file:///archive" and "/archive" in mounts_by_path(
        container
    )
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
    assert "artifacts-key" not in volumes_by_name(workload) and "envFrom" not in container


def test_trainer_artifact_key_file(helm: str) -> None:
    docs = _trainer(
        helm,
        "object-store-values.yaml",
        "artifacts.root=gs://weather-models/trainer",
        "artifacts.credentials.keyFile.existingSecret=trainer-models-gcs-key",
    )
    workload, container = _trainer_workload(docs)
    env = container_env(container)
    volumes, mounts = volumes_by_name(workload), mounts_by_path(container)

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
    volumes, mounts = volumes_by_name(workload), mounts_by_path(container)

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

    assert env["TRAINER_DASK_SCHEDULER"] == "tls://rel-trainer-dask-scheduler.weather.svc:8786"
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
    assert volumes_by_name(workload)["work"]["persistentVolumeClaim"] == {
        "claimName": "model-artifacts"
    }
    assert {d["metadata"]["name"] for d in kinds(docs, "NetworkPolicy")} == {
        "rel-trainer",
        "rel-trainer-dask",
    }


def test_trainer_minimal(helm: str) -> None:
    docs = _trainer(helm, "minimal-values.yaml")
    workload, container = _trainer_workload(docs)
    volumes = volumes_by_name(workload)
    assert volumes["work"] == {"name": "work", "emptyDir": {}}
    assert volumes["archive"] == {"name": "archive", "emptyDir": {}}
    assert container_env(container)["TRAINER_USE_DASK"] == "false"
    assert "/scratch" not in mounts_by_path(container)
    for kind in ("NetworkPolicy", "PodDisruptionBudget", "PersistentVolumeClaim", "DaskCluster"):
        assert not kinds(docs, kind), kind


def test_trainer_helm_test_pod(helm: str) -> None:
    docs = _trainer(helm, None, "training.mode=multiWorker")
    pod = one(docs, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = pod["spec"]["containers"]
    assert container["command"][:4] == [
        "python",
        "-m",
        "weather_runtime.healthcheck",
        "rel-trainer:50054",
    ]
    assert container["command"][-2:] == ["--server-name", "rel-trainer"]
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
    result = template(helm, TRAINER, None, sets)
    assert result.returncode != 0, f"helm template accepted {sets}"
    assert message in result.stderr, result.stderr
