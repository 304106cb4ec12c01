"""PredictorService servicer: translates protobuf requests to Predictor calls and back."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import grpc
import numpy as np
from google.protobuf import duration_pb2, timestamp_pb2
from google.protobuf.message import DecodeError
from weather.common.v1 import dataset_pb2, field_pb2
from weather.predictor.v1 import predictor_service_pb2 as pb
from weather.predictor.v1 import predictor_service_pb2_grpc as pb_grpc

from weather_predictor import wire
from weather_predictor.limits import InFlight, check_size
from weather_predictor.models import SIGNATURE, ModelInfo
from weather_predictor.service import Predictor, StepResult, Window
from weather_predictor.tensors import (
    array_to_field,
    field_dtype,
    field_to_array,
    violations_for_variables,
)
from weather_runtime.domain_metrics import PredictorLatency
from weather_runtime.errors import InvalidArgument
from weather_runtime.logging import current_trace_ids

_ENVELOPE = 64 * 1024  # room for provenance, axes and framing in a response


class PredictorServicer(pb_grpc.PredictorServiceServicer):
    """gRPC face of the Predictor."""

    def __init__(self, predictor: Predictor, in_flight: InFlight, max_message_bytes: int) -> None:
        self.predictor = predictor
        self.in_flight = in_flight
        self.max_message_bytes = max_message_bytes
        self.latency = PredictorLatency()

    def Predict(self, raw: bytes, context: grpc.ServicerContext) -> bytes:  # type: ignore[override]
        """PredictRequest -> PredictResponse, both serialised: the fields' bytes are views of
        the received buffer on their way to the model server and back (no parse, no copy)."""
        start = time.perf_counter()
        with self.in_flight.slot():
            request, data = _split_request(raw)
            deadline = self.predictor.deadline(context.time_remaining())
            choice, info = self.predictor.choose(*_selector(request.model), deadline)
            init_time = _init_time(request.init_time, request.HasField("init_time"))
            lead = _lead(request.lead_time, "lead_time", request.HasField("lead_time"))
            window = _window(request.inputs, info, "inputs", data)
            result = self.predictor.predict(choice, info, window, init_time, lead, deadline)
            size = self._check(result, "PredictResponse.outputs")
            response = pb.PredictResponse(
                valid_time=timestamp_pb2.Timestamp(seconds=init_time + lead),
                provenance=_provenance(result.info, result.alias),
            )
            if not wire.worth_splicing(size):
                response.outputs.extend(_fields(result))
                answer: bytes = response.SerializeToString()
            else:
                answer = b"".join([response.SerializeToString(), *_output_parts(result)])
            info = result.info
            self.latency.observe("Predict", info.name, info.version, time.perf_counter() - start)
            return answer

    def Forecast(
        self, request: pb.ForecastRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.ForecastResponse]:
        start = time.perf_counter()
        with self.in_flight.slot():
            deadline = self.predictor.deadline(context.time_remaining())
            choice, info = self.predictor.choose(*_selector(request.model), deadline)
            init_time = _init_time(request.init_time, request.HasField("init_time"))
            if not request.lead_times:
                raise InvalidArgument.field("lead_times", "name at least one lead time")
            leads = [_lead(d, f"lead_times[{i}]", True) for i, d in enumerate(request.lead_times)]
            source = request.WhichOneof("source")
            if source == "dataset":
                ref: dataset_pb2.DatasetRef = request.dataset
                window = self.predictor.dataset_window(
                    info, ref.dataset_id, ref.content_hash, init_time
                )
            elif source == "inline":
                window = _window(request.inline.fields, info, "inline.fields")
            else:
                raise InvalidArgument.field("source", "set dataset or inline")
            for result in self.predictor.forecast(choice, info, window, init_time, leads, deadline):
                self._check(result, "ForecastResponse.outputs")
                yield pb.ForecastResponse(
                    lead_time=duration_pb2.Duration(seconds=result.lead_seconds),
                    valid_time=timestamp_pb2.Timestamp(seconds=init_time + result.lead_seconds),
                    outputs=_fields(result),
                    method=pb.FORECAST_METHOD_ROLLOUT
                    if result.rollout
                    else pb.FORECAST_METHOD_DIRECT,
                    provenance=_provenance(result.info, result.alias),
                )
                info = result.info
            self.latency.observe("Forecast", info.name, info.version, time.perf_counter() - start)

    def GetModelInfo(
        self, request: pb.GetModelInfoRequest, context: grpc.ServicerContext
    ) -> pb.GetModelInfoResponse:
        with self.in_flight.slot():
            deadline = self.predictor.deadline(context.time_remaining())
            choice, info = self.predictor.choose(*_selector(request.model), deadline, canary=False)
            meta = info.metadata
            return pb.GetModelInfoResponse(
                signature_name=SIGNATURE,
                inputs=[_spec(t.name, t.dtype, t.shape) for t in info.inputs],
                outputs=[_spec(t.name, t.dtype, t.shape) for t in info.outputs],
                metadata=pb.ModelMetadata(
                    variables=[str(v.get("name", "")) for v in meta.get("variables", [])],
                    latitudes=[float(x) for x in meta.get("latitude", [])],
                    longitudes=[float(x) for x in meta.get("longitude", [])],
                    time_step=duration_pb2.Duration(seconds=round(info.step_seconds)),
                    input_steps=int(meta.get("input_steps", 0) or 0),
                    lead_times=[
                        duration_pb2.Duration(seconds=round(h * 3600)) for h in info.lead_hours
                    ],
                    dataset=dataset_pb2.DatasetRef(
                        dataset_id=str(meta.get("dataset_id", "")),
                        content_hash=str(meta.get("dataset_hash", "")),
                    ),
                    recipe_hash=str(meta.get("recipe_hash", "")),
                    statistics_hash=str(meta.get("stats_hash", "")),
                    raw_json=info.raw_metadata,
                ),
                provenance=_provenance(info, choice.alias),
            )

    def _check(self, result: StepResult, what: str) -> int:
        """The outputs' bytes; RESOURCE_EXHAUSTED when the message would be too large."""
        size = sum(a.nbytes for a in result.outputs.values())
        check_size(size + _ENVELOPE, self.max_message_bytes, what)
        return size


