"""kill -9 of a registry process mid-write loses no acknowledged version and duplicates none."""

from __future__ import annotations

import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest
from weather.common.v1 import pagination_pb2
from weather.registry.v1 import registry_service_pb2 as pb
from weather.registry.v1 import registry_service_pb2_grpc as pb_grpc

from tests.registry.helpers import make_artifact, metric, version_request

TRIALS = int(os.environ.get("WEATHER_CRASH_TRIALS", "3"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(database_url: str, root: Path, port: int) -> subprocess.Popen[bytes]:
    """A registry process on port, once it accepts connections (its log in root/../registry.log;
    a process that exits during start-up fails the test with that log)."""
    env = {
        **os.environ,
        "REGISTRY_HOST": "127.0.0.1",
        "REGISTRY_PORT": str(port),
        "REGISTRY_DATABASE_URL": database_url,
        "REGISTRY_ARTIFACT_ROOTS": str(root),
        "REGISTRY_LOG_LEVEL": "WARNING",
        "REGISTRY_METRICS_PORT": "0",
    }
    log = root.parent / "registry.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "weather_registry"], env=env, stdout=out, stderr=out
        )
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    ready = grpc.channel_ready_future(channel)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"registry exited during start-up:\n{log.read_text()[-3000:]}")
            try:
                ready.result(timeout=0.5)
                return process
            except grpc.FutureTimeoutError:
                continue
        process.kill()
        raise AssertionError(f"registry not serving after 30 s:\n{log.read_text()[-3000:]}")
    finally:
        ready.cancel()
        channel.close()


@pytest.mark.slow
def test_kill_9_mid_write_loses_no_acknowledged_version(database_url: str, tmp_path: Path) -> None:
    root = tmp_path / "a"
    root.mkdir()
    artifact = make_artifact(root, "v")
    port = _free_port()
    process = _start(database_url, root, port)
    acknowledged: list[int] = []
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            pb_grpc.RegistryServiceStub(channel).CreateRegisteredModel(
                pb.CreateRegisteredModelRequest(name="crash")
            )
        for trial in range(TRIALS):
            stop = threading.Event()

            def writer(stop: threading.Event = stop, port: int = port) -> None:
                with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                    stub = pb_grpc.RegistryServiceStub(channel)
                    while not stop.is_set():
                        request = version_request(
                            "crash", artifact, metrics=[metric("rmse", value=1.0, persistence=2.0)]
                        )
                        try:
                            acknowledged.append(
                                stub.CreateModelVersion(request, timeout=5).version.version
                            )
                        except grpc.RpcError:
                            return

            threads = [threading.Thread(target=writer) for _ in range(4)]
            for thread in threads:
                thread.start()
            time.sleep(random.uniform(0.3, 0.8))
            process.send_signal(signal.SIGKILL)
            process.wait()
            stop.set()
            for thread in threads:
                thread.join()
            # a fresh port: a dying server's port can be taken meanwhile (a client socket of
            # the killed connections, or another test), which is not what this test is about
            port = _free_port()
            process = _start(database_url, root, port)
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = pb_grpc.RegistryServiceStub(channel)
                stored = stub.ListModelVersions(
                    pb.ListModelVersionsRequest(
                        model_name="crash", page=pagination_pb2.PageRequest(page_size=1000)
                    )
                ).versions
                numbers = [v.version for v in stored]
                latest = stub.GetRegisteredModel(pb.GetRegisteredModelRequest(name="crash")).model
            assert len(numbers) == len(set(numbers)), f"trial {trial}: duplicate versions"
            missing = set(acknowledged) - set(numbers)
            assert not missing, f"trial {trial}: acknowledged versions lost: {sorted(missing)}"
            assert numbers == list(range(len(numbers), 0, -1)), f"trial {trial}: gap in numbers"
            assert latest.latest_version == len(numbers)
        assert len(acknowledged) > TRIALS, "the writers never got going"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
