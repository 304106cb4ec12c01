"""Request limits: an in-flight cap and a response-size check, both RESOURCE_EXHAUSTED."""

from __future__ import annotations

import threading

from weather_runtime.errors import ResourceExhausted


class InFlight:
    """At most `limit` requests at once; the next one gets RESOURCE_EXHAUSTED at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._count = 0

    def slot(self) -> InFlight:
        """Holds one slot for a `with` block."""
        return self

    def __enter__(self) -> None:
        with self._lock:
            if self._count >= self.limit:
                raise ResourceExhausted(
                    f"more than {self.limit} requests in flight; retry with backoff", "in_flight"
                )
            self._count += 1

    def __exit__(self, *_exc: object) -> None:
        with self._lock:
            self._count -= 1


def check_size(size: int, limit: int, what: str) -> None:
    """RESOURCE_EXHAUSTED naming `what` when a message of size bytes would exceed limit."""
    if size > limit:
        raise ResourceExhausted(
            f"{what} would be {size} bytes, above the {limit}-byte message limit; ask for a "
            "smaller grid (or stream with Forecast)",
            what,
        )
