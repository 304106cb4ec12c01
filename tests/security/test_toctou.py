"""A checked path swapped for a link to outside the roots between the check and the read:
nothing outside is ever read (the URI policy's opened(), and the registry's VerifyModelVersion)."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from weather.registry.v1 import registry_service_pb2 as pb

from tests.conftest import RunningRegistry, start_registry
from tests.registry.helpers import make_artifact, version_request
from weather_runtime import safe_open
from weather_runtime.artifacts import directory_digest
from weather_runtime.errors import InvalidArgument
from weather_runtime.uris import UriPolicy

SECRET = b"SECRET outside the roots"
INSIDE = b"inside the root"
RACE_SECONDS = float(os.environ.get("WEATHER_TOCTOU_SECONDS", "3"))


@dataclass
class Site:
    root: Path
    outside: Path
    policy: UriPolicy


@pytest.fixture
def site(tmp_path: Path) -> Site:
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.bin").write_bytes(SECRET)
    (outside / "store").mkdir()
    (outside / "store" / "chunk").write_bytes(SECRET)
    return Site(root, outside, UriPolicy.build([str(root)]))


def _read_all(handle: safe_open.Opened, within: Callable[[str], bool]) -> bytes:
    if not handle.is_dir:
        return os.pread(handle.fd, 1 << 16, 0)
    parts = []
    for _, fd in safe_open.walk(handle, within):
        parts.append(os.read(fd, 1 << 16))
    return b"".join(parts)


def _swap_to_link(path: Path, target: Path) -> None:
    """Atomically replaces path (a file or folder) by a link to target."""
    link = path.with_name(path.name + ".link")
    link.symlink_to(target)
    if path.is_dir() and not path.is_symlink():
        path.rename(path.with_name(path.name + ".gone"))
    os.replace(link, path)


# --- deterministic: the swap happens right after the check -----------------------------------


@pytest.mark.parametrize("kind", ["file", "folder", "parent folder"])
def test_a_swap_right_after_the_check_is_refused(site: Site, kind: str) -> None:
    if kind == "file":
        checked = site.root / "data.bin"
        checked.write_bytes(INSIDE)
        swap: tuple[Path, Path] = (checked, site.outside / "secret.bin")
    elif kind == "folder":
        checked = site.root / "store"
        checked.mkdir()
        (checked / "chunk").write_bytes(INSIDE)
        swap = (checked, site.outside / "store")
    else:
        (site.root / "sub").mkdir()
        checked = site.root / "sub" / "secret.bin"
        checked.write_bytes(INSIDE)
        swap = (site.root / "sub", site.outside)
    normal = site.policy.check(str(checked), "f")
    assert site.policy.check_open(normal, "f") == str(checked)  # passes before the swap
    _swap_to_link(*swap)
    # the naive open of the checked path now reads outside: the race is real
    naive = checked / "chunk" if kind == "folder" else checked
    assert naive.read_bytes() == SECRET
    with pytest.raises(InvalidArgument) as refused, site.policy.opened(normal, "f") as handle:
        _read_all(handle, site.policy.within)
    assert [v.field for v in refused.value.violations] == ["f"]
    with pytest.raises(InvalidArgument):
        site.policy.check_open(normal, "f")


def test_a_folder_swapped_after_its_tree_was_checked_is_not_read_through(site: Site) -> None:
    """The descriptor pins the folder checked: a swap after the opening reads the old tree
    (or fails), never the link's target."""
    store = site.root / "store"
    store.mkdir()
    (store / "chunk").write_bytes(INSIDE)
    normal = site.policy.check(str(store), "f")
    with (
        pytest.raises(InvalidArgument, match="changed while it was checked"),
        site.policy.opened(normal, "f") as handle,
    ):
        _swap_to_link(store, site.outside / "store")
        _read_all(handle, site.policy.within)


def test_a_link_inside_a_checked_tree_leading_out_is_refused(site: Site) -> None:
    store = site.root / "store"
    store.mkdir()
    (store / "ok").write_bytes(INSIDE)
    (store / "inner").symlink_to(store / "ok")  # a link staying inside is followed
    normal = site.policy.check(str(store), "f")
    with site.policy.opened(normal, "f") as handle:
        assert _read_all(handle, site.policy.within) == INSIDE * 2
    (store / "evil").symlink_to(site.outside / "secret.bin")
    with pytest.raises(InvalidArgument, match="leading outside"), site.policy.opened(normal, "f"):
        pass


# --- racing: a thread swaps back and forth while reads are checked and made ------------------


class Swapper(threading.Thread):
    """Swaps path between a regular file or folder (inside) and a link to outside, until
    stopped; counts the swaps."""

    def __init__(self, path: Path, outside: Path, make_inside: Callable[[Path], None]) -> None:
        super().__init__(daemon=True)
        self.path, self.outside, self.make_inside = path, outside, make_inside
        self.stop = threading.Event()
        self.swaps = 0

    def run(self) -> None:
        spare = self.path.with_name(self.path.name + ".spare")
        gone = self.path.with_name(self.path.name + ".gone")
        while not self.stop.is_set():
            _swap_to_link(self.path, self.outside)
            if gone.exists():
                shutil.rmtree(gone) if gone.is_dir() else gone.unlink()
            self.make_inside(spare)
            if spare.is_dir():
                self.path.unlink()  # a folder cannot replace a link in one step
                spare.rename(self.path)
            else:
                os.replace(spare, self.path)
            self.swaps += 2


