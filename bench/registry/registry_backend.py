"""Our registry under test: a `python -m weather_registry` process driven over gRPC loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
from google.protobuf.duration_pb2 import Duration
from weather.common.v1.pagination_pb2 import PageRequest
from weather.registry.v1 import registry_service_pb2 as pb
from weather.registry.v1 import registry_service_pb2_grpc as pb_grpc
from workload import Score, VersionPayload

from weather_runtime.healthcheck import check

RPC_TIMEOUT = 30.0
START_TIMEOUT = 60.0
METADATA = (("x-weather-actor", "bench"),)
GOALS = {"minimize": pb.METRIC_GOAL_MINIMIZE, "maximize": pb.METRIC_GOAL_MAXIMIZE}
# A channel of its own per client thread: no subchannel (TCP connection) sharing between them.
CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]


def _metric(score: Score) -> pb.Metric:
    return pb.Metric(
        name=score.spec.name,
        variable=score.spec.variable,
        lead_time=Duration(seconds=score.spec.lead_hours * 3600),
        value=score.value,
        goal=GOALS[score.spec.goal],
        baselines=[pb.BaselineScore(baseline=b, value=v) for b, v in score.baselines.items()],
    )


class RegistryClient:
    """One thread's gRPC channel and stub."""

    def __init__(self, target: str) -> None:
        self._channel = grpc.insecure_channel(target, options=CHANNEL_OPTIONS)
        grpc.channel_ready_future(self._channel).result(timeout=10)
        self._stub = pb_grpc.RegistryServiceStub(self._channel)

    def create_model(self, model: str) -> None:
        request = pb.CreateRegisteredModelRequest(name=model)
        self._stub.CreateRegisteredModel(request, timeout=RPC_TIMEOUT, metadata=METADATA)

    def create_version(self, model: str, payload: VersionPayload) -> int:
        request = pb.CreateModelVersionRequest(
            model_name=model,
            artifact_uri=payload.artifact_uri,
            artifact_digest=payload.digest,
            metrics=[_metric(score) for score in payload.scores],
            tags=payload.tags,
        )
        response = self._stub.CreateModelVersion(request, timeout=RPC_TIMEOUT, metadata=METADATA)
        return int(response.version.version)

    def get_version(self, model: str, version: int) -> int:
        request = pb.GetModelVersionRequest(model_name=model, version=version)
        response = self._stub.GetModelVersion(request, timeout=RPC_TIMEOUT, metadata=METADATA)
        return int(response.version.version)

    def list_versions(self, model: str, page_size: int) -> int:
        request = pb.ListModelVersionsRequest(
            model_name=model, page=PageRequest(page_size=page_size)
        )
        response = self._stub.ListModelVersions(request, timeout=RPC_TIMEOUT, metadata=METADATA)
        return len(response.versions)

    def set_alias(self, model: str, alias: str, version: int) -> None:
        request = pb.SetAliasRequest(model_name=model, alias=alias, version=version)
        self._stub.SetAlias(request, timeout=RPC_TIMEOUT, metadata=METADATA)

    def version_numbers(self, model: str) -> list[int]:
        numbers: list[int] = []
        token = ""
        while True:
            request = pb.ListModelVersionsRequest(
                model_name=model, page=PageRequest(page_size=1000, page_token=token)
            )
            response = self._stub.ListModelVersions(request, timeout=RPC_TIMEOUT)
            numbers.extend(int(v.version) for v in response.versions)
            token = response.page.next_page_token
            if not token:
                return numbers

    def close(self) -> None:
        self._channel.close()


class RegistryBackend:
    """A running registry server at target."""

    def __init__(self, name: str, target: str) -> None:
        self.name = name
        self.target = target

    def new_client(self) -> RegistryClient:
        return RegistryClient(self.target)

    def describe_error(self, exc: Exception) -> str:
        if isinstance(exc, grpc.RpcError) and isinstance(exc, grpc.Call):
            return f"{exc.code().name}: {(exc.details() or '')[:100]}"
        return f"{type(exc).__name__}: {str(exc)[:100]}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(port: int, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "REGISTRY_HOST": "127.0.0.1",
        "REGISTRY_PORT": str(port),
        "REGISTRY_DATABASE_URL": database_url,
        "REGISTRY_ARTIFACT_ROOTS": "file:///",
        "REGISTRY_MAX_WORKERS": "64",
        "REGISTRY_MAX_CONCURRENT_RPCS": "1024",
        "REGISTRY_GRACE_SECONDS": "2",
        "REGISTRY_LOG_LEVEL": "WARNING",
    }


def _wait_serving(process: subprocess.Popen[bytes], target: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"registry exited with {process.returncode}:\n{tail}")
        try:
            if check(target, timeout=1.0) == "SERVING":
                return
        except grpc.RpcError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"registry at {target} not SERVING after {START_TIMEOUT:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def registry_server(name: str, database_url: str, log_path: Path) -> Iterator[RegistryBackend]:
    """Starts a registry process on a free loopback port and stops it afterwards."""
    port = _free_port()
    target = f"127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "weather_registry"],
            env=_server_env(port, database_url),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_serving(process, target, log_path)
        yield RegistryBackend(name, target)
    finally:
        _stop(process)
