"""Translation between ingest protobuf messages and domain objects."""

from __future__ import annotations

import numpy as np
from weather.common.v1 import field_pb2
from weather.ingest.v1 import ingest_service_pb2 as pb

from weather_data.manifest_pb import pandas_time
from weather_data.region import Region
from weather_data.timeaxis import TimeDecoding
from weather_ingest.append import Step
from weather_ingest.requests import IngestRequest, build_request
from weather_ingest.source import SourceOptions
from weather_runtime.errors import FieldViolation, InvalidArgument

_FORMATS = {
    pb.SOURCE_FORMAT_UNSPECIFIED: "",
    pb.SOURCE_FORMAT_GRIB: "grib",
    pb.SOURCE_FORMAT_NETCDF: "netcdf",
    pb.SOURCE_FORMAT_ZARR: "zarr",
    pb.SOURCE_FORMAT_CSV: "csv",
}
_DTYPES = {
    field_pb2.DATA_TYPE_FLOAT32: "<f4",
    field_pb2.DATA_TYPE_FLOAT64: "<f8",
    field_pb2.DATA_TYPE_FLOAT16: "<f2",
}


def ingest_request(request: pb.StartIngestRequest) -> IngestRequest:
    """The domain request; INVALID_ARGUMENT naming any field that is wrong on its face."""
    if request.format not in _FORMATS:
        raise InvalidArgument.field("format", f"unknown format {request.format}")
    window = request.time_range if request.HasField("time_range") else None
    region = None
    if request.HasField("region"):
        r = request.region
        try:
            region = Region(r.lat_min, r.lat_max, r.lon_min, r.lon_max)
        except ValueError as exc:
            raise InvalidArgument.field("region", str(exc)) from None
    csv = request.csv
    return build_request(
        source_uri=request.source_uri,
        dataset_id=request.dataset_id,
        format=_FORMATS[request.format],
        variables=list(request.variables),
        start=pandas_time(window.start, "time_range.start")
        if window is not None and window.HasField("start")
        else None,
        end=pandas_time(window.end, "time_range.end")
        if window is not None and window.HasField("end")
        else None,
        region=region,
        levels=list(request.levels),
        units=dict(request.units),
        reference_year=request.reference_year,
        options=SourceOptions(
            time_column=csv.time_column or "time",
            station_column=csv.station_column or "station",
            latitude_column=csv.latitude_column or "latitude",
            longitude_column=csv.longitude_column or "longitude",
            units=dict(request.units),
        ),
        time_decoding=time_decoding(request.time_decoding),
        more_sources=tuple(request.source_uris),
    )


def time_decoding(message: pb.TimeDecoding) -> TimeDecoding:
    """The domain time decoding hints (all empty when the message is unset)."""
    return TimeDecoding(
        variable=message.variable.strip(),
        units=message.units.strip(),
        reference_time=message.reference_time.strip(),
        step_units=message.step_units.strip(),
        renames=dict(message.renames),
    )


def step_from_pb(index: int, step: pb.TimeStep) -> Step:
    """A domain step; INVALID_ARGUMENT for fields whose bytes do not match shape and dtype."""
    if not step.HasField("time"):
        raise InvalidArgument.field(f"steps[{index}].time", "is required")
    fields: dict[str, np.ndarray] = {}
    problems = []
    for position, field in enumerate(step.fields):
        at = f"steps[{index}].fields[{position}]"
        dtype = _DTYPES.get(field.dtype)
        if dtype is None:
            problems.append(FieldViolation(f"{at}.dtype", "must be FLOAT32, FLOAT64 or FLOAT16"))
            continue
        count = int(np.prod(field.shape)) if field.shape else 0
        if any(s < 0 for s in field.shape) or count * np.dtype(dtype).itemsize != len(field.data):
            problems.append(
                FieldViolation(
                    f"{at}.data",
                    f"{len(field.data)} bytes do not hold shape {list(field.shape)} "
                    f"of {np.dtype(dtype).name}",
                )
            )
            continue
        if field.variable in fields:
            problems.append(FieldViolation(f"{at}.variable", f"{field.variable!r} is given twice"))
            continue
        fields[field.variable] = np.frombuffer(field.data, dtype=dtype).reshape(tuple(field.shape))
    if problems:
        raise InvalidArgument(problems)
    return Step(pandas_time(step.time, f"steps[{index}].time"), fields)
