"""Every field of every service's settings class can be set from its chart (or is allow-listed
with a reason), and the env a chart renders by default is accepted by those classes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.charts.support import CHARTS_DIR, REPO, render, values_files

# The settings classes, by chart. Read in a child process: importing the services here would
# pull their heavy dependencies (ecCodes, TensorFlow protos) into the chart tests' process.
SETTINGS = {
    "ingest": ["weather_ingest.settings:IngestSettings"],
    "preprocess": ["weather_preprocess.settings:PreprocessSettings"],
    "trainer": ["weather_trainer.settings:TrainerSettings"],
    "registry": ["weather_registry.settings:RegistrySettings"],
    "predictor": [
        "weather_predictor.settings:PredictorSettings",
        "weather_predictor.sync.settings:SyncSettings",
    ],
}

# Values that switch on what the ci/ files leave off, so that every optional variable renders.
ALL_ON = {
    "ingest": (),
    "preprocess": (),
    "trainer": ("auth.clientTokenSecret=trainer-token",),
    "registry": ("config.gateMetrics={rmse}", "config.artifactRoots={s3://models/}"),
    "predictor": ("auth.clientTokenSecret=sync-token",),
}
AUTH_ON = (
    "auth.jwks.configMap=jwks",
    "auth.issuer=https://issuer.example",
    "auth.audience=weather",
    "auth.staticTokensSecret=static-tokens",
)

PREFIXES = {
    "IngestSettings": "INGEST_",
    "PreprocessSettings": "PREPROCESS_",
    "TrainerSettings": "TRAINER_",
    "RegistrySettings": "REGISTRY_",
    "PredictorSettings": "PREDICTOR_",
    "SyncSettings": "SERVING_SYNC_",
}

NO_CALLS = "the service calls no other gRPC service: no client TLS or token to set"
# Variables a chart deliberately does not set, each with the reason.
NOT_CHART_VALUES: dict[str, str] = {
    **{
        f"{prefix}{name}": NO_CALLS
        for prefix in ("INGEST_", "PREPROCESS_", "REGISTRY_")
        for name in ("CLIENT_CA_FILE", "CLIENT_CERT_FILE", "CLIENT_KEY_FILE", "CLIENT_TOKEN_FILE")
    },
    **{
        f"PREDICTOR_{name}": "the predictor calls only TF Serving in its own pod, in plain gRPC on "
        "loopback (TF Serving speaks neither TLS with client certificates nor tokens)"
        for name in ("CLIENT_CA_FILE", "CLIENT_CERT_FILE", "CLIENT_KEY_FILE", "CLIENT_TOKEN_FILE")
    },
}

# One child reads every class: its env prefix and fields, and whether it accepts each env given
# (class -> env), printing {class: [prefix, fields, error or ""]}.
_CHILD = """
import importlib, json, os, sys
envs = json.loads(sys.argv[1])
out = {}
for spec in sys.argv[2:]:
    module, name = spec.split(":")
    cls = getattr(importlib.import_module(module), name)
    error = "" if spec in envs else "no container of its chart renders its env"
    if spec in envs:
        saved = dict(os.environ)
        os.environ.update(envs[spec])
        try:
            cls()
        except Exception as exc:
            error = str(exc)
        os.environ.clear()
        os.environ.update(saved)
    out[spec] = [cls.model_config["env_prefix"], sorted(cls.model_fields), error]
