"""`weatherctl trace list|show`: traces the suite wrote to local files, as span trees."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from weather_runtime.trace_files import TRACES_DIR_VARIABLE, Span, build_tree, read_spans
from weatherctl.output import error, table

# Attributes worth a glance in the tree, in the order shown.
SHOWN_ATTRIBUTES = (
    "dataset.id",
    "job.id",
    "model.family",
    "model.name",
    "model.version",
    "epoch",
    "loss.train",
    "loss.validation",
    "dask.tasks",
    "batch.time_steps",
    "operation.state",
    "job.state",
)
_NUMBERS = re.compile(r"\d+")
ERROR = 2  # OTLP status code of a failed span
SERVER, CLIENT = 2, 3  # OTLP span kinds


def default_folder() -> Path:
    """$WEATHER_TRACES_DIR, else the demo's traces folder."""
    return Path(os.environ.get(TRACES_DIR_VARIABLE) or "var/demo/traces")


def duration(seconds: float) -> str:
    """A short human duration."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    return f"{seconds / 60:.1f} min"


def _label(span: Span) -> str:
    shown = []
    for key in SHOWN_ATTRIBUTES:
        if key in span.attributes:
            value = span.attributes[key]
            text = f"{value:.4g}" if isinstance(value, float) else str(value)
            shown.append(f"{key}={text}")
    code = span.attributes.get("rpc.grpc.status_code")
    if isinstance(code, int) and code != 0:
        shown.append(f"grpc.code={code}")
    failed = "  FAILED" if span.status == ERROR else ""
    extra = f"  ({', '.join(shown)})" if shown else ""
    return f"{span.name}  [{span.service}]  {duration(span.seconds)}{extra}{failed}"


def _kind(span: Span) -> tuple[str, str]:
    """Siblings of the same kind (numbers ignored: epoch 1, epoch 2) collapse together."""
    return span.service, _NUMBERS.sub("N", span.name)


def _short(name: str) -> str:
    """/weather.ingest.v1.IngestService/StartIngest -> IngestService/StartIngest."""
    if not name.startswith("/"):
        return name
    service, _, method = name[1:].partition("/")
    return f"{service.rsplit('.', 1)[-1]}/{method}"


def compact(spans: Sequence[Span]) -> list[Span]:
    """The tree with each call shown once: a CLIENT span whose only child is the server's span
    of the same call becomes one span `Service/Method` of service `caller → server` (the
    client's duration, the server's attributes and children, failed if either failed)."""
    out = []
    for span in spans:
        children = span.children
        if (
            span.kind == CLIENT
            and len(children) == 1
            and children[0].kind == SERVER
            and children[0].name == span.name
        ):
            server = children[0]
            merged = replace(
                span,
                name=_short(span.name),
                service=f"{span.service} → {server.service}",
                attributes={**span.attributes, **server.attributes},
                status=ERROR if ERROR in (span.status, server.status) else span.status,
                children=compact(server.children),
            )
        else:
            merged = replace(span, name=_short(span.name), children=compact(children))
        out.append(merged)
    return out


def render(roots: Sequence[Span], repeat: int = 3) -> list[str]:
    """The tree as lines; among siblings, a kind seen more than `repeat` times shows its first
    span (with its subtree), then one line for the rest: count, total, mean and max."""
    lines: list[str] = []

    def more(first: Span, rest: list[Span]) -> str:
        seconds = [s.seconds for s in rest]
        failed = sum(1 for s in rest if s.status == ERROR)
        return (
            f"┄ {len(rest)} more {_kind(first)[1]!r} [{first.service}]: total "
            f"{duration(sum(seconds))}, mean {duration(sum(seconds) / len(seconds))}, "
            f"max {duration(max(seconds))}" + (f", {failed} failed" if failed else "")
        )

    def walk(spans: Sequence[Span], prefix: str) -> None:
        groups: dict[tuple[str, str], list[Span]] = {}
        for span in spans:
            groups.setdefault(_kind(span), []).append(span)
        shown: list[Span] = []
        collapsed: dict[str, list[Span]] = {}  # first span id -> the rest of its kind
        for members in groups.values():
            if len(members) > repeat:
                shown.append(members[0])
                collapsed[members[0].span_id] = members[1:]
            else:
                shown.extend(members)
        shown.sort(key=lambda span: span.start)
        items: list[tuple[Span, list[Span] | None]] = []
        for span in shown:
            items.append((span, None))
            if span.span_id in collapsed:
                items.append((span, collapsed[span.span_id]))
        for index, (span, rest) in enumerate(items):
            last = index == len(items) - 1
            if rest is not None:
                lines.append(prefix + ("└" if last else "├") + more(span, rest))
                continue
            lines.append(prefix + ("└─ " if last else "├─ ") + _label(span))
            walk(span.children, prefix + ("   " if last else "│  "))

    for root in roots:
        lines.append(_label(root))
        walk(root.children, "")
    return lines


def summary(spans: Sequence[Span]) -> str:
    """One line: span count, services, wall time."""
    services = sorted({s.service for s in spans})
    wall = (max(s.end for s in spans) - min(s.start for s in spans)) / 1e9 if spans else 0.0
    names = ", ".join(services)
    return f"{len(spans)} spans from {len(services)} services ({names}) over {duration(wall)}"


def show(folder: Path, trace_id: str, repeat: int = 3, full: bool = False) -> list[str]:
    """The lines `trace show` prints (calls merged unless full); an empty list when the trace
    is not in the folder."""
    spans = read_spans(folder, trace_id.lower())
    if not spans:
        return []
    roots = build_tree(spans)
    return [
        f"trace {trace_id}: {summary(spans)}",
        *render(roots if full else compact(roots), repeat),
    ]


def run(args: argparse.Namespace) -> int:
    """Runs `weatherctl trace ...`."""
    folder = args.dir or default_folder()
    if not folder.is_dir():
        error(f"no trace folder {folder} (set --dir or {TRACES_DIR_VARIABLE})")
        return 1
    if args.action == "list":
        spans = read_spans(folder)
        traces: dict[str, list[Span]] = {}
        for span in spans:
            traces.setdefault(span.trace_id, []).append(span)
        rows = []
        for trace_id, members in sorted(traces.items(), key=lambda kv: min(s.start for s in kv[1])):
            roots = build_tree(members)
            first = min(roots, key=lambda s: s.start)
            rows.append(
                [
                    trace_id,
                    first.name[:48],
                    len(members),
                    len({s.service for s in members}),
                    duration(first.seconds),
                ]
            )
        print(table(rows[-args.last :], ["trace id", "root", "spans", "services", "root took"]))
        return 0
    lines = show(folder, args.trace_id, args.repeat, args.full)
    if not lines:
        error(f"trace {args.trace_id} is not in {folder}")
        return 1
    print("\n".join(lines))
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Registers `trace list` and `trace show TRACE_ID`."""
    parser = commands.add_parser("trace", help="traces written by the local suite")
    parser.set_defaults(local_command=run)
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="traces in the folder, oldest first")
    listing.add_argument("--last", type=int, default=20, help="show only the newest N")
    shown = actions.add_parser("show", help="one trace as a span tree")
    shown.add_argument("trace_id", help="32 hex digits")
    shown.add_argument(
        "--repeat", type=int, default=3, help="siblings of one kind shown before collapsing"
    )
    shown.add_argument(
        "--full",
        action="store_true",
        help="client and server spans of a call on lines of their own",
    )
    for sub in (listing, shown):
        sub.add_argument(
            "--dir", type=Path, default=None, help=f"trace folder (default ${TRACES_DIR_VARIABLE})"
        )
