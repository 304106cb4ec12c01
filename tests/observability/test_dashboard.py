"""The Grafana dashboard file (charts/weather-suite/dashboards/weather-suite.json) without a suite:
its structure, the panels it must have, and the metric-name extraction the scrape test uses
(tests/observability/test_metrics.py checks every name against a real Prometheus)."""

from __future__ import annotations

import re

import pytest

from tests.observability.dashboard import (
    dashboard_metric_names,
    expressions,
    load_dashboard,
    metric_names,
    panels,
)

# title fragment (lower case) -> metric names its queries must use
REQUIRED_PANELS = {
    "request rate": {"grpc_server_handled_total"},
    "errors": {"grpc_server_handled_total"},
    "latency p50": {"grpc_server_handling_seconds_bucket"},
    "latency p95": {"grpc_server_handling_seconds_bucket"},
    "ingest throughput": {"weather_archive_written_bytes_total"},
    "training progress": {"weather_training_epoch"},
    "loss": {"weather_training_loss"},
    "jobs running": {"weather_training_jobs"},
    "skill by lead": {"weather_model_skill"},
    "versions served by alias": {"weather_served_versions"},
    "predictor latency": {"weather_predictor_request_duration_seconds_bucket"},
}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, object]:
    return load_dashboard()


def test_required_panels(dashboard: dict[str, object]) -> None:
    by_title = {p["title"].lower(): p for p in panels(dashboard)}  # type: ignore[arg-type]
    for fragment, metrics in REQUIRED_PANELS.items():
        matching = [p for title, p in by_title.items() if fragment in title]
        assert matching, f"no panel titled like {fragment!r}: {sorted(by_title)}"
        used = set().union(
            *(metric_names(t["expr"]) for p in matching for t in p.get("targets", []))
        )
        assert metrics <= used, (fragment, used)


def test_latency_panels_are_quantiles_of_histograms(dashboard: dict[str, object]) -> None:
    quantiles = set()
    for _title, expr in expressions(dashboard):
        for match in re.finditer(r"histogram_quantile\(\s*(0\.\d+)", expr):
            quantiles.add(match.group(1))
            assert "_bucket" in expr and " le" in expr.replace("(le", "( le"), expr
    assert {"0.5", "0.95"} <= quantiles
    predictor = [e for t, e in expressions(dashboard) if t.lower().startswith("predictor latency")]
    assert any("by (le, method, model, version)" in e for e in predictor), predictor


def test_every_query_uses_the_datasource_variable(dashboard: dict[str, object]) -> None:
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}  # type: ignore[index]
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    every = list(panels(dashboard))
    assert len(every) >= 15
    ids = [p["id"] for p in every]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in every:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            assert target["expr"].strip(), panel["title"]
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24, panel["title"]


def test_every_metric_is_one_of_the_suites(dashboard: dict[str, object]) -> None:
    names = dashboard_metric_names(dashboard)
    assert names, "no metric found in the dashboard"
    for name in names:
        assert name.startswith(("weather_", "grpc_server_")), name


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("rate(x_total[5m])", {"x_total"}),
        (
            'histogram_quantile(0.95, sum by (le, job) (rate(h_seconds_bucket{job=~"$service"}'
            "[$__rate_interval])))",
            {"h_seconds_bucket"},
        ),
        ('sum(g{state="RUNNING"}) / ignoring(state) group_left sum(c_count)', {"g", "c_count"}),
        ('a{l="sum(b)"} + on (job) bool 1e9 * rate(d_sum[1h] offset 5m)', {"a", "d_sum"}),
        (
            "max without (instance) (weather_model_skill{metric='rmse', x=\"{}\"})",
            {"weather_model_skill"},
        ),
        ('label_replace(up, "a", "$1", "job", "(.*)")', {"up"}),
        ("time() - process_start_time_seconds", {"process_start_time_seconds"}),
    ],
)
def test_metric_name_extraction(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names
