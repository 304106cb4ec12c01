"""Predict and GetModelMetadata over the stock tensorflow-serving-api stubs."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    inference_pb2,
    predict_pb2,
    regression_pb2,
)

from tests.modelserver.conftest import SERVED
from tests.modelserver.support import (
    LAT,
    LON,
    MEAN_SIGNATURE,
    SIGNATURE,
    STEPS,
    VARIABLE,
    RunningModelServer,
    expected,
    inputs,
    model_spec,
    output,
    predict_request,
)
from tests.registry.helpers import rpc_error


@pytest.mark.parametrize("version", [1, 2])
def test_predict_by_version_number(served: RunningModelServer, version: int) -> None:
    arrays = inputs(rows=3, seed=version)
    response = served.predict.Predict(predict_request(SERVED, arrays, version=version), timeout=10)
    assert response.model_spec.name == SERVED
    assert response.model_spec.version.value == version
    assert response.model_spec.signature_name == SIGNATURE
    assert list(response.outputs) == [VARIABLE]
    got = output(response)
    assert got.shape == (3, LAT, LON) and got.dtype == np.float32
    want = expected(arrays[VARIABLE], arrays["init_time"], arrays["lead_hours"], version)
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize(("label", "version"), [("stable", 1), ("canary", 2)])
def test_predict_by_version_label(served: RunningModelServer, label: str, version: int) -> None:
    arrays = inputs(seed=11)
    response = served.predict.Predict(predict_request(SERVED, arrays, label=label), timeout=10)
    assert response.model_spec.version.value == version
    want = expected(arrays[VARIABLE], arrays["init_time"], arrays["lead_hours"], version)
    np.testing.assert_allclose(output(response), want, rtol=1e-6)


def test_predict_without_version_answers_with_the_latest(served: RunningModelServer) -> None:
    arrays = inputs(seed=12)
    response = served.predict.Predict(predict_request(SERVED, arrays), timeout=10)
    assert response.model_spec.version.value == 2
    want = expected(arrays[VARIABLE], arrays["init_time"], arrays["lead_hours"], 2)
    np.testing.assert_allclose(output(response), want, rtol=1e-6)


def test_other_signature_and_output_filter(served: RunningModelServer) -> None:
    arrays = inputs(rows=2, seed=13)
    response = served.predict.Predict(
        predict_request(SERVED, {VARIABLE: arrays[VARIABLE]}, signature=MEAN_SIGNATURE),
        timeout=10,
    )
    assert response.model_spec.signature_name == MEAN_SIGNATURE
    assert list(response.outputs) == ["mean"]
    np.testing.assert_allclose(output(response, "mean"), arrays[VARIABLE].mean(axis=1), rtol=1e-6)

    filtered = served.predict.Predict(
        predict_request(SERVED, arrays, version=1, output_filter=(VARIABLE,)), timeout=10
    )
    assert list(filtered.outputs) == [VARIABLE]


def test_outputs_are_one_tensor_content_buffer(served: RunningModelServer) -> None:
    response = served.predict.Predict(predict_request(SERVED, inputs(rows=2)), timeout=10)
    tensor = response.outputs[VARIABLE]
    assert tensor.dtype == types_pb2.DT_FLOAT
    assert [d.size for d in tensor.tensor_shape.dim] == [2, LAT, LON]
    assert len(tensor.tensor_content) == 2 * LAT * LON * 4
    assert len(tensor.float_val) == 0


def _typed(values: np.ndarray) -> tensor_pb2.TensorProto:
    """A TensorProto with its values in the typed repeated field, as some clients send them."""
    proto = tensor_pb2.TensorProto(
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=s) for s in values.shape]
        )
    )
    if values.dtype == np.float32:
        proto.dtype = types_pb2.DT_FLOAT
        proto.float_val.extend(values.ravel().tolist())
    else:
        proto.dtype = types_pb2.DT_INT64
        proto.int64_val.extend(values.ravel().tolist())
    return proto


def test_typed_value_fields_give_the_same_answer(served: RunningModelServer) -> None:
    arrays = inputs(rows=2, seed=14)
    content = served.predict.Predict(predict_request(SERVED, arrays, version=2), timeout=10)
    request = predict_pb2.PredictRequest(model_spec=model_spec(SERVED, version=2))
    for name, value in arrays.items():
        request.inputs[name].CopyFrom(_typed(value))
    assert len(request.inputs[VARIABLE].tensor_content) == 0
    typed = served.predict.Predict(request, timeout=10)
    np.testing.assert_array_equal(output(typed), output(content))


def test_get_model_metadata_returns_the_signature_def_map(served: RunningModelServer) -> None:
    response = served.predict.GetModelMetadata(
        get_model_metadata_pb2.GetModelMetadataRequest(
            model_spec=model_spec(SERVED, label="stable"), metadata_field=["signature_def"]
        ),
        timeout=10,
    )
    assert response.model_spec.name == SERVED
    assert response.model_spec.version.value == 1
    assert list(response.metadata) == ["signature_def"]
    signatures = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signatures)
    assert {SIGNATURE, MEAN_SIGNATURE} <= set(signatures.signature_def)
    serving = signatures.signature_def[SIGNATURE]
    assert serving.method_name == "tensorflow/serving/predict"
    shapes = {
        name: ([d.size for d in info.tensor_shape.dim], info.dtype)
        for name, info in serving.inputs.items()
    }
    assert shapes == {
        VARIABLE: ([-1, STEPS, LAT, LON], types_pb2.DT_FLOAT),
        "init_time": ([-1], types_pb2.DT_INT64),
        "lead_hours": ([-1], types_pb2.DT_FLOAT),
    }
    out = serving.outputs[VARIABLE]
    assert [d.size for d in out.tensor_shape.dim] == [-1, LAT, LON]
    assert out.dtype == types_pb2.DT_FLOAT


def test_get_model_metadata_latest_version(served: RunningModelServer) -> None:
    response = served.predict.GetModelMetadata(
        get_model_metadata_pb2.GetModelMetadataRequest(
            model_spec=model_spec(SERVED), metadata_field=["signature_def"]
        ),
        timeout=10,
    )
    assert response.model_spec.version.value == 2


@pytest.mark.parametrize(
    ("fields", "field"),
    [([], "metadata_field"), (["signature_def", "graph"], "metadata_field[1]")],
)
def test_get_model_metadata_refuses_other_fields(
    served: RunningModelServer, fields: list[str], field: str
) -> None:
    error = rpc_error(
        served.predict.GetModelMetadata,
        get_model_metadata_pb2.GetModelMetadataRequest(
            model_spec=model_spec(SERVED), metadata_field=fields
        ),
        timeout=10,
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in error.details()


@pytest.mark.parametrize(
    ("method", "request_message"),
    [
        ("Classify", classification_pb2.ClassificationRequest()),
        ("Regress", regression_pb2.RegressionRequest()),
        ("MultiInference", inference_pb2.MultiInferenceRequest()),
    ],
)
def test_classify_regress_multi_inference_are_unimplemented(
    served: RunningModelServer, method: str, request_message: object
) -> None:
    error = rpc_error(getattr(served.predict, method), request_message, timeout=10)
    assert error.code() == grpc.StatusCode.UNIMPLEMENTED
    assert f"{method} is not implemented" in error.details()
