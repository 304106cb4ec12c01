"""Station-table units (headers "t2m [degF]", columns "t2m_units") made one per variable."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from weather_data import units as cf_units
from weather_ingest.source import CorruptSource
from weather_runtime.errors import InvalidArgument

# Cell texts station archives write for a missing value (besides the empty cell and the NA,
# NaN, null... that pandas reads as missing).
MISSING_MARKERS = frozenset({"M", "MM", "-", "--", "*", "***", "missing"})
_HEADER = re.compile(r"^(?P<name>.+?)\s*[\[(](?P<units>[^\])]*)[\])]\s*$")
UNITS_SUFFIX = "_units"


@dataclass(frozen=True)
class Column:
    """One value column: the variable it holds, its header units and its units column."""

    column: str
    variable: str
    header_units: str
    units_column: str


def _columns(table: pd.DataFrame, value_columns: list[str]) -> dict[str, list[Column]]:
    """Value columns grouped by variable (several when a variable comes in several units)."""
    names = [c for c in value_columns if not (c.endswith(UNITS_SUFFIX) or c == "units")]
    parsed = []
    for column in names:
        match = _HEADER.match(column)
        variable, header = (
            (match["name"].strip(), match["units"].strip()) if match else (column, "")
        )
        parsed.append((column, variable, header))
    variables = {variable for _, variable, _ in parsed}
    lone = "units" if "units" in table.columns and len(variables) == 1 else ""
    grouped: dict[str, list[Column]] = defaultdict(list)
    for column, variable, header in parsed:
        own = f"{variable}{UNITS_SUFFIX}"
        units_column = own if own in table.columns else lone
        grouped[variable].append(Column(column, variable, header, units_column))
    return grouped


def numeric(table: pd.DataFrame, column: str, station_column: str) -> np.ndarray:
    """The column's values as float64, gaps (empty cells, missing markers) NaN; CorruptSource
    naming the column when a cell holds text that is neither a number nor a missing marker."""
    cells = table[column]
    values = pd.to_numeric(cells, errors="coerce")
    text = cells.astype("string").str.strip()
    bad = values.isna() & cells.notna() & ~text.isin(MISSING_MARKERS) & (text != "")
    if bad.any():
        where = _problem_at(table, station_column, bad)
        raise CorruptSource(
            f"column {column!r} holds {cells[bad].iloc[0]!r}, which is not a number ({where}); "
            f"write missing values as empty cells or one of {sorted(MISSING_MARKERS)}"
        )
    return np.asarray(values, dtype=np.float64)


def _row_units(table: pd.DataFrame, column: Column) -> pd.Series:
    """The units of each row's value: its units column, else the header's ("" when neither)."""
    header = pd.Series(column.header_units, index=table.index, dtype=object)
    if not column.units_column:
        return header
    given = table[column.units_column].astype("string").str.strip().fillna("")
    return given.where(given != "", header).astype(object)


def _problem_at(table: pd.DataFrame, station_column: str, rows: pd.Series) -> str:
    first = rows.index[rows.to_numpy()][0]
    return f"station {table.at[first, station_column]!r}, row {int(first) + 2}"


def _convert(
    table: pd.DataFrame, column: Column, target: str, wanted: bool, station_column: str
) -> np.ndarray:
    values = numeric(table, column.column, station_column)
    row_units = _row_units(table, column)
    out = np.full(values.shape, np.nan)
    for unit in sorted(set(row_units[~np.isnan(values)])):
        rows = (row_units == unit) & ~np.isnan(values)
        try:
            out[rows.to_numpy()] = cf_units.convert(values[rows.to_numpy()], unit, target)
        except ValueError:
            where = _problem_at(table, station_column, rows)
            if wanted:
                raise InvalidArgument.field(
                    f"units[{column.variable!r}]",
                    f"column {column.column!r} holds {unit!r} ({where}), which does not convert "
                    f"to {target!r}",
                ) from None
            raise CorruptSource(
                f"column {column.column!r} holds {unit!r} and {target!r} for one variable "
                f"({where}): they measure different things"
            ) from None
    return out


def _check_known(
    table: pd.DataFrame, column: Column, station_column: str, values: np.ndarray
) -> list[str]:
    """The units of column's rows holding a value; CorruptSource naming the column when one is
    unknown or missing where others are given."""
    row_units = _row_units(table, column)[~np.isnan(values)]
    named = column.units_column or column.column
    for unit in sorted(set(row_units)):
        rows = (_row_units(table, column) == unit) & ~np.isnan(values)
        where = _problem_at(table, station_column, rows)
        if not unit:
            raise CorruptSource(f"column {named!r} gives no units for a value ({where})")
        if not cf_units.is_known(cf_units.canonical_spelling(unit)):
            raise CorruptSource(f"column {named!r} has unknown units {unit!r} ({where})")
    return list(dict.fromkeys(row_units))


def station_units(
    table: pd.DataFrame, value_columns: list[str], wanted: dict[str, str], station_column: str
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Values of each variable in one unit (the request's for it, else the one the table uses,
    else the CF/SI unit of its dimension) and those units; variables the table gives no units
    for are left as they are (the request's units apply). Gaps stay NaN."""
    out: dict[str, np.ndarray] = {}
    units: dict[str, str] = {}
    for variable, columns in _columns(table, value_columns).items():
        if not any(c.header_units or c.units_column for c in columns):
            out[variable] = numeric(table, columns[0].column, station_column)
            continue
        given = {c.column: numeric(table, c.column, station_column) for c in columns}
        seen = [u for c in columns for u in _check_known(table, c, station_column, given[c.column])]
        target = wanted.get(variable) or cf_units.common_units(seen or ["1"])
        merged = np.full(len(table), np.nan)
        for column in columns:
            values = _convert(table, column, target, variable in wanted, station_column)
            clash = ~np.isnan(merged) & ~np.isnan(values)
            if clash.any():
                where = _problem_at(table, station_column, pd.Series(clash, index=table.index))
                raise CorruptSource(
                    f"{variable} is given twice in one row (columns "
                    f"{[c.column for c in columns]}, {where})"
                )
            merged = np.where(np.isnan(merged), values, merged)
        out[variable] = merged
        units[variable] = cf_units.canonical_spelling(target)
    return pd.DataFrame(out, index=table.index), units
