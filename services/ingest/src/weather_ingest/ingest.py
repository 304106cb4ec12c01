"""One ingest: open the source, make it canonical, write and hash it, commit a manifest."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import fsspec
import xarray as xr

from weather_data.archive import Archive
from weather_data.canonical import canonical_axes, canonicalize
from weather_data.cluster import DaskRuntime
from weather_data.limits import ExtentLimits
from weather_data.manifest import Manifest
from weather_data.publish import publish
from weather_ingest import sources
from weather_ingest.merge import merge
from weather_ingest.requests import IngestRequest, check_source_exists
from weather_ingest.source import CorruptSource, Source
from weather_runtime.artifacts import local_path
from weather_runtime.errors import FieldViolation, InvalidArgument
from weather_runtime.operations import Cancelled
from weather_runtime.uris import UriPolicy

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class OpenedSource:
    """A source opened lazily and made canonical."""

    dataset: xr.Dataset
    source: Source
    size: int


class Ingester:
    """Runs ingests against one archive and one Dask cluster."""

    def __init__(
        self,
        archive: Archive,
        runtime: DaskRuntime,
        allowed: list[str] | UriPolicy,
        limits: ExtentLimits | None = None,
    ) -> None:
        self.archive = archive
        self.runtime = runtime
        self.limits = limits or ExtentLimits()
        self.policy = allowed if isinstance(allowed, UriPolicy) else UriPolicy.build(allowed)

    def precheck(self, request: IngestRequest) -> list[tuple[str, str, bool, int]]:
        """Allowed root and existence of every source, without opening:
        (request field, normalised uri, is_dir, size) each."""
        found = []
        for field_name, uri in request.sources():
            normal = self.policy.check(uri, field_name)  # text only, no I/O
            self.policy.check_open(normal, field_name)  # links leading out of the roots
            is_dir, size = check_source_exists(normal)
            found.append((field_name, normal, is_dir, size))
        return found

    @contextmanager
    def open(self, request: IngestRequest) -> Iterator[OpenedSource]:
        """The canonical lazy dataset of a request's sources (local copies of remote files),
        merged on their coordinates when there are several."""
        checked = self.precheck(request)
        with ExitStack() as stack:
            parts, fields, chosen = [], [], []
            for field_name, normal, is_dir, _ in checked:
                path = stack.enter_context(
                    _local_copy(self.policy.check_open(normal, field_name), is_dir)
                )
                source = self._choose(request, normal, path, is_dir)
                try:
                    raw = source.open(path, request.options)
                except CorruptSource as exc:
                    raise InvalidArgument.field(field_name, str(exc)) from None
                try:
                    parts.append(canonical_axes(raw, request.selection))
                except InvalidArgument as exc:
                    raise _relabel(exc, field_name) from None
                fields.append(field_name)
                chosen.append(source)
            dataset = canonicalize(merge(parts, fields), request.selection, axes_done=True)
            self.limits.check(dataset, "the source (after the selection)")
            yield OpenedSource(dataset, chosen[0], sum(size for *_, size in checked))

    @staticmethod
    def _choose(request: IngestRequest, uri: str, path: str, is_dir: bool) -> Source:
        if request.format:
            return sources.get(request.format)
        head = b"" if is_dir else open(path, "rb").read(16)  # noqa: SIM115 - 16 bytes
        found = sources.detect(uri, head, is_dir)
        if found is None:
            raise InvalidArgument.field(
                "format", "could not tell the source's format; set format (GRIB, NETCDF, ZARR, CSV)"
            )
        return found

    def run(
        self, request: IngestRequest, actor: str, progress: Progress, cancel: threading.Event
    ) -> Manifest:
        """The whole ingest; returns the committed (or identical existing) manifest."""
        progress("opening", 0.0)
        with self.open(request) as opened:
            if cancel.is_set():
                raise Cancelled()
            progress("writing", 0.02)
            manifest = publish(
                self.archive,
                self.runtime.client(),
                opened.dataset,
                dataset_id=request.dataset_id,
                source_uri=request.source_uri,
                source_format=opened.source.name,
                source_size=opened.size,
                actor=actor,
                progress=lambda done: progress("writing", 0.02 + 0.95 * done),
                cancel=cancel,
                extra={"source_uris": json.dumps(list(request.more_sources))}
                if request.more_sources
                else None,  # the sources merged with source_uri, kept with the manifest
            )
        progress("done", 1.0)
        return manifest


def _relabel(error: InvalidArgument, field_name: str) -> InvalidArgument:
    """The error of one of several sources: that source's field instead of source_uri, and
    other fields (time_decoding...) say which source they failed on."""
    if field_name == "source_uri":
        return error
    return InvalidArgument(
        [
            FieldViolation(field_name, v.description)
            if v.field == "source_uri"
            else FieldViolation(v.field, f"{v.description} (in {field_name})")
            for v in error.violations
        ]
    )


@contextmanager
def _local_copy(uri: str, is_dir: bool) -> Iterator[str]:
    """A local path for uri: itself when local, a temporary copy of a remote file otherwise."""
    path = local_path(uri)
    if path is not None:
        yield str(path)
        return
    if is_dir:
        yield uri  # Zarr stores are read through fsspec directly
        return
    folder = tempfile.mkdtemp(prefix="ingest-")
    try:
        target = f"{folder}/{uri.rsplit('/', 1)[-1]}"
        fs, remote = fsspec.core.url_to_fs(uri)
        fs.get(remote, target)
        yield target
    finally:
        shutil.rmtree(folder, ignore_errors=True)
