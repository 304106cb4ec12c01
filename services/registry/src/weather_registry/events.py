"""Wakes event watchers when this process commits a change, and bounds how many there are."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from weather_registry.records import Event
from weather_registry.store import RegistryStore
from weather_runtime.errors import ResourceExhausted, Unavailable

_BATCH = 500


class EventBus:
    """A generation counter watchers wait on; writers bump it after each commit."""

    def __init__(self, max_watchers: int, poll_seconds: float) -> None:
        self._cond = threading.Condition()
        self._generation = 0
        self._watchers = 0
        self._closed = False
        self.max_watchers = max_watchers
        self.poll_seconds = poll_seconds

    def notify(self) -> None:
        """Tells waiting watchers that new events may be stored."""
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def close(self) -> None:
        """Ends every watch (server shutdown): clients resume elsewhere from their last sequence."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def watch(
        self,
        store: RegistryStore,
        model_name: str,
        start_after: int | None,
        is_active: Callable[[], bool],
    ) -> Iterator[Event]:
        """Events after start_after (or from now), oldest first, until the caller goes away.

        Other replicas' commits do not notify this process, so the store is also polled every
        poll_seconds.
        """
        with self._cond:
            if self._closed:
                raise Unavailable("the registry is shutting down; retry on another replica")
            if self._watchers >= self.max_watchers:
                raise ResourceExhausted(
                    f"at most {self.max_watchers} event watchers per replica", "watchers"
                )
            self._watchers += 1
        try:
            cursor = store.last_event_sequence() if start_after is None else start_after
            while is_active():
                with self._cond:
                    generation = self._generation
                    if self._closed:
                        return
                batch = store.events_after(cursor, model_name, _BATCH)
                for event in batch:
                    yield event
                    cursor = event.sequence
                if len(batch) == _BATCH:
                    continue
                with self._cond:
                    if self._generation == generation and not self._closed:
                        self._cond.wait(self.poll_seconds)
        finally:
            with self._cond:
                self._watchers -= 1
