"""kill -9 Dask workers mid-ingest: same hash, or UNAVAILABLE and nothing visible; retry matches."""

# A real `dask scheduler` with two `dask worker` processes (the commands `weatherctl up` runs);
# a kill is a SIGKILL of a worker process seen executing a task of the operation, and the
# scheduler's count of tasks caught on a dying worker proves it landed. The helpers here serve
# tests/preprocess/test_worker_kill.py and bench/faults/worker_kill.py too.

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cloudpickle  # type: ignore[import-untyped]
import grpc
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from distributed import Client
from weather.common.v1 import operation_pb2
from weather.ingest.v1 import ingest_service_pb2 as pb
from weather.ingest.v1 import ingest_service_pb2_grpc as pb_grpc

from weather_ingest.server import build_ingest_server
from weather_ingest.settings import IngestSettings
from weather_runtime.identity import with_actor
from weather_runtime.server import ManagedServer
from weatherctl.launcher import DaskProcesses

TERMINAL = (
    operation_pb2.OPERATION_STATE_SUCCEEDED,
    operation_pb2.OPERATION_STATE_FAILED,
    operation_pb2.OPERATION_STATE_CANCELLED,
)
DEFAULT_ALLOWED_FAILURES = 3  # distributed.scheduler.allowed-failures

# the functions run on the workers and the scheduler travel by value: those processes cannot
# import the test tree
cloudpickle.register_pickle_by_value(sys.modules[__name__])


# --------------------------------------------------------------- the cluster and the kill
def executing_keys(dask_worker: Any) -> list[str]:
    """On a worker: keys of the tasks it executes now."""
    return [str(ts.key) for ts in dask_worker.state.tasks.values() if ts.state == "executing"]


def _suspicious(dask_scheduler: Any) -> int:
    """On the scheduler: tasks ever caught on a worker that died (never decreases)."""
    return sum(prefix.suspicious for prefix in dask_scheduler.task_prefixes.values())


def _allow_failures(count: int) -> Callable[[Any], None]:
    def apply(dask_scheduler: Any) -> None:
        dask_scheduler.allowed_failures = count

    return apply


def _no_workers_timeout(seconds: float | None) -> Callable[[Any], None]:
    def apply(dask_scheduler: Any) -> None:
        dask_scheduler.no_workers_timeout = seconds

    return apply


@dataclass
class DaskCluster:
    """A running scheduler and its workers, and a client to watch and steer them."""

    address: str
    client: Client

    def allow_failures(self, count: int) -> None:
        """Sets the scheduler's allowed-failures: workers that may die running one task before
        the task errs with KilledWorker."""
        self.client.run_on_scheduler(_allow_failures(count))

    def no_workers_timeout(self, seconds: float | None) -> None:
        """Sets the scheduler's no-workers-timeout: how long a task may wait with no worker
        at all before it errs with NoWorkerError (None: for ever)."""
        self.client.run_on_scheduler(_no_workers_timeout(seconds))

    def suspicious(self) -> int:
        return int(self.client.run_on_scheduler(_suspicious))

    def wait_for_workers(self, count: int = 2, timeout: float = 120) -> None:
        self.client.wait_for_workers(count, timeout=timeout)


@contextmanager
def dask_cluster(folder: Path, workers: int = 2) -> Iterator[DaskCluster]:
    """A `dask scheduler` and `dask worker` processes (each under a nanny that restarts its
    worker), stopped on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    processes = DaskProcesses(folder, workers=workers)
    try:
        address = processes.start(folder, timeout=120)
        with Client(address, timeout=60) as client:
            cluster = DaskCluster(address, client)
            cluster.wait_for_workers(workers)
            yield cluster
    finally:
        processes.stop()


@dataclass(frozen=True)
class Kill:
    """SIGKILLs sent to worker processes: the last one's worker, the task it was executing
    and when (seconds after the wait began), how many were sent, and whether the scheduler saw
    a task of ours die with one of them."""

    pid: int
    worker: str
    task: str
    after_seconds: float
    landed: bool
    kills: int = 1


def _kill(cluster: DaskCluster, address: str) -> int:
    """SIGKILLs a worker's process; returns its pid once the scheduler has removed it."""
    pid = int(cluster.client.run(os.getpid, workers=[address])[address])
    os.kill(pid, signal.SIGKILL)
    gone_by = time.monotonic() + 60
    while address in cluster.client.scheduler_info()["workers"]:
        assert time.monotonic() < gone_by, "the scheduler kept the killed worker"
        time.sleep(0.05)
    return pid


