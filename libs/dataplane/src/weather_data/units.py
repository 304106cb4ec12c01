"""CF units: known-unit checks and the pressure conversions the canonical form needs."""

from __future__ import annotations

import warnings
from functools import cache
from typing import Any


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
