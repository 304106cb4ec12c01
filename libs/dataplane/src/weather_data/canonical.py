"""The canonical form: axes found whatever they are called, normalised, validated and selected."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from weather_data import units as cf_units
from weather_data.chunks import choose_chunks
from weather_data.region import Region
from weather_data.timeaxis import TimeDecoding, suggestion
from weather_data.timeaxis import apply as apply_time_decoding
from weather_runtime.errors import FieldViolation, InvalidArgument

TIME, LEVEL, LAT, LON, STATION = "time", "level", "latitude", "longitude", "station"
ORDER = (TIME, LEVEL, STATION, LAT, LON)
_LAT_NAMES = {"lat", "latitude", "nav_lat", "y_lat"}
_LON_NAMES = {"lon", "long", "longitude", "nav_lon", "x_lon"}
_LEVEL_NAMES = {"level", "lev", "plev", "isobaricinhpa", "pressure", "pressure_level", "levels"}
_TIME_NAMES = {"time", "valid_time", "t", "date", "datetime"}
_MONTH_NAMES = {"month", "months", "month_of_year"}


@dataclass(frozen=True)
class Selection:
    """What to keep of a source, and what the source lacks (units, a year for month axes)."""

    variables: tuple[str, ...] = ()
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    region: Region | None = None
    levels: tuple[float, ...] = ()
    units: dict[str, str] = field(default_factory=dict)
    reference_year: int = 0
    time_decoding: TimeDecoding = field(default_factory=TimeDecoding)


def _attr(obj: xr.DataArray, name: str) -> str:
    return str(obj.attrs.get(name, "")).strip()


def _is_lat(name: str, coord: xr.DataArray) -> bool:
    units = _attr(coord, "units").lower()
    return (
        _attr(coord, "standard_name") == "latitude"
        or units in ("degrees_north", "degree_north", "degrees_n", "degree_n")
        or (_attr(coord, "axis").upper() == "Y" and "deg" in units)
        or name.lower() in _LAT_NAMES
    )


def _is_lon(name: str, coord: xr.DataArray) -> bool:
    units = _attr(coord, "units").lower()
    return (
        _attr(coord, "standard_name") == "longitude"
        or units in ("degrees_east", "degree_east", "degrees_e", "degree_e")
        or (_attr(coord, "axis").upper() == "X" and "deg" in units)
        or name.lower() in _LON_NAMES
    )


def _is_level(name: str, coord: xr.DataArray) -> bool:
    units = _attr(coord, "units")
    return (
        _attr(coord, "standard_name") == "air_pressure"
        or _attr(coord, "axis").upper() == "Z"
        or name.lower() in _LEVEL_NAMES
        or (bool(units) and cf_units.pressure_factor_to_hpa(units) is not None)
    )


def _problem(field_: str, description: str) -> InvalidArgument:
    return InvalidArgument([FieldViolation(field_, description)])


def _find_time(ds: xr.Dataset, selection: Selection) -> xr.Dataset:
    """Puts the valid time on a dimension named "time" (or raises: no time axis)."""
    for name in ("valid_time", *sorted(str(c) for c in ds.coords)):
        if name not in ds.coords:
            continue
        coord = ds.coords[name]
        if coord.ndim == 1 and np.issubdtype(coord.dtype, np.datetime64):
            dim = coord.dims[0]
            if name == "valid_time" or name.lower() in _TIME_NAMES or dim == name:
                if dim != name:
                    ds = ds.swap_dims({dim: name})
                if name != TIME:
                    ds = ds.drop_vars([TIME]) if TIME in ds.variables else ds
                    ds = ds.rename({name: TIME})
                return ds
    for dim in ds.dims:
        if str(dim).lower() in _MONTH_NAMES and dim in ds.coords:
            months = ds[dim].values
            if not (
                np.issubdtype(months.dtype, np.integer) and months.min() >= 1 and months.max() <= 12
            ):
                break
            if not selection.reference_year:
                raise _problem(
                    "reference_year",
                    f"the source has no time axis, only month of year ({dim!r}); set "
                    "reference_year to place those months in a year",
                )
            times = pd.to_datetime(
                [f"{selection.reference_year:04d}-{int(m):02d}-15" for m in months]
            )
            return ds.assign_coords({dim: times}).rename({dim: TIME})
    hint = suggestion(ds)
    if hint:
        raise _problem("time_decoding", f"the source has no time axis; {hint}")
    raise _problem("source_uri", "the source has no time axis (no datetime coordinate found)")


def _rename_axes(ds: xr.Dataset) -> xr.Dataset:
    renames: dict[str, str] = {}
    for dim in ds.dims:
        name = str(dim)
        if name == TIME or name not in ds.coords:
            continue
        coord = ds.coords[name]
        for target, test in ((LAT, _is_lat), (LON, _is_lon), (LEVEL, _is_level)):
            if target not in renames.values() and test(name, coord):
                renames[name] = target
                break
    return ds.rename(renames) if renames else ds


def _normalise_coords(ds: xr.Dataset) -> xr.Dataset:
    if LON in ds.dims:
        lon = ((ds[LON].values.astype("float64") + 180.0) % 360.0) - 180.0
        _, first = np.unique(np.round(lon, 6), return_index=True)
        keep = np.sort(first)  # duplicated columns (such as 360..377.5 again as 0..17.5) go
        if len(keep) != len(lon):
            ds = ds.isel({LON: keep})
        ds = ds.assign_coords({LON: lon[keep]})
        if not np.all(np.diff(lon[keep]) > 0):
            ds = ds.sortby(LON)
        ds[LON].attrs = {"units": "degrees_east", "standard_name": "longitude", "axis": "X"}
    if LAT in ds.dims:
        ds = ds.assign_coords({LAT: ds[LAT].values.astype("float64")})
        if not np.all(np.diff(ds[LAT].values) > 0):
            ds = ds.sortby(LAT)
        ds[LAT].attrs = {"units": "degrees_north", "standard_name": "latitude", "axis": "Y"}
    if LEVEL in ds.dims:
        factor = cf_units.pressure_factor_to_hpa(_attr(ds[LEVEL], "units") or "hPa") or 1.0
        ds = ds.assign_coords({LEVEL: ds[LEVEL].values.astype("float64") * factor})
        ds[LEVEL].attrs = {
            "units": "hPa",
            "standard_name": "air_pressure",
            "axis": "Z",
            "positive": "down",
        }
    return ds


def _times_ns(ds: xr.Dataset) -> xr.Dataset:
    return ds.assign_coords({TIME: ds[TIME].values.astype("datetime64[ns]")})


def _check_times(ds: xr.Dataset) -> None:
    times = pd.DatetimeIndex(ds[TIME].values)
    if times.has_duplicates:
        first = times[times.duplicated()][0]
        raise _problem("source_uri", f"duplicate times in the source (first: {first.isoformat()})")
    if not times.is_monotonic_increasing:
        position = int(np.argmax(np.diff(times.asi8) < 0)) + 1
        raise _problem(
            "source_uri",
            f"times are not sorted (step {position}, {times[position].isoformat()}, "
            "comes before the step above it)",
        )


def _naive(moment: pd.Timestamp) -> np.datetime64:
    return np.datetime64(moment.tz_localize(None) if moment.tzinfo else moment)


def _select_variables(
    ds: xr.Dataset, names: tuple[str, ...]
) -> tuple[xr.Dataset, list[FieldViolation]]:
    have = sorted(map(str, ds.data_vars))
    problems = [
        FieldViolation(f"variables[{i}]", f"no variable {n!r} in the source; it has {have}")
        for i, n in enumerate(names)
        if n not in ds.data_vars
    ]
    return (ds if problems or not names else ds[list(names)]), problems


def _select_times(ds: xr.Dataset, selection: Selection) -> tuple[xr.Dataset, list[FieldViolation]]:
    if selection.start is None and selection.end is None:
        return ds, []
    times = ds[TIME].values
    mask = np.ones(times.shape, dtype=bool)
    if selection.start is not None:
        mask &= times >= _naive(selection.start)
    if selection.end is not None:
        mask &= times < _naive(selection.end)
    ds = ds.isel({TIME: np.nonzero(mask)[0]})
    if ds.sizes[TIME] == 0:
        return ds, [FieldViolation("time_range", "selects no time step of the source")]
    return ds, []


def _select_levels(
    ds: xr.Dataset, levels: tuple[float, ...]
) -> tuple[xr.Dataset, list[FieldViolation]]:
    if not levels:
        return ds, []
    if LEVEL not in ds.dims:
        return ds, [FieldViolation("levels", "the source has no pressure levels")]
    have = ds[LEVEL].values
    problems = [
        FieldViolation(
            f"levels[{i}]", f"no level {lv:g} hPa; the source has {sorted(have.tolist())}"
        )
        for i, lv in enumerate(levels)
        if not np.any(np.isclose(have, lv))
    ]
    if problems:
        return ds, problems
    return ds.sel({LEVEL: [have[np.isclose(have, lv)][0] for lv in levels]}), []


def _select(ds: xr.Dataset, selection: Selection) -> xr.Dataset:
    problems: list[FieldViolation] = []
    ds, found = _select_variables(ds, selection.variables)
    problems += found
    ds, found = _select_times(ds, selection)
    problems += found
    if selection.region is not None:
        ds, problem = select_region(ds, selection.region)
        problems += [problem] if problem else []
    ds, found = _select_levels(ds, selection.levels)
    problems += found
    if problems:
        raise InvalidArgument(problems)
    return ds


def select_region(ds: xr.Dataset, region: Region) -> tuple[xr.Dataset, FieldViolation | None]:
    if STATION in ds.dims:
        return _select_stations(ds, region)
    if LAT not in ds.dims or LON not in ds.dims:
        return ds, FieldViolation("region", "the source has no latitude-longitude grid")
    if not (-90 <= region.lat_min < region.lat_max <= 90):
        return ds, FieldViolation("region", "needs -90 <= lat_min < lat_max <= 90")
    lat_mask = region.latitude_mask(ds[LAT].values)
    lon_mask = region.longitude_mask(ds[LON].values)
    ds = ds.isel({LAT: np.nonzero(lat_mask)[0], LON: np.nonzero(lon_mask)[0]})
    if ds.sizes[LAT] == 0 or ds.sizes[LON] == 0:
        return ds, FieldViolation("region", "selects no grid point of the source")
    return ds, None


def _in_box(lat: np.ndarray, lon: np.ndarray, region: Region) -> np.ndarray:
    return np.asarray(region.latitude_mask(lat) & region.longitude_mask(lon))


def _select_stations(ds: xr.Dataset, region: Region) -> tuple[xr.Dataset, FieldViolation | None]:
    inside = _in_box(ds[LAT].values, ds[LON].values, region)
    ds = ds.isel({STATION: np.nonzero(inside)[0]})
    if ds.sizes[STATION] == 0:
        return ds, FieldViolation("region", "selects no station of the source")
    return ds, None


def _variables(ds: xr.Dataset, selection: Selection) -> xr.Dataset:
    keep = [name for name, var in ds.data_vars.items() if TIME in var.dims]
    if not keep:
        raise _problem("variables", "the source has no variable along its time axis")
    ds = ds[keep]
    # Chunk lazily opened sources at the archive's chunks now, so each task reads its block
    # straight from the source instead of reassembling it from the file's own chunks.
    target = choose_chunks({str(k): int(v) for k, v in ds.sizes.items()})
    ds = ds.chunk({k: v for k, v in target.items() if k in ds.dims})
    problems = []
    for name in keep:
        var = ds[name]
        units = cf_units.canonical_spelling(selection.units.get(str(name)) or _attr(var, "units"))
        if not cf_units.is_known(units):
            problems.append(
                FieldViolation(
                    f"units[{str(name)!r}]",
                    f"variable {name!r} has "
                    f"{'unknown units ' + repr(units) if units else 'no units'}; give CF units",
                )
            )
        attrs = {
            k: v for k, v in var.attrs.items() if k in ("long_name", "standard_name", "description")
        }
        attrs["units"] = units
        dims = [d for d in ORDER if d in var.dims] + [d for d in var.dims if d not in ORDER]
        ds[name] = var.astype("float32").transpose(*dims)
        ds[name].attrs = attrs
    if problems:
        raise InvalidArgument(problems)
    return ds


def canonical_axes(source: xr.Dataset, selection: Selection) -> xr.Dataset:
    """The source on canonical axes (time decoded, axes renamed and normalised), unselected."""
    ds = apply_time_decoding(source, selection.time_decoding)
    ds = _find_time(ds, selection)
    ds = _rename_axes(ds)
    ds = ds.drop_vars([c for c in ds.coords if c not in ds.dims and not _station_coord(ds, str(c))])
    ds = _times_ns(ds)
    _check_times(ds)
    return _normalise_coords(ds)


def canonicalize(
    source: xr.Dataset, selection: Selection, *, axes_done: bool = False
) -> xr.Dataset:
    """The canonical lazy dataset of a source: dims time, [level], latitude, longitude (or station).

    Latitude ascends, longitude lies in [-180, 180) ascending with duplicated columns dropped,
    levels are in hPa, data are float32 with CF units, missing values NaN. Raises
    InvalidArgument naming the request field at fault (or source_uri for a bad source).
    axes_done: the source is already canonical_axes' result (sources merged by ingest).
    """
    ds = source if axes_done else canonical_axes(source, selection)
    if axes_done:
        _check_times(ds)
    ds = _select(ds, selection)
    ds = _variables(ds, selection)
    ds[TIME].attrs = {"standard_name": "time", "axis": "T"}
    ds.attrs = {
        k: v
        for k, v in source.attrs.items()
        if k in ("title", "institution", "source", "Conventions")
    }
    return ds


def _station_coord(ds: xr.Dataset, name: str) -> bool:
    return STATION in ds.dims and ds.coords[name].dims == (STATION,)
