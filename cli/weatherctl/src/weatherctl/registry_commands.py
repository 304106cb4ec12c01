"""`weatherctl registry ...`: models, versions, aliases, verification and events."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from google.protobuf import duration_pb2
from weather.common.v1 import dataset_pb2, lineage_pb2, pagination_pb2
from weather.registry.v1 import registry_service_pb2 as pb
from weather.registry.v1 import registry_service_pb2_grpc as pb_grpc

from weather_runtime.artifacts import directory_digest
from weatherctl.output import emit_json, table

Handler = Callable[[pb_grpc.RegistryServiceStub, argparse.Namespace], Any]
_GOALS = {"minimize": 1, "maximize": 2, "zero": 3}
_OPS = {"<": 1, "<=": 2, ">": 3, ">=": 4}
_FILTER = re.compile(
    r"^(?P<name>[^:<>=]+)(:(?P<var>[^:<>=]*))?(:(?P<lead>\d+)h)?(?P<op><=|>=|<|>)(?P<thr>.+)$"
)


def _tags(pairs: list[str] | None) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"weatherctl: --tag wants KEY=VALUE, got {pair!r}")
        out[key] = value
    return out


def _hours(value: float) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromTimedelta(timedelta(hours=value))
    return duration


def metrics_from_file(path: Path) -> list[pb.Metric]:
    """Metrics from JSON: [{"name","variable","lead_hours","value","goal","baselines":{...}}]."""
    entries = json.loads(path.read_text())
    return [
        pb.Metric(
            name=e["name"],
            variable=e["variable"],
            lead_time=_hours(float(e["lead_hours"])),
            value=float(e["value"]),
            goal=_GOALS[e.get("goal", "minimize")],  # type: ignore[arg-type]
            baselines=[
                pb.BaselineScore(baseline=k, value=float(v))
                for k, v in e.get("baselines", {}).items()
            ],
        )
        for e in entries
    ]


def _page(args: argparse.Namespace) -> pagination_pb2.PageRequest:
    return pagination_pb2.PageRequest(page_size=args.page_size, page_token=args.page_token or "")


def _print_versions(versions: list[pb.ModelVersion], token: str) -> None:
    rows = [
        [
            v.model_name,
            v.version,
            ",".join(v.aliases),
            v.artifact_digest[:19] + "…",
            v.created_by,
            v.artifact_uri,
        ]
        for v in versions
    ]
    print(table(rows, ["model", "version", "aliases", "digest", "created_by", "artifact"]))
    if token:
        print(f"next page: --page-token {token}")


def models_create(stub: pb_grpc.RegistryServiceStub, args: argparse.Namespace) -> Any:
    return stub.CreateRegisteredModel(
        pb.CreateRegisteredModelRequest(
            name=args.name, description=args.description, tags=_tags(args.tag)
        )
    )


def models_get(stub: pb_grpc.RegistryServiceStub, args: argparse.Namespace) -> Any:
    return stub.GetRegisteredModel(pb.GetRegisteredModelRequest(name=args.name))


def models_list(stub: pb_grpc.RegistryServiceStub, args: argparse.Namespace) -> Any:
    response = stub.ListRegisteredModels(
        pb.ListRegisteredModelsRequest(
            name_prefix=args.prefix,
            tags=[pb.TagFilter(key=k, value=v) for k, v in _tags(args.tag).items()],
            page=_page(args),
        )
    )
    if args.json:
        return response
    rows = [
        [
            m.name,
            m.latest_version,
            ",".join(f"{a}={v}" for a, v in sorted(m.aliases.items())),
            m.description,
        ]
        for m in response.models
    ]
    print(table(rows, ["model", "latest", "aliases", "description"]))
    return None


def versions_create(stub: pb_grpc.RegistryServiceStub, args: argparse.Namespace) -> Any:
    digest = args.digest or directory_digest(args.artifact).digest
    lineage = lineage_pb2.Lineage(
        dataset=dataset_pb2.DatasetRef(dataset_id=args.dataset_id, content_hash=args.dataset_hash),
        recipe_hash=args.recipe_hash,
        normalisation_stats_hash=args.stats_hash,
        training_job_id=args.job_id,
        code_version=args.code_version,
    )
    return stub.CreateModelVersion(
        pb.CreateModelVersionRequest(
            model_name=args.model,
            artifact_uri=args.artifact,
            artifact_digest=digest,
            lineage=lineage,
            metrics=metrics_from_file(Path(args.metrics)) if args.metrics else [],
            tags=_tags(args.tag),
            description=args.description,
            request_id=args.request_id,
        )
    )


def versions_get(stub: pb_grpc.RegistryServiceStub, args: argparse.Namespace) -> Any:
    request = pb.GetModelVersionRequest(model_name=args.model)
    if args.alias:
        request.alias = args.alias
    elif args.version:
        request.version = args.version
    else:
        request.latest = True
    return stub.GetModelVersion(request)


def parse_metric_filter(text: str) -> pb.MetricFilter:
    """NAME[:VARIABLE][:LEADh]OP THRESHOLD, for example "rmse:t2m:24h<1.5"."""
    match = _FILTER.match(text.replace(" ", ""))
    if not match:
        raise SystemExit(f"weatherctl: --metric wants NAME[:VAR][:LEADh]<OP>VALUE, got {text!r}")
    found = pb.MetricFilter(
        name=match["name"],
        variable=match["var"] or "",
        comparison=_OPS[match["op"]],  # type: ignore[arg-type]
        threshold=float(match["thr"]),
    )
    if match["lead"]:
        found.lead_time.CopyFrom(_hours(float(match["lead"])))
    return found


def versions_list(stub: pb_grpc.RegistryServiceStub, args: argparse.Namespace) -> Any:
    response = stub.ListModelVersions(
        pb.ListModelVersionsRequest(
            model_name=args.model or "",
            tags=[pb.TagFilter(key=k, value=v) for k, v in _tags(args.tag).items()],
            alias=args.alias or "",
            metric_filters=[parse_metric_filter(m) for m in args.metric or []],
            page=_page(args),
        )
    )
    if args.json:
        return response
    _print_versions(list(response.versions), response.page.next_page_token)
    return None


def alias_set(stub: pb_grpc.RegistryServiceStub, args: argparse.Namespace) -> Any:
    request = pb.SetAliasRequest(
        model_name=args.model,
        alias=args.alias,
        version=args.version,
        override_gate=args.override,
        reason=args.reason,
        validate_only=args.dry_run,
    )
    if args.expect is not None:
        request.expected_current_version = args.expect
    response = stub.SetAlias(request)
    if args.json:
        return response
    print_change(response.change)
    return None


def print_change(change: pb.AliasChange) -> None:
    """One alias change with its gate checks."""
    target = f"{change.from_version or '-'} -> {change.to_version or '-'}"
    moved = f"{change.model_name}@{change.alias}: {target}"
    note = " (gate overridden: " + change.reason + ")" if change.gate_overridden else ""
    print(f"{moved} by {change.actor}{note}")
    if change.HasField("gate"):
        print(gate_table(change.gate))


def gate_table(gate: pb.GateReport) -> str:
    """The gate's checks as a table."""
    rows = [
        [
            c.variable,
            c.metric,
            f"+{c.lead_time.ToTimedelta().total_seconds() / 3600:g}h",
            c.method or "-",
            c.baseline,
            f"{c.value:.4g}",
            f"{c.baseline_value:.4g}",
            f"{c.skill:+.3f}",
            "pass" if c.passed else "FAIL",
        ]
        for c in gate.checks
    ]
    headers = ["variable", "metric", "lead", "method", "baseline", "model", "baseline", "skill", ""]
    return table(rows, headers)


