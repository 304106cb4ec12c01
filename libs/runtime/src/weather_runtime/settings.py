"""Service settings read from the environment, one class per service with its own prefix."""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MiB = 1024 * 1024

# A list setting given in the environment as "a,b,c" (JSON lists are accepted too).
CommaList = Annotated[list[str], NoDecode]


def split_comma_list(value: object) -> object:
    """Turns "a, b" into ["a", "b"]; passes lists and JSON-looking strings through."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


class SettingsError(Exception):
    """A setting in the environment has a bad value; the message names the variable."""


class ServiceSettings(BaseSettings):
    """Settings every service has; a service subclasses it and sets its own env prefix."""

    model_config = SettingsConfigDict(extra="forbid", validate_default=True)

    host: str = Field("[::]", description="Address the gRPC server binds to.")
    port: int = Field(0, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    metrics_port: int = Field(
        -1, ge=-1, le=65535, description="Prometheus /metrics HTTP port; -1 disables, 0 picks one."
    )
    max_message_bytes: int = Field(
        64 * MiB, ge=4 * MiB, le=2**31 - 1, description="Largest gRPC message sent or received."
    )
    max_workers: int = Field(32, ge=1, le=1024, description="Threads serving RPCs.")
    max_concurrent_rpcs: int = Field(
        256, ge=1, description="RPCs in progress beyond which calls get RESOURCE_EXHAUSTED."
    )
    grace_seconds: float = Field(
        10.0, ge=0, le=600, description="Time in-flight calls get to finish on SIGTERM."
    )
    reuse_large_buffers: bool = Field(
        False,
        description="Keep freed buffers up to 32 MiB in the allocator for the next message "
        "(glibc): less system time on page faults per large message, resident memory near the "
        "peak instead of falling back between messages.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    # TLS (weather_runtime.tls): the server's certificate and key (both set: TLS), the CA of
    # the clients' certificates (set: mTLS); re-read when the files change
    tls_cert_file: str = Field("", description="PEM certificate (chain) the server presents.")
    tls_key_file: str = Field("", description="PEM private key of tls_cert_file.")
    tls_client_ca_file: str = Field(
        "", description="PEM CA certificates; set: clients must present a certificate from them."
    )
    # outgoing calls to other services: the CA verifying them (set: TLS) and this service's
    # client certificate and key (mTLS)
    client_ca_file: str = Field("", description="PEM CA verifying the services this one calls.")
    client_cert_file: str = Field("", description="PEM client certificate for outgoing calls.")
    client_key_file: str = Field("", description="PEM private key of client_cert_file.")
    client_token_file: str = Field(
        "", description="Bearer token sent on outgoing calls (re-read when the file changes)."
    )
    # authentication and authorisation (weather_runtime.auth): on when the policy file is set
    auth_policy_file: str = Field(
        "", description="YAML policy: method -> minimal role; set: every call is authenticated."
    )
    auth_jwks_file: str = Field("", description="JWKS (JSON) with the keys verifying JWTs.")
    auth_jwt_issuer: str = Field("", description="Accepted JWT issuer (iss).")
    auth_jwt_audience: str = Field("", description="Accepted JWT audience (aud).")
    auth_clock_skew_seconds: float = Field(
        30.0, ge=0, le=3600, description="Leeway on JWT exp, nbf and iat."
    )
    auth_static_tokens_file: str = Field(
        "", description="YAML: sha256 hex of a static token -> subject and roles."
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def address(self) -> str:
        """host:port the server binds."""
        return f"{self.host}:{self.port}"


S = TypeVar("S", bound=ServiceSettings)


def load_settings(cls: type[S], **overrides: object) -> S:
    """Settings from the environment (and overrides); SettingsError names a bad variable."""
    try:
        return cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix", ""))
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            variable = f"{prefix}{field}".upper()
            problems.append(f"{variable}={error.get('input')!r}: {error['msg']}")
        raise SettingsError(f"invalid {cls.__name__}: " + "; ".join(problems)) from None
