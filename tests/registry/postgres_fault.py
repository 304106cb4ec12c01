"""The PostgreSQL-restart fault: registry clients write and read while the database restarts."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from weather.common.v1 import pagination_pb2
from weather.registry.v1 import registry_service_pb2 as pb
from weather.registry.v1 import registry_service_pb2_grpc as pb_grpc

from tests.conftest import start_registry
from tests.registry.helpers import make_artifact, version_request
from tests.registry.private_postgres import PrivatePostgres
from weather_runtime.identity import with_actor

CALL_TIMEOUT = 15.0
WARMUP_OKS = 40  # successful calls before the restart
AFTER_SECONDS = 1.0  # load kept up after every client has succeeded again
# "outage" keeps the server down longer than the registry retries a transaction (3 s)
MODES = ("fast", "immediate", "outage")
OUTAGE_SECONDS = 5.0


@dataclass
class Call:
    """One RPC a client made: what, when, and how it ended."""

    kind: str
    start: float
    end: float
    code: str
    message: str = ""


@dataclass
class Acks:
    """The writes one client saw acknowledged (OK), to be found afterwards."""

    versions: dict[str, int] = field(default_factory=dict)  # request_id -> version number
    tags: dict[str, str] = field(default_factory=dict)  # tag key -> value, on version 1
    alias_changes: set[int] = field(default_factory=set)  # AliasChange ids


@dataclass
class Trial:
    """What one restart did to the load."""

    mode: str
    clients: int
    calls: int = 0
    calls_during_fault: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # status code name -> count
    messages: dict[str, int] = field(default_factory=dict)  # "CODE: message" -> count
    unclean: list[str] = field(default_factory=list)  # failures other than UNAVAILABLE+message
    restart_seconds: float = 0.0
    recovery_seconds: float = 0.0  # from the restart's end until every client succeeded again
    acknowledged_writes: int = 0
    lost: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    server_restarted: bool = False  # the postmaster's start time changed


class Client(threading.Thread):
    """Writes versions (with request ids, resent after a failure), tags and aliases of its own
    model, and reads, until told to stop."""

    def __init__(self, index: int, port: int, artifact: Path, stop: threading.Event) -> None:
        super().__init__(name=f"client-{index}", daemon=True)
        self.index = index
        self.model = f"m{index}"
        self.channel = with_actor(grpc.insecure_channel(f"127.0.0.1:{port}"), f"client{index}")
        self.stub = pb_grpc.RegistryServiceStub(self.channel)
        self.artifact = artifact
        self.stop = stop
        self.calls: list[Call] = []
        self.acks = Acks()
        self.pending = ""  # a version request id sent without an answer: sent again
        self.counter = itertools.count()
        self.random = random.Random(index)

    def run(self) -> None:
        operations = (self.create_version, self.set_tag, self.set_alias, self.read)
        while not self.stop.is_set():
            operation = operations[next(self.counter) % len(operations)]
            start = time.monotonic()
            try:
                operation()
                self.calls.append(Call(operation.__name__, start, time.monotonic(), "OK"))
            except grpc.RpcError as exc:
                self.calls.append(
                    Call(
                        operation.__name__,
                        start,
                        time.monotonic(),
                        exc.code().name,
                        exc.details() or "",
                    )
                )
                time.sleep(0.05)  # a client's pause before its next call
        self.channel.close()

    def create_version(self) -> None:
        request_id = self.pending or f"c{self.index}-{next(self.counter)}"
        self.pending = request_id
        request = version_request(self.model, self.artifact, request_id=request_id)
        request.tags["request"] = request_id
        number = self.stub.CreateModelVersion(request, timeout=CALL_TIMEOUT).version.version
        self.acks.versions[request_id] = int(number)
        self.pending = ""

    def set_tag(self) -> None:
        key, value = f"k{next(self.counter)}", str(self.random.random())
        self.stub.UpdateModelVersion(
            pb.UpdateModelVersionRequest(model_name=self.model, version=1, set_tags={key: value}),
            timeout=CALL_TIMEOUT,
        )
        self.acks.tags[key] = value

    def set_alias(self) -> None:
        numbers = [1, *self.acks.versions.values()]
        change = self.stub.SetAlias(
            pb.SetAliasRequest(
                model_name=self.model,
                alias="current",
                version=self.random.choice(numbers),
                reason="load",
            ),
            timeout=CALL_TIMEOUT,
        ).change
        self.acks.alias_changes.add(int(change.id))

    def read(self) -> None:
        if self.random.random() < 0.5:
            self.stub.GetModelVersion(
                pb.GetModelVersionRequest(model_name=self.model, version=1), timeout=CALL_TIMEOUT
            )
        else:
            self.stub.ListModelVersions(
                pb.ListModelVersionsRequest(
                    model_name=self.model, page=pagination_pb2.PageRequest(page_size=20)
                ),
                timeout=CALL_TIMEOUT,
            )

    def oks_after(self, moment: float) -> int:
        return sum(1 for c in list(self.calls) if c.code == "OK" and c.start >= moment)


def _pages(call, request, items: str) -> list:  # type: ignore[no-untyped-def]
    out = []
    while True:
        response = call(request, timeout=60)
        out += list(getattr(response, items))
        if not response.page.next_page_token:
            return out
        request.page.page_token = response.page.next_page_token


def check_acknowledged(stub: pb_grpc.RegistryServiceStub, client: Client, trial: Trial) -> None:
    """Every write the client saw acknowledged is stored; no request id made two versions."""
    versions = _pages(
        stub.ListModelVersions,
        pb.ListModelVersionsRequest(
            model_name=client.model, page=pagination_pb2.PageRequest(page_size=500)
        ),
        "versions",
    )
    by_request = Counter(v.tags.get("request", "") for v in versions)
    trial.duplicates += [f"{client.model}:{r}" for r, n in by_request.items() if r and n > 1]
    numbers = {v.tags.get("request", ""): int(v.version) for v in versions}
    for request_id, number in client.acks.versions.items():
        if numbers.get(request_id) != number:
            trial.lost.append(f"version {client.model}/{number} ({request_id})")
    tags = next(v for v in versions if v.version == 1).tags
    for key, value in client.acks.tags.items():
        if tags.get(key) != value:
            trial.lost.append(f"tag {client.model}/1 {key}")
    history = _pages(
        stub.ListAliasHistory,
        pb.ListAliasHistoryRequest(
            model_name=client.model, alias="current", page=pagination_pb2.PageRequest(page_size=500)
        ),
        "changes",
    )
    stored = {int(c.id) for c in history}
    trial.lost += [
        f"alias change {i} of {client.model}" for i in client.acks.alias_changes - stored
    ]
    trial.acknowledged_writes += (
        len(client.acks.versions) + len(client.acks.tags) + len(client.acks.alias_changes)
    )


def run_trial(
    postgres: PrivatePostgres, folder: Path, mode: str, clients: int, deadline: float = 60
) -> Trial:
    """A registry on postgres under load from clients; postgres restarts once: pg_ctl restart
    -m fast or -m immediate, or (outage) stopped for OUTAGE_SECONDS and started."""
    schema = f"trial_{mode}_{int(time.time() * 1000)}"
    with _admin(postgres) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = f"{postgres.url}?options=-csearch_path%3D{schema}"
    artifact_root = folder / schema
    artifact = make_artifact(artifact_root, "model")
    registry = start_registry(url, artifact_root, max_workers=max(16, clients))
    trial = Trial(mode, clients)
    stop = threading.Event()
    workers = [Client(i, registry.port, artifact, stop) for i in range(clients)]
    try:
        for client in workers:
            registry.stub.CreateRegisteredModel(
                pb.CreateRegisteredModelRequest(name=client.model), timeout=60
            )
            registry.stub.CreateModelVersion(version_request(client.model, artifact), timeout=60)
        for client in workers:
            client.start()
        _wait(lambda: sum(c.oks_after(0) for c in workers) >= WARMUP_OKS, deadline, "warm-up")
        started_at = _postmaster_start(postgres)
        fault_start = time.monotonic()
        if mode == "outage":
            postgres.outage(OUTAGE_SECONDS)
        else:
            postgres.restart(mode)
        fault_end = time.monotonic()
        trial.restart_seconds = fault_end - fault_start
        trial.server_restarted = _postmaster_start(postgres) != started_at
        _wait(lambda: all(c.oks_after(fault_end) > 0 for c in workers), deadline, "recovery")
        recovered = time.monotonic()
        trial.recovery_seconds = recovered - fault_end
        time.sleep(AFTER_SECONDS)
    finally:
        stop.set()
        for client in workers:
            client.join(timeout=CALL_TIMEOUT + 10)
    try:
        calls = [call for client in workers for call in client.calls]
        trial.calls = len(calls)
        trial.calls_during_fault = sum(
            1 for c in calls if c.end >= fault_start and c.start <= recovered
        )
        failed = [c for c in calls if c.code != "OK"]
        trial.failures = dict(Counter(c.code for c in failed))
        trial.messages = dict(Counter(f"{c.code}: {c.message}" for c in failed))
        trial.unclean = [
            f"{c.kind}: {c.code} {c.message!r}"
            for c in failed
            if c.code != "UNAVAILABLE" or not c.message
        ]
        for client in workers:
            check_acknowledged(registry.stub, client, trial)
    finally:
        registry.channel.close()
        registry.server.stop(5)
    return trial


def _admin(postgres: PrivatePostgres):  # type: ignore[no-untyped-def]
    import psycopg

    dsn = f"host=127.0.0.1 port={postgres.port} user=weather dbname=postgres"
    return psycopg.connect(dsn, autocommit=True)


def _postmaster_start(postgres: PrivatePostgres) -> object:
    with _admin(postgres) as conn:
        row = conn.execute("SELECT pg_postmaster_start_time()").fetchone()
    assert row is not None
    return row[0]


def _wait(test, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not test():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)
