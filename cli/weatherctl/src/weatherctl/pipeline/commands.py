"""`weatherctl pipeline run|status FILE` and the main job (`weatherctl demo`) on top of them.

`run` starts a local suite in --data-dir for the run (like `weatherctl demo`, keeping the data
folder so a rerun skips what is done), or uses running services: --suite FILE (the addresses
file `weatherctl up` writes as <data-dir>/suite.json) and/or --registry/--ingest/--preprocess/
--trainer/--predictor HOST:PORT with --archive URL.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from weather_runtime.settings import SettingsError
from weather_runtime.telemetry import init_tracing
from weather_runtime.tls import ClientTLS
from weather_runtime.trace_files import TRACES_DIR_VARIABLE
from weatherctl import trace_commands
from weatherctl.launcher import SUITE_FILE, LocalSuite, source_root
from weatherctl.pipeline import runner
from weatherctl.pipeline.spec import Pipeline, PipelineFileError, load
from weatherctl.pipeline.state import plan
from weatherctl.pipeline.steps import Endpoints

SERVICES = ("registry", "ingest", "preprocess", "trainer", "predictor")
DEMO_FILE = "pipelines/demo.yaml"


def add_parser(commands: Any) -> None:
    """Adds the pipeline command group."""
    group = commands.add_parser("pipeline", help="run a pipeline file").add_subparsers(
        dest="cmd", required=True
    )
    p = group.add_parser("run", help="run a pipeline file's steps, skipping unchanged ones")
    p.add_argument("file", type=Path, help="pipeline YAML (data/pipelines/demo.yaml)")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path("var/local"),
        help="the suite's data folder (started here unless services are given); the state is "
        "kept in <data-dir>/pipeline/<name>",
    )
    p.add_argument("--suite", type=Path, help="addresses file of a running suite (weatherctl up)")
    for service in SERVICES:
        p.add_argument(
            f"--{service}", dest=f"to_{service}", metavar="HOST:PORT", help=f"a running {service}"
        )
    p.add_argument("--archive", default="", help="the running suite's archive URL")
    p.add_argument(
        "--force", action="append", default=[], metavar="STEP", help="run STEP even if unchanged"
    )
    p.set_defaults(service="pipeline")
    p = group.add_parser("status", help="the steps, their keys and where each stands")
    p.add_argument("file", type=Path)
    p.add_argument("--data-dir", type=Path, default=Path("var/local"))
    p.add_argument("--suite", type=Path, help="addresses file of a running suite")
    p.set_defaults(service="pipeline")


class _Refused(Exception):
    """A command line that cannot run (the message says why); exit code 2."""


def run(args: argparse.Namespace) -> int:
    """Runs a pipeline subcommand."""
    try:
        pipeline = load(args.file)
    except PipelineFileError as exc:
        print(f"weatherctl: {args.file} is not a valid pipeline file:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {exc.file}: {problem.path}: {problem.message}", file=sys.stderr)
        return 2
    try:
        return _run(pipeline, args)
    except _Refused as exc:
        print(f"weatherctl: {exc}", file=sys.stderr)
        return 2


def _run(pipeline: Pipeline, args: argparse.Namespace) -> int:
    try:
        suite = _read_suite(args.suite) if args.suite else {}
    except (OSError, ValueError) as exc:
        raise _Refused(f"{args.suite}: {exc}") from None
    data_dir = Path(suite.get("data_dir") or args.data_dir).resolve()
    if args.cmd == "status":
        print(runner.status(pipeline, data_dir))
        return 0
    names = [step.name for step in plan(pipeline)]
    unknown = sorted(set(args.force) - set(names))
    if unknown:
        raise _Refused(f"--force {', '.join(unknown)}: the steps are {', '.join(names)}")
    given = {s: getattr(args, f"to_{s}") for s in SERVICES if getattr(args, f"to_{s}")}
    if not suite and not given:
        return run_local(pipeline, data_dir, args.actor, args.force)
    services = {s: getattr(args, s) for s in SERVICES}  # the global options' addresses
    services.update(suite.get("services", {}))
    services.update(given)
    archive = args.archive or suite.get("archive_url", "")
    if not archive and pipeline.forecast is not None:
        raise _Refused("--archive URL is needed to score forecasts against the archive")
    security = getattr(args, "security", None) or _suite_tls(suite)
    token, token_file = getattr(args, "token", ""), getattr(args, "token_file", "")
    if not token and not token_file:
        auth = suite.get("auth")
        token_file = str(auth.get("token_file", "")) if isinstance(auth, dict) else ""
    endpoints = Endpoints(
        {s: services[s] for s in SERVICES}, archive, security, token or "", token_file or ""
    )
    return _report(runner.run(pipeline, endpoints, data_dir, args.actor, args.force))


def _report(result: runner.RunResult) -> int:
    print(f"\ntrace id of this run: {result.trace_id}")
    return result.code


def _read_suite(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise ValueError("not a suite addresses file (weatherctl up writes one)")
    return data


def _suite_tls(suite: dict[str, Any]) -> ClientTLS | None:
    """The CA and weatherctl certificate a suite file names (weatherctl up with mTLS)."""
    tls = suite.get("tls")
    if not isinstance(tls, dict) or not tls.get("ca_file"):
        return None
    try:
        found = ClientTLS.from_files(
            tls["ca_file"],
            tls.get("cert_file"),
            tls.get("key_file"),
            variables=("tls.ca_file", "tls.cert_file", "tls.key_file"),
        )
        found.check()
    except SettingsError as exc:
        raise _Refused(f"the suite file's {exc}") from None
    return found


def _alive(suite_file: Path) -> bool:
    """Whether the `weatherctl up` that wrote suite_file still runs."""
    try:
        os.kill(int(_read_suite(suite_file)["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


def run_local(
    pipeline: Pipeline, data_dir: Path, actor: str, force: list[str] | None = None
) -> int:
    """Starts the suite in data_dir, runs the pipeline against it, stops it."""
    running = data_dir / SUITE_FILE
    if _alive(running):
        print(
            f"weatherctl: a suite runs in {data_dir} (weatherctl up); run against it with "
            f"--suite {running}",
            file=sys.stderr,
        )
        return 2
    traces = _trace_files_for(data_dir)
    provider = init_tracing("weatherctl")
    print(f"starting the suite under {data_dir} ...", flush=True)
    try:
        with LocalSuite(data_dir) as suite:
            for name, service in suite.services.items():
                where = service.address if service.spec.serves_grpc else "(sidecar, no gRPC port)"
                print(f"  {name:<12} {where}")
            endpoints = Endpoints(
                {s: suite.services[s].address for s in SERVICES},
                suite.archive_url,
                suite.client_tls,
                token_file=suite.client_token_file,
            )
            result = runner.run(pipeline, endpoints, data_dir, actor, force or [])
    except RuntimeError as exc:
        print(f"weatherctl: {exc}", file=sys.stderr)
        return 1
    provider.force_flush()
    code = _report(result)
    if traces is not None:
        _print_tree(traces, result.trace_id)
    print("suite stopped cleanly")
    return code


def _trace_files_for(data_dir: Path) -> Path | None:
    """The folder every process of a local run writes its spans to (this one included), set
    before tracing starts; None when tracing is off."""
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return None
    os.environ.setdefault(TRACES_DIR_VARIABLE, str(data_dir / "traces"))
    return Path(os.environ[TRACES_DIR_VARIABLE])


def _print_tree(folder: Path, trace_id: str) -> None:
    """The run's span tree, read back from the trace files once every process has flushed."""
    lines = trace_commands.show(folder, trace_id, repeat=2) if trace_id and folder.is_dir() else []
    if not lines:
        print(f"no spans of trace {trace_id} in {folder}")
        return
    print(f"\nthe run's trace (weatherctl trace show {trace_id} --dir {folder}):")
    print("\n".join(lines))


def run_demo(data_dir: Path) -> int:
    """The main job: a fresh suite in data_dir running data/pipelines/demo.yaml."""
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    try:
        pipeline = load(source_root() / DEMO_FILE)
    except PipelineFileError as exc:
        print(f"weatherctl: {exc}", file=sys.stderr)
        return 2
    return run_local(pipeline, data_dir, os.environ.get("WEATHER_ACTOR", "weatherctl-demo"))
