"""Spans for background work: the context an operation was started in, Dask computes, steps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.util.types import AttributeValue

_TRACER_NAME = "weather_runtime.spans"


def tracer() -> trace.Tracer:
    """The tracer of the global provider (installed by init_tracing at start-up)."""
    return trace.get_tracer(_TRACER_NAME)


def capture() -> otel_context.Context:
    """The current context, to continue its trace later in another thread (a queued operation,
    a job, a load started by an RPC)."""
    return otel_context.get_current()


@contextmanager
def attached(context: otel_context.Context | None) -> Iterator[None]:
    """Runs the block in context (as the current context of this thread); None changes nothing."""
    if context is None:
        yield
        return
    token = otel_context.attach(context)
    try:
        yield
    finally:
        otel_context.detach(token)


@contextmanager
def step(name: str, **attributes: AttributeValue) -> Iterator[trace.Span]:
    """A span around one step of background work, current while the block runs; an exception
    leaving the block marks it failed."""
    with tracer().start_as_current_span(name, attributes=attributes) as span:
        yield span


def task_count(*collections: Any) -> int:
    """Tasks in the graphs of Dask collections (0 for anything that is not one)."""
    from dask.base import is_dask_collection

    total = 0
    for item in collections:
        if isinstance(item, list | tuple):
            total += task_count(*item)
        elif is_dask_collection(item):
            total += len(item.__dask_graph__())
    return total


@contextmanager
def dask_compute(
    name: str, *collections: Any, **attributes: AttributeValue
) -> Iterator[trace.Span]:
    """A span around a Dask compute, with the number of tasks of its graphs (dask.tasks)."""
    with step(name, **{"dask.tasks": task_count(*collections), **attributes}) as span:
        yield span
