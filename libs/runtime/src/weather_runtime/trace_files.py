"""Traces on local disk: an exporter writing OTLP JSON lines, and a reader that rebuilds spans.

Every process writes its own file `<folder>/<service>-<pid>.jsonl`; each line is one export
batch as an OTLP/JSON `ExportTraceServiceRequest` (ids in hex, enums as numbers, as the OTLP
file exporter specification has it), so the files can also be replayed into any collector.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import SpanContext, SpanKind

TRACES_DIR_VARIABLE = "WEATHER_TRACES_DIR"
_ID_KEYS = ("traceId", "spanId", "parentSpanId")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def hex_ids(value: Any) -> Any:
    """OTLP/JSON ids are hex strings where protobuf's JSON mapping writes base64."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in _ID_KEYS and isinstance(item, str):
                out[key] = base64.b64decode(item).hex()
            else:
                out[key] = hex_ids(item)
        return out
    if isinstance(value, list):
        return [hex_ids(item) for item in value]
    return value


_KINDS = {
    SpanKind.INTERNAL: 1,
    SpanKind.SERVER: 2,
    SpanKind.CLIENT: 3,
    SpanKind.PRODUCER: 4,
    SpanKind.CONSUMER: 5,
}


# OTLP/JSON AnyValue of the scalar types (bool before int: bool is an int)
_SCALARS: tuple[tuple[type, str, Any], ...] = (
    (bool, "boolValue", bool),
    (str, "stringValue", str),
    (int, "intValue", str),  # 64-bit integers are strings in OTLP/JSON
    (float, "doubleValue", float),
)


def _any_value(value: Any) -> dict[str, Any]:
    """An attribute value as OTLP/JSON's AnyValue."""
    for kind, key, convert in _SCALARS:
        if isinstance(value, kind):
            return {key: convert(value)}
    if isinstance(value, bytes | bytearray):
        return {"bytesValue": base64.b64encode(value).decode()}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": _key_values(value)} if value else {}}
    if isinstance(value, Sequence):
        return {"arrayValue": {"values": [_any_value(v) for v in value]} if value else {}}
    return {"stringValue": str(value)}


