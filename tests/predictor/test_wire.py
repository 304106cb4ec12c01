"""The Predict hot path's wire splicing gives exactly what protobuf itself gives, and the
predictor answers the same whether a message is spliced (large) or parsed whole (small)."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import numpy as np
import pytest
from google.protobuf import duration_pb2
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import model_pb2, predict_pb2
from weather.common.v1 import field_pb2
from weather.predictor.v1 import predictor_service_pb2 as pb

from tests.predictor.support import (
    RunningPredictor,
    gridded,
    predict_request,
    rpc_error,
    violations,
    window,
)
from weather_predictor import wire
from weather_predictor.tensors import predict_request_bytes, predict_response_arrays
from weather_runtime.errors import FailedPrecondition
from weather_tensors.tensor_proto import to_numpy, to_proto

DATA = field_pb2.GriddedField.DESCRIPTOR.fields_by_name["data"].number
INPUTS = pb.PredictRequest.DESCRIPTOR.fields_by_name["inputs"].number


@pytest.fixture(params=["spliced", "whole"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test with every message spliced, then with every message parsed whole (the test
    fields are small, so by default they would all be parsed whole)."""
    monkeypatch.setattr(wire, "SPLICE_ABOVE_BYTES", 0 if request.param == "spliced" else 2**40)
    return str(request.param)


def test_varints_match_protobuf_and_scan_finds_the_field() -> None:
    for value in (1, 127, 128, 300, 2**31, 2**63 - 1):
        encoded = duration_pb2.Duration(seconds=value).SerializeToString()
        assert encoded == b"\x08" + wire.encode_varint(value)
        (field,) = wire.scan(memoryview(encoded), 0, len(encoded))
        assert (field.number, field.wire, field.end) == (1, wire.VARINT, len(encoded))


def test_split_request_detaches_each_fields_bytes_and_keeps_the_rest() -> None:
    a, b = window(), window() + 1
    request = predict_request(fields=[gridded(a), gridded(b, "u10")])
    raw = request.SerializeToString()
    light, data = wire.split_repeated(raw, INPUTS, DATA)
    parsed = pb.PredictRequest.FromString(light)
    assert [f.variable for f in parsed.inputs] == ["t2m", "u10"]
    assert all(not f.data for f in parsed.inputs)
    expected = pb.PredictRequest()
    expected.CopyFrom(request)
    for field in expected.inputs:
        field.ClearField("data")
    assert parsed == expected
    assert [bytes(v) for v in data if v is not None] == [a.tobytes(), b.tobytes()]
    # the views point into the received buffer: nothing was copied
    assert all(v is not None and v.obj is raw for v in data)


def test_a_field_without_data_gives_none() -> None:
    request = pb.PredictRequest(inputs=[field_pb2.GriddedField(variable="t2m")])
    _, data = wire.split_repeated(request.SerializeToString(), INPUTS, DATA)
    assert data == [None]


