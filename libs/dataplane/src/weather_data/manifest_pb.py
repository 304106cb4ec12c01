"""Manifests as weather.common.v1.DatasetManifest messages."""

from __future__ import annotations

import math
from datetime import UTC

import pandas as pd
from google.protobuf import duration_pb2, timestamp_pb2
from weather.common.v1 import dataset_pb2, field_pb2, manifest_pb2

from weather_data.manifest import Manifest
from weather_runtime.errors import InvalidArgument

_KINDS = {
    "time": field_pb2.AXIS_KIND_TIME,
    "level": field_pb2.AXIS_KIND_LEVEL,
    "latitude": field_pb2.AXIS_KIND_LATITUDE,
    "longitude": field_pb2.AXIS_KIND_LONGITUDE,
}


def timestamp(moment: object) -> timestamp_pb2.Timestamp:
    """A Timestamp of an ISO string, datetime or pandas Timestamp (naive means UTC)."""
    message = timestamp_pb2.Timestamp()
    value = pd.Timestamp(moment)  # type: ignore[arg-type]
    if value.tzinfo is None:
        value = value.tz_localize(UTC)
    message.FromDatetime(value.to_pydatetime())
    return message


def pandas_time(message: timestamp_pb2.Timestamp, field: str) -> pd.Timestamp:
    """A Timestamp as naive UTC pandas time; INVALID_ARGUMENT naming field when pandas cannot
    hold it (outside the years 1678-2261)."""
    try:
        return pd.Timestamp(message.ToNanoseconds(), unit="ns")
    except (ValueError, OverflowError):
        raise InvalidArgument.field(field, "is not a valid timestamp (years 1678-2261)") from None


def value_counts(manifest: Manifest) -> dict[str, int]:
    """Number of values of each variable: the product of its dimension sizes."""
    sizes = {d.name: d.size for d in manifest.dimensions}
    return {v.name: math.prod(sizes.get(d, 0) for d in v.dims) for v in manifest.variables}


def manifest_to_pb(manifest: Manifest, store_url: str) -> manifest_pb2.DatasetManifest:
    """The message of a manifest whose data lives at store_url."""
    values = value_counts(manifest)
    message = manifest_pb2.DatasetManifest(
        ref=dataset_pb2.DatasetRef(
            dataset_id=manifest.dataset_id, content_hash=manifest.content_hash
        ),
        version=manifest.version,
        parent_hash=manifest.parent_hash,
        store_uri=store_url,
        variables=[
            manifest_pb2.VariableInfo(
                name=v.name,
                units=v.units,
                long_name=v.long_name,
                dims=list(v.dims),
                dtype=field_pb2.DATA_TYPE_FLOAT32,
                chunks=list(v.chunks),
                missing_count=v.missing_count,
                value_count=values[v.name],
                missing_fraction=v.missing_count / values[v.name] if values[v.name] else 0.0,
            )
            for v in manifest.variables
        ],
        dimensions=[
            manifest_pb2.DimensionInfo(
                name=d.name,
                kind=_KINDS.get(d.kind, field_pb2.AXIS_KIND_OTHER),
                size=d.size,
                units=d.units,
                min=d.min,
                max=d.max,
            )
            for d in manifest.dimensions
        ],
        time_steps=manifest.time_steps,
        time_step=duration_pb2.Duration(seconds=int(manifest.time_step_seconds)),
        source=manifest_pb2.SourceInfo(
            uri=manifest.source_uri, format=manifest.source_format, size_bytes=manifest.source_size
        ),
        create_time=timestamp(manifest.create_time),
        created_by=manifest.created_by,
        size_bytes=manifest.size_bytes,
        missing_count=sum(v.missing_count for v in manifest.variables),
    )
    if manifest.time_start:
        message.time_range.start.CopyFrom(timestamp(manifest.time_start))
        message.time_range.end.CopyFrom(timestamp(manifest.time_end))
    return message
