"""Builds the model server's gRPC server (TF Serving's two services) from settings."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from tensorflow_serving.apis import (
    model_service_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2,
    prediction_service_pb2_grpc,
)

from weather_modelserver.batching import Batcher, BatchingOptions
from weather_modelserver.config import base_checker
from weather_modelserver.core import ModelServer
from weather_modelserver.manager import ManagerOptions, ServableManager
from weather_modelserver.metrics import shared_metrics
from weather_modelserver.servicer import ModelServicer, PredictionServicer
from weather_modelserver.settings import ModelServerSettings
from weather_runtime.server import ManagedServer, ServiceRegistration, build_server

PREDICTION_SERVICE = prediction_service_pb2.DESCRIPTOR.services_by_name[
    "PredictionService"
].full_name
MODEL_SERVICE = model_service_pb2.DESCRIPTOR.services_by_name["ModelService"].full_name


def build_modelserver(settings: ModelServerSettings) -> ModelServer:
    """The model server's core with its configured models loaded (waits for the first loads)."""
    metrics = shared_metrics()
    roots = settings.base_path_policy()
    manager = ServableManager(
        ManagerOptions(
            warmup=settings.enable_model_warmup,
            warmup_iterations=settings.num_request_iterations_for_warmup,
            load_threads=settings.num_load_threads,
            load_retries=settings.max_num_load_retries,
            load_retry_interval_seconds=settings.load_retry_interval_micros / 1e6,
            poll_wait_seconds=settings.file_system_poll_wait_seconds,
            allow_labels_for_unavailable=settings.allow_version_labels_for_unavailable_models,
            load_timeout_seconds=settings.model_load_timeout_seconds,
            require_digest_record=settings.require_digest_record,
            check_base=base_checker(roots),
        ),
        metrics,
    )
    try:
        manager.start(settings.server_config())
    except BaseException:
        manager.close()
        raise
    batcher = (
        Batcher(
            BatchingOptions(
                max_batch_size=settings.max_batch_size,
                batch_timeout_micros=settings.batch_timeout_micros,
                max_enqueued_batches=settings.max_enqueued_batches,
                num_batch_threads=settings.num_batch_threads,
            )
        )
        if settings.enable_batching
        else None
    )
    return ModelServer(manager, metrics, batcher, roots)


def build_modelserver_server(
    settings: ModelServerSettings,
    interceptors: Sequence[grpc.ServerInterceptor] = (),
    core: ModelServer | None = None,
) -> tuple[ManagedServer, int]:
    """The model server (not started) and its port; stopping it unloads every model. Models
    are loaded before it returns, as tensorflow_model_server does before it listens."""
    model_server = core if core is not None else build_modelserver(settings)
    try:
        server, port = build_server(
            settings,
            [
                ServiceRegistration(
                    PredictionServicer(model_server),
                    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server,
                    PREDICTION_SERVICE,
                ),
                ServiceRegistration(
                    ModelServicer(model_server),
                    model_service_pb2_grpc.add_ModelServiceServicer_to_server,
                    MODEL_SERVICE,
                ),
            ],
            interceptors=interceptors,
        )
        if settings.grpc_socket_path and not server.server.add_insecure_port(
            f"unix:{settings.grpc_socket_path}"
        ):
            raise OSError(f"could not bind the Unix socket {settings.grpc_socket_path}")
    except BaseException:
        model_server.close()
        raise
    server.add_stop_callback(model_server.close)
    return server, port
