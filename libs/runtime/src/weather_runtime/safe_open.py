"""Opening checked local paths without following links, so a swap after the check cannot
redirect the read: every component is opened with O_NOFOLLOW from its parent's descriptor, and
the opened file's real path (/proc/self/fd/N) and identity (st_dev, st_ino) are verified."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC
MAX_TREE_ENTRIES = 100_000  # files and folders one checked tree may hold


class Escaped(ValueError):
    """The path is (or became) a link, or leads outside the allowed folders."""


Within = Callable[[str], bool]  # whether a real local path lies under the allowed roots


@dataclass(frozen=True)
class Opened:
    """A descriptor of a checked file or folder and the real path it was opened at."""

    fd: int
    real: str
    is_dir: bool


def open_nofollow(real: str, read: bool = True) -> int:
    """A descriptor of the absolute real path, opened component by component without following
    any link (Escaped when a component is, or has become, a link): for reading, or (read=False)
    an O_PATH one that only names the file. Opening never blocks (a FIFO with no writer)."""
    if not real.startswith("/"):
        raise Escaped(f"{real!r} is not an absolute path")
    parts = [part for part in real.split("/") if part]
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for index, name in enumerate(parts):
            last = index == len(parts) - 1
            if not last:
                flags = _NOFOLLOW | os.O_PATH | os.O_DIRECTORY
            else:
                flags = _NOFOLLOW | (os.O_RDONLY | os.O_NONBLOCK if read else os.O_PATH)
            try:
                child = os.open(name, flags, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (40, 20):  # ELOOP, ENOTDIR: a link where a folder was checked
                    raise Escaped(f"{'/'.join(parts[: index + 1])} became a link") from None
                raise
            os.close(fd)
            fd = child
        if read:  # reads through it block as usual
            os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def verify(fd: int, real: str, within: Within) -> Opened:
    """Checks what fd names: its real path lies within the roots and is the real path checked,
    and that path still names the same file (st_dev, st_ino)."""
    named = os.readlink(f"/proc/self/fd/{fd}")
    if named != real or not within(named):
        raise Escaped(f"{real} was opened as {named}")
    opened = os.fstat(fd)
    try:
        current = os.stat(real, follow_symlinks=False)
    except FileNotFoundError:
        raise Escaped(f"{real} was replaced while it was opened") from None
    if (opened.st_dev, opened.st_ino) != (current.st_dev, current.st_ino):
        raise Escaped(f"{real} was replaced while it was opened")
    return Opened(fd, real, stat.S_ISDIR(opened.st_mode))


@contextmanager
def opened(real: str, within: Within) -> Iterator[Opened]:
    """The checked real path opened without links and verified; for a folder, its whole tree
    is re-checked after the opening (no link inside leading out). Closed on exit."""
    fd = open_nofollow(real)
    try:
        handle = verify(fd, real, within)
        if handle.is_dir:
            check_tree(handle, within)
        yield handle
    finally:
        os.close(fd)


def check_tree(folder: Opened, within: Within) -> int:
    """Re-checks a folder opened without links: no link inside leads out of the roots and no
    folder inside was swapped while walking. Returns the number of regular files."""
    files: list[tuple[str, Callable[[], int]]] = []
    _collect(folder.fd, folder.real, "", within, files, [0])
    return len(files)


def walk(folder: Opened, within: Within) -> Iterator[tuple[str, int]]:
    """(relative path, read descriptor) of every regular file under a checked folder, sorted by
    path; the descriptor is closed when the next item is asked for. Links inside are followed
    only to places within the roots (opened again without links); others raise Escaped."""
    files: list[tuple[str, Callable[[], int]]] = []
    _collect(folder.fd, folder.real, "", within, files, [0])
    files.sort(key=lambda item: item[0])
    for relative, open_file in files:
        fd = open_file()
        try:
            yield relative, fd
        finally:
            os.close(fd)


def _collect(
    dir_fd: int,
    real: str,
    prefix: str,
    within: Within,
    files: list[tuple[str, Callable[[], int]]],
    count: list[int],
) -> None:
    for entry in sorted(os.listdir(dir_fd)):
        count[0] += 1
        if count[0] > MAX_TREE_ENTRIES:
            raise Escaped(f"{real} holds more than {MAX_TREE_ENTRIES} entries")
        relative = prefix + entry
        info = os.stat(entry, dir_fd=dir_fd, follow_symlinks=False)
        target = f"{real.rstrip('/')}/{entry}"
        if stat.S_ISLNK(info.st_mode):
            try:
                target = os.path.realpath(f"/proc/self/fd/{dir_fd}/{entry}")
            except OSError as exc:  # swapped while it was being resolved
                raise Escaped(f"{real}/{entry} changed while it was checked: {exc}") from None
            if not within(target):
                raise Escaped(f"{real}/{entry} is a link leading outside the allowed roots")
            info = os.stat(target, follow_symlinks=False)
        if stat.S_ISDIR(info.st_mode):
            child = open_nofollow(target)
            try:
                verify(child, target, within)
                _collect(child, target, relative + "/", within, files, count)
            finally:
                os.close(child)
        elif stat.S_ISREG(info.st_mode):
            files.append((relative, _file_opener(target, within)))


def _file_opener(real: str, within: Within) -> Callable[[], int]:
    def open_file() -> int:
        fd = open_nofollow(real)
        try:
            verify(fd, real, within)
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped for a FIFO or a device
                raise Escaped(f"{real} is no longer a regular file")
        except BaseException:
            os.close(fd)
            raise
        return fd

    return open_file
