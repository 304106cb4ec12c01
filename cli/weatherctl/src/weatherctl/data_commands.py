"""`weatherctl ingest ...` and `weatherctl preprocess ...`: the data plane from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from weather.common.v1 import dataset_pb2, manifest_pb2, operation_pb2
from weather.ingest.v1 import ingest_service_pb2 as ipb
from weather.ingest.v1 import ingest_service_pb2_grpc as ipb_grpc
from weather.preprocess.v1 import preprocess_service_pb2 as ppb
from weather.preprocess.v1 import preprocess_service_pb2_grpc as ppb_grpc

from weatherctl.output import emit_json, table
from weatherctl.progress import ProgressBar
from weatherctl.recipes import recipe_from_yaml

_KINDS = {
    "climatology": ppb.ANALYSIS_KIND_CLIMATOLOGY,
    "anomalies": ppb.ANALYSIS_KIND_ANOMALIES,
    "trend": ppb.ANALYSIS_KIND_TREND,
    "area-mean": ppb.ANALYSIS_KIND_AREA_MEAN,
    "extremes": ppb.ANALYSIS_KIND_EXTREMES,
}
_CALENDARS = {
    "month": ppb.CALENDAR_KEY_MONTH,
    "dayofyear": ppb.CALENDAR_KEY_DAY_OF_YEAR,
    "hour": ppb.CALENDAR_KEY_HOUR,
}
SUCCEEDED = operation_pb2.OPERATION_STATE_SUCCEEDED


def describe_manifest(m: manifest_pb2.DatasetManifest) -> str:
    """One line about a dataset version."""
    dims = " x ".join(f"{d.name} {d.size}" for d in m.dimensions)
    names = ", ".join(
        f"{v.name} [{v.units}]"
        + (f" {v.missing_count} missing ({v.missing_fraction:.1%})" if v.missing_count else "")
        for v in m.variables
    )
    return f"{m.ref.dataset_id} v{m.version} {m.ref.content_hash[:19]}... {dims}: {names}"


def follow(stub: Any, operation_id: str, quiet: bool = False, label: str = "") -> Any:
    """Watches an operation to its end, showing its stage and progress on stderr (a bar on a
    terminal, plain lines elsewhere; nothing when quiet); returns the last message."""
    ingest = isinstance(stub, ipb_grpc.IngestServiceStub)
    request_type = ipb.WatchOperationRequest if ingest else ppb.WatchOperationRequest
    last = None
    with ProgressBar(label or ("ingest" if ingest else "preprocess"), 1.0, quiet=quiet) as bar:
        for message in stub.WatchOperation(request_type(operation_id=operation_id)):
            last = message
            bar.update(message.operation.progress, stage=message.operation.stage)
    return last


def failure(operation: operation_pb2.OperationStatus) -> str:
    """The error of a failed operation as one line."""
    fields = "; ".join(f"{p.field}: {p.description}" for p in operation.error.field_problems)
    return f"{operation.error.code}: {operation.error.message}" + (
        f" ({fields})" if fields and fields not in operation.error.message else ""
    )


def _uri(source: str) -> str:
    return str(Path(source).resolve()) if "://" not in source else source


def _pairs(items: list[str] | None, flag: str) -> dict[str, str]:
    """NAME=VALUE arguments as a dict; argparse-style error for one without '='."""
    pairs = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"weatherctl: {flag} needs NAME=VALUE, got {item!r}")
        pairs[name] = value
    return pairs


def ingest_run(stub: ipb_grpc.IngestServiceStub, args: argparse.Namespace) -> int:
    first, *more = args.source
    request = ipb.StartIngestRequest(
        source_uri=_uri(first),
        source_uris=[_uri(s) for s in more],
        dataset_id=args.dataset,
        variables=args.variable or [],
        reference_year=args.reference_year,
        units=_pairs(args.units, "--units"),
        time_decoding=ipb.TimeDecoding(
            variable=args.time_variable,
            units=args.time_units,
            reference_time=args.reference_time,
            step_units=args.step_units,
            renames=_pairs(args.rename, "--rename"),
        ),
    )
    started = stub.StartIngest(request)
    last = follow(stub, started.operation.operation_id, args.quiet, f"ingest {args.dataset}")
    if last.operation.state != SUCCEEDED:
        print(f"weatherctl: ingest failed: {failure(last.operation)}", file=sys.stderr)
        return 1
    emit_json(last.result) if args.json else print(describe_manifest(last.result))
    return 0


def ingest_list(stub: ipb_grpc.IngestServiceStub, args: argparse.Namespace) -> int:
    response = stub.ListDatasets(ipb.ListDatasetsRequest(id_prefix=args.prefix))
    for m in response.datasets:
        print(describe_manifest(m))
    return 0


def preprocess_build(stub: ppb_grpc.PreprocessServiceStub, args: argparse.Namespace) -> int:
    recipe = recipe_from_yaml(Path(args.recipe).read_text())
    if args.output:
        recipe.output_dataset_id = args.output
    last = follow(
        stub,
        stub.StartBuild(ppb.StartBuildRequest(recipe=recipe)).operation.operation_id,
        args.quiet,
        f"build {recipe.output_dataset_id}".strip(),
    )
    if last.operation.state != SUCCEEDED:
        print(f"weatherctl: build failed: {failure(last.operation)}", file=sys.stderr)
        return 1
    if args.json:
        emit_json(last.build)
        return 0
    print_build(last.build)
    return 0


def print_build(build: ppb.BuildResult) -> None:
    """A build's dataset, splits and statistics."""
    print(describe_manifest(build.dataset) + ("  (reused)" if build.reused else ""))
    steps = (build.train_steps, build.validation_steps, build.test_steps)
    print("splits: train {}, validation {}, test {} steps".format(*steps))
    print(f"recipe {build.recipe_hash[:19]}...  statistics {build.statistics.stats_hash[:19]}...")
    rows = [
        [
            e.variable,
            f"{e.level:g}" if e.level else "",
            f"{e.mean:.4g}",
            f"{e.std:.4g}",
            f"{e.diff_mean:.3g}",
            f"{e.diff_std:.4g}",
        ]
        for e in build.statistics.entries
    ]
    print(table(rows, ["variable", "level", "mean", "std", "diff mean", "diff std"]))


