"""Station tables: one CSV row per station and time, variables in the other columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from weather_ingest.source import CorruptSource, Source, SourceOptions
from weather_ingest.sources import register
from weather_ingest.sources.csv_units import station_units


class CsvSource(Source):
    """CSV station tables, pivoted to (time, station) with station latitude and longitude."""

    name = "csv"
    suffixes = (".csv",)

    def sniff(self, head: bytes) -> bool:
        return False  # plain text has no magic: chosen by suffix or by the request's format

    def open(self, path: str, options: SourceOptions) -> xr.Dataset:
        try:
            table = pd.read_csv(path)
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise CorruptSource(f"CSV is unreadable: {exc}") from exc
        columns = [
            options.time_column,
            options.station_column,
            options.latitude_column,
            options.longitude_column,
        ]
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise CorruptSource(f"CSV lacks the columns {missing}; it has {list(table.columns)}")
        try:
            table[options.time_column] = pd.to_datetime(
                table[options.time_column], utc=True
            ).dt.tz_localize(None)
        except (ValueError, TypeError) as exc:
            raise CorruptSource(f"CSV time column is not parseable: {exc}") from exc
        values, units = station_units(
            table,
            [str(c) for c in table.columns if c not in columns],
            options.units,
            options.station_column,
        )
        stations = table.groupby(options.station_column)[
            [options.latitude_column, options.longitude_column]
        ].first()
        frame = values.set_index(
            pd.MultiIndex.from_arrays([table[options.time_column], table[options.station_column]])
        )
        if frame.index.has_duplicates:
            time, station = frame.index[frame.index.duplicated()][0]
            raise CorruptSource(f"CSV has two rows for station {station!r} at {time}")
        ds = xr.Dataset.from_dataframe(frame)
        for name, unit in units.items():
            ds[name].attrs["units"] = unit
        ds = ds.rename({options.time_column: "valid_time", options.station_column: "station"})
        ds = ds.assign_coords(
            latitude=(
                "station",
                stations.loc[ds["station"].values, options.latitude_column].to_numpy(np.float64),
            ),
            longitude=(
                "station",
                _wrap(
                    stations.loc[ds["station"].values, options.longitude_column].to_numpy(
                        np.float64
                    )
                ),
            ),
        )
        ds["station"] = ds["station"].astype(object)  # variable-length strings in Zarr
        return ds.chunk({})


register(CsvSource())


def _wrap(longitudes: np.ndarray) -> np.ndarray:
    """Longitudes in [-180, 180)."""
    return ((longitudes + 180.0) % 360.0) - 180.0