def _key_values(attributes: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": _any_value(value)} for key, value in attributes.items()]


def _flags(parent: SpanContext | None) -> int:
    """OTLP span flags: whether the parent is known to be remote (bit 9), and that this is
    known (bit 8)."""
    return 0x300 if parent is not None and parent.is_remote else 0x100


def _with_attributes(out: dict[str, Any], attributes: Any, dropped: int) -> dict[str, Any]:
    if attributes:
        out["attributes"] = _key_values(attributes)
    if dropped:
        out["droppedAttributesCount"] = dropped
    return out


def _encode_span(span: ReadableSpan) -> dict[str, Any]:
    context = span.get_span_context()
    assert context is not None
    out: dict[str, Any] = {
        "traceId": f"{context.trace_id:032x}",
        "spanId": f"{context.span_id:016x}",
    }
    if context.trace_state:
        out["traceState"] = ",".join(f"{k}={v}" for k, v in context.trace_state.items())
    if span.parent is not None:
        out["parentSpanId"] = f"{span.parent.span_id:016x}"
    out["name"] = span.name
    out["kind"] = _KINDS[span.kind]
    out["startTimeUnixNano"] = str(span.start_time)
    out["endTimeUnixNano"] = str(span.end_time)
    _with_attributes(out, span.attributes, span.dropped_attributes)
    if span.events:
        out["events"] = [
            _with_attributes(
                {"timeUnixNano": str(event.timestamp), "name": event.name},
                event.attributes,
                event.dropped_attributes,
            )
            for event in span.events
        ]
    if span.dropped_events:
        out["droppedEventsCount"] = span.dropped_events
    if span.links:
        out["links"] = [
            {
                **_with_attributes(
                    {
                        "traceId": f"{link.context.trace_id:032x}",
                        "spanId": f"{link.context.span_id:016x}",
                    },
                    link.attributes,
                    link.dropped_attributes,
                ),
                "flags": _flags(link.context),
            }
            for link in span.links
        ]
    if span.dropped_links:
        out["droppedLinksCount"] = span.dropped_links
    status: dict[str, Any] = {}
    if span.status.description:
        status["message"] = span.status.description
    if span.status.status_code.value:
        status["code"] = span.status.status_code.value
    out["status"] = status
    out["flags"] = _flags(span.parent)
    return out


def to_otlp_json(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """spans as one OTLP/JSON ExportTraceServiceRequest, built straight from the spans (the
    same document protobuf's encoder and JSON mapping give, ids in hex, at a fifth of the
    cost: the exporter runs beside every traced request)."""
    groups: dict[Any, dict[Any, list[dict[str, Any]]]] = {}
    for span in spans:
        scopes = groups.setdefault(span.resource, {})
        scopes.setdefault(span.instrumentation_scope or None, []).append(_encode_span(span))
    resource_spans = []
    for resource, scopes in groups.items():
        scope_spans = []
        for scope, encoded in scopes.items():
            entry: dict[str, Any] = {}
            if scope is not None:
                entry["scope"] = _scope_json(scope)
            entry["spans"] = encoded
            if scope is not None and scope.schema_url:
                entry["schemaUrl"] = scope.schema_url
            scope_spans.append(entry)
        item: dict[str, Any] = {
            "resource": _resource_json(resource),
            "scopeSpans": scope_spans,
        }
        if resource.schema_url:
            item["schemaUrl"] = resource.schema_url
        resource_spans.append(item)
    return {"resourceSpans": resource_spans}


def to_otlp_json_by_protobuf(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """The same document through the OTLP exporter's protobuf encoder and protobuf's JSON
    mapping (the reference the tests compare to_otlp_json with)."""
    message = encode_spans(spans)
    as_dict = json_format.MessageToDict(message, use_integers_for_enums=True)
    return hex_ids(as_dict)  # type: ignore[no-any-return]


_SIMPLE_STATUS = ('"status":{}', '"status":{"code":1}', '"status":{"code":2}')


class OtlpLineEncoder:
    """to_otlp_json as one line of text, written straight as strings for the common span (no
    events, links, trace state or drops; attribute values of the scalar types), with the
    JSON of names, keys, resources and scopes kept once: the exporter runs beside every
    traced request. Other spans go through to_otlp_json's dictionaries."""

    _LIMIT = 4096  # cached names and strings (spans repeat a few of each)

    def __init__(self) -> None:
        self._strings: dict[str, str] = {}
        self._objects: dict[int, tuple[object, str]] = {}  # id -> (kept alive, its JSON)

    def _text(self, value: str) -> str:
        encoded = self._strings.get(value)
        if encoded is None:
            encoded = json.dumps(value)
            if len(self._strings) >= self._LIMIT:
                self._strings.clear()
            self._strings[value] = encoded
        return encoded

    def _once(self, thing: Any, build: Any) -> str:
        held = self._objects.get(id(thing))
        if held is None or held[0] is not thing:
            held = (thing, json.dumps(build(thing), separators=(",", ":")))
            self._objects[id(thing)] = held
        return held[1]

    def _attributes(self, attributes: Mapping[str, Any]) -> str | None:
        parts = []
        for key, value in attributes.items():
            kind = type(value)
            if kind is str:
                encoded = '{"stringValue":' + self._text(value) + "}"
            elif kind is bool:
                encoded = '{"boolValue":true}' if value else '{"boolValue":false}'
            elif kind is int:
                encoded = '{"intValue":"' + str(value) + '"}'
            else:
                return None
            parts.append('{"key":' + self._text(key) + ',"value":' + encoded + "}")
        return ",".join(parts)

    def _span(self, span: ReadableSpan) -> str:
        context = span.get_span_context()
        assert context is not None
        status = span.status
        attributes = span.attributes
        simple = not (
            span.events
            or span.links
            or context.trace_state
            or span.dropped_attributes
            or span.dropped_events
            or span.dropped_links
            or status.description
        )
        listed = self._attributes(attributes) if simple and attributes else ""
        if listed is None or not simple:
            return json.dumps(_encode_span(span), separators=(",", ":"))
        parent = span.parent
        return "".join(
            (
                f'{{"traceId":"{context.trace_id:032x}","spanId":"{context.span_id:016x}",',
                f'"parentSpanId":"{parent.span_id:016x}",' if parent is not None else "",
                f'"name":{self._text(span.name)},"kind":{_KINDS[span.kind]},',
                f'"startTimeUnixNano":"{span.start_time}","endTimeUnixNano":"{span.end_time}",',
                f'"attributes":[{listed}],' if listed else "",
                _SIMPLE_STATUS[status.status_code.value],
                f',"flags":{_flags(parent)}}}',
            )
        )

    def line(self, spans: Sequence[ReadableSpan]) -> str:
        groups: dict[int, tuple[Any, dict[int, tuple[Any, list[str]]]]] = {}
        for span in spans:
            resource = span.resource
            scopes = groups.setdefault(id(resource), (resource, {}))[1]
            scope = span.instrumentation_scope or None
            scopes.setdefault(id(scope), (scope, []))[1].append(self._span(span))
        resource_spans = []
        for resource, scopes in groups.values():
            scope_spans = []
            for scope, encoded in scopes.values():
                head = "{"
                if scope is not None:
                    head += '"scope":' + self._once(scope, _scope_json) + ","
                tail = "}"
                if scope is not None and scope.schema_url:
                    tail = ',"schemaUrl":' + self._text(scope.schema_url) + "}"
                scope_spans.append(head + '"spans":[' + ",".join(encoded) + "]" + tail)
            tail = "}"
            if resource.schema_url:
                tail = ',"schemaUrl":' + self._text(resource.schema_url) + "}"
            resource_spans.append(
                '{"resource":'
                + self._once(resource, _resource_json)
                + ',"scopeSpans":['
                + ",".join(scope_spans)
                + "]"
                + tail
            )
        return '{"resourceSpans":[' + ",".join(resource_spans) + "]}"


def _scope_json(scope: Any) -> dict[str, Any]:
    described: dict[str, Any] = {"name": scope.name}
    if scope.version:
        described["version"] = scope.version
    if scope.attributes:
        described["attributes"] = _key_values(scope.attributes)
    return described


def _resource_json(resource: Any) -> dict[str, Any]:
    attributes = resource.attributes
    return {"attributes": _key_values(attributes)} if attributes else {}


class JsonLinesSpanExporter(SpanExporter):
    """Appends each batch of finished spans to this process's file under folder."""

    def __init__(self, folder: Path, service: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{_UNSAFE.sub('_', service)}-{os.getpid()}.jsonl"
        self._lock = threading.Lock()
        self._encoder = OtlpLineEncoder()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            line = self._encoder.line(spans) + "\n"
        try:
            with self._lock, self.path.open("a", encoding="utf-8") as out:
                out.write(line)
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing is held open between batches."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


@dataclass
class Span:
    """One span as read back: ids in hex, times in Unix nanoseconds."""

    trace_id: str
    span_id: str
    parent_id: str
    name: str
    service: str
    kind: int
    start: int
    end: int
    attributes: dict[str, object]
    status: int = 0
    links: tuple[str, ...] = ()
    children: list[Span] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return max(0, self.end - self.start) / 1e9


def _value(any_value: dict[str, Any]) -> object:
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in any_value:
            return any_value[key]
    if "intValue" in any_value:
        return int(any_value["intValue"])
    if "arrayValue" in any_value:
        return [_value(v) for v in any_value["arrayValue"].get("values", [])]
    return None


def _attributes(items: Iterable[dict[str, Any]]) -> dict[str, object]:
    return {item["key"]: _value(item.get("value", {})) for item in items}


def spans_of_request(request: dict[str, Any]) -> Iterator[Span]:
    """The spans of one OTLP/JSON ExportTraceServiceRequest."""
    for resource_spans in request.get("resourceSpans", []):
        resource = _attributes(resource_spans.get("resource", {}).get("attributes", []))
        service = str(resource.get("service.name", "?"))
        for scope_spans in resource_spans.get("scopeSpans", []):
            for raw in scope_spans.get("spans", []):
                yield Span(
                    trace_id=raw["traceId"],
                    span_id=raw["spanId"],
                    parent_id=raw.get("parentSpanId", ""),
                    name=raw.get("name", ""),
                    service=service,
                    kind=int(raw.get("kind", 0)),
                    start=int(raw.get("startTimeUnixNano", 0)),
                    end=int(raw.get("endTimeUnixNano", 0)),
                    attributes=_attributes(raw.get("attributes", [])),
                    status=int(raw.get("status", {}).get("code", 0)),
                    links=tuple(link.get("spanId", "") for link in raw.get("links", [])),
                )


def read_spans(folder: Path, trace_id: str = "") -> list[Span]:
    """Every span in the folder's files (of one trace when trace_id is given)."""
    found: list[Span] = []
    for path in sorted(folder.glob("*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if not line.strip():
                    continue
                try:
                    request = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a killed process
                found.extend(
                    span
                    for span in spans_of_request(request)
                    if not trace_id or span.trace_id == trace_id
                )
    return found


def build_tree(spans: Sequence[Span]) -> list[Span]:
    """Links spans to their parents; returns the roots (spans whose parent is not among them),
    children in start order."""
    by_id = {span.span_id: span for span in spans}
    roots = []
    for span in spans:
        span.children = []
    for span in sorted(spans, key=lambda s: s.start):
        parent = by_id.get(span.parent_id)
        if parent is None or parent is span:
            roots.append(span)
        else:
            parent.children.append(span)
    return roots
