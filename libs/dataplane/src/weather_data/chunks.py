"""Chunk shapes that serve both map access (one time, whole area) and time-series access."""

from __future__ import annotations

import math

TARGET_CHUNK_BYTES = 8 * 1024 * 1024
ITEM_BYTES = 4  # float32
MAX_SPATIAL_TILE = 512


def choose_chunks(sizes: dict[str, int], target_bytes: int = 0) -> dict[str, int]:
    """Chunk sizes per dimension for a canonical variable.

    Spatial dimensions are tiled at most MAX_SPATIAL_TILE wide (a whole small grid stays one tile),
    levels and stations are kept whole up to a limit, and time takes what is left of the target
    chunk size, so a map read touches few chunks and a point time-series read does not read the
    whole archive either.
    """
    target_bytes = target_bytes or TARGET_CHUNK_BYTES
    chunks: dict[str, int] = {}
    spatial = 1
    for dim in ("latitude", "longitude"):
        if dim in sizes:
            chunks[dim] = min(sizes[dim], MAX_SPATIAL_TILE)
            spatial *= chunks[dim]
    for dim in ("level", "station"):
        if dim in sizes:
            chunks[dim] = min(sizes[dim], 64 if dim == "level" else 1024)
            spatial *= chunks[dim]
    for dim, size in sizes.items():
        if dim not in chunks and dim != "time":
            chunks[dim] = size
            spatial *= size
    if "time" in sizes:
        per_step = max(1, spatial * ITEM_BYTES)
        steps = max(1, target_bytes // per_step)
        chunks["time"] = int(min(sizes["time"], steps))
    return chunks


def n_chunks(size: int, chunk: int) -> int:
    """How many chunks of chunk cover size."""
    return math.ceil(size / chunk) if chunk else 0
