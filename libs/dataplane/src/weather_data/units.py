"""CF units: known-unit checks, and the conversions the canonical form and station tables need."""

from __future__ import annotations

import warnings
from functools import cache
from typing import Any

import numpy as np


@cache
def _registry() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cf_xarray warns about optional matplotlib support
        from cf_xarray.units import units

    return units


# Legacy spellings seen in real files, and their CF form.
_ALIASES = {"M/S": "m s-1", "m/s": "m s-1", "DEG K": "K", "DEGK": "K", "DEG C": "degC", "MB": "hPa"}


def canonical_spelling(units: str) -> str:
    """The CF spelling of a legacy unit string (for example "M/S" -> "m s-1")."""
    text = units.strip()
    return _ALIASES.get(text, _ALIASES.get(text.upper(), text))


def is_known(units: str) -> bool:
    """True when units parses as a CF/UDUNITS unit ("K", "m s-1", "hPa", "degrees_north"...)."""
    if not units or not units.strip():
        return False
    try:
        _registry()(units)
    except Exception:  # noqa: BLE001 - pint raises several kinds for unparsable text
        return False
    return True


def pressure_factor_to_hpa(units: str) -> float | None:
    """Multiplier turning values in units into hPa; None when units is not a pressure."""
    registry = _registry()
    try:
        quantity = registry.Quantity(1.0, units)
        return float(quantity.to("hPa").magnitude)
    except Exception:  # noqa: BLE001
        return None


# The unit a variable given in several units is converted to, by physical dimension (CF/SI).
_PREFERRED = {
    "[temperature]": "K",
    "[mass] / [length] / [time] ** 2": "Pa",
    "[length] / [time]": "m s-1",
    "[length]": "m",
    "[mass] / [length] ** 2": "kg m-2",
}


def dimension(units: str) -> str | None:
    """The physical dimension of units ("[temperature]"...); None when they do not parse."""
    try:
        return str(_registry()(canonical_spelling(units)).dimensionality)
    except Exception:  # noqa: BLE001 - pint raises several kinds for unparsable text
        return None


def common_units(units: list[str]) -> str:
    """One unit for values given in several: the only one, else the CF/SI unit of their shared
    dimension (K, Pa, m s-1, m, kg m-2), else the first."""
    spelled = list(dict.fromkeys(canonical_spelling(u) for u in units))
    if len(spelled) == 1:
        return spelled[0]
    dimensions = {dimension(u) for u in spelled}
    if len(dimensions) == 1:
        return _PREFERRED.get(str(dimensions.pop()), spelled[0])
    return spelled[0]


def convert(values: np.ndarray, source: str, target: str) -> np.ndarray:
    """values (float64, NaN kept) from source to target units; ValueError when either does not
    parse or they measure different things."""
    if canonical_spelling(source) == canonical_spelling(target):
        return values
    registry = _registry()
    try:
        quantity = registry.Quantity(values, canonical_spelling(source))
        return np.asarray(quantity.to(canonical_spelling(target)).magnitude, dtype="float64")
    except Exception as exc:  # pint raises several kinds
        raise ValueError(f"cannot convert {source!r} to {target!r}") from exc
