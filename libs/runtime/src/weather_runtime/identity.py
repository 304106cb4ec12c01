"""Who is calling: the identity recorded as creator or actor of a change."""

from __future__ import annotations

import re

import grpc

ACTOR_METADATA_KEY = "x-weather-actor"
_SAFE = re.compile(r"[^A-Za-z0-9@._:/+-]")


def caller(context: grpc.ServicerContext) -> str:
    """The caller's identity: the TLS peer identity when authenticated, else the declared actor.

    Clients declare themselves with the x-weather-actor metadata entry; without it the peer
    address is used. Under mTLS (a later setting) the certificate identity takes precedence.
    """
    auth = context.auth_context() or {}
    tls_names = auth.get("x509_common_name") or auth.get("x509_subject_alternative_name")
    if tls_names:
        return _clean(tls_names[0].decode(errors="replace"))
    for key, value in context.invocation_metadata() or ():
        if key == ACTOR_METADATA_KEY and value:
            return _clean(str(value))
    return _clean(context.peer() or "unknown")


def _clean(name: str) -> str:
    return _SAFE.sub("_", name)[:200] or "unknown"
