"""Fuzz fixtures: one Dask runtime (started only if an operation needs it) and the test ids."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fuzz import services
from tests.fuzz.harness import Target
from weather_data.cluster import DaskRuntime


@pytest.fixture(scope="session")
def fuzz_runtime() -> Iterator[DaskRuntime]:
    runtime = services.dask_runtime()
    yield runtime
    runtime.close()


def cases(group: str, tensor_rpcs: frozenset[str] = frozenset()) -> list[tuple[str, str, str]]:
    """(service, method, kind) of every RPC of a service group; 'shapes' for tensor requests."""
    found = []
    for service in services.SERVICES[group]:
        for method in service.methods:
            kinds = ["valid", "garbage", "truncated"]
            if method.name in tensor_rpcs:
                kinds.append("shapes")
            found += [(service.full_name, method.name, kind) for kind in kinds]
    return found


def run(target: Target, method: str, kind: str) -> None:
    from tests.fuzz.harness import fuzz_rpc
    from tests.fuzz.profiles import options

    fuzz_rpc(target, target.method(method), kind, options(kind))