def preprocess_analyse(stub: ppb_grpc.PreprocessServiceStub, args: argparse.Namespace) -> int:
    request = ppb.StartAnalysisRequest(
        source=dataset_pb2.DatasetRef(dataset_id=args.dataset),
        variables=args.variable or [],
        kind=_KINDS[args.kind],
        calendar=_CALENDARS[args.calendar],
        named_region=args.region or "",
        of_anomalies=args.anomalies,
        output_dataset_id=args.output or "",
    )
    label = f"{args.kind} of {args.dataset}"
    last = follow(stub, stub.StartAnalysis(request).operation.operation_id, args.quiet, label)
    if last.operation.state != SUCCEEDED:
        print(f"weatherctl: analysis failed: {failure(last.operation)}", file=sys.stderr)
        return 1
    if args.json:
        emit_json(last.analysis)
        return 0
    print(describe_manifest(last.analysis.dataset))
    for key, value in sorted(last.analysis.summary.items()):
        print(f"  {key:<32} {value:.4g}")
    return 0


def add_parsers(commands: Any) -> None:
    """Adds the ingest and preprocess command groups."""
    ingest = commands.add_parser("ingest", help="ingest service commands").add_subparsers(
        dest="cmd", required=True
    )
    p = ingest.add_parser("run", help="ingest files or stores (merged into one) and wait for it")
    p.add_argument("source", nargs="+", help="one or more sources forming one dataset")
    p.add_argument("--dataset", required=True)
    p.add_argument("--variable", action="append")
    p.add_argument("--reference-year", type=int, default=0)
    p.add_argument("--units", action="append", help="VARIABLE=UNITS for sources without units")
    p.add_argument("--time-variable", default="", help="the variable holding the time axis")
    p.add_argument(
        "--time-units",
        default="",
        help="its CF units ('hours since 2020-01-01'), or the "
        "global attribute or variable holding them",
    )
    p.add_argument(
        "--reference-time",
        default="",
        help="the time its steps count from (ISO 8601), or the "
        "global attribute or variable holding it",
    )
    p.add_argument("--step-units", default="", help="seconds, minutes, hours or days")
    p.add_argument("--rename", action="append", help="SOURCE=NEW: rename an axis first")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(handler=ingest_run, service="ingest")
    p = ingest.add_parser("datasets", help="list datasets")
    p.add_argument("--prefix", default="")
    p.set_defaults(handler=ingest_list, service="ingest")

    preprocess = commands.add_parser(
        "preprocess", help="preprocess service commands"
    ).add_subparsers(dest="cmd", required=True)
    p = preprocess.add_parser("build", help="build a training dataset from a YAML recipe")
    p.add_argument("recipe")
    p.add_argument("--output", default="")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(handler=preprocess_build, service="preprocess")
    p = preprocess.add_parser("analyse", help="run a climate analysis")
    p.add_argument("dataset")
    p.add_argument("--kind", choices=sorted(_KINDS), required=True)
    p.add_argument("--variable", action="append")
    p.add_argument("--calendar", choices=sorted(_CALENDARS), default="month")
    p.add_argument("--region", help="named region (nino3.4, nino4, global...)")
    p.add_argument("--anomalies", action="store_true", help="area mean of anomalies")
    p.add_argument("--output", default="")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(handler=preprocess_analyse, service="preprocess")
