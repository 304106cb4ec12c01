"""Hypothesis strategies from protobuf descriptors: random messages, garbage bytes, bad tensors."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import text_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st

MAX_DEPTH = 4
INT32 = (-(2**31), 2**31 - 1)
UINT32 = (0, 2**32 - 1)
INT64 = (-(2**63), 2**63 - 1)
UINT64 = (0, 2**64 - 1)
_RANGES = {
    FieldDescriptor.TYPE_INT32: INT32,
    FieldDescriptor.TYPE_SINT32: INT32,
    FieldDescriptor.TYPE_SFIXED32: INT32,
    FieldDescriptor.TYPE_UINT32: UINT32,
    FieldDescriptor.TYPE_FIXED32: UINT32,
    FieldDescriptor.TYPE_INT64: INT64,
    FieldDescriptor.TYPE_SINT64: INT64,
    FieldDescriptor.TYPE_SFIXED64: INT64,
    FieldDescriptor.TYPE_UINT64: UINT64,
    FieldDescriptor.TYPE_FIXED64: UINT64,
}
# Strings a careless handler trips on: empty, huge, paths and URLs, control and bidi characters.
SPECIAL_STRINGS = (
    "",
    " ",
    "a" * 5000,
    "x" * 200_000,
    "../../../../etc/passwd",
    "/",
    "/etc/passwd",
    "/dev/zero",
    "/proc/self/environ",
    "..",
    ".",
    "~",
    "file:///etc/passwd",
    "s3://bucket/../../key",
    "memory://fuzz",
    "gs://",
    "http://127.0.0.1:1/",
    "C:\\Windows\\system32",
    "\x00",
    "a\x00b",
    "%2e%2e%2f%2e%2e%2f",
    "é☃𝄞日本語",
    "\u202e\ufeff",
    "NaN",
    "-1",
    "9" * 40,
    "sha256:" + "0" * 64,
    "*",
    "%s%n%x",
    "' OR 1=1 --",
    "{{7*7}}",
    "\n\r\t",
)
SPECIAL_FLOATS = (0.0, -0.0, float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 5e-324)
SPECIAL_FLOATS32 = (0.0, -0.0, float("nan"), float("inf"), float("-inf"), 3.4e38, -3.4e38, 1e-45)
# Serialisations no message parses: bad wire types, overlong varints, lengths past the end.
GARBAGE = (
    b"\xff" * 16,
    b"\x08" + b"\xff" * 11,
    b"\x0a\xff\xff\xff\xff\x0f",
    b"\x0a\x05ab",
    b"\x0e\x00",
    b"\x0f\x00",
    b"\x0b",
    b"\x0c",
    b"\x00",
    b"\x12\x02\x0a\x80",
    b"\x0a\x02" * 200,
    b"\x80" * 64,
)


def ints(bounds: tuple[int, int]) -> st.SearchStrategy[int]:
    """Integers in bounds, the extremes, 0 and -1 tried first."""
    lo, hi = bounds
    edges = [v for v in (0, 1, 2, -1, lo, hi, lo + 1, hi - 1, 3) if lo <= v <= hi]
    return st.one_of(st.sampled_from(edges), st.integers(lo, hi))


def texts(vocabulary: Sequence[str]) -> st.SearchStrategy[str]:
    """Known names (so requests reach the deep paths), nasty strings, and any unicode."""
    parts: list[st.SearchStrategy[str]] = []
    if vocabulary:
        parts.append(st.sampled_from(list(vocabulary)))
    parts += [st.sampled_from(SPECIAL_STRINGS), st.text(max_size=40)]
    return st.one_of(parts)


def binaries() -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=64), st.sampled_from([b"", b"\x00" * 100_000, *GARBAGE]))


def floats(width: int) -> st.SearchStrategy[float]:
    special = SPECIAL_FLOATS32 if width == 32 else SPECIAL_FLOATS
    return st.one_of(st.sampled_from(special), st.floats(width=width))  # type: ignore[arg-type]


def is_map(field_descriptor: FieldDescriptor) -> bool:
    message = field_descriptor.message_type
    return message is not None and message.GetOptions().map_entry


@dataclass
class MessageStrategies:
    """Builds a strategy per message type from its descriptor.

    overrides: full message name -> a strategy of such messages (tensors with mismatched
    shapes); they join the generic one, or replace it when `focus` is set, in which case every
    field that can hold such a message is filled.
    """

    vocabulary: Sequence[str] = ()
    overrides: Mapping[str, st.SearchStrategy[Message]] = field(default_factory=dict)
    focus: bool = False
    _cache: dict[tuple[str, int], st.SearchStrategy[Any]] = field(default_factory=dict)
    _holds: dict[str, bool] = field(default_factory=dict)

    def message(self, descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
        key = (descriptor.full_name, depth)
        if key not in self._cache:
            generic = _message(self, descriptor, depth)
            special = self.overrides.get(descriptor.full_name)
            if special is None:
                self._cache[key] = generic
            elif self.focus:
                self._cache[key] = special
            else:
                self._cache[key] = st.one_of(generic, special)
        return self._cache[key]

    def holds_override(self, descriptor: Descriptor) -> bool:
        """Whether descriptor is, or (transitively) has a field of, an overridden type."""
        name = descriptor.full_name
        if name not in self._holds:
            self._holds[name] = False  # cycles: assume not while looking
            self._holds[name] = name in self.overrides or any(
                f.message_type is not None and self.holds_override(f.message_type)
                for f in descriptor.fields
            )
        return self._holds[name]

    def forced(self, field_descriptor: FieldDescriptor) -> bool:
        return (
            self.focus
            and field_descriptor.message_type is not None
            and self.holds_override(field_descriptor.message_type)
        )

    def scalar(self, field_descriptor: FieldDescriptor) -> st.SearchStrategy[Any]:  # noqa: PLR0911
        kind = field_descriptor.type
        if kind in _RANGES:
            return ints(_RANGES[kind])
        if kind == FieldDescriptor.TYPE_BOOL:
            return st.booleans()
        if kind == FieldDescriptor.TYPE_DOUBLE:
            return floats(64)
        if kind == FieldDescriptor.TYPE_FLOAT:
            return floats(32)
        if kind == FieldDescriptor.TYPE_STRING:
            return texts(self.vocabulary)
        if kind == FieldDescriptor.TYPE_BYTES:
            return binaries()
        if kind == FieldDescriptor.TYPE_ENUM:
            known = [v.number for v in field_descriptor.enum_type.values]
            # unknown numbers too: an open enum keeps them, the service must refuse them
            return st.one_of(st.sampled_from(known), st.sampled_from([-1, 99, 2**31 - 1]))
        raise TypeError(f"unsupported field type {kind} of {field_descriptor.full_name}")

    def value(self, field_descriptor: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
        """A strategy for what a field holds (a list for repeated fields, pairs for maps)."""
        message = field_descriptor.message_type
        if is_map(field_descriptor):
            key_field = message.fields_by_name["key"]
            value_field = message.fields_by_name["value"]
            values = (
                self.message(value_field.message_type, depth + 1)
                if value_field.message_type is not None
                else self.scalar(value_field)
            )
            return st.lists(st.tuples(self.scalar(key_field), values), max_size=4)
        single = (
            self.message(message, depth + 1)
            if message is not None
            else self.scalar(field_descriptor)
        )
        if field_descriptor.is_repeated:
            return st.lists(single, min_size=1 if self.forced(field_descriptor) else 0, max_size=5)
        return single


@st.composite
def _message(
    draw: Callable[..., Any], strategies: MessageStrategies, descriptor: Descriptor, depth: int
) -> Message:
    """A message with a random subset of its fields set (none beyond MAX_DEPTH)."""
    message: Message = GetMessageClass(descriptor)()
    if depth > MAX_DEPTH:
        return message
    for field_descriptor in descriptor.fields:
        if not strategies.forced(field_descriptor) and draw(st.integers(0, 2)) != 2:
            continue
        put(message, field_descriptor, draw(strategies.value(field_descriptor, depth)))
    return message


def put(message: Message, field_descriptor: FieldDescriptor, value: Any) -> None:
    """Sets a field (repeated: appends the list; map: the pairs); values a closed enum or the
    runtime refuses are skipped."""
    name = field_descriptor.name
    try:
        if is_map(field_descriptor):
            container = getattr(message, name)
            for key, item in value:
                if isinstance(item, Message):
                    container[key].CopyFrom(item)
                else:
                    container[key] = item
        elif field_descriptor.is_repeated:
            container = getattr(message, name)
            for item in value:
                if isinstance(item, Message):
                    container.add().CopyFrom(item)
                else:
                    container.append(item)
        elif isinstance(value, Message):
            getattr(message, name).CopyFrom(value)
        else:
            setattr(message, name, value)
    except (ValueError, TypeError):
        pass


@dataclass(frozen=True)
class Payload:
    """What one example sends: serialised messages (one, or several on a client stream) and a
    readable description for reports."""

    messages: tuple[bytes, ...]
    description: str

    def __repr__(self) -> str:
        return self.description

    @property
    def size(self) -> int:
        return sum(len(m) for m in self.messages)


def describe(message: Message, limit: int = 3000) -> str:
    text = text_format.MessageToString(message, as_one_line=True, print_unknown_fields=True)
    name = message.DESCRIPTOR.full_name
    if len(text) > limit:
        text = text[:limit] + f"... ({len(text)} chars)"
    return f"{name}{{{text}}}"


def describe_bytes(data: bytes, limit: int = 600) -> str:
    shown = repr(data[:limit])
    return f"bytes[{len(data)}]={shown}{'...' if len(data) > limit else ''}"


def valid(
    strategies: MessageStrategies, descriptor: Descriptor
) -> st.SearchStrategy[tuple[bytes, str]]:
    return strategies.message(descriptor).map(lambda m: (m.SerializeToString(), describe(m)))


@st.composite
def truncated(
    draw: Callable[..., Any], strategies: MessageStrategies, descriptor: Descriptor
) -> tuple[bytes, str]:
    """A valid message's serialisation cut short, or with one byte changed."""
    message = draw(strategies.message(descriptor))
    data = message.SerializeToString()
    if not data:
        data = draw(st.sampled_from(GARBAGE))
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(data) - 1))
        return data[:cut], f"first {cut} of {len(data)} bytes of {describe(message)}"
    at = draw(st.integers(0, len(data) - 1))
    byte = draw(st.integers(0, 255))
    changed = data[:at] + bytes([byte]) + data[at + 1 :]
    return changed, f"byte {at} set to {byte:#04x} in {describe(message)}"


