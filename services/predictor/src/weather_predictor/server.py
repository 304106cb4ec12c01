"""Builds the predictor service's gRPC server from settings."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence

import grpc
from weather.predictor.v1 import predictor_service_pb2

from weather_data.archive import Archive
from weather_predictor.limits import InFlight
from weather_predictor.models import ModelCatalog
from weather_predictor.modelserver_client import CircuitBreaker, ModelServerClient
from weather_predictor.service import Predictor
from weather_predictor.servicer import PredictorServicer
from weather_predictor.settings import PredictorSettings
from weather_runtime.server import ManagedServer, ServiceRegistration, build_server
from weather_runtime.tls import client_tls

SERVICE_NAME = predictor_service_pb2.DESCRIPTOR.services_by_name["PredictorService"].full_name


def build_predictor_server(
    settings: PredictorSettings, interceptors: Sequence[grpc.ServerInterceptor] = ()
) -> tuple[ManagedServer, int]:
    """The predictor server (not started) and its port; the model server is not contacted
    until the first request."""
    client = ModelServerClient(
        settings.modelserver_address,
        max_message_bytes=settings.modelserver_max_message_bytes,
        attempts=settings.retry_attempts,
        backoff_seconds=settings.retry_backoff_seconds,
        breaker=CircuitBreaker(settings.breaker_failures, settings.breaker_reset_seconds),
        slow_call_seconds=settings.breaker_slow_call_seconds,
        security=client_tls(settings),
        token_file=settings.client_token_file,
    )
    catalog = ModelCatalog(
        client,
        model_root=settings.model_root,
        canary_share=settings.canary_share,
        default_alias=settings.default_alias,
        label_cache_seconds=settings.label_cache_seconds,
    )
    archive = Archive(settings.archive_url) if settings.archive_url else None
    predictor = Predictor(client, catalog, archive, settings.default_deadline_seconds)
    servicer = PredictorServicer(
        predictor, InFlight(settings.max_in_flight), settings.max_message_bytes
    )
    server, port = build_server(
        settings,
        [
            ServiceRegistration(
                servicer,
                add_predictor_service,
                SERVICE_NAME,
            )
        ],
        interceptors=interceptors,
    )
    server.add_stop_callback(client.close)
    if settings.required_models:
        server.set_readiness_check(
            functools.partial(_serves_all, catalog, tuple(settings.required_models)), 1.0
        )
    return server, port


def add_predictor_service(servicer: PredictorServicer, server: grpc.Server) -> None:
    """Registers the PredictorService like the generated function, except that Predict takes
    and returns serialised messages (the servicer splices the fields' bytes)."""
    pb = predictor_service_pb2
    handlers = {
        "Predict": grpc.unary_unary_rpc_method_handler(servicer.Predict),
        "Forecast": grpc.unary_stream_rpc_method_handler(
            servicer.Forecast,
            request_deserializer=pb.ForecastRequest.FromString,
            response_serializer=pb.ForecastResponse.SerializeToString,
        ),
        "GetModelInfo": grpc.unary_unary_rpc_method_handler(
            servicer.GetModelInfo,
            request_deserializer=pb.GetModelInfoRequest.FromString,
            response_serializer=pb.GetModelInfoResponse.SerializeToString,
        ),
    }
    declared = {m.name for m in pb.DESCRIPTOR.services_by_name["PredictorService"].methods}
    if set(handlers) != declared:
        raise RuntimeError(f"handlers {sorted(handlers)} differ from the RPCs {sorted(declared)}")
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    server.add_registered_method_handlers(SERVICE_NAME, handlers)  # type: ignore[attr-defined]


def _serves_all(catalog: ModelCatalog, names: tuple[str, ...]) -> bool:
    """Whether every named model's default alias resolves on the model server now."""
    deadline = time.monotonic() + 5.0
    return all(
        catalog.label_version(name, catalog.default_alias, deadline, missing_ok=True) is not None
        for name in names
    )
