"""The three bundled real files ingest into the canonical form over real gRPC."""

from __future__ import annotations

import numpy as np
import xarray as xr
from google.protobuf import timestamp_pb2
from weather.common.v1 import dataset_pb2, manifest_pb2, operation_pb2, region_pb2
from weather.ingest.v1 import ingest_service_pb2 as pb

from tests.ingest.conftest import ERAINT, GRIB, NAVY, RunningIngest

SUCCEEDED = operation_pb2.OPERATION_STATE_SUCCEEDED
FAILED = operation_pb2.OPERATION_STATE_FAILED


def _dims(manifest: manifest_pb2.DatasetManifest) -> dict[str, manifest_pb2.DimensionInfo]:
    return {d.name: d for d in manifest.dimensions}


def test_navy_winds_become_canonical(ingest: RunningIngest) -> None:
    done = ingest.run(pb.StartIngestRequest(source_uri=str(NAVY), dataset_id="navy-winds"))
    assert done.operation.state == SUCCEEDED, done.operation.error
    m = done.result
    assert (m.ref.dataset_id, m.version, m.parent_hash) == ("navy-winds", 1, "")
    assert m.ref.content_hash.startswith("sha256:") and len(m.ref.content_hash) == 71
    dims = _dims(m)
    assert [d.name for d in m.dimensions] == ["time", "latitude", "longitude"]
    assert dims["longitude"].size == 144, "the 20..377.5 columns past 360 must not be duplicated"
    assert (dims["longitude"].min, dims["longitude"].max) == (-180.0, 177.5)
    assert (dims["latitude"].min, dims["latitude"].max) == (-90.0, 90.0)
    assert m.time_steps == 132
    assert {v.name: v.units for v in m.variables} == {"UWND": "m s-1", "VWND": "m s-1"}
    assert m.source.format == "netcdf" and m.source.size_bytes == NAVY.stat().st_size
    stored = xr.open_zarr(m.store_uri, consolidated=False)
    source = xr.open_dataset(NAVY)
    assert stored.UWND.dtype == np.float32
    for lon in (20.0, 100.0, 177.5):
        np.testing.assert_array_equal(
            stored.UWND.sel(longitude=lon).values, source.UWND.sel(FNOCX=lon).values
        )
    # 200 E in the source is -160 in the archive
    np.testing.assert_array_equal(
        stored.VWND.sel(longitude=-160.0).values, source.VWND.sel(FNOCX=200.0).values
    )
    assert stored.latitude.values[0] == -90.0 and np.all(np.diff(stored.latitude.values) > 0)


def test_era5_grib_hourly(ingest: RunningIngest) -> None:
    done = ingest.run(pb.StartIngestRequest(source_uri=str(GRIB), dataset_id="era5-t2m"))
    assert done.operation.state == SUCCEEDED, done.operation.error
    m = done.result
    assert m.time_steps == 744 and m.time_step.seconds == 3600
    assert m.time_range.start.ToJsonString() == "2019-03-01T00:00:00Z"
    assert m.time_range.end.ToJsonString() == "2019-04-01T00:00:00Z"
    assert [(v.name, v.units, v.missing_count) for v in m.variables] == [("t2m", "K", 0)]
    stored = xr.open_zarr(m.store_uri, consolidated=False)
    assert stored.latitude.values[0] == 50.0  # ascending, the source runs 58 -> 50
    source = xr.open_dataset(GRIB, engine="cfgrib", backend_kwargs={"indexpath": ""})
    np.testing.assert_array_equal(stored.t2m.values, source.t2m.values[:, ::-1, :])


def test_era_interim_month_axis_needs_a_reference_year(ingest: RunningIngest) -> None:
    failed = ingest.run(pb.StartIngestRequest(source_uri=str(ERAINT), dataset_id="eraint"))
    assert failed.operation.state == FAILED
    assert failed.operation.error.code == "INVALID_ARGUMENT"
    assert [p.field for p in failed.operation.error.field_problems] == ["reference_year"]
    done = ingest.run(
        pb.StartIngestRequest(
            source_uri=str(ERAINT), dataset_id="eraint", reference_year=2000, levels=[500, 850]
        )
    )
    assert done.operation.state == SUCCEEDED, done.operation.error
    dims = _dims(done.result)
    assert [d.name for d in done.result.dimensions] == ["time", "level", "latitude", "longitude"]
    assert dims["level"].units == "hPa" and (dims["level"].min, dims["level"].max) == (500.0, 850.0)
    assert dims["longitude"].size == 480 and dims["latitude"].size == 241
    assert done.result.time_range.start.ToJsonString() == "2000-01-15T00:00:00Z"


