"""Builds the preprocess service's gRPC server from settings."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from weather.preprocess.v1 import preprocess_service_pb2, preprocess_service_pb2_grpc

from weather_data.archive import Archive
from weather_data.cluster import DaskRuntime
from weather_preprocess.service import PreprocessService
from weather_preprocess.servicer import PreprocessServicer
from weather_preprocess.settings import PreprocessSettings
from weather_runtime.server import ManagedServer, ServiceRegistration, build_server

SERVICE_NAME = preprocess_service_pb2.DESCRIPTOR.services_by_name["PreprocessService"].full_name


def build_preprocess_server(
    settings: PreprocessSettings,
    interceptors: Sequence[grpc.ServerInterceptor] = (),
    runtime: DaskRuntime | None = None,
) -> tuple[ManagedServer, int]:
    """The preprocess server (not started) and its port; stopping it stops operations and Dask."""
    service = PreprocessService(
        Archive(settings.archive_url),
        runtime or DaskRuntime(settings.dask()),
        settings.max_running,
        settings.max_operations_per_caller,
        settings.extent_limits(),
    )
    server, port = build_server(
        settings,
        [
            ServiceRegistration(
                PreprocessServicer(service),
                preprocess_service_pb2_grpc.add_PreprocessServiceServicer_to_server,
                SERVICE_NAME,
            )
        ],
        interceptors=interceptors,
    )
    server.add_drain_callback(service.operations.close)
    if runtime is None:
        server.add_stop_callback(service.runtime.close)
    return server, port