def alias_delete(stub: pb_grpc.RegistryServiceStub, args: argparse.Namespace) -> Any:
    return stub.DeleteAlias(
        pb.DeleteAliasRequest(model_name=args.model, alias=args.alias, reason=args.reason)
    )


def alias_history(stub: pb_grpc.RegistryServiceStub, args: argparse.Namespace) -> Any:
    response = stub.ListAliasHistory(
        pb.ListAliasHistoryRequest(model_name=args.model, alias=args.alias or "", page=_page(args))
    )
    if args.json:
        return response
    rows = [
        [
            c.id,
            c.time.ToDatetime().isoformat(timespec="seconds") + "Z",
            c.alias,
            c.from_version or "-",
            c.to_version or "-",
            c.actor,
            "override" if c.gate_overridden else "",
            c.reason,
        ]
        for c in response.changes
    ]
    print(table(rows, ["id", "time", "alias", "from", "to", "actor", "gate", "reason"]))
    return None


def verify(stub: pb_grpc.RegistryServiceStub, args: argparse.Namespace) -> Any:
    response = stub.VerifyModelVersion(
        pb.VerifyModelVersionRequest(model_name=args.model, version=args.version)
    )
    if args.json:
        return response
    print(
        f"{pb.VerifyResult.Name(response.result)}: expected {response.expected_digest}, "
        f"found {response.actual_digest or '-'} "
        f"({response.file_count} files, {response.total_bytes} bytes)"
    )
    return 0 if response.result == pb.VERIFY_RESULT_MATCH else 1


