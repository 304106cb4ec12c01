"""Builds the trainer service's gRPC server from settings."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import grpc
from weather.trainer.v1 import trainer_service_pb2, trainer_service_pb2_grpc

from weather_data.archive import Archive
from weather_data.cluster import DaskRuntime
from weather_runtime.server import ManagedServer, ServiceRegistration, build_server
from weather_runtime.tls import client_tls
from weather_trainer.isolation import ProcessTrain
from weather_trainer.jobs import JobStore
from weather_trainer.registration import Registrar
from weather_trainer.service import TrainerService
from weather_trainer.servicer import TrainerServicer
from weather_trainer.settings import TrainerSettings
from weather_trainer.storage import ArtifactStore
from weather_trainer.version import code_version

SERVICE_NAME = trainer_service_pb2.DESCRIPTOR.services_by_name["TrainerService"].full_name
log = logging.getLogger(__name__)


def build_trainer_server(
    settings: TrainerSettings,
    interceptors: Sequence[grpc.ServerInterceptor] = (),
    runtime: DaskRuntime | None = None,
) -> tuple[ManagedServer, int]:
    """The trainer server (not started) and its port. Interrupted jobs are recovered at once;
    stopping the server leaves running jobs INTERRUPTED, to be resumed."""
    from weather_trainer.training import train, validate  # TensorFlow loads here, once

    own_runtime = runtime is None and settings.use_dask
    dask = (
        runtime if runtime is not None else (DaskRuntime(settings.dask()) if own_runtime else None)
    )
    registrar = (
        Registrar(
            settings.registry_address,
            settings.registry_timeout_seconds,
            security=client_tls(settings),
            token_file=settings.client_token_file,
            wait_seconds=settings.registration_timeout_seconds,
        )
        if settings.registry_address
        else None
    )
    service = TrainerService(
        JobStore(Path(settings.work_root)),
        Archive(settings.archive_url),
        train=ProcessTrain(settings.log_level, settings.log_format)
        if settings.isolation == "process"
        else train,
        validate=validate,
        max_running=settings.max_running,
        max_jobs_per_caller=settings.max_jobs_per_caller,
        registrar=registrar,
        runtime=dask,
        code_version=code_version(),
        follower=settings.is_follower(),
        artifacts=ArtifactStore(settings.artifact_root) if settings.artifact_root else None,
    )
    server, port = build_server(
        settings,
        [
            ServiceRegistration(
                TrainerServicer(service),
                trainer_service_pb2_grpc.add_TrainerServiceServicer_to_server,
                SERVICE_NAME,
            )
        ],
        interceptors=interceptors,
    )
    server.add_drain_callback(service.close)
    if registrar is not None:
        server.add_stop_callback(registrar.close)
    if own_runtime and dask is not None:
        server.add_stop_callback(dask.close)
    requeued = service.recover(settings.auto_resume)
    if requeued:
        log.info("requeued %d jobs after a restart", len(requeued))
    return server, port
