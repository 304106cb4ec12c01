"""Signing keys, tokens and auth settings for the security tests (real keys, real JWTs)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from weather_runtime.auth import BearerTokenInterceptor
from weather_runtime.policy import default_policy_path
from weatherctl.tokens import generate_key, issue

ISSUER = "https://issuer.test"
AUDIENCE = "weather-tests"


@dataclass
class Keys:
    """A trusted signing key (its JWKS on disk) and an untrusted one."""

    trusted: Any
    stranger: Any
    jwks_file: Path

    def token(
        self,
        subject: str,
        roles: list[str],
        *,
        ttl: float = 300,
        key: Any = None,
        issuer: str = ISSUER,
        audience: str = AUDIENCE,
        now: float | None = None,
        not_before: float | None = None,
    ) -> str:
        return issue(
            key or self.trusted,
            subject=subject,
            roles=roles,
            issuer=issuer,
            audience=audience,
            ttl_seconds=ttl,
            now=now,
            not_before=not_before,
        )


def make_keys(folder: Path, algorithm: str = "ES256") -> Keys:
    folder.mkdir(parents=True, exist_ok=True)
    trusted = generate_key(algorithm)
    jwks = folder / "jwks.json"
    jwks.write_text(json.dumps({"keys": [trusted.as_dict(private=False)]}))
    return Keys(trusted, generate_key(algorithm), jwks)


def auth_settings(keys: Keys, policy: Path | None = None, **extra: object) -> dict[str, object]:
    """Settings overrides turning authentication on (the shipped policy by default)."""
    return {
        "auth_policy_file": str(policy or default_policy_path()),
        "auth_jwks_file": str(keys.jwks_file),
        "auth_jwt_issuer": ISSUER,
        "auth_jwt_audience": AUDIENCE,
        **extra,
    }


def with_token(channel: grpc.Channel, token: str) -> grpc.Channel:
    """channel whose calls carry token as `authorization: Bearer`."""
    return grpc.intercept_channel(channel, BearerTokenInterceptor(lambda: token))


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]
