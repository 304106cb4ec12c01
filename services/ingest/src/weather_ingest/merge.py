"""Several sources on canonical axes merged into one dataset (one variable per file, periods)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import xarray as xr

from weather_data.canonical import TIME
from weather_data.chunks import choose_chunks
from weather_runtime.errors import FieldViolation, InvalidArgument


def merge(parts: list[xr.Dataset], fields: list[str]) -> xr.Dataset:
    """One dataset of parts (each from canonical_axes; fields name their request fields).

    Parts with the same variables are consecutive periods, joined along time; parts with other
    variables must share their times. Every part must have the same grid (levels, latitudes,
    longitudes, stations). InvalidArgument naming the part that does not fit."""
    if len(parts) == 1:
        return parts[0]
    _check_grids(parts, fields)
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, part in enumerate(parts):
        groups.setdefault(tuple(sorted(map(str, part.data_vars))), []).append(index)
    _check_variables(groups, fields)
    joined = [(indices[0], _join_periods(parts, indices, fields)) for indices in groups.values()]
    first_index, first = joined[0]
    for index, group in joined[1:]:
        if not np.array_equal(group[TIME].values, first[TIME].values):
            raise InvalidArgument.field(
                fields[index],
                f"its times ({_span(group)}) differ from those of {fields[first_index]} "
                f"({_span(first)}); files of other variables must cover the same times",
            )
    try:
        return xr.merge(
            [group for _, group in joined], join="exact", combine_attrs="drop_conflicts"
        )
    except ValueError as exc:  # variables without time that differ between files
        raise InvalidArgument.field(
            fields[joined[-1][0]], f"does not merge with the other sources: {exc}"
        ) from None


def _lazy(part: xr.Dataset) -> xr.Dataset:
    """The part chunked as the archive will be, so joining reads nothing yet."""
    target = choose_chunks({str(k): int(v) for k, v in part.sizes.items()})
    return part.chunk({k: v for k, v in target.items() if k in part.dims})


def _check_grids(parts: list[xr.Dataset], fields: list[str]) -> None:
    seen: dict[str, int] = {}
    problems = []
    for index, part in enumerate(parts):
        for dim in map(str, part.dims):
            if dim == TIME:
                continue
            if dim not in seen:
                seen[dim] = index
                continue
            mine, theirs = part[dim].values, parts[seen[dim]][dim].values
            same = mine.shape == theirs.shape and (
                np.array_equal(mine, theirs)
                if mine.dtype.kind in "OSU"
                else bool(np.allclose(mine, theirs, rtol=0, atol=1e-6))
            )
            if not same:
                problems.append(
                    FieldViolation(
                        fields[index],
                        f"its {dim} axis ({len(mine)} values) differs from that of "
                        f"{fields[seen[dim]]} ({len(theirs)} values); merged sources share "
                        "one grid",
                    )
                )
    if problems:
        raise InvalidArgument(problems)


def _check_variables(groups: dict[tuple[str, ...], list[int]], fields: list[str]) -> None:
    owner: dict[str, int] = {}
    for names, indices in groups.items():
        for name in names:
            if name in owner:
                raise InvalidArgument.field(
                    fields[indices[0]],
                    f"variable {name!r} is also in {fields[owner[name]]} with other variables; "
                    "files of one variable set cover periods, others add variables",
                )
            owner[name] = indices[0]


def _join_periods(parts: list[xr.Dataset], indices: list[int], fields: list[str]) -> xr.Dataset:
    ordered = sorted(indices, key=lambda i: parts[i][TIME].values[0])
    for before, after in itertools.pairwise(ordered):
        if parts[after][TIME].values[0] <= parts[before][TIME].values[-1]:
            raise InvalidArgument.field(
                fields[after],
                f"its times ({_span(parts[after])}) overlap those of {fields[before]} "
                f"({_span(parts[before])})",
            )
    if len(ordered) == 1:
        return _lazy(parts[ordered[0]])
    try:
        return _concat(parts, ordered)
    except ValueError as exc:
        raise InvalidArgument.field(
            fields[ordered[-1]], f"does not join the other periods: {exc}"
        ) from None


def _concat(parts: list[xr.Dataset], ordered: list[int]) -> xr.Dataset:
    return xr.concat(
        [_lazy(parts[i]) for i in ordered],
        dim=TIME,
        data_vars="minimal",
        coords="minimal",
        compat="override",
        join="exact",
        combine_attrs="drop_conflicts",
    )


def _span(ds: xr.Dataset) -> str:
    times = pd.DatetimeIndex(ds[TIME].values)
    return f"{len(times)} steps, {times[0].isoformat()} to {times[-1].isoformat()}"
