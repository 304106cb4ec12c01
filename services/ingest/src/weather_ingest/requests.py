"""What an ingest request asks for, checked before anything is opened."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import fsspec
import pandas as pd

from weather_data.archive import DATASET_ID
from weather_data.canonical import Selection
from weather_data.region import Region
from weather_data.timeaxis import TimeDecoding
from weather_data.timeaxis import check as check_time_decoding
from weather_ingest.source import SourceOptions
from weather_runtime.errors import FieldViolation, InvalidArgument, NotFound
from weather_runtime.uris import UriPolicy

FORMATS = ("", "grib", "netcdf", "zarr", "csv")


@dataclass(frozen=True)
class IngestRequest:
    """A validated ingest request."""

    source_uri: str
    dataset_id: str
    format: str = ""
    selection: Selection = field(default_factory=Selection)
    options: SourceOptions = field(default_factory=SourceOptions)
    more_sources: tuple[str, ...] = ()

    def sources(self) -> list[tuple[str, str]]:
        """(request field, uri) of every source: source_uri, then source_uris[i]."""
        return [("source_uri", self.source_uri)] + [
            (f"source_uris[{i}]", uri) for i, uri in enumerate(self.more_sources)
        ]


def check_source_allowed(uri: str, roots: list[str], field_name: str = "source_uri") -> str:
    """The normalised URI when it lies under an allowed root (symlinks resolved), else an error.

    Nothing is opened: the text is checked (weather_runtime.uris), then where links lead.
    """
    policy = UriPolicy.build(roots)
    normal = policy.check(uri, field_name)
    policy.check_open(normal, field_name)
    return normal


def check_source_exists(normal_uri: str) -> tuple[bool, int]:
    """(is_directory, size in bytes) of an existing source; NotFound otherwise."""
    fs, path = fsspec.core.url_to_fs(normal_uri)
    if not fs.exists(path):
        raise NotFound("source", normal_uri)
    if fs.isdir(path):
        return True, 0
    return False, int(fs.size(path) or 0)


def build_request(
    *,
    source_uri: str,
    dataset_id: str,
    format: str,
    variables: list[str],
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    region: Region | None,
    levels: list[float],
    units: dict[str, str],
    reference_year: int,
    options: SourceOptions,
    time_decoding: TimeDecoding | None = None,
    more_sources: tuple[str, ...] = (),
) -> IngestRequest:
    """Checks every field that can be checked without opening the source."""
    problems = _field_problems(dataset_id, format, variables, start, end, region, levels)
    if reference_year and not 1 <= reference_year <= 9999:
        problems.append(FieldViolation("reference_year", "must be a year from 1 to 9999"))
    for name, unit in units.items():
        if not unit.strip():
            problems.append(FieldViolation(f"units[{name!r}]", "must not be empty"))
    problems += check_time_decoding(time_decoding or TimeDecoding())
    for index, uri in enumerate(more_sources):
        if not uri.strip():
            problems.append(FieldViolation(f"source_uris[{index}]", "must be a path or URL"))
        elif uri in (source_uri, *more_sources[:index]):
            problems.append(FieldViolation(f"source_uris[{index}]", "names a source twice"))
    if problems:
        raise InvalidArgument(problems)
    selection = Selection(
        variables=tuple(variables),
        start=start,
        end=end,
        region=region,
        levels=tuple(levels),
        units=dict(units),
        reference_year=reference_year,
        time_decoding=time_decoding or TimeDecoding(),
    )
    return IngestRequest(source_uri, dataset_id, format, selection, options, more_sources)


def _field_problems(
    dataset_id: str,
    format: str,
    variables: list[str],
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    region: Region | None,
    levels: list[float],
) -> list[FieldViolation]:
    problems: list[FieldViolation] = []
    if not DATASET_ID.match(dataset_id):
        problems.append(
            FieldViolation(
                "dataset_id", "must be 1-128 characters: a letter or digit, then [A-Za-z0-9._-]"
            )
        )
    if format not in FORMATS:
        problems.append(FieldViolation("format", f"unknown format {format!r}"))
    for index, name in enumerate(variables):
        if not name or len(name) > 128:
            problems.append(FieldViolation(f"variables[{index}]", "must be a variable name"))
    if start is not None and end is not None and end <= start:
        problems.append(FieldViolation("time_range", "end must be after start"))
    if region is not None:
        numbers = (region.lat_min, region.lat_max, region.lon_min, region.lon_max)
        if (
            not all(math.isfinite(n) for n in numbers)
            or not -90 <= region.lat_min < region.lat_max <= 90
        ):
            problems.append(
                FieldViolation("region", "needs finite edges with -90 <= lat_min < lat_max <= 90")
            )
    for index, level in enumerate(levels):
        if not math.isfinite(level) or level <= 0:
            problems.append(
                FieldViolation(f"levels[{index}]", "must be a positive pressure in hPa")
            )
    return problems
