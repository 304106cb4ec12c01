"""Roles, the authenticated principal and the per-method policy file (method -> minimal role)."""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml

from weather_runtime.settings import SettingsError

log = logging.getLogger(__name__)

# Each role includes the ones before it.
ROLES = ("reader", "trainer", "operator", "admin")
# Methods answered without a credential: health checks and reflection.
OPEN_SERVICES = (
    "grpc.health.v1.Health",
    "grpc.reflection.v1alpha.ServerReflection",
    "grpc.reflection.v1.ServerReflection",
)


def rank(role: str) -> int:
    """Position of role in ROLES (-1 for an unknown role)."""
    return ROLES.index(role) if role in ROLES else -1


@dataclass(frozen=True)
class Principal:
    """Who an authenticated call comes from: subject, roles and how it was proven."""

    subject: str
    roles: frozenset[str]
    method: str = "jwt"  # jwt, static or mtls

    @property
    def highest(self) -> str:
        """The strongest of the roles ('' with no known role)."""
        known = [r for r in self.roles if r in ROLES]
        return max(known, key=rank) if known else ""

    def has_role(self, role: str) -> bool:
        """Whether one of the roles is role or a stronger one."""
        return rank(self.highest) >= rank(role) >= 0


_PRINCIPAL: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "weather_principal", default=None
)


def current_principal() -> Principal | None:
    """The principal of the call being served (None when authentication is off)."""
    return _PRINCIPAL.get()


def bind_principal(principal: Principal | None) -> contextvars.Token[Principal | None]:
    return _PRINCIPAL.set(principal)


def unbind_principal(token: contextvars.Token[Principal | None]) -> None:
    try:
        _PRINCIPAL.reset(token)
    except ValueError:  # a stream's generator closed from another thread's context
        _PRINCIPAL.set(None)


def normalise_method(name: str) -> str:
    """'/pkg.Service/Method' whether written with the leading slash or not."""
    name = name.strip()
    return name if name.startswith("/") else "/" + name


def is_open(method: str) -> bool:
    """Whether method belongs to a service open without credentials (health, reflection)."""
    service = method.lstrip("/").partition("/")[0]
    return service in OPEN_SERVICES


def _roles(value: object, where: str) -> frozenset[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise SettingsError(f"{where}: give a role or a list of roles out of {', '.join(ROLES)}")
    unknown = [r for r in items if r not in ROLES]
    if unknown:
        raise SettingsError(f"{where}: unknown role {unknown[0]!r} (roles: {', '.join(ROLES)})")
    return frozenset(str(r) for r in items)


@dataclass(frozen=True)
class Policy:
    """Rules (method full name -> minimal role) and certificate identities -> roles."""

    rules: Mapping[str, str]
    identities: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, document: object, where: str) -> Policy:
        """From the YAML document: {rules: {method: role}, identities: {name: [roles]}}."""
        if not isinstance(document, dict):
            raise SettingsError(f"{where}: expected a mapping with 'rules' (and 'identities')")
        extra = set(document) - {"rules", "identities"}
        if extra:
            raise SettingsError(f"{where}: unknown key {sorted(extra)[0]!r}")
        rules_doc = document.get("rules") or {}
        if not isinstance(rules_doc, dict):
            raise SettingsError(f"{where}: 'rules' must map method names to a role")
        rules: dict[str, str] = {}
        for method, role in rules_doc.items():
            name = normalise_method(str(method))
            if name.count("/") != 2 or not name.split("/")[2]:
                raise SettingsError(f"{where}: rule {method!r}: write package.Service/Method")
            if role not in ROLES:
                raise SettingsError(
                    f"{where}: rule {method!r}: unknown role {role!r} (roles: {', '.join(ROLES)})"
                )
            rules[name] = str(role)
        ids_doc = document.get("identities") or {}
        if not isinstance(ids_doc, dict):
            raise SettingsError(f"{where}: 'identities' must map certificate names to roles")
        identities = {
            str(name): _roles(roles, f"{where}: identity {name!r}")
            for name, roles in ids_doc.items()
        }
        return cls(rules, identities)

    def required_role(self, method: str) -> str | None:
        """The minimal role method needs; None when the policy has no rule for it."""
        return self.rules.get(method)

    def identity_roles(self, names: Iterable[str]) -> tuple[str, frozenset[str]] | None:
        """The first of a certificate's names (CN, SANs) the policy maps to roles."""
        for name in names:
            roles = self.identities.get(name)
            if roles:
                return name, roles
        return None


def default_policy_path() -> Path:
    """The policy shipped with the runtime: a rule for every RPC of every service."""
    return Path(str(resources.files("weather_runtime").joinpath("policy.yaml")))


def read_yaml(path: Path, variable: str) -> Any:
    """A YAML file's document; SettingsError naming the variable when it cannot be read."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise SettingsError(
            f"{variable}={str(path)!r}: cannot read: {exc.strerror or exc}"
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SettingsError(f"{variable}={str(path)!r}: not valid YAML: {exc}") from None


def load_policy(path: str | os.PathLike[str], variable: str = "AUTH_POLICY_FILE") -> Policy:
    """The policy in path (SettingsError naming variable when it is unreadable or wrong)."""
    where = f"{variable}={str(path)!r}"
    return Policy.parse(read_yaml(Path(path), variable), where)


T = TypeVar("T")


class WatchedFile(Generic[T]):
    """A file parsed once and again when it changes (checked at most every `every` seconds);
    a changed file that does not parse keeps the last good value (and logs why)."""

    def __init__(self, path: Path, parse: Callable[[Path], T], every: float = 2.0) -> None:
        self.path = path
        self._parse = parse
        self._every = every
        self._lock = threading.Lock()
        self._stamp = self._stat()
        self._value = parse(path)  # a bad file at start is a settings error
        self._checked = time.monotonic()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def get(self) -> T:
        now = time.monotonic()
        if now - self._checked < self._every:
            return self._value
        with self._lock:
            self._checked = now
            stamp = self._stat()
            if stamp is not None and stamp != self._stamp:
                try:
                    self._value = self._parse(self.path)
                    self._stamp = stamp
                except SettingsError as exc:
                    log.error("keeping the previous %s: %s", self.path, exc)
        return self._value
