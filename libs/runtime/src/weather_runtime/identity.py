"""Who is calling: the identity recorded as creator or actor of a change."""

from __future__ import annotations

import re
from typing import Any

import grpc

from weather_runtime.policy import Principal, current_principal

ACTOR_METADATA_KEY = "x-weather-actor"
_SAFE = re.compile(r"[^A-Za-z0-9@._:/+-]")


def principal(context: grpc.ServicerContext | None = None) -> Principal | None:
    """The authenticated principal (subject, roles) of the call being served; None when
    authentication is off (no <P>AUTH_POLICY_FILE)."""
    return current_principal()


def caller(context: grpc.ServicerContext) -> str:
    """The caller's identity: the credential's subject when authentication is on; else the
    TLS peer identity, else the declared actor.

    With authentication off, clients declare themselves with the x-weather-actor metadata
    entry (ignored when it is on); without it the peer address is used. Under mTLS the
    certificate identity takes precedence over the header.
    """
    found = current_principal()
    if found is not None:
        return _clean(found.subject)
    auth = context.auth_context() or {}
    tls_names = auth.get("x509_common_name") or auth.get("x509_subject_alternative_name")
    if tls_names:
        name = tls_names[0]
        return _clean(name.decode(errors="replace") if isinstance(name, bytes) else str(name))
    for key, value in context.invocation_metadata() or ():
        if key == ACTOR_METADATA_KEY and value:
            return _clean(str(value))
    return _clean(context.peer() or "unknown")


def _clean(name: str) -> str:
    return _SAFE.sub("_", name)[:200] or "unknown"


class ActorInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):  # type: ignore[misc]
    """Client interceptor declaring who is calling (the x-weather-actor metadata entry)."""

    def __init__(self, actor: str) -> None:
        self.actor = actor

    def _with_actor(self, details: Any) -> Any:
        metadata = [*(details.metadata or []), (ACTOR_METADATA_KEY, self.actor)]
        return details._replace(metadata=metadata)

    def intercept_unary_unary(self, continuation, details, request):  # type: ignore[no-untyped-def]
        return continuation(self._with_actor(details), request)

    def intercept_unary_stream(self, continuation, details, request):  # type: ignore[no-untyped-def]
        return continuation(self._with_actor(details), request)


def with_actor(channel: grpc.Channel, actor: str) -> grpc.Channel:
    """channel whose calls declare actor as the caller."""
    return grpc.intercept_channel(channel, ActorInterceptor(actor))