def kill_mid_compute(
    cluster: DaskCluster,
    running: Callable[[], bool],
    delay: float = 0.0,
    attempts: int = 1,
    timeout: float = 120,
) -> Kill | None:
    """Waits until a worker executes a task while running() holds (and delay seconds more) and
    SIGKILLs that worker's process; when its tasks had all finished in between (the kill did
    not land), tries again while attempts last and the operation runs. None when the operation
    ended before a task could be caught."""
    before = cluster.suspicious()
    began = time.monotonic()
    deadline = began + timeout
    seen_at: float | None = None
    kill: Kill | None = None
    while time.monotonic() < deadline and running():
        found = cluster.client.run(executing_keys, on_error="ignore")
        busy = {address: keys for address, keys in found.items() if keys}
        now = time.monotonic()
        if busy and seen_at is None:
            seen_at = now
        if busy and seen_at is not None and now - seen_at >= delay:
            address, keys = next(iter(busy.items()))
            killed_at = time.monotonic() - began
            pid = _kill(cluster, address)
            landed = cluster.suspicious() > before
            kill = Kill(pid, address, keys[0], killed_at, landed, (kill.kills + 1) if kill else 1)
            if landed or kill.kills >= attempts:
                return kill
            seen_at = None
        time.sleep(0.01)
    return kill


