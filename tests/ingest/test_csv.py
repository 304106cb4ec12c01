"""CSV station tables ingest into (time, station) with station coordinates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from weather.common.v1 import operation_pb2, region_pb2
from weather.ingest.v1 import ingest_service_pb2 as pb

from tests.ingest.conftest import RunningIngest


def _table(path, blank: bool = True) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    times = pd.date_range("2024-01-01", periods=48, freq="h")
    stations = {"EGLL": (51.47, -0.45), "EGPH": (55.95, -3.37), "KJFK": (40.64, 286.22)}
    rows = []
    rng = np.random.default_rng(1)
    for station, (lat, lon) in stations.items():
        for time in times:
            rows.append(
                {
                    "time": time.isoformat(),
                    "station": station,
                    "latitude": lat,
                    "longitude": lon,
                    "t2m": 275 + rng.normal(),
                    "wind": abs(rng.normal(5, 2)),
                }
            )
    frame = pd.DataFrame(rows)
    if blank:
        frame.loc[5, "t2m"] = np.nan
        frame.loc[70, "wind"] = np.nan
    frame.to_csv(path, index=False)
    return frame


def test_station_table(ingest: RunningIngest) -> None:
    path = ingest.scratch / "stations.csv"
    frame = _table(path)
    units = {"t2m": "K", "wind": "m s-1"}
    done = ingest.run(
        pb.StartIngestRequest(source_uri=str(path), dataset_id="stations", units=units)
    )
    assert done.operation.state == operation_pb2.OPERATION_STATE_SUCCEEDED, done.operation.error
    m = done.result
    assert [d.name for d in m.dimensions] == ["time", "station"]
    assert {v.name: (v.units, v.missing_count) for v in m.variables} == {
        "t2m": ("K", 1),
        "wind": ("m s-1", 1),
    }
    stored = xr.open_zarr(m.store_uri, consolidated=False)
    assert sorted(stored.station.values.tolist()) == ["EGLL", "EGPH", "KJFK"]
    assert float(stored.longitude.sel(station="KJFK")) == np.float64(286.22 - 360)
    expected = frame[(frame.station == "EGPH")].t2m.to_numpy(np.float32)
    np.testing.assert_array_equal(stored.t2m.sel(station="EGPH").values, expected)
    europe = ingest.run(
        pb.StartIngestRequest(
            source_uri=str(path),
            dataset_id="europe",
            units=units,
            region=region_pb2.Region(lat_min=45, lat_max=60, lon_min=-10, lon_max=5),
        )
    )
    assert [d.size for d in europe.result.dimensions if d.name == "station"] == [2]


def test_station_table_without_units_names_each_variable(ingest: RunningIngest) -> None:
    path = ingest.scratch / "stations.csv"
    _table(path, blank=False)
    done = ingest.run(
        pb.StartIngestRequest(source_uri=str(path), dataset_id="stations", units={"t2m": "K"})
    )
    assert done.operation.state == operation_pb2.OPERATION_STATE_FAILED
    assert [p.field for p in done.operation.error.field_problems] == ["units['wind']"]


def test_station_table_with_a_repeated_row(ingest: RunningIngest) -> None:
    path = ingest.scratch / "stations.csv"
    frame = _table(path, blank=False)
    pd.concat([frame, frame.iloc[[3]]]).to_csv(path, index=False)
    done = ingest.run(
        pb.StartIngestRequest(
            source_uri=str(path), dataset_id="s", units={"t2m": "K", "wind": "m s-1"}
        )
    )
    assert done.operation.state == operation_pb2.OPERATION_STATE_FAILED
    assert "two rows for station" in done.operation.error.message
