"""Builds the registry's gRPC server from settings."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import grpc
from weather.registry.v1 import registry_service_pb2, registry_service_pb2_grpc

from weather_registry.events import EventBus
from weather_registry.registry import Policy, Registry
from weather_registry.servicer import RegistryServicer
from weather_registry.settings import RegistrySettings
from weather_registry.stores import create_store
from weather_runtime.server import ManagedServer, ServiceRegistration, build_server

SERVICE_NAME = registry_service_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name


def build_registry(settings: RegistrySettings) -> Registry:
    """The Registry over the store its database URL names (migrated on open)."""
    store = create_store(settings.database_url, pool_size=settings.max_workers)
    policy = Policy(
        gated_aliases=tuple(settings.gated_aliases),
        gate_margin=settings.gate_margin,
        gate_metrics=tuple(settings.gate_metrics),
        gate_max_lead_hours=settings.gate_max_lead_hours,
        artifact_roots=tuple(settings.artifact_roots),
        allowed_schemes=tuple(settings.allowed_schemes),
        allowed_hosts=tuple(settings.allowed_hosts),
    )
    return Registry(store, policy, EventBus(settings.max_watchers, settings.watch_poll_seconds))


def build_registry_server(
    settings: RegistrySettings, interceptors: Sequence[grpc.ServerInterceptor] = ()
) -> tuple[ManagedServer, int]:
    """The registry server (not started) and its port; stopping it closes the store."""
    registry = build_registry(settings)
    server, port = build_server(
        settings,
        [
            ServiceRegistration(
                RegistryServicer(registry),
                registry_service_pb2_grpc.add_RegistryServiceServicer_to_server,
                SERVICE_NAME,
            )
        ],
        interceptors=interceptors,
    )
    # the scores of the versions stored before this start, published off the start-up path
    threading.Thread(
        target=registry.skills.publish_stored,
        args=(registry.store,),
        name="skill-metrics",
        daemon=True,
    ).start()
    server.add_drain_callback(registry.bus.close)
    server.add_stop_callback(registry.store.close)
    return server, port
