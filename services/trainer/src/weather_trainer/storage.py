"""Job outputs on an fsspec store (s3://, gs://, file://): SavedModels published, checkpoints
mirrored after every epoch and brought back when a job resumes on a node without them."""

from __future__ import annotations

import logging
import os
import posixpath
import shutil
import uuid
from pathlib import Path

import fsspec

from weather_data.store_errors import store_errors
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
        protocol = fsspec.core.url_to_fs(self.root)[0].protocol
        self.local = "file" in (protocol if isinstance(protocol, tuple) else (protocol,))
        self._undeleted: set[str] = set()  # staging copies a read-only store would not let go

    def job_url(self, job_id: str, part: str) -> str:
        """URL of one part ("saved_model", "checkpoints") of a job."""
        return f"{self.root}/jobs/{job_id}/{part}"

    def publish(self, saved_model: Path, job_id: str) -> str:
        """Uploads a SavedModel directory and returns its URL, after checking that the stored
        copy has the local copy's digest; the local copy and the job's mirrored checkpoints are
        then dropped (the work volume keeps only job records).

        On a local store the upload goes to a staging folder renamed into place once complete,
        so the final URL holds a whole model or nothing; elsewhere a failed upload is removed.
        A full or unwritable store: StoreFull or StoreUnwritable naming it, nothing left behind
        (best effort: what a read-only store keeps is removed by the next publish)."""
        url = self.job_url(job_id, "saved_model")
        self._remove_undeleted()
        staging = f"{url}.partial-{uuid.uuid4().hex[:12]}" if self.local else url
        try:
            with store_errors(self.root, f"publishing the SavedModel of job {job_id}"):
                upload_tree(saved_model, staging)
                local, stored = directory_digest(str(saved_model)), directory_digest(staging)
                if local.digest != stored.digest:
                    raise PublishFailed(
                        f"the SavedModel stored at {staging} does not match the exported one "
                        f"({stored.digest} != {local.digest})"
                    )
                if self.local:
                    _rename_into_place(staging, url)
        except BaseException:
            self._remove(staging)
            raise
        remove_tree(self.job_url(job_id, "checkpoints"))
        shutil.rmtree(saved_model, ignore_errors=True)
        log.info("published %s (%d files, %d bytes)", url, stored.file_count, stored.total_bytes)
        return url

    def _remove(self, url: str) -> None:
        """Removes a failed upload; remembered for later when the store refuses."""
        try:
            remove_tree(url)
        except OSError as exc:
            log.warning("could not remove %s (%s); the next publish will", url, exc)
            self._undeleted.add(url)

    def _remove_undeleted(self) -> None:
        for url in sorted(self._undeleted):
            self._undeleted.discard(url)
            self._remove(url)


def _rename_into_place(staging: str, url: str) -> None:
    """Renames a complete local staging folder to url (replacing an earlier copy)."""
    final = Path(fsspec.core.url_to_fs(url)[1])
    if final.exists():
        shutil.rmtree(final)
    os.replace(fsspec.core.url_to_fs(staging)[1], final)
