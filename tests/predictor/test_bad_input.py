"""Bad requests get clear statuses naming the field: shape, dtype, variables, NaN, model, leads."""

from __future__ import annotations

import grpc
import numpy as np
from google.protobuf import duration_pb2, timestamp_pb2
from weather.predictor.v1 import predictor_service_pb2 as pb

from tests.modelserver.support import LAT, LON, STEPS
from tests.predictor.conftest import FORECAST, SOLO
from tests.predictor.support import (
    INIT,
    RunningPredictor,
    gridded,
    predict_request,
    rpc_error,
    selector,
    violations,
    window,
)


def _invalid(predictor: RunningPredictor, request: pb.PredictRequest) -> dict[str, str]:
    error = rpc_error(predictor.stub.Predict, request, timeout=30)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert "Traceback" not in (error.details() or "")
    return violations(error)


def test_wrong_shape_names_the_field_and_the_expected_shape(predictor: RunningPredictor) -> None:
    bad = np.zeros((STEPS - 1, LAT, LON), np.float32)
    found = _invalid(predictor, predict_request(fields=[gridded(bad)]))
    assert "inputs[0].shape" in found
    assert str([STEPS, LAT, LON]) in found["inputs[0].shape"]


def test_wrong_dtype_names_the_field(predictor: RunningPredictor) -> None:
    found = _invalid(predictor, predict_request(fields=[gridded(window().astype(np.float64))]))
    assert "expected float32, got float64" in found["inputs[0].dtype"]


def test_wrong_variable_set_lists_the_model_variables(predictor: RunningPredictor) -> None:
    found = _invalid(predictor, predict_request(fields=[gridded(window(), "u10")]))
    assert "['t2m']" in found["inputs"] and "u10" in found["inputs"]
    found = _invalid(predictor, predict_request(fields=[gridded(window()), gridded(window())]))
    assert "repeated ['t2m']" in found["inputs"]


def test_nan_in_inputs_is_rejected_naming_the_field(predictor: RunningPredictor) -> None:
    values = window()
    values[1, 2, 3] = np.nan
    found = _invalid(predictor, predict_request(fields=[gridded(values)]))
    assert "1 NaN" in found["inputs[0].data"]


def test_truncated_data_names_the_field(predictor: RunningPredictor) -> None:
    field = gridded(window())
    field.data = field.data[:-4]
    found = _invalid(predictor, predict_request(fields=[field]))
    assert "inputs[0].data" in found


def test_missing_times_and_non_trained_short_leads_are_invalid(
    predictor: RunningPredictor,
) -> None:
    request = predict_request()
    request.ClearField("init_time")
    assert "init_time" in _invalid(predictor, request)
    # 1.5 h is neither trained nor a step multiple; 5 h would need rollout, which is Forecast's
    assert (
        "expected a trained lead"
        in _invalid(predictor, predict_request(lead_hours=1.5))["lead_time"]
    )
    assert "use Forecast" in _invalid(predictor, predict_request(lead_hours=5.0))["lead_time"]
    forecast = pb.ForecastRequest(
        model=selector(FORECAST),
        init_time=timestamp_pb2.Timestamp(seconds=INIT),
        lead_times=[duration_pb2.Duration(seconds=5400)],  # 1.5 h: not trained, not a step
        inline=pb.ForecastInputs(fields=[gridded(window())]),
    )
    error = rpc_error(predictor.stub.Forecast, forecast, timeout=30)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "[1.0, 2.0, 3.0]" in violations(error)["lead_times[0]"]


def test_unknown_model_version_or_alias_is_not_found(predictor: RunningPredictor) -> None:
    for request in (
        predict_request("no-such-model"),
        predict_request(FORECAST, version=9),
        predict_request(FORECAST, alias="nightly"),
        predict_request(SOLO, alias="canary"),
    ):
        error = rpc_error(predictor.stub.Predict, request, timeout=30)
        assert error.code() == grpc.StatusCode.NOT_FOUND, (request.model, error.details())
    info = rpc_error(
        predictor.stub.GetModelInfo, pb.GetModelInfoRequest(model=selector("")), timeout=30
    )
    assert info.code() == grpc.StatusCode.INVALID_ARGUMENT and "model.name" in violations(info)
