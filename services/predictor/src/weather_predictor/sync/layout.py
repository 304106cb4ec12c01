"""The serving base on disk: <base>/<model>/<version>/ copies of registry artefacts, verified."""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path

import fsspec

from weather_runtime.artifacts import (
    digest_record_path,
    directory_digest,
    normalise_uri,
    write_digest_record,
)
from weather_runtime.domain_metrics import counter

log = logging.getLogger(__name__)
CHANGED_COPIES = counter(
    "weather_serving_sync_changed_copies_total",
    "Served copies found changed on disk after registration (digest differs from the "
    "registry's record) and replaced with a verified copy, by model.",
    ["model"],
)

_CHUNK = 4 * 1024 * 1024
PARTIAL_PREFIX = ".partial-"


class ArtifactError(Exception):
    """A version's artefact could not be copied, or its copy does not match its digest."""


def version_dir(base: Path, model: str, version: int) -> Path:
    """Where TF Serving finds a version: <base>/<model>/<version>."""
    return base / model / str(version)


def local_versions(base: Path, model: str) -> set[int]:
    """Version folders present under <base>/<model> (numeric names only)."""
    try:
        return {int(p.name) for p in (base / model).iterdir() if p.name.isdigit() and p.is_dir()}
    except FileNotFoundError:
        return set()


def models_on_disk(base: Path) -> set[str]:
    """Model folders present under base."""
    try:
        return {p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")}
    except FileNotFoundError:
        return set()


def _copy_tree(uri: str, target: Path) -> int:
    """Copies every file under uri (a path or fsspec URL) into target; returns the file count."""
    fs, root = fsspec.core.url_to_fs(normalise_uri(uri))
    if not fs.exists(root) or not fs.isdir(root):
        raise ArtifactError(f"no artefact directory at {uri}")
    prefix = root.rstrip("/") + "/"
    count = 0
    for name in sorted(fs.find(root, withdirs=False)):
        relative = name[len(prefix) :] if name.startswith(prefix) else Path(name).name
        if not relative or any(part in ("", ".", "..") for part in relative.split("/")):
            raise ArtifactError(f"unexpected file name {name!r} under {uri}")
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        with fs.open(name, "rb") as source, destination.open("wb") as sink:
            while chunk := source.read(_CHUNK):
                sink.write(chunk)
        count += 1
    if count == 0:
        raise ArtifactError(f"the artefact directory {uri} is empty")
    return count


def materialise(base: Path, model: str, version: int, uri: str, digest: str) -> Path:
    """Makes <base>/<model>/<version> a verified copy of the artefact at uri.

    The copy goes to a hidden temporary folder (TF Serving ignores non-numeric folders), is
    checked against digest, then renamed into place, so a half-copied or wrong version is never
    visible; the digest is recorded (digest_record_path) for the model server to check at load.
    An existing folder with the right digest is kept; one whose files changed after registration
    is reported (log and weather_serving_sync_changed_copies_total) and replaced by a verified
    copy. Raises ArtifactError.
    """
    final = version_dir(base, model, version)
    if final.is_dir():
        actual = directory_digest(str(final)).digest
        if actual == digest:
            if not digest_record_path(final).is_file():
                write_digest_record(final, digest)
            return final
        log.error(
            "the served copy of %s version %d changed on disk after registration (digest %s, "
            "the registry says %s): replacing it with a verified copy",
            model,
            version,
            actual,
            digest,
            extra={"path": str(final)},
        )
        CHANGED_COPIES.labels(model).inc()
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.parent / f"{PARTIAL_PREFIX}{version}-{uuid.uuid4().hex[:8]}"
    try:
        try:
            files = _copy_tree(uri, partial)
        except ArtifactError:
            raise
        except Exception as exc:  # any storage error refuses the version
            raise ArtifactError(f"cannot copy {uri}: {exc}") from exc
        actual = directory_digest(str(partial)).digest
        if actual != digest:
            raise ArtifactError(
                f"the copy of {uri} has digest {actual}, the registry says {digest}"
            )
        write_digest_record(final, digest)
        _swap_into_place(partial, final)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    log.info(
        "materialised %s version %d", model, version, extra={"path": str(final), "files": files}
    )
    return final


def _swap_into_place(partial: Path, final: Path) -> None:
    """Renames partial to final; an existing final is renamed away first, then deleted."""
    if not final.exists():
        os.replace(partial, final)
        return
    doomed = final.parent / f"{PARTIAL_PREFIX}replaced-{final.name}-{uuid.uuid4().hex[:8]}"
    os.replace(final, doomed)
    os.replace(partial, final)
    shutil.rmtree(doomed, ignore_errors=True)


def remove_version(base: Path, model: str, version: int) -> None:
    """Deletes a version folder: renamed away first, so the server never sees half of it."""
    final = version_dir(base, model, version)
    if not final.exists():
        return
    doomed = final.parent / f"{PARTIAL_PREFIX}removed-{version}-{uuid.uuid4().hex[:8]}"
    os.replace(final, doomed)
    shutil.rmtree(doomed, ignore_errors=True)
    digest_record_path(final).unlink(missing_ok=True)
    log.info("removed %s version %d", model, version, extra={"path": str(final)})


def remove_leftovers(base: Path) -> None:
    """Deletes temporary folders a crashed copy left behind."""
    for model in models_on_disk(base):
        for child in (base / model).iterdir():
            if child.name.startswith(PARTIAL_PREFIX):
                shutil.rmtree(child, ignore_errors=True)
