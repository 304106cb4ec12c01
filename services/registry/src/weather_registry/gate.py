"""The promotion gate: a version's skill against each stored baseline must exceed a margin."""

from __future__ import annotations

from datetime import timedelta

from weather_registry.records import GateCheck, GateReport, Metric, MetricGoal
from weather_scores import skill


def skill_score(value: float, baseline: float, goal: MetricGoal) -> float:
    """Skill of value against a baseline by the metric's goal (weather_scores.skill.skill_score):
    an error (MINIMIZE) is perfect at 0, a bias (ZERO) at 0 in magnitude, a score such as ACC
    (MAXIMIZE) at 1."""
    if goal is MetricGoal.MINIMIZE:
        return skill.skill_score(value, baseline, perfect=0.0)
    if goal is MetricGoal.ZERO:
        return skill.skill_score(abs(value), abs(baseline), perfect=0.0)
    return skill.skill_score(value, baseline, perfect=1.0)


def evaluate_gate(
    metrics: tuple[Metric, ...],
    margin: float,
    judged: tuple[str, ...] = (),
    max_lead: timedelta = timedelta(0),
) -> GateReport:
    """Checks every (metric, baseline) pair of the judged metric names (all when empty) at the
    leads up to max_lead (all when zero), whatever their method (direct or rollout); passes only
    if all checks pass and there is one."""
    checks = []
    for metric in metrics:
        if judged and metric.name not in judged:
            continue
        if max_lead and metric.lead_time > max_lead:
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
                    method=metric.method,
                )
            )
    passed = bool(checks) and all(check.passed for check in checks)
    return GateReport(passed=passed, margin=margin, checks=tuple(checks))


def describe_failure(check: GateCheck) -> tuple[str, str]:
    """(subject, description) of a failed check, for error details."""
    hours = check.lead_time.total_seconds() / 3600
    subject = f"{check.variable}/{check.metric}/+{hours:g}h vs {check.baseline}"
    method = f" ({check.method})" if check.method else ""
    description = (
        f"{check.metric}{method} {check.value:.6g} against {check.baseline} "
        f"{check.baseline_value:.6g}: skill {check.skill:.4f} does not exceed the margin"
    )
    return subject, description
