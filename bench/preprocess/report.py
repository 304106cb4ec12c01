"""Results of a run: per-stage times and memory peaks, ratios, tables, JSON and markdown files."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from memory import MB, Peaks

STAGES = ("ingest", "statistics", "climatology")
PACKAGES = ("dask", "distributed", "xarray", "zarr", "numcodecs", "netCDF4", "numpy")


@dataclass
class Stage:
    """One stage of one system, over the repeats: wall seconds and memory peaks of each."""

    name: str
    times: list[float] = field(default_factory=list)
    peaks: list[Peaks] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """Best of the repeats: the run least disturbed by anything else on the machine."""
        return min(self.times)

    def peak(self, attribute: str) -> int:
        return max(int(getattr(p, attribute)) for p in self.peaks)

    @property
    def worker_growth(self) -> int:
        return max(max(0, p.worker - p.worker_base) for p in self.peaks)


@dataclass
class System:
    """One system's stages on one dataset."""

    name: str
    stages: list[Stage] = field(default_factory=list)

    @property
    def total_seconds(self) -> float:
        return sum(s.seconds for s in self.stages)

    def stage(self, name: str) -> Stage:
        found = next((s for s in self.stages if s.name == name), None)
        if found is None:
            found = Stage(name)
            self.stages.append(found)
        return found


@dataclass
class SizeRun:
    """Both systems on one synthetic dataset, with its facts and the agreement checks."""

    dataset: dict[str, object]
    systems: dict[str, System] = field(default_factory=dict)
    checks: dict[str, object] = field(default_factory=dict)

    def _int(self, key: str) -> int:
        value = self.dataset[key]
        assert isinstance(value, int)
        return value

    @property
    def nbytes(self) -> int:
        return self._int("uncompressed_bytes")

    @property
    def chunk_bytes(self) -> int:
        return self._int("chunk_bytes")

    @property
    def label(self) -> str:
        return f"{self.nbytes / 1e9:.2f} GB"


def _rate(nbytes: int, seconds: float) -> float:
    return nbytes / MB / seconds if seconds > 0 else 0.0


