"""Request limits: an in-flight cap and a response-size check, both RESOURCE_EXHAUSTED."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from weather_runtime.errors import ResourceExhausted


class InFlight:
    """At most `limit` requests at once; the next one gets RESOURCE_EXHAUSTED at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Holds one slot for the block."""
        if not self._slots.acquire(blocking=False):
            raise ResourceExhausted(
                f"more than {self.limit} requests in flight; retry with backoff", "in_flight"
            )
        try:
            yield
        finally:
            self._slots.release()


def check_size(size: int, limit: int, what: str) -> None:
    """RESOURCE_EXHAUSTED naming `what` when a message of size bytes would exceed limit."""
    if size > limit:
        raise ResourceExhausted(
            f"{what} would be {size} bytes, above the {limit}-byte message limit; ask for a "
            "smaller grid (or stream with Forecast)",
            what,
        )