def kill_every_worker(
    cluster: DaskCluster, running: Callable[[], bool], timeout: float = 120
) -> int:
    """Waits until a worker executes a task while running() holds, then SIGKILLs every nanny
    (so none restarts its worker) and every worker process; returns how many it killed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and running():
        if any(cluster.client.run(executing_keys, on_error="ignore").values()):
            nannies = cluster.client.run(os.getpid, nanny=True)
            workers = cluster.client.run(os.getpid)
            pids = [*nannies.values(), *workers.values()]
            for pid in pids:
                os.kill(int(pid), signal.SIGKILL)
            return len(pids)
        time.sleep(0.01)
    return 0


@contextmanager
def more_workers(cluster: DaskCluster, folder: Path, count: int = 2) -> Iterator[None]:
    """Starts count new `dask worker` processes on the cluster; stops them on exit."""
    dask = str(Path(sys.executable).parent / "dask")
    processes = []
    try:
        for index in range(count):
            command = [dask, "worker", cluster.address, "--nworkers", "1", "--nthreads", "1"]
            command += ["--no-dashboard", "--local-directory", str(folder / f"worker-{index}")]
            processes.append(
                subprocess.Popen(
                    command,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        cluster.wait_for_workers(count)
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


# ------------------------------------------------------------------- the ingest under test
def synthetic_source(path: Path, steps: int = 1200) -> Path:
    """A NetCDF of two hourly variables on a 100x100 grid (about 10 Dask tasks to ingest)."""
    rng = np.random.default_rng(11)
    field = rng.normal(280, 5, (steps, 100, 100)).astype("float32")
    xr.Dataset(
        {
            "a": (("time", "lat", "lon"), field, {"units": "K"}),
            "b": (("time", "lat", "lon"), field[::-1] + 1, {"units": "K"}),
        },
        coords={
            "time": pd.date_range("2020-01-01", periods=steps, freq="h"),
            "lat": ("lat", np.linspace(40, 60, 100), {"units": "degrees_north"}),
            "lon": ("lon", np.linspace(-10, 10, 100), {"units": "degrees_east"}),
        },
    ).to_netcdf(path)
    return path


@dataclass
class IngestServer:
    """An ingest server on loopback computing on the cluster (INGEST_DASK_SCHEDULER)."""

    server: ManagedServer
    stub: pb_grpc.IngestServiceStub
    channel: grpc.Channel
    archive: Path

    def start(self, source: Path, dataset_id: str) -> str:
        request = pb.StartIngestRequest(source_uri=str(source), dataset_id=dataset_id)
        return str(self.stub.StartIngest(request).operation.operation_id)

    def state(self, operation_id: str) -> operation_pb2.OperationStatus:
        request = pb.GetOperationRequest(operation_id=operation_id)
        return self.stub.GetOperation(request).operation  # type: ignore[no-any-return]

    def running(self, operation_id: str) -> Callable[[], bool]:
        return lambda: self.state(operation_id).state not in TERMINAL

    def wait(self, operation_id: str, timeout: float = 180) -> pb.GetOperationResponse:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.stub.GetOperation(pb.GetOperationRequest(operation_id=operation_id))
            if got.operation.state in TERMINAL:
                return got  # type: ignore[no-any-return]
            time.sleep(0.05)
        raise AssertionError(f"operation {operation_id} did not end in {timeout} s")

    def listed(self) -> list[str]:
        response = self.stub.ListDatasets(pb.ListDatasetsRequest())
        return [m.ref.dataset_id for m in response.datasets]

    def stores(self, dataset_id: str) -> list[str]:
        """The data stores present in the archive for a dataset, referenced or not."""
        folder = self.archive / "datasets" / dataset_id / "data"
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []

    def close(self) -> None:
        self.channel.close()
        self.server.stop(5)


@contextmanager
def ingest_server(folder: Path, scheduler: str) -> Iterator[IngestServer]:
    archive = folder / "archive"
    settings = IngestSettings(
        host="127.0.0.1",
        port=0,
        metrics_port=-1,
        archive_url=str(archive),
        allowed_roots=[str(folder)],
        dask_scheduler=scheduler,
    )  # type: ignore[call-arg]
    server, port = build_ingest_server(settings)
    server.start()
    channel = with_actor(grpc.insecure_channel(f"127.0.0.1:{port}"), "tester")
    running = IngestServer(server, pb_grpc.IngestServiceStub(channel), channel, archive)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    with dask_cluster(tmp_path_factory.mktemp("dask")) as running:
        yield running


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, cluster: DaskCluster
) -> Iterator[IngestServer]:
    with ingest_server(tmp_path_factory.mktemp("ingest"), cluster.address) as running:
        yield running


@pytest.fixture(scope="module")
def source(served: IngestServer) -> Path:
    return synthetic_source(served.archive.parent / "hourly.nc")


@pytest.fixture(scope="module")
def undisturbed(served: IngestServer, source: Path) -> str:
    """The content hash of an ingest no kill disturbed."""
    done = served.wait(served.start(source, "undisturbed"))
    assert done.operation.state == operation_pb2.OPERATION_STATE_SUCCEEDED, done.operation.error
    return str(done.result.ref.content_hash)


@pytest.fixture
def restore(cluster: DaskCluster) -> Iterator[None]:
    yield
    cluster.allow_failures(DEFAULT_ALLOWED_FAILURES)
    cluster.wait_for_workers(2)


def test_a_worker_killed_mid_ingest_costs_nothing(
    cluster: DaskCluster, served: IngestServer, source: Path, undisturbed: str, restore: None
) -> None:
    cluster.wait_for_workers(2)
    operation_id = served.start(source, "rescheduled")
    kill = kill_mid_compute(cluster, served.running(operation_id), attempts=3)
    assert kill is not None and kill.landed, kill
    done = served.wait(operation_id)
    print(
        f"\nworker kill mid-ingest: {kill}, outcome {operation_pb2.OperationState.Name(done.operation.state)}"
    )
    # its tasks ran again on the surviving (or restarted) worker
    assert done.operation.state == operation_pb2.OPERATION_STATE_SUCCEEDED, done.operation.error
    manifest = done.result
    assert manifest.ref.content_hash == undisturbed
    assert served.stores("rescheduled") == [manifest.store_uri.rstrip("/").rsplit("/", 1)[-1]]
    xr.testing.assert_identical(
        xr.open_zarr(done.result.store_uri, consolidated=False).load(),
        xr.open_zarr(
            served.stub.GetDataset(
                pb.GetDatasetRequest(dataset_id="undisturbed")
            ).manifest.store_uri,
            consolidated=False,
        ).load(),
    )
    again = served.wait(served.start(source, "rescheduled"))
    assert again.result.ref.content_hash == undisturbed
    assert again.result.version == 1  # the same content: no new version


def test_an_ingest_whose_worker_dies_past_allowed_failures_fails_cleanly_and_a_retry_succeeds(
    cluster: DaskCluster, served: IngestServer, source: Path, undisturbed: str, restore: None
) -> None:
    cluster.wait_for_workers(2)
    cluster.allow_failures(0)  # the first death of a worker running a task errs the task
    operation_id = served.start(source, "given-up")
    kill = kill_mid_compute(cluster, served.running(operation_id), attempts=3)
    assert kill is not None and kill.landed, kill
    done = served.wait(operation_id)
    error = done.operation.error
    print(f"\nworker kill mid-ingest, allowed-failures 0: {kill}, {error.code}: {error.message}")
    assert done.operation.state == operation_pb2.OPERATION_STATE_FAILED
    assert error.code == "UNAVAILABLE", error
    assert "a Dask worker died" in error.message and "retry" in error.message
    assert "Traceback" not in error.message
    # nothing half-written under its name: not listed, not found, no store left behind
    assert "given-up" not in served.listed()
    with pytest.raises(grpc.RpcError) as missing:
        served.stub.GetDataset(pb.GetDatasetRequest(dataset_id="given-up"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert served.stores("given-up") == []

    cluster.allow_failures(DEFAULT_ALLOWED_FAILURES)
    cluster.wait_for_workers(2)  # the nanny restarted the killed worker
    retried = served.wait(served.start(source, "given-up"))
    assert retried.operation.state == operation_pb2.OPERATION_STATE_SUCCEEDED, (
        retried.operation.error
    )
    assert retried.result.ref.content_hash == undisturbed
    assert served.listed().count("given-up") == 1
    assert served.stores("given-up") == [retried.result.store_uri.rstrip("/").rsplit("/", 1)[-1]]


def test_an_ingest_left_without_any_worker_fails_cleanly_and_a_retry_succeeds(
    cluster: DaskCluster,
    served: IngestServer,
    source: Path,
    undisturbed: str,
    tmp_path: Path,
) -> None:
    """Last in the module: it kills the module's workers and their nannies for good."""
    cluster.wait_for_workers(2)
    cluster.no_workers_timeout(2.0)
    try:
        operation_id = served.start(source, "stranded")
        killed = kill_every_worker(cluster, served.running(operation_id))
        assert killed == 4  # two nannies, two workers
        done = served.wait(operation_id)
        error = done.operation.error
        print(f"\nevery worker killed mid-ingest: {error.code}: {error.message}")
        assert done.operation.state == operation_pb2.OPERATION_STATE_FAILED
        assert error.code == "UNAVAILABLE", error
        assert "no worker" in error.message and "retry" in error.message
        assert "stranded" not in served.listed()
        assert served.stores("stranded") == []
        with more_workers(cluster, tmp_path):
            retried = served.wait(served.start(source, "stranded"))
            assert retried.operation.state == operation_pb2.OPERATION_STATE_SUCCEEDED, (
                retried.operation.error
            )
            assert retried.result.ref.content_hash == undisturbed
    finally:
        cluster.no_workers_timeout(None)
