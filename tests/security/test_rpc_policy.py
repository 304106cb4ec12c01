"""Every RPC of every service (from the descriptors) against real servers with auth on: no
token, a wrong role, an expired token and a stranger's signature are refused; the right role
gets through; health and reflection stay open."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
import weather
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from tensorflow_serving.apis import model_service_pb2, prediction_service_pb2

from tests.security.auth_support import Keys, auth_settings, make_keys
from weather_data.cluster import DaskRuntime, DaskSettings
from weather_runtime.policy import ROLES, default_policy_path, load_policy, rank

POLICY = load_policy(default_policy_path())
TF_SERVING = [
    prediction_service_pb2.DESCRIPTOR.services_by_name["PredictionService"],
    model_service_pb2.DESCRIPTOR.services_by_name["ModelService"],
]


def weather_services() -> list[ServiceDescriptor]:
    """Every service of every generated weather.* module (a new .proto's too)."""
    found: dict[str, ServiceDescriptor] = {}
    for module in pkgutil.walk_packages(weather.__path__, "weather."):
        if module.name.endswith("_pb2"):
            descriptor = importlib.import_module(module.name).DESCRIPTOR
            for service in descriptor.services_by_name.values():
                found[service.full_name] = service
    return sorted(found.values(), key=lambda s: s.full_name)


ALL_SERVICES = [*weather_services(), *TF_SERVING]
METHODS = [(service, method) for service in ALL_SERVICES for method in service.methods]


def _path(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


@dataclass
class Servers:
    """Each running server's port by the full names of the services it serves."""

    ports: dict[str, int]
    keys: Keys

    def channel(self, service: str) -> grpc.Channel:
        assert service in self.ports, f"no server started for {service}: add it to the fixture"
        return grpc.insecure_channel(f"127.0.0.1:{self.ports[service]}")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    from tests.conftest import start_registry
    from tests.ingest.conftest import start_ingest
    from tests.modelserver.support import start_modelserver
    from tests.predictor.support import start_predictor
    from tests.trainer.service_support import start_trainer
    from weather_preprocess.server import build_preprocess_server
    from weather_preprocess.settings import PreprocessSettings

    folder = tmp_path_factory.mktemp("policy")
    keys = make_keys(folder / "keys")
    auth = auth_settings(keys)
    runtime = DaskRuntime(DaskSettings(local_workers=1, local_threads=1, memory_limit="1GiB"))
    stops: list[Any] = []
    ports: dict[str, int] = {}
    try:
        (folder / "artifacts").mkdir()
        registry = start_registry(
            f"sqlite:///{folder / 'registry.db'}", folder / "artifacts", **auth
        )
        stops.append(lambda: registry.server.stop(1))
        ports["weather.registry.v1.RegistryService"] = registry.port
        ingest = start_ingest(folder / "ingest", runtime, **auth)
        stops.append(lambda: ingest.server.stop(1))
        ports["weather.ingest.v1.IngestService"] = ingest.port
        (folder / "archive").mkdir()
        preprocess, port = build_preprocess_server(
            PreprocessSettings(
                host="127.0.0.1",
                port=0,
                metrics_port=-1,
                archive_url=str(folder / "archive"),
                **auth,  # type: ignore[arg-type]
            ),
            runtime=runtime,
        )
        preprocess.start()
        stops.append(lambda: preprocess.stop(1))
        ports["weather.preprocess.v1.PreprocessService"] = port
        trainer = start_trainer(
            folder / "archive", folder / "work", None, isolation="thread", **auth
        )
        stops.append(lambda: trainer.server.stop(1))
        ports["weather.trainer.v1.TrainerService"] = trainer.port
        config = folder / "models.config"
        config.write_text("model_config_list {}\n")
        modelserver = start_modelserver(model_config_file=str(config), **auth)
        stops.append(lambda: modelserver.server.stop(1))
        for service in TF_SERVING:
            ports[service.full_name] = modelserver.port
        predictor = start_predictor(
            modelserver_address=f"127.0.0.1:{modelserver.port}",
            model_root=str(folder / "models"),
            archive_url=str(folder / "archive"),
            retry_attempts=1,
            **auth,
        )
        stops.append(lambda: predictor.server.stop(1))
        ports["weather.predictor.v1.PredictorService"] = predictor.port
        yield Servers(ports, keys)
    finally:
        for stop in reversed(stops):
            stop()
        runtime.close()


def _call(channel: grpc.Channel, method: MethodDescriptor, token: str | None) -> grpc.StatusCode:
    """One call with an empty request (metadata: the bearer token); its status code."""
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    kind = (
        ("stream" if method.client_streaming else "unary")
        + "_"
        + ("stream" if method.server_streaming else "unary")
    )
    callable_ = getattr(channel, kind)(
        _path(method),
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    request: Any = request_class()
    if method.client_streaming:
        request = iter([request])
    metadata = [("authorization", f"Bearer {token}")] if token is not None else None
    try:
        response = callable_(request, timeout=10, metadata=metadata)
        if method.server_streaming:
            for _ in response:
                break  # the first message is enough: the call got past authorisation
            response.cancel()
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def test_every_service_has_a_server_and_every_method_a_rule() -> None:
    names = {service.full_name for service in ALL_SERVICES}
    assert {"weather.registry.v1.RegistryService", "tensorflow.serving.ModelService"} <= names
    missing = [_path(m) for _, m in METHODS if POLICY.required_role(_path(m)) is None]
    assert not missing, f"RPCs without a rule in policy.yaml: {missing}"
    assert len(METHODS) >= 40


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("service", "method"), METHODS, ids=[_path(m).lstrip("/") for _, m in METHODS]
)
def test_rpc_refuses_bad_credentials_and_admits_the_right_role(
    servers: Servers, service: ServiceDescriptor, method: MethodDescriptor
) -> None:
    role = POLICY.required_role(_path(method))
    assert role is not None, f"{_path(method)} has no rule in policy.yaml"
    keys = servers.keys
    with servers.channel(service.full_name) as channel:
        assert _call(channel, method, None) == grpc.StatusCode.UNAUTHENTICATED
        below = ROLES[rank(role) - 1] if rank(role) > 0 else None
        wrong = keys.token("someone", [below] if below else [])
        assert _call(channel, method, wrong) == grpc.StatusCode.PERMISSION_DENIED
        expired = keys.token("someone", [role], ttl=60, now=1_000_000_000)
        assert _call(channel, method, expired) == grpc.StatusCode.UNAUTHENTICATED
        stranger = keys.token("someone", ["admin"], key=keys.stranger)
        assert _call(channel, method, stranger) == grpc.StatusCode.UNAUTHENTICATED
        assert _call(channel, method, "not-a-token") == grpc.StatusCode.UNAUTHENTICATED
        right = _call(channel, method, keys.token("someone", [role]))
        assert right not in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)
        # a stronger role includes the weaker ones
        assert _call(channel, method, keys.token("root", ["admin"])) not in (
            grpc.StatusCode.UNAUTHENTICATED,
            grpc.StatusCode.PERMISSION_DENIED,
        )


def test_health_and_reflection_answer_without_a_token(servers: Servers) -> None:
    for port in sorted(set(servers.ports.values())):
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            status = health.Check(health_pb2.HealthCheckRequest(), timeout=10).status
            assert status == health_pb2.HealthCheckResponse.SERVING
            reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
            answers = list(
                reflection.ServerReflectionInfo(
                    iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10
                )
            )
            listed = {s.name for s in answers[0].list_services_response.service}
            assert "grpc.health.v1.Health" in listed
