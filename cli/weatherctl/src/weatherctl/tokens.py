"""Signing keys, JWKS files and signed JWTs: `weatherctl token` and the local suite's auth."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey

from weather_runtime.policy import ROLES, default_policy_path

# The local suite's issuer and audience (every service of it accepts its tokens).
LOCAL_ISSUER = "weather-local"
LOCAL_AUDIENCE = "weather-suite"
ALGORITHMS = {"EdDSA": "OKP", "ES256": "EC", "RS256": "RSA"}


def generate_key(algorithm: str = "ES256") -> Any:
    """A new private signing key for algorithm (EdDSA, ES256 or RS256) with a key id."""
    kid = uuid.uuid4().hex[:16]
    params: Any = {"kid": kid, "alg": algorithm, "use": "sig"}
    if algorithm == "EdDSA":
        return OKPKey.generate_key("Ed25519", params)
    if algorithm == "ES256":
        return ECKey.generate_key("P-256", params)
    if algorithm == "RS256":
        return RSAKey.generate_key(2048, params)
    raise ValueError(f"unknown algorithm {algorithm!r} (choose {', '.join(ALGORITHMS)})")


def write_private(path: Path, text: str) -> None:
    """Writes a secret file readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(path, 0o600)


def keygen(key_file: Path, jwks_file: Path, algorithm: str = "ES256") -> str:
    """Writes a private key (JWK JSON, mode 0600) and a JWKS holding its public part;
    returns the key id. An existing JWKS keeps its keys (rotation: old tokens still verify)."""
    key = generate_key(algorithm)
    write_private(key_file, json.dumps(key.as_dict(private=True)) + "\n")
    keys: list[dict[str, Any]] = []
    if jwks_file.exists():
        keys = [k for k in json.loads(jwks_file.read_text()).get("keys", []) if isinstance(k, dict)]
    keys.append(key.as_dict(private=False))
    jwks_file.parent.mkdir(parents=True, exist_ok=True)
    jwks_file.write_text(json.dumps({"keys": keys}, indent=2) + "\n")
    return str(key.kid)


def load_key(key_file: Path) -> Any:
    """The private key keygen wrote (JWK JSON)."""
    data = json.loads(key_file.read_text())
    if "d" not in data:
        raise ValueError(f"{key_file}: not a private key (no 'd')")
    return KeySet.import_key_set({"keys": [data]}).keys[0]


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")


def parse_duration(text: str) -> float:
    """Seconds in '90', '90s', '15m', '1h', '7d'."""
    found = _DURATION.match(text.strip().lower())
    if not found:
        raise ValueError(f"{text!r} is not a duration (e.g. 90s, 15m, 1h, 7d)")
    scale = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[found.group(2)]
    return float(found.group(1)) * scale


def issue(
    key: Any,
    *,
    subject: str,
    roles: list[str],
    issuer: str,
    audience: str,
    ttl_seconds: float,
    now: float | None = None,
    not_before: float | None = None,
) -> str:
    """A JWT for subject with roles, signed with key (its alg), valid for ttl_seconds."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown role {unknown[0]!r} (roles: {', '.join(ROLES)})")
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "roles": roles,
        "iat": issued,
        "nbf": int(not_before if not_before is not None else issued),
        "exp": issued + int(ttl_seconds),
        "jti": uuid.uuid4().hex,
    }
    header = {"alg": key.get("alg") or "ES256", "kid": key.kid, "typ": "JWT"}
    return str(jwt.encode(header, claims, key, algorithms=[header["alg"]]))


# Who gets which role in the local suite: the trainer registers versions, the sync reloads
# the model server (operator), the predictor forecasts; weatherctl promotes (admin).
LOCAL_ROLES = {
    "trainer": "trainer",
    "serving-sync": "operator",
    "predictor": "reader",
    "weatherctl": "admin",
}


@dataclass
class LocalAuth:
    """The local suite's auth files under <data-dir>/auth."""

    folder: Path
    jwks_file: Path
    policy_file: Path
    tokens: dict[str, Path] = field(default_factory=dict)
    issuer: str = LOCAL_ISSUER
    audience: str = LOCAL_AUDIENCE

    def server_env(self) -> dict[str, str]:
        """The AUTH_* settings of a service (without its prefix)."""
        return {
            "AUTH_POLICY_FILE": str(self.policy_file),
            "AUTH_JWKS_FILE": str(self.jwks_file),
            "AUTH_JWT_ISSUER": self.issuer,
            "AUTH_JWT_AUDIENCE": self.audience,
        }


def make_local_auth(
    folder: Path, identities: list[str], ttl_seconds: float = 7 * 86400
) -> LocalAuth:
    """A fresh signing key and JWKS in folder and a token per identity (roles from LOCAL_ROLES,
    reader for others); the shipped policy."""
    folder.mkdir(parents=True, exist_ok=True)
    jwks = folder / "jwks.json"
    jwks.unlink(missing_ok=True)  # a fresh key each start: tokens of an earlier run stop working
    key_file = folder / "signing-key.json"
    keygen(key_file, jwks)
    key = load_key(key_file)
    auth = LocalAuth(folder, jwks, default_policy_path())
    for name in identities:
        token = issue(
            key,
            subject=name,
            roles=[LOCAL_ROLES.get(name, "reader")],
            issuer=auth.issuer,
            audience=auth.audience,
            ttl_seconds=ttl_seconds,
        )
        path = folder / "tokens" / f"{name}.token"
        write_private(path, token + "\n")
        auth.tokens[name] = path
    return auth