@dataclass
class Report:
    """Everything one run measured."""

    stamp: str
    command: str
    settings: dict[str, object]
    machine: dict[str, str]
    notes: list[str]
    runs: list[SizeRun] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ tables
    def throughput_table(self) -> str:
        lines = [
            "| dataset | stage | ours s | ours MB/s | plain s | plain MB/s | ours/plain time |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for run in self.runs:
            ours, plain = run.systems.get("ours"), run.systems.get("plain")
            if ours is None or plain is None:
                continue
            rows = [(n, ours.stage(n).seconds, plain.stage(n).seconds) for n in STAGES]
            rows.append(("**end to end**", ours.total_seconds, plain.total_seconds))
            for name, mine, theirs in rows:
                lines.append(
                    f"| {run.label} | {name} | {mine:.1f} | {_rate(run.nbytes, mine):.0f} | "
                    f"{theirs:.1f} | {_rate(run.nbytes, theirs):.0f} | {mine / theirs:.2f}x |"
                )
        return "\n".join(lines)

    def memory_table(self) -> str:
        lines = [
            "| dataset | system | stage | client base MB | client peak MB | worker base MB "
            "| worker peak MB | workers total MB | worker growth MB | growth / chunk "
            "| worker peak / dataset |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for run in self.runs:
            for system in run.systems.values():
                for st in system.stages:
                    worker, growth = st.peak("worker"), st.worker_growth
                    lines.append(
                        f"| {run.label} | {system.name} | {st.name} | "
                        f"{st.peak('client_base') / MB:.0f} | {st.peak('client') / MB:.0f} | "
                        f"{st.peak('worker_base') / MB:.0f} | "
                        f"{worker / MB:.0f} | "
                        f"{st.peak('workers_total') / MB:.0f} | {growth / MB:.0f} | "
                        f"{growth / run.chunk_bytes:.1f} | {worker / run.nbytes:.1%} |"
                    )
        return "\n".join(lines)

    def dataset_table(self) -> str:
        keys = [
            "shape",
            "variables",
            "uncompressed_bytes",
            "source_file_bytes",
            "chunk_shape",
            "chunk_bytes",
            "ours_store_bytes",
            "plain_store_bytes",
            "generate_seconds",
        ]
        head = "| fact | " + " | ".join(r.label for r in self.runs) + " |"
        lines = [head, "|---|" + "---:|" * len(self.runs)]
        for key in keys:
            lines.append(
                f"| {key} | " + " | ".join(str(r.dataset.get(key)) for r in self.runs) + " |"
            )
        for key in sorted({k for r in self.runs for k in r.checks}):
            lines.append(
                f"| check: {key} | " + " | ".join(str(r.checks.get(key)) for r in self.runs) + " |"
            )
        return "\n".join(lines)

    def tables(self) -> str:
        parts = [
            "## Throughput (uncompressed bytes / wall seconds)",
            self.throughput_table(),
            "## Peak resident memory per stage",
            self.memory_table(),
            "## Datasets and checks",
            self.dataset_table(),
        ]
        if self.failures:
            parts += ["## Failures", "\n".join(f"- {f}" for f in self.failures)]
        return "\n\n".join(parts)

    # ------------------------------------------------------------------- files
    def as_json(self) -> dict[str, object]:
        runs = []
        for run in self.runs:
            systems = {
                name: {
                    "total_seconds": round(s.total_seconds, 2),
                    "total_mb_per_s": round(_rate(run.nbytes, s.total_seconds), 1),
                    "stages": {
                        st.name: {
                            "seconds": round(st.seconds, 2),
                            "mb_per_s": round(_rate(run.nbytes, st.seconds), 1),
                            "seconds_each_repeat": [round(t, 2) for t in st.times],
                            "rss_mb_each_repeat": [p.as_json() for p in st.peaks],
                        }
                        for st in s.stages
                    },
                }
                for name, s in run.systems.items()
            }
            runs.append({"dataset": run.dataset, "systems": systems, "checks": run.checks})
        return {
            "stamp": self.stamp,
            "command": self.command,
            "settings": self.settings,
            "machine": self.machine,
            "notes": self.notes,
            "runs": runs,
            "failures": self.failures,
        }

    def markdown(self) -> str:
        machine = "\n".join(f"| {k} | {v} |" for k, v in self.machine.items())
        settings = "\n".join(f"| {k} | {v} |" for k, v in self.settings.items())
        notes = "\n".join(f"- {n}" for n in self.notes)
        return (
            f"# Preprocess benchmark {self.stamp}\n\nCommand: `{self.command}`\n\n"
            f"## Machine\n\n| fact | value |\n|---|---|\n{machine}\n\n"
            f"## Settings\n\n| setting | value |\n|---|---|\n{settings}\n\n"
            f"{self.tables()}\n\n## Notes\n\n{notes}\n"
        )

    def save(self, folder: Path) -> tuple[Path, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        json_path = folder / f"{self.stamp}.json"
        md_path = folder / f"{self.stamp}.md"
        json_path.write_text(json.dumps(self.as_json(), indent=1) + "\n")
        md_path.write_text(self.markdown())
        return json_path, md_path


# ------------------------------------------------------------------- machine
def machine_info() -> dict[str, str]:
    """Facts about the machine and software the numbers depend on."""
    info = {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": _cpu_model(),
        "memory": f"{_memory_bytes() / 2**30:.1f} GiB",
        "os": platform.platform(),
        "python": platform.python_version(),
    }
    info.update({name: _version(name) for name in PACKAGES})
    info["commit"] = _commit()
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_bytes() -> int:
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git(*args: str) -> str:
    root = Path(__file__).resolve().parents[2]
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return done.stdout.strip()


def _commit() -> str:
    head = _git("rev-parse", "--short", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return f"{head}{' (uncommitted changes)' if dirty else ''}" if head else "unknown"
