"""Hypothesis settings of the fuzz runs: `ci` (the test command) and `long` (bench/fuzz)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

PROFILE_VARIABLE = "WEATHER_FUZZ_PROFILE"
# examples per RPC and kind of payload; "shapes" only for requests holding tensors, "seeded"
# only for the RPCs with seed requests on the real archive (tests/fuzz/seeded.py)
BUDGETS = {
    "ci": {"valid": 300, "garbage": 80, "truncated": 80, "shapes": 200, "seeded": 40},
    "long": {"valid": 1500, "garbage": 400, "truncated": 400, "shapes": 1500, "seeded": 400},
}
_QUIET = [
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.large_base_example,
    HealthCheck.filter_too_much,
    HealthCheck.function_scoped_fixture,
]

# ci: reproducible (derandomized, no example database), so a red run is red again on a rerun
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=_QUIET,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    print_blob=False,
)
# long: fresh random examples every run
settings.register_profile(
    "long",
    deadline=None,
    derandomize=False,
    database=None,
    suppress_health_check=_QUIET,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)


def profile_name() -> str:
    name = os.environ.get(PROFILE_VARIABLE, "ci") or "ci"
    if name not in BUDGETS:
        raise ValueError(f"{PROFILE_VARIABLE}={name!r}: expected one of {sorted(BUDGETS)}")
    return name


def options(kind: str, name: str | None = None, scale: float = 1.0) -> settings:
    """The settings for one kind of payload under the profile (default: from the environment)."""
    name = name or profile_name()
    examples = max(1, round(BUDGETS[name][kind] * scale))
    return settings(settings.get_profile(name), max_examples=examples)
