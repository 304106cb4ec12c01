"""The services' metrics, read through a real Prometheus after a small real pipeline run.

The suite (every service as its own process), Prometheus and the workload are the module's
fixtures (tests/observability/conftest.py): Prometheus starts before the workload and scrapes
every service once a second. Each check polls an instant query until its condition holds (a scrape
may lag the workload by a second) and fails when it never does.
"""

from __future__ import annotations

import math
import re
import time
from itertools import chain
from pathlib import Path

import pytest

from tests.observability.conftest import ALIAS, MODEL, Workload, metrics_targets
from tests.observability.dashboard import dashboard_metric_names, load_dashboard
from tests.observability.prometheus import PROMETHEUS_ENV, Prometheus, Sample, prometheus_binary
from weatherctl.launcher import LocalSuite

WAIT = 20.0  # seconds a condition may take to show after the workload

# checked before the suite starts (the prometheus fixture skips too, for other modules)
pytestmark = pytest.mark.skipif(
    prometheus_binary() is None,
    reason=f"no Prometheus: {PROMETHEUS_ENV} is unset and no `prometheus` is on PATH "
    "(`make test` installs it with tools/prometheus.sh)",
)


@pytest.fixture(scope="module")
def scraped(prometheus: Prometheus, workload: Workload) -> Workload:
    """The workload done (Prometheus scraping since before it), and scraped after its end."""
    prometheus.wait_for(
        f'sum(weather_predictor_request_duration_seconds_count{{model="{MODEL}"}}) '
        f">= {len(workload.answers)}",
        timeout=WAIT,
    )
    return workload


def holds(prometheus: Prometheus, promql: str) -> list[Sample]:
    """The series of a PromQL filter once it returns some (within WAIT seconds)."""
    try:
        return prometheus.wait_for(promql, timeout=WAIT)
    except TimeoutError:
        selector = re.split(r" (?:>|==|>=)", promql, maxsplit=1)[0]
        shown = prometheus.query(selector)
        raise AssertionError(f"{promql} never held; the series: {shown}") from None


def test_every_service_is_scraped(suite: LocalSuite, prometheus: Prometheus) -> None:
    health = prometheus.targets_health()
    expected = {f"http://{a}/metrics" for a in chain(*metrics_targets(suite).values())}
    assert set(health) == expected
    assert all(h == "up" for h in health.values()), health
    jobs = {s.labels["job"] for s in prometheus.query("up == 1")}
    assert jobs == {"registry", "ingest", "preprocess", "trainer", "modelserver", "predictor"}


def test_grpc_calls_counted_per_service(prometheus: Prometheus, scraped: Workload) -> None:
    handled = {
        s.labels["job"]: s.value
        for s in holds(prometheus, 'sum by (job) (grpc_server_handled_total{grpc_code="OK"}) > 0')
    }
    # every service answered calls of the workload (the model server the predictor's)
    assert set(handled) == {
        "registry",
        "ingest",
        "preprocess",
        "trainer",
        "modelserver",
        "predictor",
    }
    predicts = holds(
        prometheus,
        'grpc_server_handled_total{job="predictor",grpc_method="Predict",grpc_code="OK"} > 0',
    )
    assert sum(s.value for s in predicts) >= sum(1 for a in scraped.answers if a[0] == "Predict")
    latency = holds(
        prometheus, 'grpc_server_handling_seconds_count{job="ingest",grpc_method="StartIngest"} > 0'
    )
    assert latency


def stored_bytes(suite: LocalSuite, dataset_id: str) -> int:
    """The size of a dataset's Zarr stores in the suite's archive, read from the disk."""
    data = Path(suite.archive_url) / "datasets" / dataset_id / "data"
    return sum(f.stat().st_size for f in data.rglob("*") if f.is_file())


def test_ingest_and_archive(suite: LocalSuite, prometheus: Prometheus, scraped: Workload) -> None:
    [created] = holds(prometheus, 'weather_ingest_datasets_total{outcome="created"} >= 1')
    assert created.labels["job"] == "ingest"
    [ingested] = holds(
        prometheus, 'weather_archive_written_bytes_total{service="ingest",kind="ingest"} > 0'
    )
    # exactly the Zarr store on disk (compressed: no more than the raw float32 values and metadata)
    assert ingested.value == stored_bytes(suite, "era5-t2m") > 0
    assert ingested.value <= scraped.dataset_bytes * 1.1, (ingested, scraped.dataset_bytes)
    [built] = holds(
        prometheus, 'weather_archive_written_bytes_total{service="preprocess",kind="build"} > 0'
    )
    assert built.value == stored_bytes(suite, scraped.build_dataset) > 0
    finished = {
        (s.labels["service"], s.labels["kind"]): s.value
        for s in holds(prometheus, 'weather_operations_finished_total{state="succeeded"} >= 1')
    }
    assert (
        finished.get(("ingest", "ingest"), 0) >= 1 and finished.get(("preprocess", "build"), 0) >= 1
    )
    # none left pending or running, and the gauge reports both states
    now = prometheus.query('weather_operations{service=~"ingest|preprocess"}')
    assert {(s.labels["kind"], s.labels["state"]) for s in now} >= {
        ("ingest", "pending"),
        ("ingest", "running"),
        ("build", "pending"),
        ("build", "running"),
    }
    assert all(s.value == 0 for s in now), now
    holds(prometheus, 'weather_operation_duration_seconds_count{service="ingest"} >= 1')