def _selector(model: pb.ModelSelector) -> tuple[str, int, str]:
    return model.name, model.version, model.alias


def _init_time(value: timestamp_pb2.Timestamp, present: bool) -> int:
    if not present:
        raise InvalidArgument.field("init_time", "is required")
    if value.nanos:
        raise InvalidArgument.field("init_time", "must be a whole second")
    return int(value.seconds)


def _lead(value: duration_pb2.Duration, where: str, present: bool) -> int:
    if not present:
        raise InvalidArgument.field(where, "is required")
    if value.nanos or value.seconds <= 0:
        raise InvalidArgument.field(where, "must be a positive whole number of seconds")
    return int(value.seconds)


def _window(
    fields: Sequence[field_pb2.GriddedField],
    info: ModelInfo,
    where: str,
    data: Sequence[memoryview | None] | None = None,
) -> Window:
    """The window of the request's fields (data: their bytes, when detached from them)."""
    names = [f.variable for f in fields]
    problems = violations_for_variables(names, info.variables, where)
    if problems:
        raise InvalidArgument(problems)
    shape = info.window_shape
    return {
        f.variable: field_to_array(
            f, f"{where}[{i}]", shape, None if data is None else (data[i] or b"")
        )
        for i, f in enumerate(fields)
    }


_REQUEST_INPUTS = pb.PredictRequest.DESCRIPTOR.fields_by_name["inputs"].number
_RESPONSE_OUTPUTS = pb.PredictResponse.DESCRIPTOR.fields_by_name["outputs"].number
_FIELD_DATA = field_pb2.GriddedField.DESCRIPTOR.fields_by_name["data"].number


def _split_request(raw: bytes) -> tuple[pb.PredictRequest, list[memoryview | None] | None]:
    """A serialised PredictRequest: the message without its fields' bytes, and those bytes
    (a small request is parsed whole, by protobuf: no separate bytes then)."""
    try:
        if not wire.worth_splicing(len(raw)):
            return pb.PredictRequest.FromString(raw), None
        light, data = wire.split_repeated(raw, _REQUEST_INPUTS, _FIELD_DATA)
        return pb.PredictRequest.FromString(light), data
    except (wire.WireError, DecodeError) as exc:
        raise InvalidArgument.field("request", f"is not a valid PredictRequest: {exc}") from None


def _output_parts(result: StepResult) -> list[wire.Part]:
    """The PredictResponse.outputs fields, serialised, with the arrays' bytes spliced in."""
    parts: list[wire.Part] = []
    units = result.info.units
    axes = _axes(result.info)
    for name, values in result.outputs.items():
        array = np.ascontiguousarray(values, dtype="<f4")
        head = field_pb2.GriddedField(
            variable=name,
            units=units.get(name, ""),
            shape=list(array.shape),
            dtype=field_pb2.DATA_TYPE_FLOAT32,
            axes=axes,
        ).SerializeToString()
        body = [head, *wire.length_delimited(_FIELD_DATA, [array.data.cast("B")])]
        parts += wire.length_delimited(_RESPONSE_OUTPUTS, body)
    return parts


_AXES: dict[tuple[str, int], list[field_pb2.CoordinateAxis]] = {}  # per served version


def _axes(info: ModelInfo) -> list[field_pb2.CoordinateAxis]:
    """The latitude and longitude axes of a version's grid (built once per version)."""
    key = (info.name, info.version)
    axes = _AXES.get(key)
    if axes is None:
        axes = _AXES[key] = _build_axes(info)
    return axes


def _build_axes(info: ModelInfo) -> list[field_pb2.CoordinateAxis]:
    lat = info.metadata.get("latitude", [])
    lon = info.metadata.get("longitude", [])
    if not lat or not lon:
        return []
    return [
        field_pb2.CoordinateAxis(
            name="latitude", kind=field_pb2.AXIS_KIND_LATITUDE, units="degrees_north", values=lat
        ),
        field_pb2.CoordinateAxis(
            name="longitude", kind=field_pb2.AXIS_KIND_LONGITUDE, units="degrees_east", values=lon
        ),
    ]


def _fields(result: StepResult) -> list[field_pb2.GriddedField]:
    units = result.info.units
    axes = _axes(result.info)
    return [
        array_to_field(values, name, units.get(name, ""), axes)
        for name, values in result.outputs.items()
    ]


def _provenance(info: ModelInfo, alias: str) -> pb.Provenance:
    trace_id, _ = current_trace_ids()
    return pb.Provenance(
        model_name=info.name,
        model_version=info.version,
        alias=alias,
        dataset_hash=str(info.metadata.get("dataset_hash", "")),
        statistics_hash=str(info.metadata.get("stats_hash", "")),
        trace_id=trace_id,
    )


def _spec(name: str, dtype: str, shape: tuple[int, ...]) -> pb.TensorSpec:
    return pb.TensorSpec(name=name, dtype=field_dtype(dtype), shape=list(shape))  # type: ignore[arg-type]