def test_same_content_is_idempotent_and_new_content_is_a_new_version(ingest: RunningIngest) -> None:
    request = pb.StartIngestRequest(source_uri=str(NAVY), dataset_id="navy", variables=["UWND"])
    first = ingest.run(request).result
    again = ingest.run(request).result
    assert again.version == 1 and again.ref.content_hash == first.ref.content_hash
    assert again.store_uri == first.store_uri
    data_dir = ingest.archive / "datasets" / "navy" / "data"
    assert len(list(data_dir.iterdir())) == 1, "the repeated ingest left a second copy"
    window = dataset_pb2.TimeRange(
        start=timestamp_pb2.Timestamp(seconds=410227200),  # 1983-01-01
        end=timestamp_pb2.Timestamp(seconds=441763200),  # 1984-01-01
    )
    second = ingest.run(
        pb.StartIngestRequest(
            source_uri=str(NAVY), dataset_id="navy", variables=["UWND"], time_range=window
        )
    ).result
    assert second.version == 2 and second.parent_hash == first.ref.content_hash
    assert second.time_steps == 12
    v1 = ingest.stub.GetDataset(pb.GetDatasetRequest(dataset_id="navy", version=1)).manifest
    assert v1 == first


def test_selection_by_region_across_the_antimeridian(ingest: RunningIngest) -> None:
    region = region_pb2.Region(lat_min=-5, lat_max=5, lon_min=160, lon_max=-150)
    done = ingest.run(
        pb.StartIngestRequest(source_uri=str(NAVY), dataset_id="pacific", region=region)
    )
    assert done.operation.state == SUCCEEDED, done.operation.error
    stored = xr.open_zarr(done.result.store_uri, consolidated=False)
    lons = stored.longitude.values
    assert set(lons) == {160.0, 162.5, 165.0, 167.5, 170.0, 172.5, 175.0, 177.5} | {
        -180.0,
        -177.5,
        -175.0,
        -172.5,
        -170.0,
        -167.5,
        -165.0,
        -162.5,
        -160.0,
        -157.5,
        -155.0,
        -152.5,
        -150.0,
    }
    assert stored.latitude.values.tolist() == [-5.0, -2.5, 0.0, 2.5, 5.0]


def test_a_box_spanning_every_longitude_keeps_every_column(ingest: RunningIngest) -> None:
    region = region_pb2.Region(lat_min=-10, lat_max=10, lon_min=-180, lon_max=180)
    done = ingest.run(pb.StartIngestRequest(source_uri=str(NAVY), dataset_id="band", region=region))
    assert done.operation.state == SUCCEEDED, done.operation.error
    stored = xr.open_zarr(done.result.store_uri, consolidated=False)
    assert stored.sizes["longitude"] == 144  # every 2.5-degree column, none duplicated
    assert stored.latitude.values.tolist() == [-10.0, -7.5, -5.0, -2.5, 0.0, 2.5, 5.0, 7.5, 10.0]


def test_fsspec_url_source(tmp_path, dask_runtime) -> None:  # type: ignore[no-untyped-def]
    """A source behind an fsspec URL (here the in-process memory filesystem) under an allowed root."""
    import fsspec

    from tests.ingest.conftest import start_ingest

    fs = fsspec.filesystem("memory")
    fs.pipe("/incoming/navy.cdf", NAVY.read_bytes())
    running = start_ingest(tmp_path, dask_runtime, allowed_roots=["memory://incoming"])
    try:
        done = running.run(
            pb.StartIngestRequest(source_uri="memory://incoming/navy.cdf", dataset_id="navy")
        )
        assert done.operation.state == SUCCEEDED, done.operation.error
        assert done.result.source.uri == "memory://incoming/navy.cdf"
        assert done.result.time_steps == 132
    finally:
        running.server.stop(5)
        fs.rm("/incoming", recursive=True)
