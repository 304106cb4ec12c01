"""A store that is full or unwritable as a clean status: RESOURCE_EXHAUSTED or FAILED_PRECONDITION.

Writes fail deep inside zarr, fsspec, Dask workers or TensorFlow; this finds the operating
system's reason (an OSError's errno anywhere in the exception's chain, or its text in a
TensorFlow error) and names the store and the error, so a caller sees neither a traceback nor
INTERNAL.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager

from weather_runtime.errors import DomainError, FailedPrecondition, ResourceExhausted
from weather_runtime.operations import Cancelled

FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
UNWRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


class StoreFull(ResourceExhausted):
    """The store has no room left (no space, over quota, or a file over the size limit)."""


class StoreUnwritable(FailedPrecondition):
    """The store refuses writes (read-only, or no permission)."""


def _reason(exc: BaseException) -> int | None:
    """The errno of a full or unwritable store behind exc, or None for any other failure."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in FULL + UNWRITABLE:
            return current.errno
        current = current.__cause__ or current.__context__
    text = str(exc)  # TensorFlow's errors carry the OS message, not an errno
    return next((code for code in FULL + UNWRITABLE if os.strerror(code) in text), None)


def store_error(exc: BaseException, store: str, action: str) -> DomainError | None:
    """The clean error for exc when it says the store at `store` is full or unwritable, else None;
    action says what was being written (for example "writing dataset era5")."""
    code = None if isinstance(exc, (DomainError, Cancelled)) else _reason(exc)
    if code is None:
        return None
    reason = f"{os.strerror(code)} ({errno.errorcode.get(code, code)})"
    if code in FULL:
        return StoreFull(
            f"{action} failed: the store {store} is full: {reason}; free space and retry",
            subject=store,
        )
    return StoreUnwritable(
        f"{action} failed: the store {store} is not writable: {reason}; make it writable and retry"
    )


@contextmanager
def store_errors(store: str, action: str) -> Iterator[None]:
    """Turns a full or unwritable store's error raised inside into its clean error."""
    try:
        yield
    except Exception as exc:
        clean = store_error(exc, store, action)
        if clean is None:
            raise
        raise clean from None
