"""Results of a run: version checks, machine facts, ratios, and the JSON and markdown reports."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import sqlite3
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from loadgen import Measurement

BASELINE = "mlflow-sqlite"
OP_ORDER = ("create", "get", "list", "alias")
PACKAGES = ("grpcio", "protobuf", "sqlalchemy", "psycopg", "alembic")


@dataclass(frozen=True)
class Row:
    """One measurement: an operation on a backend at a concurrency."""

    backend: str
    concurrency: int
    op: str
    result: Measurement


@dataclass(frozen=True)
class VersionCheck:
    """Whether concurrent creates left version numbers 1..N with no gap and no duplicate."""

    backend: str
    concurrency: int
    stored: int  # version rows listed afterwards
    highest: int
    duplicates: int  # stored rows sharing a number
    missing: int  # numbers in 1..highest that no row has
    acknowledged: int  # creates that returned success (warm-up included)
    acknowledged_duplicates: int  # the same number returned to two callers
    lost: int  # acknowledged numbers not stored
    unacknowledged: int  # stored numbers no caller was told about (the call failed)

    @property
    def ok(self) -> bool:
        """No gap, no duplicate, nothing acknowledged then lost."""
        return not (self.duplicates or self.missing or self.acknowledged_duplicates or self.lost)


def check_versions(
    backend: str, concurrency: int, stored: Sequence[int], acknowledged: Sequence[int]
) -> VersionCheck:
    """Compares the stored version numbers with 1..N and with what callers were told."""
    distinct, acked = set(stored), set(acknowledged)
    highest = max(distinct, default=0)
    return VersionCheck(
        backend=backend,
        concurrency=concurrency,
        stored=len(stored),
        highest=highest,
        duplicates=len(stored) - len(distinct),
        missing=len(set(range(1, highest + 1)) - distinct),
        acknowledged=len(acknowledged),
        acknowledged_duplicates=len(acknowledged) - len(acked),
        lost=len(acked - distinct),
        unacknowledged=len(distinct - acked),
    )


@dataclass
class Report:
    """Everything a run produced, ready to print and save."""

    stamp: str
    command: str
    settings: dict[str, Any]
    machine: dict[str, str]
    rows: list[Row] = field(default_factory=list)
    checks: list[VersionCheck] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def ratios(self) -> list[dict[str, Any]]:
        """ops/s of each of our backends over the baseline's, per op and concurrency."""
        base = {(r.op, r.concurrency): r.result for r in self.rows if r.backend == BASELINE}
        ratios = []
        for row in self.rows:
            reference = base.get((row.op, row.concurrency))
            if row.backend == BASELINE or reference is None:
                continue
            ratio = _ratio(row.result.ops_per_second, reference.ops_per_second)
            ratios.append(
                {
                    "op": row.op,
                    "concurrency": row.concurrency,
                    "backend": row.backend,
                    "ratio": ratio,
                }
            )
        return ratios

    def to_json(self) -> dict[str, Any]:
        """The report as plain data."""
        return {
            "stamp": self.stamp,
            "command": self.command,
            "settings": self.settings,
            "machine": self.machine,
            "results": [_row_json(row) for row in self.rows],
            "ratios_vs_" + BASELINE: self.ratios(),
            "version_checks": [{**asdict(c), "ok": c.ok} for c in self.checks],
            "failures": self.failures,
            "notes": self.notes,
        }

    def tables(self) -> str:
        """The results, ratios, version checks and errors as markdown tables."""
        parts = [
            "### Throughput and latency",
            _results_table(self.rows),
            f"### Ratios: ops/s of our registry / ops/s of {BASELINE}",
            _ratios_table(self.ratios()),
            "### Version numbers after concurrent creates on one model",
            _checks_table(self.checks),
            "### Errors",
            _errors_table(self.rows),
        ]
        if self.failures:
            parts += ["### Configurations that failed", _bullets(self.failures)]
        return "\n\n".join(parts) + "\n"

    def markdown(self) -> str:
        """The whole report as a markdown document."""
        machine = _table(["fact", "value"], [[k, v] for k, v in self.machine.items()])
        settings = _table(["setting", "value"], [[k, str(v)] for k, v in self.settings.items()])
        return "\n\n".join(
            [
                f"# Registry benchmark {self.stamp}",
                f"Command: `{self.command}`",
                "## Machine",
                machine,
                "## Settings",
                settings,
                "## Results",
                self.tables(),
                "## Notes",
                _bullets(self.notes),
            ]
        )

    def save(self, directory: Path) -> tuple[Path, Path]:
        """Writes <stamp>.json and <stamp>.md into directory."""
        directory.mkdir(parents=True, exist_ok=True)
        json_path = directory / f"{self.stamp}.json"
        md_path = directory / f"{self.stamp}.md"
        json_path.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        md_path.write_text(self.markdown())
        return json_path, md_path