def garbage() -> st.SearchStrategy[tuple[bytes, str]]:
    """Bytes that are (mostly) no valid serialisation."""
    return st.one_of(st.sampled_from(GARBAGE), st.binary(max_size=2048)).map(
        lambda data: (data, describe_bytes(data))
    )


@st.composite
def mutated(
    draw: Callable[..., Any],
    strategies: MessageStrategies,
    seeds: Sequence[Message],
    pins: Mapping[str, Any],
) -> tuple[bytes, str]:
    """A well-formed seed request (naming real datasets) with one to three fields, at any depth,
    replaced by random values (sometimes none: the seed itself); then the pinned top-level
    fields set (validate_only, so the fuzz does not start real work)."""
    message = draw(st.sampled_from(list(seeds)))
    message = type(message).FromString(message.SerializeToString())
    for _ in range(draw(st.integers(0, 3))):
        holders = list(_holders(message))
        holder, field_descriptor = draw(st.sampled_from(holders))
        holder.ClearField(field_descriptor.name)
        put(holder, field_descriptor, draw(strategies.value(field_descriptor, 1)))
    for name, value in pins.items():
        setattr(message, name, value)
    return message.SerializeToString(), describe(message)


def _holders(message: Message, depth: int = 0) -> Iterator[tuple[Message, Any]]:
    """(message, field) of every field of message and of its set sub-messages (maps and
    repeated fields as a whole)."""
    for field_descriptor in message.DESCRIPTOR.fields:
        yield message, field_descriptor
        if (
            depth < MAX_DEPTH
            and field_descriptor.message_type is not None
            and not field_descriptor.is_repeated
            and message.HasField(field_descriptor.name)
        ):
            yield from _holders(getattr(message, field_descriptor.name), depth + 1)


