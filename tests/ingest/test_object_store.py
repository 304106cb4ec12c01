"""The archive on an object store (S3 protocol, served by moto on loopback) works like a folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import fsspec
import numpy as np
import pytest
import xarray as xr
from weather.common.v1 import operation_pb2
from weather.ingest.v1 import ingest_service_pb2 as pb

from tests.ingest.conftest import NAVY, start_ingest
from tests.object_store import s3_endpoint
from weather_data.cluster import DaskRuntime, DaskSettings

BUCKET = "weather-archive"


@pytest.fixture(scope="module")
def s3_runtime() -> Iterator[DaskRuntime]:
    """An S3 endpoint on loopback and a Dask cluster whose workers see its address and keys,
    as pods would through the chart's Secret."""
    with s3_endpoint(BUCKET):
        runtime = DaskRuntime(DaskSettings(local_workers=1, local_threads=2, memory_limit="2GiB"))
        runtime.client()
        try:
            yield runtime
        finally:
            runtime.close()


def _ingest(tmp_path: Path, runtime: DaskRuntime, archive_url: str) -> pb.WatchOperationResponse:
    running = start_ingest(tmp_path, runtime, archive_url=archive_url)
    try:
        request = pb.StartIngestRequest(dataset_id="navy-winds", source_uri=str(NAVY))
        return running.run(request)
    finally:
        running.channel.close()
        running.server.stop(5)


def test_ingest_into_s3_matches_a_local_archive(tmp_path: Path, s3_runtime: DaskRuntime) -> None:
    url = f"s3://{BUCKET}/archive"
    remote = _ingest(tmp_path / "s3", s3_runtime, url)
    assert remote.operation.state == operation_pb2.OPERATION_STATE_SUCCEEDED, remote.operation
    local = _ingest(tmp_path / "local", s3_runtime, str(tmp_path / "local-archive"))
    assert local.operation.state == operation_pb2.OPERATION_STATE_SUCCEEDED, local.operation
    assert remote.result.ref.content_hash == local.result.ref.content_hash
    assert remote.result.ref.content_hash.startswith("sha256:")

    again = _ingest(tmp_path / "s3-again", s3_runtime, url)
    assert again.result.ref.content_hash == remote.result.ref.content_hash
    assert again.result.version == remote.result.version  # idempotent: no new version

    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    store = remote.result.store_uri
    assert store.startswith(f"{url}/") and fs.exists(store), fs.find(url)[:10]
    stored = xr.open_zarr(store, consolidated=False)
    from_local = xr.open_zarr(local.result.store_uri, consolidated=False)
    for name in ("UWND", "VWND"):
        np.testing.assert_array_equal(stored[name].values, from_local[name].values)
