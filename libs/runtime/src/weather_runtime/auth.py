"""Authentication (JWT, static tokens, mTLS identity) and per-method authorisation of calls.

On when `<P>AUTH_POLICY_FILE` is set. A call proves who it is with `authorization: Bearer
<token>` (a JWT signed by a key of `<P>AUTH_JWKS_FILE` with the configured issuer and
audience, or a static token whose sha256 is in `<P>AUTH_STATIC_TOKENS_FILE`) or, under mTLS,
with its client certificate when the policy maps the certificate's name to roles. The policy
names the minimal role of every method; a method without a rule is denied. Health and
reflection stay open.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc
from joserfc import errors as jose_errors
from joserfc import jwt
from joserfc.jwk import KeySet

from weather_runtime.errors import DomainError
from weather_runtime.interceptors import Behavior, WrappingInterceptor
from weather_runtime.policy import (
    ROLES,
    Policy,
    Principal,
    WatchedFile,
    bind_principal,
    is_open,
    load_policy,
    read_yaml,
    unbind_principal,
)
from weather_runtime.settings import SettingsError

log = logging.getLogger(__name__)

AUTHORIZATION = "authorization"
# Asymmetric algorithms only: HS256 with a public key as its secret, or "none", never verify.
JWT_ALGORITHMS = ("RS256", "ES256", "EdDSA", "Ed25519")


class PermissionDenied(DomainError):
    """The caller is authenticated but may not do this; the message says why."""

    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(Exception):
    """No credential, or one that does not verify; the message says why (never the token)."""


def require_role(principal: Principal | None, role: str, what: str) -> None:
    """Raises PermissionDenied unless principal has role (None: authentication off, allowed)."""
    if principal is not None and not principal.has_role(role):
        raise PermissionDenied(
            f"{what} needs the {role} role; {principal.subject} has "
            f"{', '.join(sorted(principal.roles)) or 'no role'}"
        )


def _known_roles(value: object) -> frozenset[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return frozenset()
    return frozenset(str(r) for r in value if r in ROLES)


def _read_jwks(path: Path, variable: str) -> KeySet:
    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise SettingsError(
            f"{variable}={str(path)!r}: cannot read: {exc.strerror or exc}"
        ) from None
    except ValueError as exc:
        raise SettingsError(f"{variable}={str(path)!r}: not JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise SettingsError(f"{variable}={str(path)!r}: expected a JWKS ({{'keys': [...]}})")
    if any(isinstance(k, dict) and k.get("kty") == "oct" for k in document["keys"]):
        raise SettingsError(f"{variable}={str(path)!r}: symmetric (oct) keys are not accepted")
    # public parts only: a private key given here must not sign anything on our behalf
    public = [
        {k: v for k, v in key.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}
        for key in document["keys"]
        if isinstance(key, dict)
    ]
    try:
        return KeySet.import_key_set({"keys": public})
    except (jose_errors.JoseError, ValueError, TypeError) as exc:
        raise SettingsError(f"{variable}={str(path)!r}: not a usable JWKS: {exc}") from None


def _read_static(path: Path, variable: str) -> dict[str, Principal]:
    document = read_yaml(path, variable) or {}
    where = f"{variable}={str(path)!r}"
    if not isinstance(document, dict):
        raise SettingsError(f"{where}: expected a mapping of sha256 hex -> subject and roles")
    tokens: dict[str, Principal] = {}
    for digest, entry in document.items():
        text = str(digest).lower()
        if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
            raise SettingsError(f"{where}: {str(digest)[:16]!r}... is not a sha256 hex digest")
        if not isinstance(entry, dict) or not entry.get("subject"):
            raise SettingsError(f"{where}: token {text[:12]}...: give a subject and roles")
        roles = _known_roles(entry.get("roles"))
        if not roles:
            raise SettingsError(f"{where}: token {text[:12]}...: roles out of {', '.join(ROLES)}")
        tokens[text] = Principal(str(entry["subject"]), roles, "static")
    return tokens


def token_digest(token: str) -> str:
    """The sha256 hex of a static token, as its file lists it."""
    return hashlib.sha256(token.encode()).hexdigest()


class JwtVerifier:
    """Verifies bearer JWTs: signature by a JWKS key, issuer, audience, exp/nbf/iat with skew."""

    def __init__(
        self,
        keys: Callable[[], KeySet],
        issuer: str,
        audience: str,
        skew: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self.issuer = issuer
        self.audience = audience
        self.skew = int(skew)
        self._clock = clock

    def verify(self, token: str) -> Principal:
        try:
            decoded = jwt.decode(token, self._keys(), algorithms=list(JWT_ALGORITHMS))
        except jose_errors.BadSignatureError:
            raise Unauthenticated("token signature does not verify with the trusted keys") from None
        except jose_errors.InvalidKeyIdError:
            raise Unauthenticated("token signed by a key not among the trusted keys") from None
        except (jose_errors.UnsupportedAlgorithmError, jose_errors.MissingAlgorithmError):
            raise Unauthenticated(
                f"token algorithm not accepted (accepted: {', '.join(JWT_ALGORITHMS)})"
            ) from None
        except (jose_errors.JoseError, ValueError, TypeError) as exc:
            name = getattr(exc, "error", "") or type(exc).__name__
            raise Unauthenticated(f"token not accepted: {name}") from None
        claims = decoded.claims
        registry = jwt.JWTClaimsRegistry(
            now=int(self._clock()),
            leeway=self.skew,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            sub={"essential": True},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except jose_errors.ExpiredTokenError:
            raise Unauthenticated("token expired") from None
        except jose_errors.MissingClaimError as exc:
            raise Unauthenticated(f"token lacks the claim(s) {exc.description}") from None
        except jose_errors.InvalidClaimError as exc:
            claim = exc.claim if hasattr(exc, "claim") else ""
            raise Unauthenticated(_claim_problem(str(claim), exc.description)) from None
        return Principal(str(claims["sub"]), _known_roles(claims.get("roles")), "jwt")


def _claim_problem(claim: str, description: str) -> str:
    if claim == "iss":
        return "token issuer not accepted"
    if claim == "aud":
        return "token audience not accepted"
    return f"token claim {claim!r} not accepted: {description}"


def _bearer(context: grpc.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == AUTHORIZATION:
            scheme, _, token = str(value).strip().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("authorization metadata must be 'Bearer <token>'")
            return token.strip()
    return None


def _certificate_names(context: grpc.ServicerContext) -> list[str]:
    auth = context.auth_context() or {}
    names = [*auth.get("x509_common_name", ()), *auth.get("x509_subject_alternative_name", ())]
    return [n.decode(errors="replace") if isinstance(n, bytes) else str(n) for n in names]


class Authenticator:
    """Finds the principal of a call from its bearer token or its client certificate."""

    def __init__(
        self,
        policy: Callable[[], Policy],
        jwt_verifier: JwtVerifier | None,
        static_tokens: Callable[[], Mapping[str, Principal]] | None,
    ) -> None:
        self._policy = policy
        self._jwt = jwt_verifier
        self._static = static_tokens

    def authenticate(self, context: grpc.ServicerContext) -> Principal:
        token = _bearer(context)
        if token is not None:
            return self.verify_token(token)
        names = _certificate_names(context)
        if names:
            found = self._policy().identity_roles(names)
            if found is not None:
                return Principal(found[0], found[1], "mtls")
            raise Unauthenticated(
                f"client certificate {names[0]!r} has no roles in the policy file; "
                "send a bearer token"
            )
        raise Unauthenticated("no credential: send 'authorization: Bearer <token>'")

    def verify_token(self, token: str) -> Principal:
        if self._static is not None:
            principal = self._static().get(token_digest(token))
            if principal is not None:
                return principal
        if token.count(".") == 2 and self._jwt is not None:
            return self._jwt.verify(token)
        raise Unauthenticated("unknown token (neither a trusted JWT nor a known static token)")


class AuthInterceptor(WrappingInterceptor):
    """Authenticates each call and checks its method's rule; servicers find the principal
    with weather_runtime.identity.principal(context)."""

    def __init__(self, authenticator: Authenticator, policy: Callable[[], Policy]) -> None:
        super().__init__()
        self._authenticator = authenticator
        self._policy = policy

    def intercept_service(self, continuation, handler_call_details):  # type: ignore[no-untyped-def]
        if is_open(handler_call_details.method):
            return continuation(handler_call_details)
        return super().intercept_service(continuation, handler_call_details)

    def admit(self, method: str, context: grpc.ServicerContext) -> Principal:
        """The call's principal, or the call aborted (UNAUTHENTICATED, PERMISSION_DENIED)."""
        try:
            principal = self._authenticator.authenticate(context)
        except Unauthenticated as exc:
            log.info("%s: unauthenticated from %s: %s", method, context.peer(), exc)
            context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
        role = self._policy().required_role(method)
        if role is None:
            log.warning("%s has no rule in the policy file: denied (add a rule)", method)
            context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"{method} has no rule in the policy file: denied",
            )
        if not principal.has_role(role):
            roles = ", ".join(sorted(principal.roles)) or "no role"
            log.info("%s: %s (%s) lacks the %s role", method, principal.subject, roles, role)
            context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"{method} needs the {role} role; {principal.subject} has {roles}",
            )
        return principal

    def wrap_unary(self, method: str, behavior: Behavior) -> Behavior:
        def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
            bound = bind_principal(self.admit(method, context))
            try:
                return behavior(request, context)
            finally:
                unbind_principal(bound)

        return wrapped

    def wrap_streaming(self, method: str, behavior: Behavior) -> Behavior:
        def wrapped(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            bound = bind_principal(self.admit(method, context))
            try:
                yield from behavior(request, context)
            finally:
                unbind_principal(bound)

        return wrapped


def _prefix(settings: Any) -> str:
    return str(settings.model_config.get("env_prefix", "")).upper()


def auth_interceptor(settings: Any) -> AuthInterceptor | None:
    """The interceptor the settings ask for; None when <P>AUTH_POLICY_FILE is not set."""
    policy_file = str(getattr(settings, "auth_policy_file", "") or "").strip()
    if not policy_file:
        return None
    p = _prefix(settings)
    policy = WatchedFile(Path(policy_file), lambda path: load_policy(path, f"{p}AUTH_POLICY_FILE"))
    verifier = None
    jwks_file = str(settings.auth_jwks_file or "").strip()
    if jwks_file:
        if not settings.auth_jwt_issuer or not settings.auth_jwt_audience:
            raise SettingsError(
                f"{p}AUTH_JWKS_FILE is set: set {p}AUTH_JWT_ISSUER and {p}AUTH_JWT_AUDIENCE too"
            )
        keys = WatchedFile(Path(jwks_file), lambda path: _read_jwks(path, f"{p}AUTH_JWKS_FILE"))
        verifier = JwtVerifier(
            keys.get,
            settings.auth_jwt_issuer,
            settings.auth_jwt_audience,
            settings.auth_clock_skew_seconds,
        )
    static = None
    static_file = str(settings.auth_static_tokens_file or "").strip()
    if static_file:
        tokens = WatchedFile(
            Path(static_file), lambda path: _read_static(path, f"{p}AUTH_STATIC_TOKENS_FILE")
        )
        static = tokens.get
    return AuthInterceptor(Authenticator(policy.get, verifier, static), policy.get)


class BearerToken:
    """A bearer token from a file, read again when the file changes (checked at most every
    second): what a service sends on its outgoing calls."""

    def __init__(self, path: str | os.PathLike[str], every: float = 1.0) -> None:
        self.path = Path(path)
        self._every = every
        self._lock = threading.Lock()
        self._checked = -every
        self._stamp: tuple[int, int, int] | None = None
        self._token = ""

    def get(self) -> str:
        now = time.monotonic()
        if now - self._checked < self._every:
            return self._token
        with self._lock:
            self._checked = now
            try:
                st = os.stat(self.path)
                stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
                if stamp != self._stamp:
                    self._token = self.path.read_text().strip()
                    self._stamp = stamp
            except OSError as exc:
                if self._token or self._stamp is None:
                    log.warning("cannot read the token file %s: %s", self.path, exc)
                self._stamp, self._token = None, ""
        return self._token


class BearerTokenInterceptor(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[misc]
    grpc.StreamUnaryClientInterceptor,  # type: ignore[misc]
    grpc.StreamStreamClientInterceptor,  # type: ignore[misc]
):
    """Client interceptor sending `authorization: Bearer <token>` on every call."""

    def __init__(self, token: Callable[[], str]) -> None:
        self._token = token

    def _details(self, details: Any) -> Any:
        token = self._token()
        if not token:
            return details
        metadata = [
            *(m for m in details.metadata or () if m[0] != AUTHORIZATION),
            (AUTHORIZATION, f"Bearer {token}"),
        ]
        return details._replace(metadata=metadata)

    def intercept_unary_unary(self, continuation, details, request):  # type: ignore[no-untyped-def]
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):  # type: ignore[no-untyped-def]
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, requests):  # type: ignore[no-untyped-def]
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation, details, requests):  # type: ignore[no-untyped-def]
        return continuation(self._details(details), requests)


def bearer_interceptor(token: str = "", token_file: str = "") -> BearerTokenInterceptor | None:
    """An interceptor sending token (or the token in token_file); None when neither is given."""
    if token.strip():
        fixed = token.strip()
        return BearerTokenInterceptor(lambda: fixed)
    if token_file.strip():
        return BearerTokenInterceptor(BearerToken(token_file.strip()).get)
    return None
