"""Skill scores against references (plain Python: the registry's gate needs no numpy)."""

from __future__ import annotations

import math
from collections.abc import Iterable


def skill_score(value: float, reference: float, perfect: float = 0.0) -> float:
    """Skill of a score against a reference's: (S - S_ref) / (S_perfect - S_ref).

    1 is a perfect forecast, 0 no better than the reference, negative worse; for an error
    (perfect 0) it is 1 - value / reference. When the reference is itself perfect, skill is 0
    for an equally perfect value and -inf otherwise.
    """
    if perfect == reference:
        return 0.0 if value == perfect else -math.inf
    return (value - reference) / (perfect - reference)


def skill_against_best(error: float, references: Iterable[float]) -> float:
    """1 - error / min(references): the skill of an error (RMSE) against the better reference;
    0 when the better reference is perfect (or there is none)."""
    best = min(references, default=0.0)
    return 1.0 - error / best if best > 0 else 0.0


def beats(error: float, references: Iterable[float]) -> bool:
    """Whether an error is below every reference's."""
    return all(error < reference for reference in references)
