"""Concurrent writers never lose or duplicate a version number, on one replica or two."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from weather.common.v1 import pagination_pb2
from weather.registry.v1 import registry_service_pb2 as pb

from tests.conftest import start_registry
from tests.registry.helpers import make_artifact, metric, version_request

WRITERS = 16
PER_WRITER = 8


def test_sixteen_writers_on_two_replicas(database_url: str, tmp_path: Path) -> None:
    root = tmp_path / "a"
    root.mkdir()
    replicas = [start_registry(database_url, root) for _ in range(2)]
    try:
        replicas[0].stub.CreateRegisteredModel(pb.CreateRegisteredModelRequest(name="hot"))
        artifact = make_artifact(root, "v")

        def writer(index: int) -> list[int]:
            stub = replicas[index % 2].new_stub(actor=f"writer-{index}")
            numbers = []
            for n in range(PER_WRITER):
                request = version_request(
                    "hot",
                    artifact,
                    metrics=[metric("rmse", value=1.0 + n, persistence=2.0)],
                    tags={"writer": str(index), "n": str(n)},
                )
                numbers.append(stub.CreateModelVersion(request, timeout=60).version.version)
            return numbers

        with ThreadPoolExecutor(WRITERS) as pool:
            results = list(pool.map(writer, range(WRITERS)))
        acknowledged = sorted(n for numbers in results for n in numbers)
        total = WRITERS * PER_WRITER
        assert acknowledged == list(range(1, total + 1)), "lost or duplicated version numbers"

        stored = (
            replicas[1]
            .stub.ListModelVersions(
                pb.ListModelVersionsRequest(
                    model_name="hot", page=pagination_pb2.PageRequest(page_size=1000)
                )
            )
            .versions
        )
        assert sorted(v.version for v in stored) == list(range(1, total + 1))
        by_number = {v.version: (v.tags["writer"], v.created_by) for v in stored}
        for index, numbers in enumerate(results):
            for number in numbers:
                assert by_number[number] == (str(index), f"writer-{index}")
        model = replicas[0].stub.GetRegisteredModel(pb.GetRegisteredModelRequest(name="hot")).model
        assert model.latest_version == total
    finally:
        for replica in replicas:
            replica.server.stop(1)


def test_concurrent_alias_moves_keep_a_consistent_history(
    database_url: str, tmp_path: Path
) -> None:
    root = tmp_path / "a"
    root.mkdir()
    running = start_registry(database_url, root)
    try:
        running.stub.CreateRegisteredModel(pb.CreateRegisteredModelRequest(name="m"))
        artifact = make_artifact(root, "v")
        for _ in range(4):
            running.stub.CreateModelVersion(version_request("m", artifact))

        def mover(index: int) -> None:
            stub = running.new_stub()
            for n in range(10):
                stub.SetAlias(
                    pb.SetAliasRequest(model_name="m", alias="staging", version=1 + (index + n) % 4)
                )

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(mover, range(8)))
        history = running.stub.ListAliasHistory(
            pb.ListAliasHistoryRequest(
                model_name="m", page=pagination_pb2.PageRequest(page_size=1000)
            )
        ).changes
        assert len(history) == 80
        chain = list(reversed(history))
        assert chain[0].from_version == 0
        for before, after in itertools.pairwise(chain):
            assert after.from_version == before.to_version, "an alias move was lost"
        current = running.stub.GetRegisteredModel(pb.GetRegisteredModelRequest(name="m")).model
        assert current.aliases["staging"] == chain[-1].to_version
    finally:
        running.server.stop(1)
