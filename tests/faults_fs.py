"""Real store faults for tests and benches: a tiny tmpfs that fills up, a read-only remount.

As root, a store is its own tmpfs of a fixed size ("full" = it runs out of space, ENOSPC) that
can be remounted read-only ("unwritable", EROFS), even while writers run. Root ignores file
modes, so chmod is no fault for root; without root the store is a plain folder, made unwritable
with chmod 0o555 (EACCES) and "full" with RLIMIT_FSIZE in the writing processes (EFBIG, with
SIGXFSZ ignored so the write fails instead of killing the process).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import resource
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

IS_ROOT = os.geteuid() == 0


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)


def limit_file_size(limit: int) -> None:
    """In the calling process: writes past limit bytes of one file fail with EFBIG (SIGXFSZ
    ignored); for preexec_fn or a Dask worker's client.run."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # Python ignores it from the start anyway
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))


def lift_file_size_limit() -> None:
    """Undoes limit_file_size (the soft limit back to the hard one)."""
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))


class FaultyStore:
    """A folder that can be made full or unwritable for real, and back again."""

    def __init__(self, path: Path, size_bytes: int) -> None:
        self.path = path
        self.size_bytes = size_bytes
        self.mounted = False
        self.read_only = False
        path.mkdir(parents=True, exist_ok=True)
        if IS_ROOT:
            done = _run("mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(path))
            if done.returncode != 0:
                raise RuntimeError(f"mount tmpfs on {path}: {done.stderr.strip()}")
            self.mounted = True

    @property
    def kind(self) -> str:
        """How faults are made here: "tmpfs" (root) or "chmod+rlimit"."""
        return "tmpfs" if self.mounted else "chmod+rlimit"

    # ------------------------------------------------------------ unwritable
    def make_unwritable(self, timeout: float = 60) -> None:
        """Read-only from now on: remounts ro (retrying while a writer holds a file open for
        writing, which makes the kernel refuse with EBUSY), or chmod 0o555 every folder."""
        if self.mounted:
            deadline = time.monotonic() + timeout
            while True:
                done = _run("mount", "-o", "remount,ro", str(self.path))
                if done.returncode == 0:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"remount ro {self.path}: {done.stderr.strip()}")
                time.sleep(0.005)
        else:
            for folder in self._folders():
                folder.chmod(0o555)
        self.read_only = True

    def make_writable(self) -> None:
        """Writable again (remount rw, or folders back to 0o755)."""
        if self.mounted:
            done = _run("mount", "-o", "remount,rw", str(self.path))
            if done.returncode != 0:
                raise RuntimeError(f"remount rw {self.path}: {done.stderr.strip()}")
        else:
            for folder in self._folders():
                folder.chmod(0o755)
        self.read_only = False

    def _folders(self) -> list[Path]:
        return [self.path, *(p for p in self.path.rglob("*") if p.is_dir())]

    # ------------------------------------------------------------------ full
    def make_full(self, room: int, limit_writers: Callable[[int], None] | None = None) -> None:
        """From now on about room more bytes fit: the tmpfs shrunk to what it holds plus room
        (root); without root, limit_writers(room) limits the size of any one file the writing
        processes write (see limit_file_size)."""
        if self.mounted:
            used = shutil.disk_usage(self.path).used
            self._resize(used + room)
        elif limit_writers is not None:
            limit_writers(room)
        else:
            raise RuntimeError("without root, make_full needs limit_writers")

    def make_roomy(self, lift_writers: Callable[[], None] | None = None) -> None:
        """Undoes make_full (the tmpfs back to its size, or the writers' limit lifted)."""
        if self.mounted:
            self._resize(self.size_bytes)
        elif lift_writers is not None:
            lift_writers()

    def _resize(self, size: int) -> None:
        page = 4096
        size = -(-size // page) * page
        done = _run("mount", "-o", f"remount,size={size}", str(self.path))
        if done.returncode != 0:
            raise RuntimeError(f"remount size={size} {self.path}: {done.stderr.strip()}")

    # --------------------------------------------------------------- content
    def files(self) -> dict[str, str]:
        """sha256 of every file in the store by relative path."""
        out = {}
        for path in sorted(self.path.rglob("*")):
            if path.is_file():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                out[path.relative_to(self.path).as_posix()] = digest
        return out

    def close(self) -> None:
        """Unmounts (lazily when something still holds it) or restores the folders' modes."""
        if self.mounted:
            done = _run("umount", str(self.path))
            if done.returncode != 0:
                _run("umount", "-l", str(self.path))
            self.mounted = False
        elif self.read_only:
            self.make_writable()


@contextlib.contextmanager
def faulty_store(path: Path, size_bytes: int) -> Iterator[FaultyStore]:
    """A FaultyStore at path, unmounted (or its modes restored) on the way out, even on failure."""
    store = FaultyStore(path, size_bytes)
    try:
        yield store
    finally:
        store.close()