KINDS = ("valid", "garbage", "truncated", "shapes", "seeded")


def payloads(
    kind: str,
    descriptor: Descriptor,
    *,
    vocabulary: Sequence[str],
    overrides: Mapping[str, st.SearchStrategy[Message]],
    client_streaming: bool,
    seeds: Sequence[Message] = (),
    pins: Mapping[str, Any] | None = None,
) -> st.SearchStrategy[Payload]:
    """The strategy of one kind (see KINDS) for requests of descriptor; "seeded" mutates seeds."""
    if kind == "seeded":
        one = mutated(MessageStrategies(vocabulary, overrides), seeds, pins or {})
    elif kind == "garbage":
        one = garbage()
    elif kind == "truncated":
        one = truncated(MessageStrategies(vocabulary, overrides), descriptor)
    elif kind == "shapes":
        one = valid(MessageStrategies(vocabulary, overrides, focus=True), descriptor)
    else:
        one = valid(MessageStrategies(vocabulary, overrides), descriptor)
    if not client_streaming:
        return one.map(lambda item: Payload((item[0],), item[1]))
    # a client stream: mostly well-formed messages with the kind's ones mixed in
    good = valid(MessageStrategies(vocabulary, overrides), descriptor)
    return st.lists(st.one_of(one, good), min_size=0, max_size=4).map(
        lambda items: Payload(
            tuple(i[0] for i in items), "[" + ", ".join(i[1] for i in items) + "]"
        )
    )