def watch(stub: pb_grpc.RegistryServiceStub, args: argparse.Namespace) -> Any:
    request = pb.WatchEventsRequest(model_name=args.model or "")
    if args.start_after is not None:
        request.start_after_sequence = args.start_after
    for message in stub.WatchEvents(request):
        e = message.event
        print(
            f"{e.sequence} {pb.EventType.Name(e.type)} {e.model_name} v{e.version} "
            f"{e.alias} prev={e.previous_version} by {e.actor}",
            flush=True,
        )
    return None


def add_parser(subparsers: Any) -> None:  # noqa: PLR0915 - one flat list of argparse calls
    """Adds the registry command group."""
    registry = subparsers.add_parser("registry", help="model registry commands")
    groups = registry.add_subparsers(dest="group", required=True)

    def page_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--page-size", type=int, default=0)
        p.add_argument("--page-token", default="")

    models = groups.add_parser("models", help="registered models").add_subparsers(
        dest="cmd", required=True
    )
    p = models.add_parser("create")
    p.add_argument("name")
    p.add_argument("--description", default="")
    p.add_argument("--tag", action="append", help="KEY=VALUE, repeatable")
    p.set_defaults(handler=models_create)
    p = models.add_parser("get")
    p.add_argument("name")
    p.set_defaults(handler=models_get)
    p = models.add_parser("list")
    p.add_argument("--prefix", default="")
    p.add_argument("--tag", action="append")
    page_args(p)
    p.set_defaults(handler=models_list)

    versions = groups.add_parser("versions", help="model versions").add_subparsers(
        dest="cmd", required=True
    )
    p = versions.add_parser("create")
    p.add_argument("model")
    p.add_argument("--artifact", required=True, help="SavedModel directory (path or URL)")
    p.add_argument(
        "--digest", default="", help="sha256:...; computed from a local artifact when omitted"
    )
    p.add_argument("--metrics", help="JSON file of metrics with baselines")
    p.add_argument("--dataset-id", default="")
    p.add_argument("--dataset-hash", default="")
    p.add_argument("--recipe-hash", default="")
    p.add_argument("--stats-hash", default="")
    p.add_argument("--job-id", default="")
    p.add_argument("--code-version", default="")
    p.add_argument("--tag", action="append")
    p.add_argument("--description", default="")
    p.add_argument("--request-id", default="")
    p.set_defaults(handler=versions_create)
    p = versions.add_parser("get")
    p.add_argument("model")
    sel = p.add_mutually_exclusive_group()
    sel.add_argument("--version", type=int)
    sel.add_argument("--alias")
    p.set_defaults(handler=versions_get)
    p = versions.add_parser("list")
    p.add_argument("--model")
    p.add_argument("--tag", action="append")
    p.add_argument("--alias")
    p.add_argument("--metric", action="append", help='filter such as "rmse:t2m:24h<1.5"')
    page_args(p)
    p.set_defaults(handler=versions_list)

    alias = groups.add_parser("alias", help="aliases").add_subparsers(dest="cmd", required=True)
    p = alias.add_parser("set")
    p.add_argument("model")
    p.add_argument("alias")
    p.add_argument("version", type=int)
    p.add_argument(
        "--expect", type=int, help="only if the alias currently points at this (0: none)"
    )
    p.add_argument("--override", action="store_true", help="override a failing promotion gate")
    p.add_argument("--reason", default="")
    p.add_argument("--dry-run", action="store_true", help="evaluate the gate only")
    p.set_defaults(handler=alias_set)
    p = alias.add_parser("delete")
    p.add_argument("model")
    p.add_argument("alias")
    p.add_argument("--reason", default="")
    p.set_defaults(handler=alias_delete)
    p = alias.add_parser("history")
    p.add_argument("model")
    p.add_argument("--alias")
    page_args(p)
    p.set_defaults(handler=alias_history)

    p = groups.add_parser("verify", help="recompute an artefact digest")
    p.add_argument("model")
    p.add_argument("version", type=int)
    p.set_defaults(handler=verify)
    p = groups.add_parser("watch", help="stream registry events")
    p.add_argument("--model")
    p.add_argument("--start-after", type=int)
    p.set_defaults(handler=watch)


def run(channel: Any, args: argparse.Namespace) -> int:
    """Runs the chosen registry command on a channel; returns the exit code."""
    result = args.handler(pb_grpc.RegistryServiceStub(channel), args)
    if isinstance(result, int):
        return result
    if result is not None:
        emit_json(result)
    return 0
