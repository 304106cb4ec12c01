"""A real Prometheus for tests: started on a free loopback port with a generated config, read
through its HTTP API, stopped on teardown."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from weatherctl.launcher import free_port

PROMETHEUS_ENV = "WEATHER_TEST_PROMETHEUS"


def prometheus_binary() -> str | None:
    """$WEATHER_TEST_PROMETHEUS (set by `make test` from tools/prometheus.sh), else a
    `prometheus` on PATH, else None."""
    given = os.environ.get(PROMETHEUS_ENV, "").strip()
    if given:
        return given
    return shutil.which("prometheus")


@dataclass(frozen=True)
class Sample:
    """One series of an instant query: its labels and value."""

    labels: dict[str, str]
    value: float


class Prometheus:
    """A Prometheus process scraping `targets` (job name -> host:port list) every second."""

    def __init__(
        self,
        binary: str,
        folder: Path,
        targets: Mapping[str, list[str]],
        scrape_interval: str = "1s",
    ) -> None:
        self.binary = binary
        self.folder = folder
        self.targets = dict(targets)
        self.scrape_interval = scrape_interval
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = folder / "prometheus.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> dict[str, Any]:
        """The generated prometheus.yml: one scrape job per service."""
        return {
            "global": {
                "scrape_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
                "evaluation_interval": self.scrape_interval,
            },
            "scrape_configs": [
                {
                    "job_name": job,
                    "static_configs": [{"targets": list(addresses)}],
                }
                for job, addresses in sorted(self.targets.items())
            ],
        }

    def start(self, timeout: float = 60.0) -> None:
        """Starts Prometheus and waits until /-/ready answers; raises with its log if it dies."""
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "prometheus.yml"
        config.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        self.port = free_port()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={self.folder / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--storage.tsdb.retention.time=1h",
                    "--web.enable-lifecycle",
                ],
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"prometheus exited with code {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"prometheus not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, size: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-size:] if self.log_path.exists() else ""

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM, then SIGKILL past the grace."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> Prometheus:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- the HTTP API ----------------------------------------------------------------------

    def api(self, path: str, **params: str) -> Any:
        """The `data` of a GET /api/v1/<path>; raises on an error status."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=10) as answer:
            body = json.loads(answer.read())
        if body.get("status") != "success":
            raise RuntimeError(f"prometheus /api/v1/{path}: {body}")
        return body["data"]

    def query(self, promql: str) -> list[Sample]:
        """An instant query's vector."""
        data = self.api("query", query=promql)
        if data["resultType"] != "vector":
            raise ValueError(f"{promql!r} gave a {data['resultType']}, not a vector")
        return [Sample(dict(r["metric"]), float(r["value"][1])) for r in data["result"]]

    def names(self) -> set[str]:
        """Every metric name Prometheus holds (/api/v1/label/__name__/values)."""
        return set(self.api("label/__name__/values"))

    def targets_health(self) -> dict[str, str]:
        """Scrape URL -> health (up, down, unknown) of the active targets."""
        data = self.api("targets", state="active")
        return {t["scrapeUrl"]: t["health"] for t in data["activeTargets"]}

    def wait_targets_up(self, timeout: float = 30.0) -> dict[str, str]:
        """Waits until every target was scraped successfully; returns their health."""
        deadline = time.monotonic() + timeout
        health: dict[str, str] = {}
        while time.monotonic() < deadline:
            health = self.targets_health()
            if health and all(h == "up" for h in health.values()):
                return health
            time.sleep(0.5)
        raise TimeoutError(f"targets not all up after {timeout:.0f} s: {health}")

    def wait_for(self, promql: str, timeout: float = 30.0) -> list[Sample]:
        """Polls an instant query until it returns at least one series (e.g. a comparison such
        as `x > 0`); TimeoutError when it stays empty."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.query(promql)
            if found:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{promql!r} still empty after {timeout:.0f} s")
            time.sleep(0.5)
