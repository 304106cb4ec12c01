"""The promotion gate: a version's skill against each stored baseline must exceed a margin."""

from __future__ import annotations

import math

from weather_registry.records import GateCheck, GateReport, Metric, MetricGoal


def skill_score(value: float, baseline: float, goal: MetricGoal) -> float:
    """Skill of value against a baseline: (S - S_ref) / (S_perfect - S_ref).

    1 is a perfect forecast, 0 no better than the baseline, negative worse. When the baseline
    is itself perfect, skill is 0 for an equally perfect value and -inf otherwise.
    """
    if goal is MetricGoal.MINIMIZE:
        perfect, value_, base = 0.0, value, baseline
    elif goal is MetricGoal.ZERO:
        perfect, value_, base = 0.0, abs(value), abs(baseline)
    else:
        perfect, value_, base = 1.0, value, baseline
    if perfect == base:
        return 0.0 if value_ == perfect else -math.inf
    return (value_ - base) / (perfect - base)


def evaluate_gate(
    metrics: tuple[Metric, ...], margin: float, judged: tuple[str, ...] = ()
) -> GateReport:
    """Checks every (metric, baseline) pair of the judged metric names (all when empty); passes
    only if all checks pass and there is one."""
    checks = []
    for metric in metrics:
        if judged and metric.name not in judged:
            continue
        for baseline, baseline_value in sorted(metric.baselines.items()):
            skill = skill_score(metric.value, baseline_value, metric.goal)
            checks.append(
                GateCheck(
                    metric=metric.name,
                    variable=metric.variable,
                    lead_time=metric.lead_time,
                    baseline=baseline,
                    value=metric.value,
                    baseline_value=baseline_value,
                    skill=skill,
                    passed=skill > margin,
                )
            )
    passed = bool(checks) and all(check.passed for check in checks)
    return GateReport(passed=passed, margin=margin, checks=tuple(checks))


def describe_failure(check: GateCheck) -> tuple[str, str]:
    """(subject, description) of a failed check, for error details."""
    hours = check.lead_time.total_seconds() / 3600
    subject = f"{check.variable}/{check.metric}/+{hours:g}h vs {check.baseline}"
    description = (
        f"{check.metric} {check.value:.6g} against {check.baseline} {check.baseline_value:.6g}: "
        f"skill {check.skill:.4f} does not exceed the margin"
    )
    return subject, description