def _ratio(value: float, reference: float) -> float | None:
    return round(value / reference, 2) if reference > 0 else None


def _row_json(row: Row) -> dict[str, Any]:
    m = row.result
    return {
        "backend": row.backend,
        "concurrency": row.concurrency,
        "op": row.op,
        "ops_per_second": round(m.ops_per_second, 1),
        "ops": m.ops,
        "errors": m.errors,
        "seconds": round(m.seconds, 3),
        "p50_ms": round(m.p50_ms, 3),
        "p99_ms": round(m.p99_ms, 3),
        "warmup_ops": m.warmup_ops,
        "warmup_errors": m.warmup_errors,
        "error_kinds": m.error_kinds,
    }


def _op_rank(op: str) -> int:
    return OP_ORDER.index(op) if op in OP_ORDER else len(OP_ORDER)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _bullets(items: Iterable[str]) -> str:
    return "\n".join(f"- {item}" for item in items) or "- none"


def _results_table(rows: Sequence[Row]) -> str:
    header = ["op", "concurrency", "backend", "ops/s", "p50 ms", "p99 ms", "ops", "errors"]
    ordered = sorted(rows, key=lambda r: (_op_rank(r.op), r.concurrency))
    return _table(
        header,
        (
            [
                r.op,
                str(r.concurrency),
                r.backend,
                f"{r.result.ops_per_second:.1f}",
                f"{r.result.p50_ms:.2f}",
                f"{r.result.p99_ms:.2f}",
                str(r.result.ops),
                str(r.result.errors),
            ]
            for r in ordered
        ),
    )


def _ratios_table(ratios: Sequence[dict[str, Any]]) -> str:
    backends = list(dict.fromkeys(r["backend"] for r in ratios))
    cells: dict[tuple[str, int], dict[str, str]] = {}
    for r in ratios:
        value = "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        cells.setdefault((r["op"], r["concurrency"]), {})[r["backend"]] = value
    return _table(
        ["op", "concurrency", *backends],
        (
            [op, str(c), *(cell.get(b, "") for b in backends)]
            for (op, c), cell in sorted(cells.items(), key=lambda i: (_op_rank(i[0][0]), i[0][1]))
        ),
    )


def _checks_table(checks: Sequence[VersionCheck]) -> str:
    header = [
        "backend",
        "concurrency",
        "stored",
        "highest",
        "duplicates",
        "gaps",
        "acknowledged",
        "lost",
        "unacknowledged",
        "1..N ok",
    ]
    return _table(
        header,
        (
            [
                c.backend,
                str(c.concurrency),
                str(c.stored),
                str(c.highest),
                str(c.duplicates),
                str(c.missing),
                str(c.acknowledged),
                str(c.lost),
                str(c.unacknowledged),
                "yes" if c.ok else "NO",
            ]
            for c in checks
        ),
    )


def _errors_table(rows: Sequence[Row]) -> str:
    lines = [
        [r.backend, str(r.concurrency), r.op, str(count), kind.replace("|", "/")]
        for r in rows
        for kind, count in r.result.error_kinds.items()
    ]
    if not lines:
        return "No errors."
    return _table(["backend", "concurrency", "op", "count", "error"], lines)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=Path(__file__).parent,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_info(mlflow: str, postgresql: str) -> dict[str, str]:
    """Facts about the machine and software the numbers depend on."""
    info = {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": _cpu_model(),
        "memory": _memory(),
        "os": platform.platform(),
        "python": platform.python_version(),
    }
    info.update({name: _package_version(name) for name in PACKAGES})
    info.update(
        {
            "mlflow": mlflow or "not used",
            "sqlite": sqlite3.sqlite_version,
            "postgresql": postgresql or "not used",
            "commit": _commit(),
        }
    )
    return info
