"""Protobuf wire-format splicing: big bytes fields pass as views of the received buffer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

VARINT, I64, LEN, I32 = 0, 1, 2, 5
Part = bytes | memoryview

# Messages whose bulk is at most this many bytes go through protobuf's own (C) parser and
# serialiser instead: splicing walks the fields in Python (tens of microseconds a message),
# which only pays off once the copies it saves cost more than that.
SPLICE_ABOVE_BYTES = 64 * 1024


def worth_splicing(size: int) -> bool:
    """Whether a message (or the arrays in it) of size bytes should be spliced."""
    return size > SPLICE_ABOVE_BYTES


class WireError(ValueError):
    """The buffer is not a well-formed protobuf message."""


@dataclass(frozen=True)
class Field:
    """One field occurrence in a buffer: number, wire type, and where its tag, value, end are."""

    number: int
    wire: int
    start: int
    value_start: int
    end: int


def _varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise WireError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint longer than 10 bytes")


def encode_varint(value: int) -> bytes:
    """The base-128 varint of a non-negative integer."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def scan(buf: memoryview, start: int, end: int) -> Iterator[Field]:
    """The fields of the message in buf[start:end], in wire order (groups are refused)."""
    pos = start
    while pos < end:
        tag_start = pos
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        value_start = pos
        if wire == VARINT:
            _, after = _varint(buf, pos, end)
        elif wire == I64:
            after = pos + 8
        elif wire == I32:
            after = pos + 4
        elif wire == LEN:
            length, value_start = _varint(buf, pos, end)
            after = value_start + length
        else:
            raise WireError(f"unsupported wire type {wire}")
        if after > end:
            raise WireError(f"field {number} runs past the end of its message")
        yield Field(number, wire, tag_start, value_start, after)
        pos = after


def length_delimited(number: int, parts: Sequence[Part]) -> list[Part]:
    """A length-delimited field made of parts (the parts are not copied)."""
    size = sum(len(p) for p in parts)
    return [encode_varint(number << 3 | LEN) + encode_varint(size), *parts]


def detach(
    buf: memoryview, start: int, end: int, leaf: int
) -> tuple[list[Part], memoryview | None]:
    """The message buf[start:end] without its length-delimited field leaf (as parts), and the
    last value of leaf (protobuf's rule for a repeated scalar), or None."""
    parts: list[Part] = []
    value = None
    for field in scan(buf, start, end):
        if field.number == leaf and field.wire == LEN:
            value = buf[field.value_start : field.end]
        else:
            parts.append(buf[field.start : field.end])
    return parts, value


def split_repeated(raw: bytes, number: int, leaf: int) -> tuple[bytes, list[memoryview | None]]:
    """A message whose repeated message field `number` loses its bytes field `leaf`: the rest
    (small, to parse as usual) and leaf's value per element, in order."""
    buf = memoryview(raw)
    light: list[Part] = []
    values: list[memoryview | None] = []
    for field in scan(buf, 0, len(buf)):
        if field.number == number and field.wire == LEN:
            parts, value = detach(buf, field.value_start, field.end, leaf)
            light += length_delimited(number, parts)
            values.append(value)
        else:
            light.append(buf[field.start : field.end])
    return b"".join(light), values


def split_map(raw: bytes, number: int, leaf: int) -> tuple[bytes, dict[str, memoryview]]:
    """A message whose map<string, M> field `number` loses M's bytes field `leaf`: the rest and
    leaf's value per key (a later entry wins, as in protobuf)."""
    buf = memoryview(raw)
    light: list[Part] = []
    values: dict[str, memoryview] = {}
    for field in scan(buf, 0, len(buf)):
        if not (field.number == number and field.wire == LEN):
            light.append(buf[field.start : field.end])
            continue
        entry: list[Part] = []
        key = ""
        value = None
        for item in scan(buf, field.value_start, field.end):
            if item.number == 1 and item.wire == LEN:
                try:
                    key = bytes(buf[item.value_start : item.end]).decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise WireError("a map key is not UTF-8") from exc
                entry.append(buf[item.start : item.end])
            elif item.number == 2 and item.wire == LEN:
                parts, value = detach(buf, item.value_start, item.end, leaf)
                entry += length_delimited(2, parts)
            else:
                entry.append(buf[item.start : item.end])
        if value is not None:
            values[key] = value
        else:
            values.pop(key, None)
        light += length_delimited(number, entry)
    return b"".join(light), values
