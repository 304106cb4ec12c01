"""Station tables with gaps and mixed units: one unit per variable, gaps missing and counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from weather.common.v1 import operation_pb2
from weather.ingest.v1 import ingest_service_pb2 as pb

from tests.ingest.conftest import RunningIngest

SUCCEEDED = operation_pb2.OPERATION_STATE_SUCCEEDED
FAILED = operation_pb2.OPERATION_STATE_FAILED
TIMES = pd.date_range("2024-01-01", periods=6, freq="h")
# station: (latitude, longitude, t2m units, msl header column)
STATIONS = {
    "EGLL": (51.47, -0.45, "degC", "msl [hPa]"),
    "EGPH": (55.95, -3.37, "K", "msl [hPa]"),
    "KJFK": (40.64, -73.78, "degF", "msl (Pa)"),
}


def _temperature(station: str, step: int) -> float:
    """The value written, in the station's own units."""
    kelvin = 275.0 + step + len(station)
    return {"degC": kelvin - 273.15, "K": kelvin, "degF": (kelvin - 273.15) * 9 / 5 + 32}[
        STATIONS[station][2]
    ]


def _pressure(station: str, step: int) -> float:
    pascal = 101000.0 + 100 * step
    return pascal if STATIONS[station][3].endswith("(Pa)") else pascal / 100


def _table(path: Path, **changes: tuple[str, int, str, object]) -> pd.DataFrame:
    """The table (EGLL t2m blank at step 2, EGPH msl blank at step 1, no KJFK row at step 4);
    changes set (station, step, column) to a value."""
    rows = []
    for station, (lat, lon, t_units, msl_column) in STATIONS.items():
        for step, time in enumerate(TIMES):
            if (station, step) == ("KJFK", 4):
                continue
            row: dict[str, object] = {
                "time": time.isoformat(),
                "station": station,
                "latitude": lat,
                "longitude": lon,
                "t2m": _temperature(station, step),
                "t2m_units": t_units,
                msl_column: _pressure(station, step),
            }
            if (station, step) == ("EGLL", 2):
                row["t2m"] = None
            if (station, step) == ("EGPH", 1):
                row[msl_column] = None
            for where in changes.values():
                if where[:2] == (station, step):
                    row[where[2]] = where[3]
            rows.append(row)
    frame = pd.DataFrame(rows)
    frame.to_csv(path, index=False)
    return frame


def test_mixed_units_become_one_per_variable_and_gaps_are_counted(
    ingest: RunningIngest,
) -> None:
    path = ingest.scratch / "mixed.csv"
    _table(path)
    done = ingest.run(pb.StartIngestRequest(source_uri=str(path), dataset_id="mixed"))
    assert done.operation.state == SUCCEEDED, done.operation.error
    m = done.result
    assert {v.name: (v.units, v.missing_count, v.value_count) for v in m.variables} == {
        "t2m": ("K", 2, 18),
        "msl": ("Pa", 2, 18),
    }
    stored = xr.open_zarr(m.store_uri, consolidated=False).load()
    for station in STATIONS:
        t2m = stored.t2m.sel(station=station).values
        msl = stored.msl.sel(station=station).values
        for step in range(len(TIMES)):
            gap_t = (station, step) in (("EGLL", 2), ("KJFK", 4))
            gap_p = (station, step) in (("EGPH", 1), ("KJFK", 4))
            expected_t = np.nan if gap_t else 275.0 + step + len(station)
            expected_p = np.nan if gap_p else 101000.0 + 100 * step
            assert t2m[step] == pytest.approx(expected_t, abs=1e-4, nan_ok=True), (station, step)
            assert msl[step] == pytest.approx(expected_p, abs=1e-2, nan_ok=True), (station, step)

    hpa = ingest.run(
        pb.StartIngestRequest(source_uri=str(path), dataset_id="mixed-hpa", units={"msl": "hPa"})
    )
    assert hpa.operation.state == SUCCEEDED, hpa.operation.error
    assert {v.name: v.units for v in hpa.result.variables}["msl"] == "hPa"
    stored = xr.open_zarr(hpa.result.store_uri, consolidated=False)
    assert float(stored.msl.sel(station="KJFK").values[0]) == pytest.approx(1010.0)
    assert float(stored.msl.sel(station="EGLL").values[3]) == pytest.approx(1013.0)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (("KJFK", 3, "t2m_units", "degX"), "source_uri", "column 't2m_units' has unknown units"),
        (("EGPH", 0, "t2m_units", ""), "source_uri", "column 't2m_units' gives no units"),
        (("EGLL", 5, "msl (Pa)", 1.0), "source_uri", "msl is given twice in one row"),
        (("EGPH", 2, "t2m", "12,5"), "source_uri", "column 't2m' holds '12,5', which is not a"),
    ],
)
def test_units_that_cannot_be_made_one_name_the_column(
    ingest: RunningIngest, change: tuple[str, int, str, object], field: str, words: str
) -> None:
    path = ingest.scratch / "bad.csv"
    _table(path, change=change)
    done = ingest.run(pb.StartIngestRequest(source_uri=str(path), dataset_id="bad"))
    error = done.operation.error
    assert (done.operation.state, error.code) == (FAILED, "INVALID_ARGUMENT"), done
    assert [p.field for p in error.field_problems] == [field]
    assert words in error.message
    assert ingest.stub.ListDatasets(pb.ListDatasetsRequest()).datasets == []


def test_missing_markers_are_gaps(ingest: RunningIngest) -> None:
    path = ingest.scratch / "markers.csv"
    _table(path, one=("EGPH", 2, "t2m", "M"), two=("KJFK", 0, "msl (Pa)", "***"))
    done = ingest.run(pb.StartIngestRequest(source_uri=str(path), dataset_id="markers"))
    assert done.operation.state == SUCCEEDED, done.operation.error
    counts = {v.name: v.missing_count for v in done.result.variables}
    assert counts == {"t2m": 3, "msl": 3}


def test_requested_units_that_do_not_fit_name_the_variable(ingest: RunningIngest) -> None:
    path = ingest.scratch / "mixed.csv"
    _table(path)
    done = ingest.run(
        pb.StartIngestRequest(source_uri=str(path), dataset_id="bad", units={"t2m": "hPa"})
    )
    error = done.operation.error
    assert (done.operation.state, error.code) == (FAILED, "INVALID_ARGUMENT"), done
    assert [p.field for p in error.field_problems] == ["units['t2m']"]
    assert "column 't2m' holds" in error.message and "'hPa'" in error.message
    assert ingest.stub.ListDatasets(pb.ListDatasetsRequest()).datasets == []
