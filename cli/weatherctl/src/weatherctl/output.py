"""Printing of responses: protobuf JSON or short human-readable lines."""

from __future__ import annotations

import sys
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message


def emit_json(message: Message) -> None:
    """Prints a message as protobuf JSON."""
    print(json_format.MessageToJson(message, indent=2, preserving_proto_field_name=True))


def table(rows: list[list[Any]], headers: list[str]) -> str:
    """A plain-text table with aligned columns."""
    cells = [headers, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def error(text: str) -> None:
    print(f"weatherctl: {text}", file=sys.stderr)