def _make_file(path: Path) -> None:
    path.write_bytes(INSIDE)


def _make_folder(path: Path) -> None:
    path.mkdir()
    (path / "chunk").write_bytes(INSIDE)


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_racing_swaps_never_read_outside(site: Site, kind: str) -> None:
    path = site.root / ("data.bin" if kind == "file" else "store")
    make = _make_file if kind == "file" else _make_folder
    target = site.outside / ("secret.bin" if kind == "file" else "store")
    make(path)
    swapper = Swapper(path, target, make)
    outcomes = {"read inside": 0, "refused": 0, "absent": 0, "read outside": 0}
    swapper.start()
    try:
        deadline = time.monotonic() + RACE_SECONDS
        while time.monotonic() < deadline or outcomes["refused"] == 0:
            assert time.monotonic() < deadline + 30, outcomes
            try:
                normal = site.policy.check(str(path), "f")
                with site.policy.opened(normal, "f") as handle:
                    data = _read_all(handle, site.policy.within)
            except InvalidArgument:
                outcomes["refused"] += 1
                continue
            except (FileNotFoundError, NotADirectoryError):
                outcomes["absent"] += 1
                continue
            outcomes["read outside" if SECRET in data else "read inside"] += 1
    finally:
        swapper.stop.set()
        swapper.join(timeout=30)
    print(f"\n{kind}: {swapper.swaps} swaps, reads {outcomes}")
    assert outcomes["read outside"] == 0
    assert outcomes["read inside"] > 0


# --- the registry's VerifyModelVersion under the same race ------------------------------------


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RunningRegistry]:
    root = tmp_path / "artifacts"
    root.mkdir()
    running = start_registry(f"sqlite:///{tmp_path / 'registry.db'}", root)
    yield running
    running.channel.close()
    running.server.stop(1)


def test_verify_never_hashes_a_folder_swapped_in_from_outside(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    root = tmp_path / "artifacts"
    artifact = make_artifact(root, "v1")
    digest = directory_digest(str(artifact)).digest
    outside = make_artifact(tmp_path / "outside", "v1", content=SECRET)
    outside_digest = directory_digest(str(outside)).digest
    registry.stub.CreateRegisteredModel(pb.CreateRegisteredModelRequest(name="m"), timeout=10)
    registry.stub.CreateModelVersion(version_request("m", artifact, digest=digest), timeout=10)

    def make_inside(path: Path) -> None:
        make_artifact(path.parent, path.name)

    swapper = Swapper(artifact, outside, make_inside)
    results: dict[str, int] = {}
    seen_digests: set[str] = set()
    swapper.start()
    try:
        deadline = time.monotonic() + RACE_SECONDS
        while time.monotonic() < deadline or "FAILED_PRECONDITION" not in results:
            assert time.monotonic() < deadline + 30, results
            try:
                answer = registry.stub.VerifyModelVersion(
                    pb.VerifyModelVersionRequest(model_name="m", version=1), timeout=30
                )
            except grpc.RpcError as exc:
                key = exc.code().name  # type: ignore[attr-defined]
            else:
                key = pb.VerifyResult.Name(answer.result)
                seen_digests.add(answer.actual_digest)
            results[key] = results.get(key, 0) + 1
    finally:
        swapper.stop.set()
        swapper.join(timeout=30)
    print(f"\nverify: {swapper.swaps} swaps, results {results}")
    assert outside_digest not in seen_digests
    assert set(results) <= {"VERIFY_RESULT_MATCH", "VERIFY_RESULT_MISSING", "FAILED_PRECONDITION"}
    assert results.get("VERIFY_RESULT_MATCH", 0) > 0


def test_checking_a_fifo_does_not_block(site: Site) -> None:
    """check_open names the file without opening it for reading: a FIFO with no writer (a
    held ingest source) does not hold the caller."""
    fifo = site.root / "pipe"
    os.mkfifo(fifo)
    normal = site.policy.check(str(fifo), "f")
    result: list[str] = []
    checker = threading.Thread(
        target=lambda: result.append(site.policy.check_open(normal, "f")), daemon=True
    )
    checker.start()
    checker.join(timeout=30)
    assert result == [str(fifo)]


def test_the_model_server_does_not_scan_a_base_path_swapped_for_a_link(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A reload checked the base path; the folder is then swapped for a link to a folder
    outside the roots holding another version: the polls skip it, nothing outside loads."""
    from tests.modelserver.support import (
        build_saved_model,
        install_version,
        start_modelserver,
        wait_for,
    )

    built = build_saved_model(tmp_path / "build", 1.0)
    base = tmp_path / "models" / "m"
    install_version(base, 1, built)
    install_version(tmp_path / "outside" / "m", 2, built)
    running = start_modelserver(
        model_name="m", model_base_path=str(base), file_system_poll_wait_seconds=0.1
    )
    try:
        assert running.states("m") == {1: "AVAILABLE"}
        install_version(base, 3, built)  # the control: the polls load what appears inside
        wait_for(lambda: running.states("m").get(3) == "AVAILABLE", 120, "version 3")
        caplog.set_level("WARNING", logger="weather_modelserver.manager")
        _swap_to_link(base, tmp_path / "outside" / "m")
        wait_for(
            lambda: "not scanned" in caplog.text and caplog.text.count("not scanned") >= 3,
            60,
            "three skipped scans",
        )
        assert 2 not in running.states("m")
        assert running.states("m")[3] == "AVAILABLE"
    finally:
        running.stop()