@pytest.mark.parametrize(
    "raw",
    [b"\x12\x05ab", b"\x0f", b"\x12\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", b"\x00\x01"],
    ids=["runs-past-end", "group-wire-type", "varint-too-long", "field-zero"],
)
def test_malformed_buffers_raise_wire_error(raw: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.split_repeated(raw, INPUTS, DATA)


def test_request_bytes_equal_protobufs_own_serialisation(path: str) -> None:
    spec = model_pb2.ModelSpec(name="m", signature_name="serving_default", version_label="prod")
    inputs = {
        "t2m": window()[np.newaxis],
        "init_time": np.array([1_553_472_000], np.int64),
        "lead_hours": np.array([6.0], np.float32),
    }
    spliced = predict_pb2.PredictRequest.FromString(predict_request_bytes(spec, inputs))
    expected = predict_pb2.PredictRequest(model_spec=spec)
    for name, array in inputs.items():
        expected.inputs[name].CopyFrom(to_proto(array))
    assert spliced == expected


def test_response_arrays_view_tensor_content_and_decode_typed_values(path: str) -> None:
    out = np.random.default_rng(1).normal(size=(1, 3, 4)).astype(np.float32)
    response = predict_pb2.PredictResponse()
    response.model_spec.name = "m"
    response.model_spec.version.value = 7
    response.outputs["t2m"].CopyFrom(to_proto(out))
    response.outputs["count"].dtype = types_pb2.DT_INT64
    response.outputs["count"].tensor_shape.dim.add(size=2)
    response.outputs["count"].int64_val.extend([4, 5])
    raw = response.SerializeToString()
    light, arrays = predict_response_arrays(raw)
    assert light.model_spec.version.value == 7
    np.testing.assert_array_equal(arrays["t2m"], out)
    np.testing.assert_array_equal(arrays["count"], to_numpy(response.outputs["count"], "count"))
    assert arrays["t2m"].base is not None  # a view, not a copy
    # spliced: a view of the received buffer itself; whole: of protobuf's copy of the field
    received = np.frombuffer(raw, np.uint8)
    assert np.shares_memory(arrays["t2m"], received) == (path == "spliced")


def test_an_answer_the_predictor_cannot_read_is_failed_precondition(path: str) -> None:
    response = predict_pb2.PredictResponse()
    response.outputs["t2m"].CopyFrom(to_proto(np.zeros((1, 3, 4), np.float32)))
    response.outputs["t2m"].tensor_content = response.outputs["t2m"].tensor_content[:-4]
    with pytest.raises(FailedPrecondition, match=r"outputs\['t2m'\]\.tensor_content: holds 44"):
        predict_response_arrays(response.SerializeToString())


def test_a_body_that_is_no_predict_request_is_invalid_argument(
    predictor: RunningPredictor,
) -> None:
    raw_predict = predictor.channel.unary_unary(
        "/weather.predictor.v1.PredictorService/Predict",
        request_serializer=None,
        response_deserializer=None,
    )
    with pytest.raises(grpc.RpcError) as caught:
        raw_predict(b"\x0a\xff\x7f garbage", timeout=30)
    error = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert "request" in violations(error)
    assert "Traceback" not in (error.details() or "")


def test_the_predictor_answers_alike_spliced_or_whole(
    predictor: RunningPredictor, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = predict_request(fields=[gridded(window(3))])
    splits: list[str] = []  # messages walked by the splicer (the real one, counted)

    def counted(name: str) -> Callable[..., object]:
        real = getattr(wire, name)

        def call(*args: object) -> object:
            splits.append(name)
            return real(*args)

        return call

    for name in ("split_repeated", "split_map"):
        monkeypatch.setattr(wire, name, counted(name))
    answers, walked = {}, {}
    for path, threshold in (("spliced", 0), ("whole", 2**40)):
        monkeypatch.setattr(wire, "SPLICE_ABOVE_BYTES", threshold)
        before = len(splits)
        answers[path] = predictor.stub.Predict(request, timeout=30)
        walked[path] = len(splits) - before
    assert walked == {"spliced": 2, "whole": 0}  # our request and the model server's answer
    spliced, whole = answers["spliced"], answers["whole"]
    assert spliced.outputs[0].data and spliced.outputs[0].axes
    assert spliced.provenance.trace_id and whole.provenance.trace_id
    spliced.provenance.ClearField("trace_id")  # one per call
    whole.provenance.ClearField("trace_id")
    assert spliced == whole


def test_bad_fields_are_named_on_both_paths(predictor: RunningPredictor, path: str) -> None:
    values = window()
    values[0, 1, 2] = np.nan
    error = rpc_error(predictor.stub.Predict, predict_request(fields=[gridded(values)]), timeout=30)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "1 NaN" in violations(error)["inputs[0].data"]
    field = gridded(window())
    field.data = field.data[:-4]
    error = rpc_error(predictor.stub.Predict, predict_request(fields=[field]), timeout=30)
    assert "inputs[0].data" in violations(error)
