"""Lead hours written as text ("1-24", "1,6,24", "1-6,12"), a number or a list."""

from __future__ import annotations

from typing import Any


def parse_leads(value: Any) -> tuple[int, ...]:
    """Lead hours: an integer, a list of integers, or text "1-24", "1,6,24" or "1-6,12"."""
    if isinstance(value, bool):
        raise ValueError("expected lead hours")
    if isinstance(value, int):
        hours = [value]
    elif isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        hours = list(value)
    elif isinstance(value, str):
        hours = []
        for part in (p.strip().removesuffix("h") for p in value.split(",") if p.strip()):
            first, _, last = part.partition("-")
            if not first.isdigit() or (last and not last.isdigit()):
                raise ValueError(f"expected lead hours like 1-24 or 1,6,24, got {value!r}")
            hours += list(range(int(first), int(last or first) + 1))
    else:
        kind = f"{type(value).__name__} {value!r}"
        raise ValueError(f"expected lead hours like 1-24 or [1, 6, 24], got {kind}")
    if not hours or any(h < 1 for h in hours) or len(set(hours)) != len(hours):
        raise ValueError(f"expected distinct lead hours >= 1, got {value!r}")
    return tuple(sorted(hours))
