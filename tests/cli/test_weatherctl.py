"""weatherctl over real gRPC: registry commands, `up` starting and stopping, and the main job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import RunningRegistry, start_registry
from tests.registry.helpers import make_artifact
from weather_runtime.tls import ClientTLS
from weatherctl.main import main
from weatherctl.registry_commands import parse_metric_filter


@pytest.fixture
def sqlite_registry(tmp_path: Path):  # type: ignore[no-untyped-def]
    root = tmp_path / "artifacts"
    root.mkdir()
    running = start_registry(f"sqlite:///{tmp_path / 'r.db'}", root)
    yield running
    running.server.stop(1)


def _ctl(registry: RunningRegistry, *args: str) -> int:
    return main(["--registry", f"127.0.0.1:{registry.port}", "--actor", "alice", *args])


def test_registry_round_trip_from_the_command_line(
    sqlite_registry: RunningRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    artifact = make_artifact(sqlite_registry.artifact_root, "v1")
    metrics = tmp_path / "metrics.json"
    metrics.write_text(
        json.dumps(
            [
                {
                    "name": "rmse",
                    "variable": "t2m",
                    "lead_hours": 6,
                    "value": 1.2,
                    "baselines": {"persistence": 2.7, "climatology": 1.8},
                },
                {
                    "name": "acc",
                    "variable": "t2m",
                    "lead_hours": 6,
                    "value": 0.9,
                    "goal": "maximize",
                    "baselines": {"persistence": 0.7},
                },
            ]
        )
    )
    assert _ctl(sqlite_registry, "registry", "models", "create", "t2m", "--tag", "team=a") == 0
    assert json.loads(capsys.readouterr().out)["model"]["tags"] == {"team": "a"}
    assert (
        _ctl(
            sqlite_registry,
            "registry",
            "versions",
            "create",
            "t2m",
            "--artifact",
            str(artifact),
            "--metrics",
            str(metrics),
            "--job-id",
            "job-1",
        )
        == 0
    )
    created = json.loads(capsys.readouterr().out)
    assert created["version"]["version"] == "1"
    assert created["version"]["created_by"] == "alice"
    assert _ctl(sqlite_registry, "registry", "alias", "set", "t2m", "production", "1") == 0
    out = capsys.readouterr().out
    assert "t2m@production: - -> 1 by alice" in out
    assert "skill" in out and "FAIL" not in out
    assert _ctl(sqlite_registry, "registry", "verify", "t2m", "1") == 0
    assert capsys.readouterr().out.startswith("VERIFY_RESULT_MATCH")
    assert _ctl(sqlite_registry, "registry", "versions", "list", "--metric", "rmse:t2m:6h<1.5") == 0
    assert "production" in capsys.readouterr().out
    assert _ctl(sqlite_registry, "registry", "alias", "history", "t2m") == 0
    assert "alice" in capsys.readouterr().out
    # a gRPC error becomes one clear line and exit code 1
    assert _ctl(sqlite_registry, "registry", "models", "get", "missing") == 1
    assert capsys.readouterr().err.strip() == "weatherctl: NOT_FOUND: model 'missing' not found"


def test_metric_filter_syntax() -> None:
    parsed = parse_metric_filter("rmse:t2m:24h<=1.5")
    assert (parsed.name, parsed.variable, parsed.lead_time.seconds, parsed.threshold) == (
        "rmse",
        "t2m",
        86400,
        1.5,
    )
    assert parse_metric_filter("acc>0.6").variable == ""
    with pytest.raises(SystemExit):
        parse_metric_filter("rmse~1")


def test_up_starts_the_suite_and_stops_it_cleanly_on_sigterm(tmp_path: Path) -> None:
    from weatherctl.launcher import free_port

    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "weatherctl",
            "up",
            "--data-dir",
            str(tmp_path),
            "--registry-port",
            str(port),
            # 0: a free port each, so a suite already running here (or anything on the
            # default ports) cannot make this one fail to start
            *(
                f"--{name}-port=0"
                for name in ("ingest", "preprocess", "trainer", "modelserver", "predictor")
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 240  # seven services, two of them load TensorFlow
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if "suite is up" in line or not line:
            break
    assert any(f"127.0.0.1:{port}" in line for line in lines), lines
    # the addresses file `weatherctl pipeline run --suite` reads, there while the suite runs
    addresses = json.loads((tmp_path / "suite.json").read_text())
    assert addresses["services"]["registry"] == f"127.0.0.1:{port}"
    assert addresses["archive_url"] == str(tmp_path / "archive")
    # the suite runs with mTLS: weatherctl's certificate from the suite's own CA gets in
    tls = ClientTLS.from_files(**addresses["tls"])
    with grpc.secure_channel(f"127.0.0.1:{port}", tls.credentials()) as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:  # plaintext is refused
        health = health_pb2_grpc.HealthStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            health.Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "registry exit 0" in rest
    assert (tmp_path / "registry" / "registry.db").exists()
    assert not (tmp_path / "suite.json").exists()
    with (
        grpc.insecure_channel(f"127.0.0.1:{port}") as channel,
        pytest.raises(grpc.FutureTimeoutError),
    ):
        grpc.channel_ready_future(channel).result(timeout=1)


@pytest.mark.timeout(1500)
def test_the_main_job_runs_and_stops_everything(tmp_path: Path) -> None:
    env = {**os.environ, "OTEL_SDK_DISABLED": "true"}
    done = subprocess.run(
        [sys.executable, "-m", "weatherctl", "demo", "--data-dir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=1200,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # every lead +1..+72 h a direct forecast, beating both references (the gate judges them all)
    assert "cnn beats the better of persistence and climatology at every lead\n" in done.stdout
    assert "ridge beats the better of persistence and climatology at every lead\n" in done.stdout
    assert "registered era5-t2m-forecast v1" in done.stdout
    assert "registered era5-t2m-forecast v2" in done.stdout
    assert "promoted v1 (cnn) to production" in done.stdout
    assert "integrity of v1: VERIFY_RESULT_MATCH" in done.stdout
    assert "suite stopped cleanly" in done.stdout
    for name in ("modelserver", "serving-sync", "predictor"):
        assert f"  {name} " in done.stdout, f"{name} was not started"
    assert "production is v1 on the model server" in done.stdout
    assert "provenance of every response: era5-t2m-forecast v1 (production)" in done.stdout
    table = done.stdout.split("forecast skill of era5-t2m-forecast v1 served", 1)[1]
    header, _rule, *rows = table.splitlines()[1:]
    assert header.split() == [
        "var",
        "lead",
        "method",
        "inits",
        "served",
        "registered",
        "diff",
        "persist.",
        "clim.",
        "skill",
    ]
    leads = []
    for row in rows:
        if not row.startswith("t2m "):
            break
        cells = row.split()
        leads.append(cells[1] + cells[2])
        assert cells[3] == "direct", row
        served, registered = float(cells[5]), float(cells[6])
        assert abs(served / registered - 1) <= 0.01, row
    assert leads == [f"+{hour}h" for hour in range(1, 73)]
    assert "agrees with the registered RMSE within 1% at all 72 leads" in done.stdout
    # services get their folders through the environment, Dask workers on the command line
    assert _processes_mentioning(str(tmp_path)) == [], "the main job left processes running"


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes whose command line or environment contains text (read
    from /proc; the environment of other users' processes is not readable and is skipped)."""
    found = []
    for folder in Path("/proc").glob("[0-9]*"):
        try:
            args = (folder / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        try:
            environment = (folder / "environ").read_bytes()
        except OSError:
            environment = b""
        if text.encode() in args or text.encode() in environment:
            found.append(args.decode(errors="replace"))
    return found
