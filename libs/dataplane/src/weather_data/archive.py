"""The archive store: canonical Zarr data and version manifests under one fsspec URL."""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import xarray as xr

from weather_data.manifest import Manifest
from weather_runtime.errors import Aborted, NotFound

log = logging.getLogger(__name__)
DATASET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class Archive:
    """Layout: datasets/<id>/versions/<NNNNNN>.json and datasets/<id>/data/<uuid>.zarr.

    Readers only find data through manifests, and a manifest is written last, in one put, after
    its data is complete: a reader never sees half a dataset. Version files are created
    exclusively, so two writers cannot both commit the same version number.
    """

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.fs, self.root = fsspec.core.url_to_fs(self.url)
        self.local = "file" in (
            self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        )
        self._commit_lock = threading.Lock()
        self._undeleted: set[str] = set()  # data of failed writes the store would not let go
        if self.local:
            Path(self.root).mkdir(parents=True, exist_ok=True)

    # ----------------------------------------------------------------- paths
    def _path(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    def store_url(self, store_path: str) -> str:
        """Full URL (or local path) of a store path inside the archive."""
        return self._path(store_path) if self.local else f"{self.url}/{store_path}"

    def new_store_path(self, dataset_id: str) -> str:
        """A fresh, unreferenced location for a dataset's data (first removing what earlier
        failed writes left behind because the store was read-only then)."""
        for store_path in sorted(self._undeleted):
            self._undeleted.discard(store_path)
            self.delete(store_path)
        return f"datasets/{dataset_id}/data/{uuid.uuid4().hex}.zarr"

    def _versions_dir(self, dataset_id: str) -> str:
        return self._path(f"datasets/{dataset_id}/versions")

    # ------------------------------------------------------------- manifests
    def versions(self, dataset_id: str) -> list[int]:
        """Committed version numbers of a dataset, ascending."""
        folder = self._versions_dir(dataset_id)
        if not self.fs.exists(folder):
            return []
        numbers = []
        for name in self.fs.ls(folder, detail=False):
            stem = name.rsplit("/", 1)[-1].removesuffix(".json")
            if stem.isdigit():
                numbers.append(int(stem))
        return sorted(numbers)

    def get(self, dataset_id: str, version: int = 0) -> Manifest:
        """A version's manifest (the latest for 0); NotFound when there is none."""
        if not DATASET_ID.match(dataset_id):
            raise NotFound("dataset", dataset_id)
        numbers = self.versions(dataset_id)
        if not numbers:
            raise NotFound("dataset", dataset_id)
        number = version or numbers[-1]
        if number not in numbers:
            raise NotFound("dataset version", f"{dataset_id}/{version}")
        with self.fs.open(f"{self._versions_dir(dataset_id)}/{number:06d}.json", "r") as handle:
            return Manifest.from_json(handle.read())

    def latest(self, dataset_id: str) -> Manifest | None:
        """The latest manifest, or None for a new dataset."""
        try:
            return self.get(dataset_id)
        except NotFound:
            return None

    def dataset_ids(self) -> list[str]:
        """Ids of datasets with at least one committed version, sorted."""
        folder = self._path("datasets")
        if not self.fs.exists(folder):
            return []
        ids = [name.rsplit("/", 1)[-1] for name in self.fs.ls(folder, detail=False)]
        return sorted(i for i in ids if DATASET_ID.match(i) and self.versions(i))

    def iter_latest(self, prefix: str = "", after: str | None = None) -> Iterator[Manifest]:
        """Latest manifests in id order, from after (exclusive)."""
        for dataset_id in self.dataset_ids():
            if dataset_id.startswith(prefix) and (after is None or dataset_id > after):
                manifest = self.latest(dataset_id)
                if manifest is not None:
                    yield manifest

    def commit(self, manifest: Manifest) -> None:
        """Writes a manifest as its version; Aborted when that version exists already."""
        target = f"{self._versions_dir(manifest.dataset_id)}/{manifest.version:06d}.json"
        with self._commit_lock:
            if self.local:
                self._commit_local(target, manifest.to_json())
                return
            if self.fs.exists(target):
                raise Aborted(
                    f"version {manifest.version} of {manifest.dataset_id} "
                    "was committed concurrently"
                )
            with self.fs.open(target, "w") as handle:
                handle.write(manifest.to_json())

    @staticmethod
    def _commit_local(target: str, text: str) -> None:
        folder = Path(target).parent
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".pending-")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(temp, target)  # atomic create-if-absent with the whole content
            except FileExistsError:
                raise Aborted(
                    f"version file {Path(target).name} was committed concurrently"
                ) from None
            dir_fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        finally:
            os.unlink(temp)

    # -------------------------------------------------------------- artefacts
    def put_json(self, relative: str, text: str) -> None:
        """Writes a small JSON artefact (statistics, build records) in one put."""
        path = self._path(relative)
        if self.local:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=Path(path).parent, prefix=".pending-")
            try:
                with os.fdopen(fd, "w") as handle:
                    handle.write(text)
                os.replace(temp, path)
            except BaseException:
                Path(temp).unlink(missing_ok=True)  # a full store keeps no half-written file
                raise
            return
        with self.fs.open(path, "w") as handle:
            handle.write(text)

    def get_json(self, relative: str) -> str | None:
        """A JSON artefact's text, or None when absent."""
        path = self._path(relative)
        if not self.fs.exists(path):
            return None
        with self.fs.open(path, "r") as handle:
            return str(handle.read())

    # ------------------------------------------------------------------ data
    def open(self, manifest: Manifest) -> xr.Dataset:
        """The dataset of a version, lazily, exactly its committed time steps."""
        ds = xr.open_zarr(self.store_url(manifest.store_path), chunks={}, consolidated=False)
        if "time" not in ds.dims:
            return ds  # type: ignore[no-any-return]
        return ds.isel(time=slice(0, manifest.time_steps))  # type: ignore[no-any-return]

    def delete(self, store_path: str) -> None:
        """Removes data that no manifest references (a failed or cancelled write)."""
        url = self._path(store_path)
        for attempt in range(3):
            try:
                if self.fs.exists(url):
                    self.fs.rm(url, recursive=True)
                return
            except OSError:
                # a straggling writer may add a file while the tree is removed: try again
                if attempt == 2:
                    log.warning("could not remove %s; the next write will", url, exc_info=True)
                    self._undeleted.add(store_path)
                else:
                    time.sleep(0.5)

    def sweep_orphans(self, older_than_seconds: float = 3600) -> list[str]:
        """Deletes data stores no manifest references, older than a limit (crashed writers)."""
        removed = []
        for dataset_id in self._all_ids():
            referenced = {self.get(dataset_id, v).store_path for v in self.versions(dataset_id)}
            data = self._path(f"datasets/{dataset_id}/data")
            if not self.fs.exists(data):
                continue
            for name in self.fs.ls(data, detail=False):
                relative = f"datasets/{dataset_id}/data/{name.rsplit('/', 1)[-1]}"
                if relative in referenced:
                    continue
                if self._age(name) > older_than_seconds:
                    self.delete(relative)
                    removed.append(relative)
        return removed

    def _all_ids(self) -> list[str]:
        folder = self._path("datasets")
        if not self.fs.exists(folder):
            return []
        return sorted(n.rsplit("/", 1)[-1] for n in self.fs.ls(folder, detail=False))

    def _age(self, path: str) -> float:
        try:
            modified = self.fs.modified(path)
            return float(time.time() - modified.timestamp())
        except (OSError, NotImplementedError):
            return float("inf")
