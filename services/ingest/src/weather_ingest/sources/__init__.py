"""Source implementations, registered by format name."""

from __future__ import annotations

from pathlib import PurePosixPath

from weather_ingest.source import Source

_REGISTRY: dict[str, Source] = {}


def register(source: Source) -> Source:
    """Adds a source implementation under its name."""
    _REGISTRY[source.name] = source
    return source


def get(name: str) -> Source:
    """The source for a format name; KeyError when unknown."""
    _load()
    return _REGISTRY[name]


def detect(uri: str, head: bytes, is_directory: bool) -> Source | None:
    """The source whose magic bytes (or, failing that, file suffix) match; None when none does."""
    _load()
    if is_directory:
        return _REGISTRY["zarr"]
    for source in _REGISTRY.values():
        if source.sniff(head):
            return source
    suffix = PurePosixPath(uri).suffix.lower()
    for source in _REGISTRY.values():
        if suffix in source.suffixes:
            return source
    return None


def _load() -> None:
    if _REGISTRY:
        return
    from weather_ingest.sources import csv, grib, netcdf, zarr  # noqa: F401 - they register
