"""Builds the ingest service's gRPC server from settings."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from weather.ingest.v1 import ingest_service_pb2, ingest_service_pb2_grpc

from weather_data.archive import Archive
from weather_data.cluster import DaskRuntime
from weather_ingest.service import IngestService
from weather_ingest.servicer import IngestServicer
from weather_ingest.settings import IngestSettings
from weather_runtime.server import ManagedServer, ServiceRegistration, build_server
from weather_runtime.uris import UriPolicy

SERVICE_NAME = ingest_service_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name


def build_ingest_server(
    settings: IngestSettings,
    interceptors: Sequence[grpc.ServerInterceptor] = (),
    runtime: DaskRuntime | None = None,
) -> tuple[ManagedServer, int]:
    """The ingest server (not started) and its port; stopping it stops operations and Dask."""
    service = IngestService(
        Archive(settings.archive_url),
        runtime or DaskRuntime(settings.dask()),
        UriPolicy.build(settings.allowed_roots, settings.allowed_schemes, settings.allowed_hosts),
        settings.max_running,
        settings.max_operations_per_caller,
        settings.extent_limits(),
    )
    server, port = build_server(
        settings,
        [
            ServiceRegistration(
                IngestServicer(service, settings.max_append_bytes),
                ingest_service_pb2_grpc.add_IngestServiceServicer_to_server,
                SERVICE_NAME,
            )
        ],
        interceptors=interceptors,
    )
    server.add_drain_callback(service.operations.close)
    if runtime is None:
        server.add_stop_callback(service.runtime.close)
    return server, port
