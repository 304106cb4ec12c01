"""Fuzzes ingest, preprocess and trainer with well-formed requests on a small real archive,
mutated: dataset lookups, recipe validation against a real dataset and training specs naming a
real one are reached. The operations the mutated requests start must end cleanly too."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.fuzz import seeded, services
from tests.fuzz.harness import fuzz_rpc
from tests.fuzz.profiles import options
from weather_data.cluster import DaskRuntime

CASES = [
    ("ingest", "StartIngest"),
    ("ingest", "GetDataset"),
    ("ingest", "ListDatasets"),
    ("preprocess", "StartBuild"),
    ("preprocess", "StartAnalysis"),
    ("preprocess", "GetStatistics"),
    ("trainer", "StartTraining"),
    ("trainer", "ListJobs"),
]


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory, fuzz_runtime: DaskRuntime
) -> Iterator[services.Running]:
    started = seeded.start_seeded(tmp_path_factory.mktemp("fuzz-seeded"), fuzz_runtime)
    yield started
    started.stop()


def test_every_seeded_rpc_is_fuzzed(running: services.Running) -> None:
    seeded_rpcs = {
        (target.name.split(".")[1], name) for target in running.targets for name in target.seeds
    }
    assert seeded_rpcs == set(CASES)


@pytest.mark.parametrize(("group", "method"), CASES)
def test_seeded_rpc(running: services.Running, group: str, method: str) -> None:
    target = running.target(services.SERVICES[group][0].full_name)
    collected = seeded.Collected(method)
    fuzz_rpc(target, target.method(method), "seeded", options("seeded"), on_outcome=collected)
    codes = sorted({o.code.name for o in collected.outcomes})
    ends = seeded.operation_ends(target.channel, collected.operations)
    ended = sorted({code or "OK" for code, _ in ends.values()})
    print(f"\n{group}/{method}: {len(collected.outcomes)} cases {codes}, {ended} operations")
    problems = seeded.operation_problems(ends)
    assert problems == [], [(problem, collected.examples[op]) for op, problem in problems]
    # nothing reached ecCodes (this is the first pytest process, where it must not load)
    assert not [m for m in sys.modules if m.split(".")[0] in ("eccodes", "gribapi", "cfgrib")]
    assert "OK" in codes, "no mutation (nor the seed itself) was accepted: the seeds are stale"