print(json.dumps(out))
"""


def _child(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        check=False,
    )


def _default_envs(helm: str) -> dict[str, dict[str, str]]:
    """Each class's env as its chart renders it by default (every optional feature on; plain
    values only: references to Secrets and the downward API are left out)."""
    envs: dict[str, dict[str, str]] = {}
    for chart, specs in SETTINGS.items():
        docs = render(helm, CHARTS_DIR / chart, None, *AUTH_ON, *ALL_ON[chart])
        for spec in specs:
            prefix = PREFIXES[spec.rsplit(":", 1)[1]]
            for container in _containers(docs):
                entries = {e["name"]: e.get("value") for e in container.get("env") or []}
                if any(name.startswith(prefix) for name in entries):
                    envs[spec] = {
                        k: v
                        for k, v in entries.items()
                        if k.startswith(prefix) and isinstance(v, str)
                    }
                    break
    return envs


@pytest.fixture(scope="module")
def settings_classes(helm: str) -> dict[str, tuple[str, list[str], str]]:
    """class -> (env prefix, fields, the error loading its chart's default env or "")."""
    specs = [spec for specs in SETTINGS.values() for spec in specs]
    result = _child(_CHILD, json.dumps(_default_envs(helm)), *specs)
    assert result.returncode == 0, result.stderr
    return {spec: tuple(found) for spec, found in json.loads(result.stdout).items()}  # type: ignore[misc]


def _containers(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every container (and init container) anywhere in the manifests, embedded ones too."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("containers", "initContainers") and isinstance(value, list):
                    found.extend(c for c in value if isinstance(c, dict))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(docs)
    return found


def _env_names(helm: str, chart: str) -> set[str]:
    """Names of the env entries the chart can render: every ci/ values file, and the defaults
    with every optional feature on."""
    path = CHARTS_DIR / chart
    renders = [render(helm, path, values) for values in values_files(path)]
    renders.append(render(helm, path, None, *AUTH_ON, *ALL_ON[chart]))
    return {
        entry["name"]
        for docs in renders
        for container in _containers(docs)
        for entry in container.get("env") or []
    }


@pytest.mark.parametrize("chart", sorted(SETTINGS))
def test_every_settings_field_can_be_set_from_the_chart(
    helm: str, chart: str, settings_classes: dict[str, tuple[str, list[str], str]]
) -> None:
    rendered = _env_names(helm, chart)
    missing = []
    for spec in SETTINGS[chart]:
        prefix, fields, _ = settings_classes[spec]
        for field in fields:
            variable = f"{prefix}{field}".upper()
            if variable not in rendered and variable not in NOT_CHART_VALUES:
                missing.append(variable)
    assert not missing, (
        f"{chart}: settings no chart value renders (add a documented value, or an entry with "
        f"its reason in NOT_CHART_VALUES): {missing}"
    )


def test_the_allow_list_names_only_real_settings(
    settings_classes: dict[str, tuple[str, list[str], str]],
) -> None:
    known = {
        f"{prefix}{field}".upper()
        for prefix, fields, _ in settings_classes.values()
        for field in fields
    }
    assert not set(NOT_CHART_VALUES) - known


@pytest.mark.parametrize("chart", sorted(SETTINGS))
def test_the_default_env_loads_into_the_settings_classes(
    chart: str, settings_classes: dict[str, tuple[str, list[str], str]]
) -> None:
    """The values' defaults are valid settings: each class accepts the env its container gets."""
    for spec in SETTINGS[chart]:
        error = settings_classes[spec][2]
        assert not error, f"{spec} refused the chart's env: {error}"


# Settings classes no chart runs, with the reason.
NOT_CHARTED = {
    "weather_modelserver.settings:ModelServerSettings": "the predictor chart serves models with "
    "TF Serving (tfserving.*, its own flags); the embedded model server is the local suite's",
}


def test_every_settings_class_of_a_service_is_charted_or_excused() -> None:
    found = set()
    for path in sorted((REPO / "services").glob("*/src/**/settings.py")):
        source = path.relative_to(next(p for p in path.parents if p.name == "src"))
        module = ".".join(source.with_suffix("").parts)
        found |= {
            f"{module}:{name}"
            for name in re.findall(r"^class (\w+Settings)\(", path.read_text(), re.M)
        }
    charted = {spec for specs in SETTINGS.values() for spec in specs}
    assert found == charted | set(NOT_CHARTED)


def test_the_chart_list_covers_every_service_chart() -> None:
    charts = {p.parent.name for p in Path(CHARTS_DIR).glob("*/Chart.yaml")}
    assert charts - {"weather-common", "weather-suite"} == set(SETTINGS)
