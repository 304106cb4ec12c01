"""TF Serving's PredictionService and ModelService: protobuf to ModelServer calls and back."""

from __future__ import annotations

from typing import NoReturn

import grpc
from google.protobuf import wrappers_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_management_pb2,
    model_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
    status_pb2,
)

from weather_modelserver import config
from weather_modelserver.core import ModelRequest, ModelServer
from weather_modelserver.manager import State, VersionStatus
from weather_runtime.errors import InvalidArgument
from weather_tensors import tensor_proto

_ERROR_CODES = status_pb2.StatusProto.DESCRIPTOR.fields_by_name["error_code"].enum_type
_STATES = {
    State.LOADING: get_model_status_pb2.ModelVersionStatus.LOADING,
    State.AVAILABLE: get_model_status_pb2.ModelVersionStatus.AVAILABLE,
    State.UNLOADING: get_model_status_pb2.ModelVersionStatus.UNLOADING,
    State.END: get_model_status_pb2.ModelVersionStatus.END,
}


def model_request(spec: model_pb2.ModelSpec) -> ModelRequest:
    """The domain request of a ModelSpec (version and version_label are a oneof)."""
    choice = spec.WhichOneof("version_choice")
    return ModelRequest(
        name=spec.name,
        version=spec.version.value if choice == "version" else None,
        label=spec.version_label if choice == "version_label" else None,
        signature_name=spec.signature_name,
    )


def response_spec(name: str, version: int, signature_name: str = "") -> model_pb2.ModelSpec:
    """The model_spec a response carries: the version that answered."""
    return model_pb2.ModelSpec(
        name=name, version=wrappers_pb2.Int64Value(value=version), signature_name=signature_name
    )


def version_status_to_pb(status: VersionStatus) -> get_model_status_pb2.ModelVersionStatus:
    """A version's state and status as GetModelStatus reports them."""
    return get_model_status_pb2.ModelVersionStatus(
        version=status.version,
        state=_STATES[status.state],
        status=status_pb2.StatusProto(
            error_code=_ERROR_CODES.values_by_name[status.error_code].number,  # type: ignore[arg-type]
            error_message=status.error_message,
        ),
    )


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):  # type: ignore[misc]
    """tensorflow.serving.PredictionService: Predict and GetModelMetadata."""

    def __init__(self, server: ModelServer) -> None:
        self.server = server

    def Predict(
        self, request: predict_pb2.PredictRequest, context: grpc.ServicerContext
    ) -> predict_pb2.PredictResponse:
        inputs = {
            name: tensor_proto.to_numpy(proto, f"inputs[{name!r}]")
            for name, proto in request.inputs.items()
        }
        result = self.server.predict(
            model_request(request.model_spec), inputs, list(request.output_filter)
        )
        response = predict_pb2.PredictResponse(
            model_spec=response_spec(result.model, result.version, result.signature_name)
        )
        for name, value in result.outputs.items():
            tensor_proto.fill_proto(response.outputs[name], value)
        return response

    def GetModelMetadata(
        self, request: get_model_metadata_pb2.GetModelMetadataRequest, context: grpc.ServicerContext
    ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        if not request.HasField("model_spec"):
            raise InvalidArgument.field("model_spec", "missing")
        metadata = self.server.metadata(
            model_request(request.model_spec), list(request.metadata_field)
        )
        response = get_model_metadata_pb2.GetModelMetadataResponse(
            model_spec=response_spec(metadata.model, metadata.version)
        )
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for name, signature_def in metadata.signature_defs.items():
            signature_map.signature_def[name].CopyFrom(signature_def)
        response.metadata["signature_def"].Pack(signature_map)
        return response

    def Classify(
        self, request: classification_pb2.ClassificationRequest, context: grpc.ServicerContext
    ) -> classification_pb2.ClassificationResponse:
        _unimplemented(context, "Classify")

    def Regress(
        self, request: regression_pb2.RegressionRequest, context: grpc.ServicerContext
    ) -> regression_pb2.RegressionResponse:
        _unimplemented(context, "Regress")

    def MultiInference(
        self, request: inference_pb2.MultiInferenceRequest, context: grpc.ServicerContext
    ) -> inference_pb2.MultiInferenceResponse:
        _unimplemented(context, "MultiInference")


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):  # type: ignore[misc]
    """tensorflow.serving.ModelService: GetModelStatus and HandleReloadConfigRequest."""

    def __init__(self, server: ModelServer) -> None:
        self.server = server

    def GetModelStatus(
        self, request: get_model_status_pb2.GetModelStatusRequest, context: grpc.ServicerContext
    ) -> get_model_status_pb2.GetModelStatusResponse:
        if not request.HasField("model_spec"):
            raise InvalidArgument.field("model_spec", "missing")
        statuses = self.server.status(model_request(request.model_spec))
        return get_model_status_pb2.GetModelStatusResponse(
            model_version_status=[version_status_to_pb(s) for s in statuses]
        )

    def HandleReloadConfigRequest(
        self, request: model_management_pb2.ReloadConfigRequest, context: grpc.ServicerContext
    ) -> model_management_pb2.ReloadConfigResponse:
        if request.config.WhichOneof("config") != "model_config_list":
            raise InvalidArgument.field(
                "config",
                "HandleReloadConfigRequest takes a model_config_list (the only kind supported)",
            )
        self.server.reload(config.from_proto(request.config))
        return model_management_pb2.ReloadConfigResponse(
            status=status_pb2.StatusProto(error_code=0)  # type: ignore[arg-type]
        )


def _unimplemented(context: grpc.ServicerContext, method: str) -> NoReturn:
    context.abort(
        grpc.StatusCode.UNIMPLEMENTED,
        f"{method} is not implemented by this model server: it serves Predict and "
        "GetModelMetadata on SavedModel signatures (the forecast models have no "
        "classification or regression signatures)",
    )
