"""Artefact locations (paths or fsspec URLs) and the sha256 digest of an artefact directory."""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import fsspec

DIGEST_PATTERN = re.compile(r"^sha256:[0-9a-f]{64}$")
_CHUNK = 4 * 1024 * 1024
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")


@dataclass(frozen=True)
class DirectoryDigest:
    """The digest of a directory tree and what went into it."""

    digest: str
    file_count: int
    total_bytes: int


def normalise_uri(uri: str) -> str:
    """A canonical URL for uri: absolute local paths become file:// URLs; '..' is refused.

    Raises ValueError with the reason when uri is not an absolute path or a URL.
    """
    if not uri or uri != uri.strip():
        raise ValueError("must be a non-empty URI without surrounding spaces")
    if any(ord(c) < 32 for c in uri):
        raise ValueError("must not contain control characters")
    if uri.startswith("/"):
        path = uri
        scheme = "file"
    else:
        parts = urlsplit(uri)
        scheme = parts.scheme.lower()
        if not scheme or not _SCHEME.match(scheme):
            raise ValueError("must be an absolute path or a URL such as file:///... or s3://...")
        if scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise ValueError("file URLs must not name a host")
            path = parts.path
            if not path.startswith("/"):
                raise ValueError("file URLs must hold an absolute path")
        else:
            if not parts.netloc:
                raise ValueError(f"{scheme} URLs must name a bucket or host")
            path = "/" + parts.netloc + parts.path
    if any(segment == ".." for segment in path.split("/")):
        raise ValueError("must not contain '..' segments")
    clean = posixpath.normpath(path).rstrip("/") or "/"
    if scheme == "file":
        return "file://" + clean
    return f"{scheme}:/" + clean


def is_under(uri: str, roots: list[str]) -> bool:
    """True when the normalised uri lies under one of the normalised roots."""
    target = normalise_uri(uri)
    for root in roots:
        base = normalise_uri(root)
        if target == base or target.startswith(base.rstrip("/") + "/"):
            return True
    return False


def directory_digest(uri: str) -> DirectoryDigest:
    """sha256 over the tree at uri: for each file in sorted relative-path order, its path and hash.

    The digest depends only on relative paths and contents (not on times or the location), so
    copying a SavedModel elsewhere keeps its digest. Raises FileNotFoundError when nothing is there.
    """
    fs, root = fsspec.core.url_to_fs(normalise_uri(uri))
    if not fs.exists(root):
        raise FileNotFoundError(uri)
    if not fs.isdir(root):
        raise NotADirectoryError(uri)
    files = sorted(fs.find(root, withdirs=False))
    root_prefix = root.rstrip("/") + "/"

    def opened() -> Iterator[tuple[str, Callable[[], bytes]]]:
        for name in files:
            relative = name[len(root_prefix) :] if name.startswith(root_prefix) else name
            with fs.open(name, "rb") as handle:
                yield relative, lambda: handle.read(_CHUNK)

    return files_digest(opened())


def descriptor_digest(files: Iterable[tuple[str, int]]) -> DirectoryDigest:
    """directory_digest over (relative path, read descriptor) pairs in path order, such as
    weather_runtime.safe_open.walk gives: read through the descriptors, never by path."""
    return files_digest(
        (relative, lambda: os.read(fd, _CHUNK))  # noqa: B023 - used at once
        for relative, fd in files
    )


def files_digest(files: Iterable[tuple[str, Callable[[], bytes]]]) -> DirectoryDigest:
    """The digest of (relative path, read-a-chunk function) pairs in path order."""
    outer = hashlib.sha256()
    count = 0
    total = 0
    for relative, read in files:
        inner = hashlib.sha256()
        while chunk := read():
            inner.update(chunk)
            total += len(chunk)
        outer.update(relative.encode() + b"\0" + inner.hexdigest().encode() + b"\n")
        count += 1
    return DirectoryDigest("sha256:" + outer.hexdigest(), count, total)


def local_path(uri: str) -> Path | None:
    """The local filesystem path of a file:// URI or absolute path; None for remote URIs."""
    normal = normalise_uri(uri)
    return Path(normal[len("file://") :]) if normal.startswith("file://") else None


DIGEST_RECORDS = ".digests"


def digest_record_path(version_dir: Path) -> Path:
    """Where the serving sync records the registered digest of the copy <base>/<model>/<version>:
    <base>/.digests/<model>/<version>, outside the model folders the model server scans."""
    return version_dir.parent.parent / DIGEST_RECORDS / version_dir.parent.name / version_dir.name


def write_digest_record(version_dir: Path, digest: str) -> None:
    """Records digest for a version folder (written whole: a temporary file renamed in place)."""
    record = digest_record_path(version_dir)
    record.parent.mkdir(parents=True, exist_ok=True)
    partial = record.with_name(f".{record.name}.partial")
    partial.write_text(digest + "\n")
    partial.replace(record)


def read_digest_record(version_dir: Path) -> str | None:
    """The digest recorded for a version folder; None when there is no record."""
    try:
        return digest_record_path(version_dir).read_text().strip()
    except FileNotFoundError:
        return None
