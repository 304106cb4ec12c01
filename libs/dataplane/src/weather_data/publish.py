"""Publishing a dataset: write it, hash it, and commit a manifest (or reuse identical content)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import xarray as xr
from distributed import Client

from weather_data import hashing
from weather_data.archive import Archive
from weather_data.cluster import wait_until_idle
from weather_data.manifest import Manifest
from weather_data.store_errors import store_error
from weather_data.writer import describe, lost_workers_unavailable, now_iso, write_new


def publish(
    archive: Archive,
    client: Client,
    ds: xr.Dataset,
    *,
    dataset_id: str,
    source_uri: str,
    source_format: str,
    source_size: int,
    actor: str,
    progress: Callable[[float], None],
    cancel: threading.Event,
    extra: dict[str, str] | None = None,
) -> Manifest:
    """Stores ds as the next version of dataset_id; the same content as the latest is a no-op.

    A failed or cancelled write removes its data; nothing is visible until the manifest commits.
    A full or unwritable store: RESOURCE_EXHAUSTED or FAILED_PRECONDITION naming it.
    Workers dying mid-write: their tasks run again, or (past the scheduler's allowed-failures)
    UNAVAILABLE after the cleanup.
    """
    latest = archive.latest(dataset_id)
    store_path = archive.new_store_path(dataset_id)
    try:
        with lost_workers_unavailable(f"writing {dataset_id}"):
            written = write_new(
                ds, archive.store_url(store_path), client, on_progress=progress, cancel=cancel
            )
    except BaseException as exc:
        # Cancelled tasks already running on workers finish their chunk: let them, then clean up.
        wait_until_idle(client)
        archive.delete(store_path)
        if (clean := store_error(exc, archive.url, f"writing {dataset_id}")) is not None:
            raise clean from None
        raise
    content_hash = hashing.to_text(written.state)
    if latest is not None and latest.content_hash == content_hash:
        archive.delete(store_path)
        return latest
    variables, dimensions, facts = describe(ds, written.chunks, written.missing)
    manifest = Manifest(
        dataset_id=dataset_id,
        version=(latest.version + 1) if latest else 1,
        content_hash=content_hash,
        store_path=store_path,
        variables=variables,
        dimensions=dimensions,
        source_uri=source_uri,
        source_format=source_format,
        source_size=source_size,
        create_time=now_iso(),
        created_by=actor,
        parent_hash=latest.content_hash if latest else "",
        extra=dict(extra or {}),
        **facts,  # type: ignore[arg-type]
    )
    try:
        archive.commit(manifest)
    except BaseException as exc:
        archive.delete(store_path)
        if (clean := store_error(exc, archive.url, f"committing {dataset_id}")) is not None:
            raise clean from None
        raise
    return manifest
