"""Long fuzz run: every RPC of every service under the `long` hypothesis profile, with a report.

Starts the services one after the other in this process (tests/fuzz/services.py), sends each
RPC random, garbage, truncated and (for tensor requests) mismatched-shape payloads, then mutated
well-formed requests on a small real archive (tests/fuzz/seeded.py), and writes
results/<UTC stamp>.json and .md: cases and statuses per RPC, findings with the smallest
example seen (INTERNAL/UNKNOWN/hang, stack-trace text, or a failed health check), duration.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(ROOT))

from tests.fuzz import seeded, services  # noqa: E402
from tests.fuzz.harness import Finding, Recorder, fuzz_rpc  # noqa: E402
from tests.fuzz.profiles import BUDGETS, options  # noqa: E402
from tests.fuzz.strategies import KINDS  # noqa: E402


def run(profile: str, scale: float, seeded_only: bool = False) -> dict[str, object]:
    recorder = Recorder()
    started = time.monotonic()
    seconds: dict[str, float] = {}
    runtime = services.dask_runtime()
    try:
        with tempfile.TemporaryDirectory(prefix="weather-fuzz-") as folder:
            for running in [] if seeded_only else services.start_all(Path(folder), runtime):
                for target in running.targets:
                    for method in target.methods():
                        rpc = f"{target.name}/{method.name}"
                        began = time.monotonic()
                        for kind in KINDS:
                            if kind == "shapes" and not target.has_tensors(method):
                                continue
                            if kind == "seeded":
                                continue  # the seeded targets below
                            fuzz_rpc(
                                target,
                                method,
                                kind,
                                options(kind, profile, scale),
                                recorder,
                                raise_on_finding=False,
                            )
                        seconds[rpc] = round(time.monotonic() - began, 2)
                        found = sum(1 for f in recorder.findings.values() if f.rpc == rpc)
                        print(
                            f"{rpc}: {recorder.cases[rpc]} cases, {seconds[rpc]} s, "
                            f"{found} findings",
                            flush=True,
                        )
            seeded_rpcs = run_seeded(Path(folder) / "seeded", runtime, profile, scale, recorder)
    finally:
        runtime.close()
    return {
        "profile": profile,
        "scale": scale,
        "budgets": {k: round(v * scale) for k, v in BUDGETS[profile].items()},
        "duration_seconds": round(time.monotonic() - started, 1),
        "rpcs": {
            rpc: {
                "cases": recorder.cases[rpc],
                "seconds": seconds.get(rpc),
                "statuses": dict(sorted(recorder.statuses.get(rpc, {}).items())),
            }
            for rpc in services.all_rpcs()
        },
        "seeded": seeded_rpcs,
        "findings": [vars(f) for f in recorder.findings.values()],
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "hypothesis": metadata.version("hypothesis"),
            "grpcio": metadata.version("grpcio"),
            "protobuf": metadata.version("protobuf"),
        },
    }


def run_seeded(
    folder: Path, runtime: object, profile: str, scale: float, recorder: Recorder
) -> dict[str, dict[str, object]]:
    """The seeded fuzz (tests/fuzz/seeded.py): mutated well-formed requests on a real archive;
    the preprocess operations they start are followed to their end (an unclean end is a
    finding)."""
    report: dict[str, dict[str, object]] = {}
    running = seeded.start_seeded(folder, runtime)  # type: ignore[arg-type]
    try:
        for target in running.targets:
            for method in target.methods():
                rpc = f"{target.name}/{method.name}"
                collected = seeded.Collected(method.name)
                began = time.monotonic()
                fuzz_rpc(
                    target,
                    method,
                    "seeded",
                    options("seeded", profile, scale),
                    recorder,
                    raise_on_finding=False,
                    on_outcome=collected,
                )
                ends = seeded.operation_ends(target.channel, collected.operations)
                for operation_id, problem in seeded.operation_problems(ends):
                    example = collected.examples.get(operation_id, "")
                    recorder.findings[(rpc, problem[:120])] = Finding(
                        rpc, "seeded", problem, example, len(example)
                    )
                codes = Counter(o.label for o in collected.outcomes)
                report[rpc] = {
                    "cases": len(collected.outcomes),
                    "seconds": round(time.monotonic() - began, 2),
                    "statuses": dict(sorted(codes.items())),
                    "operations": dict(Counter(code or "OK" for code, _ in ends.values())),
                }
                print(f"{rpc} (seeded): {report[rpc]}", flush=True)
    finally:
        running.stop()
    return report


def markdown(stamp: str, result: dict[str, object]) -> str:
    rpcs: dict[str, dict[str, object]] = result["rpcs"]  # type: ignore[assignment]
    findings: list[dict[str, object]] = result["findings"]  # type: ignore[assignment]
    total = sum(int(r["cases"]) for r in rpcs.values())  # type: ignore[call-overload]
    lines = [
        f"# Fuzz run {stamp}",
        "",
        f"Profile `{result['profile']}` (scale {result['scale']}): {total} cases over "
        f"{len(rpcs)} RPCs in {result['duration_seconds']} s; {len(findings)} findings.",
        "",
        "| RPC | cases | s | statuses |",
        "|---|---:|---:|---|",
    ]
    for rpc, row in rpcs.items():
        statuses = ", ".join(f"{k} {v}" for k, v in row["statuses"].items())  # type: ignore[attr-defined]
        lines.append(f"| {rpc} | {row['cases']} | {row['seconds']} | {statuses} |")
    seeded_rows: dict[str, dict[str, object]] = result.get("seeded", {})  # type: ignore[assignment]
    if seeded_rows:
        lines += [
            "",
            "Seeded (mutated well-formed requests on a real archive):",
            "",
            "| RPC | cases | s | statuses | operations |",
            "|---|---:|---:|---|---|",
        ]
        for rpc, row in seeded_rows.items():
            statuses = ", ".join(f"{k} {v}" for k, v in row["statuses"].items())  # type: ignore[attr-defined]
            ops = ", ".join(f"{k} {v}" for k, v in row["operations"].items())  # type: ignore[attr-defined]
            lines.append(f"| {rpc} | {row['cases']} | {row['seconds']} | {statuses} | {ops} |")
    lines += ["", "## Findings", ""]
    if not findings:
        lines.append("None: no INTERNAL, UNKNOWN, hang, stack trace or failed health check.")
    for finding in findings:
        lines += [
            f"- **{finding['rpc']}** ({finding['kind']}): {finding['problem']}",
            f"  smallest example ({finding['example_bytes']} bytes): "
            f"`{str(finding['example'])[:800]}`",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", default="long", choices=sorted(BUDGETS))
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiplies the profile's examples per RPC"
    )
    parser.add_argument(
        "--seeded-only", action="store_true", help="only the seeded fuzz on the real archive"
    )
    args = parser.parse_args()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result = run(args.profile, args.scale, args.seeded_only)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stamp}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (RESULTS / f"{stamp}.md").write_text(markdown(stamp, result))
    print(markdown(stamp, result))


if __name__ == "__main__":
    main()
