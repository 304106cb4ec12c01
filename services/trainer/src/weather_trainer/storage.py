"""Job outputs on an fsspec store (s3://, gs://, file://): SavedModels published, checkpoints
mirrored after every epoch and brought back when a job resumes on a node without them."""

from __future__ import annotations

import logging
import posixpath
import shutil
from pathlib import Path

import fsspec

from weather_runtime.artifacts import directory_digest, normalise_uri
from weather_runtime.errors import DomainError

log = logging.getLogger(__name__)


class PublishFailed(DomainError):
    """The uploaded SavedModel does not match the local one (a partial or altered upload)."""


def _fs(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem of url and the path in it, with no cached listing of that path (other
    processes, such as a job's training process, write there too)."""
    fs, path = fsspec.core.url_to_fs(url)
    root = str(path).rstrip("/")
    fs.invalidate_cache(root)
    return fs, root


def upload_tree(local: Path, url: str) -> None:
    """Makes url hold exactly local's files (uploads every file, deletes files local lacks)."""
    fs, root = _fs(url)
    wanted = {p.relative_to(local).as_posix(): p for p in sorted(local.rglob("*")) if p.is_file()}
    existing = {
        posixpath.relpath(path, root) for path in (fs.find(root) if fs.exists(root) else [])
    }
    for relative, path in wanted.items():
        target = f"{root}/{relative}"
        fs.makedirs(posixpath.dirname(target), exist_ok=True)
        fs.put_file(str(path), target)
    for stale in sorted(existing - set(wanted)):
        fs.rm_file(f"{root}/{stale}")


def download_tree(url: str, local: Path) -> int:
    """Copies the files under url into local; returns how many (0 when url holds none)."""
    fs, root = _fs(url)
    if not fs.exists(root):
        return 0
    count = 0
    for path in fs.find(root):
        target = local / posixpath.relpath(path, root)
        target.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(path, str(target))
        count += 1
    return count


def remove_tree(url: str) -> None:
    """Deletes everything under url (nothing when it is absent)."""
    fs, root = _fs(url)
    if fs.exists(root):
        fs.rm(root, recursive=True)


class ArtifactStore:
    """Where a trainer keeps what must outlive its pod: <root>/jobs/<job id>/{saved_model,
    checkpoints}/."""

    def __init__(self, root: str) -> None:
        self.root = normalise_uri(root).rstrip("/")

    def job_url(self, job_id: str, part: str) -> str:
        """URL of one part ("saved_model", "checkpoints") of a job."""
        return f"{self.root}/jobs/{job_id}/{part}"

    def publish(self, saved_model: Path, job_id: str) -> str:
        """Uploads a SavedModel directory and returns its URL, after checking that the stored
        copy has the local copy's digest; the local copy and the job's mirrored checkpoints are
        then dropped (the work volume keeps only job records)."""
        url = self.job_url(job_id, "saved_model")
        upload_tree(saved_model, url)
        local, stored = directory_digest(str(saved_model)), directory_digest(url)
        if local.digest != stored.digest:
            raise PublishFailed(
                f"the SavedModel stored at {url} does not match the exported one "
                f"({stored.digest} != {local.digest})"
            )
        remove_tree(self.job_url(job_id, "checkpoints"))
        shutil.rmtree(saved_model, ignore_errors=True)
        log.info("published %s (%d files, %d bytes)", url, stored.file_count, stored.total_bytes)
        return url
