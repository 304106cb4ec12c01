"""Opaque page tokens: the last key of a page, bound to the query that produced it."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from weather_runtime.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def page_size(requested: int) -> int:
    """The page size to use: the default for 0, clamped to the maximum; negative is an error."""
    if requested < 0:
        raise InvalidArgument.field("page.page_size", "must not be negative")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def fingerprint(query: Any) -> str:
    """A short hash of the query's filters, so a token is not reused with other filters."""
    return hashlib.sha256(repr(query).encode()).hexdigest()[:16]


def encode(last_key: list[Any], query: Any) -> str:
    """A token that resumes after last_key for the same query."""
    payload = json.dumps({"k": last_key, "q": fingerprint(query)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode(token: str, query: Any) -> list[Any] | None:
    """The last key held by token (None for an empty token); INVALID_ARGUMENT when unusable."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        key, query_hash = payload["k"], payload["q"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidArgument.field(
            "page.page_token", "is not a token this server issued"
        ) from None
    if query_hash != fingerprint(query):
        raise InvalidArgument.field(
            "page.page_token", "was issued for a different query; repeat the same filters"
        )
    if not isinstance(key, list):
        raise InvalidArgument.field("page.page_token", "is not a token this server issued")
    return key