def test_training_progress(prometheus: Prometheus, scraped: Workload) -> None:
    job = scraped.job_id
    [epoch] = holds(prometheus, f'weather_training_epoch{{job_id="{job}"}} >= 1')
    assert epoch.labels["model_family"] == "cnn"
    assert epoch.value == scraped.job_epochs == 1
    [planned] = prometheus.query(f'weather_training_planned_epochs{{job_id="{job}"}}')
    assert planned.value == 1
    losses = {
        s.labels["split"]: s.value
        for s in prometheus.query(f'weather_training_loss{{job_id="{job}"}}')
    }
    assert set(losses) == {"train", "validation"}
    assert all(math.isfinite(v) and v > 0 for v in losses.values()), losses
    states = {s.labels["state"]: s.value for s in prometheus.query("weather_training_jobs")}
    assert states["SUCCEEDED"] >= 1 and states["RUNNING"] == 0, states
    # scraped while the job trained (in its child process, reported by the server process)
    [running] = prometheus.query('max_over_time(weather_training_jobs{state="RUNNING"}[10m])')
    assert running.value >= 1
    holds(
        prometheus,
        'weather_training_jobs_finished_total{model_family="cnn",state="SUCCEEDED"} >= 1',
    )
    holds(prometheus, 'weather_training_epoch_duration_seconds_count{model_family="cnn"} >= 1')


def test_skill_by_lead_of_the_registered_version(prometheus: Prometheus, scraped: Workload) -> None:
    version = str(scraped.version)
    selector = f'model="{MODEL}",version="{version}",metric="rmse"'
    skill = holds(prometheus, f"weather_model_skill{{{selector}}} > -1e9")
    leads = sorted(float(s.labels["lead_hours"]) for s in skill)
    # one series per lead the trainer scored, exported by the registry
    assert leads == scraped.leads_scored == [1.0, 2.0, 3.0]
    assert {s.labels["job"] for s in skill} == {"registry"}
    assert all(s.labels["variable"] == "t2m" for s in skill)
    rmse = {
        (s.labels["lead_hours"], s.labels["system"]): s.value
        for s in prometheus.query(f"weather_model_score{{{selector}}}")
    }
    assert {system for _, system in rmse} == {"model", "persistence", "climatology"}
    for s in skill:
        lead = s.labels["lead_hours"]
        model, references = (
            rmse[(lead, "model")],
            [rmse[(lead, "persistence")], rmse[(lead, "climatology")]],
        )
        assert model > 0
        # the registry's skill on RMSE: 1 - rmse / the better baseline's rmse
        assert s.value == pytest.approx(1 - model / min(references), rel=1e-6, abs=1e-9)


def test_versions_served_by_alias(prometheus: Prometheus, scraped: Workload) -> None:
    [served] = holds(prometheus, f'weather_served_versions{{model="{MODEL}",alias="{ALIAS}"}} == 1')
    assert served.labels["version"] == str(scraped.version)
    assert served.labels["job"] == "modelserver"
    holds(prometheus, f'weather_modelserver_available_versions{{model="{MODEL}"}} >= 1')
    holds(
        prometheus,
        f'weather_modelserver_model_loads_total{{model="{MODEL}",outcome="available"}} >= 1',
    )
    holds(
        prometheus,
        f'weather_modelserver_model_load_duration_seconds_count{{model="{MODEL}",outcome="available"}} >= 1',
    )


def test_predictor_latency_by_model_and_version(prometheus: Prometheus, scraped: Workload) -> None:
    expected: dict[tuple[str, str, str], int] = {}
    for method, model, version in scraped.answers:
        key = (method, model, str(version))
        expected[key] = expected.get(key, 0) + 1
    assert set(expected) == {
        ("Predict", MODEL, str(scraped.version)),
        ("Forecast", MODEL, str(scraped.version)),
    }
    counts = holds(
        prometheus, f'weather_predictor_request_duration_seconds_count{{model="{MODEL}"}} > 0'
    )
    found = {(s.labels["method"], s.labels["model"], s.labels["version"]): s.value for s in counts}
    assert found == expected
    sums = prometheus.query(f'weather_predictor_request_duration_seconds_sum{{model="{MODEL}"}}')
    assert all(
        0 < s.value < 120 * expected[(s.labels["method"], MODEL, str(scraped.version))]
        for s in sums
    )
    [p95] = prometheus.query(
        "histogram_quantile(0.95, sum by (le) "
        f'(weather_predictor_request_duration_seconds_bucket{{model="{MODEL}",method="Predict"}}))'
    )
    assert 0 < p95.value < 60


def test_dashboard_queries_name_exported_metrics(prometheus: Prometheus, scraped: Workload) -> None:
    """Every metric a panel of the Grafana dashboard queries is one the services export."""
    exported = prometheus.names()
    wanted = dashboard_metric_names(load_dashboard())
    assert len(wanted) >= 10
    missing = sorted(wanted - exported)
    assert not missing, f"the dashboard queries metrics nobody exports: {missing}"
    for name in wanted:
        if name.endswith("_bucket"):  # a histogram's buckets: its _sum and _count exist too
            base = name.removesuffix("_bucket")
            assert {f"{base}_sum", f"{base}_count"} <= exported, name


def test_wall_time(suite: LocalSuite, scraped: Workload) -> None:
    """Not a check of the services: the figures of this run, printed for the CI log."""
    started = getattr(suite, "start_seconds", 0.0)
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in scraped.seconds.items())
    print(f"suite start {started:.1f} s; workload: {steps}; at {time.strftime('%H:%M:%S')}")
