"""Authentication against a real registry over loopback: JWT checks, static tokens, mTLS
identities, the recorded identity, and the registry's admin-only gate rules."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import yaml
from pydantic_settings import SettingsConfigDict
from weather.registry.v1 import registry_service_pb2 as pb
from weather.registry.v1 import registry_service_pb2_grpc as pb_grpc

from tests.conftest import RunningRegistry, start_registry
from tests.registry.helpers import make_artifact, version_request
from tests.security.auth_support import (
    AUDIENCE,
    ISSUER,
    Keys,
    auth_settings,
    bearer,
    make_keys,
    with_token,
)
from weather_runtime.auth import auth_interceptor, token_digest
from weather_runtime.identity import with_actor
from weather_runtime.local_ca import make_local_pki
from weather_runtime.policy import default_policy_path
from weather_runtime.settings import ServiceSettings, SettingsError
from weather_runtime.telemetry import instrumented_channel
from weather_runtime.tls import ClientTLS

MODEL = "t2m-model"
LIST = pb.ListRegisteredModelsRequest()
STATIC_TOKEN = "static-secret-for-ci-0123456789"


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return make_keys(tmp_path / "keys")


def _static_file(folder: Path) -> Path:
    path = folder / "static.yaml"
    path.write_text(
        yaml.safe_dump({token_digest(STATIC_TOKEN): {"subject": "ci-bot", "roles": ["reader"]}})
    )
    return path


@pytest.fixture
def registry(tmp_path: Path, keys: Keys) -> Iterator[RunningRegistry]:
    """A registry with auth on (shipped policy, JWKS, static tokens), one model and version."""
    root = tmp_path / "artifacts"
    root.mkdir()
    running = start_registry(
        f"sqlite:///{tmp_path / 'registry.db'}",
        root,
        **auth_settings(keys, auth_static_tokens_file=str(_static_file(tmp_path))),
    )
    admin = pb_grpc.RegistryServiceStub(with_token(running.channel, keys.token("boss", ["admin"])))
    admin.CreateRegisteredModel(pb.CreateRegisteredModelRequest(name=MODEL))
    admin.CreateModelVersion(version_request(MODEL, make_artifact(root, "v1")))
    yield running
    running.channel.close()
    running.server.stop(1)


def _code(stub: pb_grpc.RegistryServiceStub, token: str) -> grpc.StatusCode:
    try:
        stub.ListRegisteredModels(LIST, metadata=bearer(token), timeout=10)
    except grpc.RpcError as exc:
        assert token not in (exc.details() or ""), "the message echoes the token"
        return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def _refusal(stub: pb_grpc.RegistryServiceStub, token: str) -> str:
    with pytest.raises(grpc.RpcError) as refused:
        stub.ListRegisteredModels(LIST, metadata=bearer(token), timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    details = refused.value.details() or ""
    assert token not in details
    return details


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**extra: object) -> dict[str, object]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "eve",
        "roles": ["admin"],
        "iat": now,
        "exp": now + 300,
        **extra,
    }


def test_jwt_issuer_audience_and_signature(registry: RunningRegistry, keys: Keys) -> None:
    stub = registry.stub
    assert _code(stub, keys.token("alice", ["reader"])) == grpc.StatusCode.OK
    assert "issuer" in _refusal(stub, keys.token("alice", ["reader"], issuer="https://evil"))
    assert "audience" in _refusal(stub, keys.token("alice", ["reader"], audience="other"))
    assert "trusted keys" in _refusal(stub, keys.token("alice", ["reader"], key=keys.stranger))
    with pytest.raises(grpc.RpcError) as none:
        stub.ListRegisteredModels(LIST, timeout=10)
    assert none.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "no credential" in (none.value.details() or "")
    with pytest.raises(grpc.RpcError) as basic:
        stub.ListRegisteredModels(LIST, metadata=[("authorization", "Basic abc")], timeout=10)
    assert basic.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # a JWT without the claims that make it ours
    token = keys.token("alice", ["reader"])
    header, payload, signature = token.split(".")
    tampered = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered["roles"] = ["admin"]
    forged = f"{header}.{_b64(json.dumps(tampered).encode())}.{signature}"
    assert "trusted keys" in _refusal(stub, forged)


def test_jwt_times_with_clock_skew(registry: RunningRegistry, keys: Keys) -> None:
    stub = registry.stub
    now = time.time()
    # expired 10 s ago: within the default 30 s skew; 120 s ago: refused
    assert _code(stub, keys.token("a", ["reader"], ttl=60, now=now - 70)) == grpc.StatusCode.OK
    assert "expired" in _refusal(stub, keys.token("a", ["reader"], ttl=60, now=now - 180))
    # not before: 10 s ahead is within the skew, 10 min ahead is not
    soon = keys.token("a", ["reader"], not_before=now + 10)
    assert _code(stub, soon) == grpc.StatusCode.OK
    later = keys.token("a", ["reader"], not_before=now + 600)
    assert "nbf" in _refusal(stub, later)
    # issued in the future
    assert "iat" in _refusal(stub, keys.token("a", ["reader"], now=now + 600, ttl=3600))


def test_alg_none_and_hs256_with_the_public_key_are_refused(
    registry: RunningRegistry, keys: Keys
) -> None:
    stub = registry.stub
    claims = _b64(json.dumps(_claims()).encode())
    unsigned = f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{claims}."
    assert _code(stub, unsigned) == grpc.StatusCode.UNAUTHENTICATED
    # the classic confusion: HMAC keyed with the (public) JWKS content or the key's PEM
    public = keys.trusted.as_pem(private=False)
    for secret in (public, keys.jwks_file.read_bytes()):
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": keys.trusted.kid}).encode())
        signing_input = f"{header}.{claims}".encode()
        mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
        forged = f"{header}.{claims}.{_b64(mac)}"
        assert "algorithm" in _refusal(stub, forged)


def test_static_tokens(registry: RunningRegistry) -> None:
    stub = registry.stub
    assert _code(stub, STATIC_TOKEN) == grpc.StatusCode.OK
    assert "unknown token" in _refusal(stub, STATIC_TOKEN + "x")
    with pytest.raises(grpc.RpcError) as denied:  # a reader may not move aliases
        stub.SetAlias(
            pb.SetAliasRequest(model_name=MODEL, alias="staging", version=1),
            metadata=bearer(STATIC_TOKEN),
            timeout=10,
        )
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "operator" in (denied.value.details() or "")


def _history(stub: pb_grpc.RegistryServiceStub, token: str) -> list[pb.AliasChange]:
    response = stub.ListAliasHistory(
        pb.ListAliasHistoryRequest(model_name=MODEL), metadata=bearer(token), timeout=10
    )
    return list(response.changes)


def test_the_recorded_identity_is_the_token_subject(registry: RunningRegistry, keys: Keys) -> None:
    token = keys.token("olivia", ["operator"])
    # the client claims to be someone else in x-weather-actor: ignored with auth on
    stub = pb_grpc.RegistryServiceStub(
        with_token(
            with_actor(grpc.insecure_channel(f"127.0.0.1:{registry.port}"), "mallory"), token
        )
    )
    change = stub.SetAlias(pb.SetAliasRequest(model_name=MODEL, alias="staging", version=1)).change
    assert change.actor == "olivia"
    assert [c.actor for c in _history(registry.stub, token)] == ["olivia"]


def test_only_admin_overrides_the_gate_or_moves_a_gated_alias(
    registry: RunningRegistry, keys: Keys
) -> None:
    stub = registry.stub
    operator, admin = keys.token("olivia", ["operator"]), keys.token("ada", ["admin"])
    override = pb.SetAliasRequest(
        model_name=MODEL,
        alias="production",
        version=1,
        override_gate=True,
        reason="incident 42: ship the fix",
    )
    with pytest.raises(grpc.RpcError) as refused:
        stub.SetAlias(override, metadata=bearer(operator), timeout=10)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "promotion gate" in (refused.value.details() or "")
    # a gated alias even without an override (the version has no metrics: the gate fails first
    # for an admin, but an operator never gets that far)
    plain = pb.SetAliasRequest(model_name=MODEL, alias="production", version=1)
    with pytest.raises(grpc.RpcError) as gated:
        stub.SetAlias(plain, metadata=bearer(operator), timeout=10)
    assert gated.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "gated alias" in (gated.value.details() or "")
    with pytest.raises(grpc.RpcError) as gate:
        stub.SetAlias(plain, metadata=bearer(admin), timeout=10)
    assert gate.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    change = stub.SetAlias(override, metadata=bearer(admin), timeout=10).change
    assert change.gate_overridden and change.actor == "ada"
    with pytest.raises(grpc.RpcError) as removal:  # deleting it is changing it
        stub.DeleteAlias(
            pb.DeleteAliasRequest(model_name=MODEL, alias="production", reason="x"),
            metadata=bearer(operator),
            timeout=10,
        )
    assert removal.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert [c.actor for c in _history(stub, admin)] == ["ada"]


def test_a_method_without_a_rule_is_denied_and_logged(
    tmp_path: Path, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    rules = yaml.safe_load(default_policy_path().read_text())
    del rules["rules"]["weather.registry.v1.RegistryService/ListRegisteredModels"]
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(rules))
    root = tmp_path / "artifacts"
    root.mkdir()
    running = start_registry(
        f"sqlite:///{tmp_path / 'r.db'}", root, **auth_settings(keys, policy=policy)
    )
    try:
        with (
            caplog.at_level(logging.WARNING, logger="weather_runtime.auth"),
            pytest.raises(grpc.RpcError) as denied,
        ):
            running.stub.ListRegisteredModels(
                LIST, metadata=bearer(keys.token("ada", ["admin"])), timeout=10
            )
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "no rule" in (denied.value.details() or "")
        assert any("no rule" in r.getMessage() for r in caplog.records)
        # the policy file is followed: the rule added, the call gets through
        policy.write_text(default_policy_path().read_text())
        deadline = time.monotonic() + 10
        while True:
            try:
                running.stub.ListRegisteredModels(
                    LIST, metadata=bearer(keys.token("ada", ["admin"])), timeout=10
                )
                break
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.PERMISSION_DENIED
                assert time.monotonic() < deadline, "the changed policy was not picked up"
                time.sleep(0.3)
    finally:
        running.channel.close()
        running.server.stop(1)


def test_mtls_certificate_identity_maps_to_roles(tmp_path: Path, keys: Keys) -> None:
    pki = make_local_pki(tmp_path / "tls", servers=["registry"], clients=["ci-reader", "nobody"])
    rules = yaml.safe_load(default_policy_path().read_text())
    rules["identities"] = {"ci-reader": ["reader"]}
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(rules))
    root = tmp_path / "artifacts"
    root.mkdir()
    server = pki.servers["registry"]
    running = start_registry(
        f"sqlite:///{tmp_path / 'r.db'}",
        root,
        tls_cert_file=str(server.cert_file),
        tls_key_file=str(server.key_file),
        tls_client_ca_file=str(pki.ca_file),
        **auth_settings(keys, policy=policy),
    )
    address = f"127.0.0.1:{running.port}"

    def stub_as(name: str) -> pb_grpc.RegistryServiceStub:
        mine = pki.clients[name]
        tls = ClientTLS.from_files(pki.ca_file, mine.cert_file, mine.key_file)
        return pb_grpc.RegistryServiceStub(grpc.secure_channel(address, tls.credentials()))

    try:
        reader = stub_as("ci-reader")
        assert reader.ListRegisteredModels(LIST, timeout=10) is not None
        with pytest.raises(grpc.RpcError) as weak:
            reader.CreateRegisteredModel(pb.CreateRegisteredModelRequest(name="x"), timeout=10)
        assert weak.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "ci-reader" in (weak.value.details() or "")
        with pytest.raises(grpc.RpcError) as unknown:
            stub_as("nobody").ListRegisteredModels(LIST, timeout=10)
        assert unknown.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "nobody" in (unknown.value.details() or "")
        # a token still counts over mTLS (and wins over the certificate)
        made = stub_as("nobody").CreateRegisteredModel(
            pb.CreateRegisteredModelRequest(name="by-token"),
            metadata=bearer(keys.token("trainer-bot", ["trainer"])),
            timeout=10,
        )
        assert made.model.name == "by-token"
    finally:
        running.channel.close()
        running.server.stop(1)


def test_clients_send_the_token_file_and_follow_its_changes(
    registry: RunningRegistry, keys: Keys, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(keys.token("svc", ["reader"]) + "\n")
    channel = instrumented_channel(f"127.0.0.1:{registry.port}", token_file=str(token_file))
    stub = pb_grpc.RegistryServiceStub(channel)
    try:
        stub.ListRegisteredModels(LIST, timeout=10)
        token_file.write_text(keys.token("svc", ["reader"], key=keys.stranger) + "\n")
        time.sleep(1.2)  # the file is looked at once a second
        with pytest.raises(grpc.RpcError) as refused:
            stub.ListRegisteredModels(LIST, timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        channel.close()


def test_bad_auth_settings_are_named(tmp_path: Path, keys: Keys) -> None:
    class Settings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="AUTHTEST_", extra="forbid")

    assert auth_interceptor(Settings()) is None  # off without a policy file
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  weather.registry.v1.RegistryService/SetAlias: superuser\n")
    with pytest.raises(SettingsError, match=r"AUTHTEST_AUTH_POLICY_FILE.*superuser"):
        auth_interceptor(Settings(auth_policy_file=str(bad)))
    with pytest.raises(SettingsError, match="AUTHTEST_AUTH_JWT_ISSUER"):
        auth_interceptor(
            Settings(
                auth_policy_file=str(default_policy_path()), auth_jwks_file=str(keys.jwks_file)
            )
        )
    secret = tmp_path / "oct.json"
    secret.write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}))
    with pytest.raises(SettingsError, match="symmetric"):
        auth_interceptor(
            Settings(
                **auth_settings(keys),  # type: ignore[arg-type]
            ).model_copy(update={"auth_jwks_file": str(secret)})
        )


def test_weatherctl_token_keygen_and_issue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from weatherctl.main import main

    key, jwks = tmp_path / "signing.json", tmp_path / "jwks.json"
    assert main(["token", "keygen", "--key", str(key), "--jwks", str(jwks)]) == 0
    assert key.stat().st_mode & 0o077 == 0  # the private key is the owner's only
    assert '"d"' not in jwks.read_text()  # the JWKS holds the public key only
    issue = ["token", "issue", "--subject", "carol", "--role", "trainer", "--ttl", "15m"]
    issue += ["--key", str(key), "--issuer", ISSUER, "--audience", AUDIENCE]
    capsys.readouterr()
    assert main(issue) == 0
    token = capsys.readouterr().out.strip()
    root = tmp_path / "artifacts"
    root.mkdir()
    running = start_registry(
        f"sqlite:///{tmp_path / 'r.db'}",
        root,
        auth_policy_file=str(default_policy_path()),
        auth_jwks_file=str(jwks),
        auth_jwt_issuer=ISSUER,
        auth_jwt_audience=AUDIENCE,
    )
    try:
        made = running.stub.CreateRegisteredModel(
            pb.CreateRegisteredModelRequest(name="by-carol"), metadata=bearer(token), timeout=10
        )
        assert made.model.name == "by-carol"
        with pytest.raises(grpc.RpcError) as denied:
            running.stub.SetAlias(
                pb.SetAliasRequest(model_name="by-carol", alias="staging", version=1),
                metadata=bearer(token),
                timeout=10,
            )
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        running.channel.close()
        running.server.stop(1)
