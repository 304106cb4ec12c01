"""Source and destination URI policy: allowed roots, schemes and hosts, checked without I/O."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from weather_runtime import safe_open
from weather_runtime.errors import InvalidArgument

MAX_URI_LENGTH = 2048
DEFAULT_SCHEMES = ("file", "s3", "gs", "gcs", "memory")
# names that reach cloud metadata services or this host, whatever the allowed hosts say
_BLOCKED_HOSTS = frozenset(
    {"localhost", "metadata", "metadata.google.internal", "instance-data", "metadata.azure.com"}
)
_BLOCKED_SUFFIXES = (".internal", ".local", ".localhost", ".localdomain", ".arpa")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]{0,31})://")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?)*$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
# characters a URI may hold: printable ASCII (spaces inside paths too) without backslash, '%',
# '#', quotes and brackets, nor the glob characters '*', '?', '[', ']' (fsspec expands them)
_ALLOWED_CHARS = re.compile(r"^[A-Za-z0-9/._~:@!$&'()+,;= -]+$")


@dataclass(frozen=True)
class UriPolicy:
    """Where URIs may point: normalised roots, allowed schemes, and allowed hosts."""

    roots: tuple[str, ...]
    schemes: frozenset[str] = frozenset(DEFAULT_SCHEMES)
    hosts: frozenset[str] = frozenset()

    @classmethod
    def build(
        cls, roots: Iterable[str], schemes: Iterable[str] = (), hosts: Iterable[str] = ()
    ) -> UriPolicy:
        """A policy from settings: roots are normalised (relative local roots made absolute);
        empty schemes mean DEFAULT_SCHEMES; empty hosts mean the hosts the roots name."""
        normal_roots = tuple(_normalise_root(root) for root in roots)
        scheme_set = frozenset(s.strip().lower() for s in schemes if s.strip()) or frozenset(
            DEFAULT_SCHEMES
        )
        host_set = frozenset(h.strip().lower() for h in hosts if h.strip())
        if not host_set:
            host_set = frozenset(host for root in normal_roots if (host := _host_of(root)))
        return cls(normal_roots, scheme_set, host_set)

    def check(self, uri: str, field: str) -> str:
        """The normalised URI when the policy allows it; InvalidArgument naming field otherwise.

        Purely textual: nothing is opened, stat'ed, resolved or looked up."""
        try:
            normal = normalise(uri, self.schemes)
            host = _host_of(normal)
            if host and host not in self.hosts:
                raise ValueError(f"host {host!r} is not an allowed host")
        except ValueError as exc:
            raise InvalidArgument.field(field, str(exc)) from None
        if not any(_within(normal, root) for root in self.roots):
            raise InvalidArgument.field(field, "is outside the allowed roots")
        return normal

    def check_open(self, normal: str, field: str) -> str:
        """What to open for a URI check() accepted: for local files the real path (links
        resolved), refused when it leaves the (resolved) local roots, or when opening it
        without following links fails or lands elsewhere (a component swapped for a link since
        it was resolved). Call right before opening; opened() closes the remaining gap."""
        if not normal.startswith("file://"):
            return normal
        real = self._real(normal, field)
        try:
            fd = safe_open.open_nofollow(real, read=False)  # names it: opens no FIFO, no device
            try:
                safe_open.verify(fd, real, self.within)
            finally:
                os.close(fd)
        except FileNotFoundError:
            return real  # nothing there (yet): the caller's open reports it
        except safe_open.Escaped as exc:
            raise InvalidArgument.field(field, f"changed while it was checked: {exc}") from None
        return real

    @contextmanager
    def opened(self, normal: str, field: str) -> Iterator[safe_open.Opened]:
        """A local URI check() accepted, opened without following links and verified (for a
        folder, its tree re-checked after the opening): read through the descriptor, or the
        walk of safe_open, and nothing outside the roots can be read. InvalidArgument naming
        field when it leads (or was swapped to lead) outside; FileNotFoundError when absent."""
        if not normal.startswith("file://"):
            raise InvalidArgument.field(field, "is not a local path")
        real = self._real(normal, field)
        try:
            with safe_open.opened(real, self.within) as handle:
                yield handle
        except safe_open.Escaped as exc:
            raise InvalidArgument.field(field, f"changed while it was checked: {exc}") from None

    def within(self, real: str) -> bool:
        """Whether a real local path lies under one of the (resolved) local roots."""
        return any(
            real == base or real.startswith(base.rstrip("/") + "/") for base in self._real_roots()
        )

    def _real(self, normal: str, field: str) -> str:
        try:
            real = os.path.realpath(normal[len("file://") :])
        except OSError as exc:  # a link swapped while it was being resolved
            raise InvalidArgument.field(field, f"changed while it was checked: {exc}") from None
        if not self.within(real):
            raise InvalidArgument.field(
                field, "resolves (through a link) outside the allowed roots"
            )
        return real

    def _real_roots(self) -> list[str]:
        return [
            os.path.realpath(root[len("file://") :])
            for root in self.roots
            if root.startswith("file://")
        ]


def normalise(uri: str, schemes: Iterable[str] = DEFAULT_SCHEMES) -> str:
    """The canonical form of uri ("file:///a/b" or "scheme://host/a/b"); ValueError with the
    reason for anything suspicious (traversal, escapes, user info, IP hosts, odd characters)."""
    _check_text(uri)
    if uri.startswith("/"):
        scheme, host, path = "file", "", uri
    else:
        match = _SCHEME.match(uri)
        if match is None:
            raise ValueError("must be an absolute path or a URL such as file:///... or s3://...")
        scheme = match.group(1).lower()
        if scheme not in set(schemes):
            raise ValueError(f"scheme {scheme!r} is not allowed")
        rest = uri[match.end() :]
        host, slash, tail = rest.partition("/")
        path = slash + tail
        host = _check_host(scheme, host)
    if ":" in path or "@" in path:
        raise ValueError("the path must not contain ':' or '@'")
    segments = [s for s in path.split("/") if s not in ("", ".")]
    if ".." in segments:
        raise ValueError("must not contain '..' segments")
    clean = "/" + "/".join(segments)
    if scheme == "file":
        return "file://" + clean
    return f"{scheme}://{host}{clean}".rstrip("/")


def _check_text(uri: str) -> None:
    if not isinstance(uri, str) or not uri:
        raise ValueError("must be a non-empty URI")
    if len(uri) > MAX_URI_LENGTH:
        raise ValueError(f"must be at most {MAX_URI_LENGTH} characters")
    if not uri.isascii():
        raise ValueError("must hold only ASCII characters")
    if "\\" in uri:
        raise ValueError("must not contain backslashes")
    if "%" in uri:
        raise ValueError("must not contain percent-escapes")
    if uri != uri.strip():
        raise ValueError("must not start or end with spaces")
    if not _ALLOWED_CHARS.match(uri):
        raise ValueError("must not contain control characters, quotes, brackets, # or * ? [ ]")


def _check_host(scheme: str, host: str) -> str:
    if "@" in host:
        raise ValueError("must not contain user information ('@')")
    if ":" in host or "[" in host or "]" in host:
        raise ValueError("must not name a port or an IPv6 address")
    host = host.lower().rstrip(".")
    if scheme == "file":
        if host not in ("", "localhost"):
            raise ValueError("file URLs must not name a host")
        return ""
    if not host:
        raise ValueError(f"{scheme} URLs must name a bucket or host")
    if not _HOST.match(host):
        raise ValueError(f"host {host!r} is not a valid host name")
    if _is_ip_literal(host):
        raise ValueError(f"host {host!r} is an IP address; name an allowed host")
    if host in _BLOCKED_HOSTS or host.endswith(_BLOCKED_SUFFIXES):
        raise ValueError(f"host {host!r} is a local or metadata-service name")
    return host


def _is_ip_literal(host: str) -> bool:
    """True for any spelling a resolver may read as an IP address (dotted, decimal, hex, octal)."""
    labels = host.split(".")
    if all(_NUMERIC_LABEL.match(label) for label in labels):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _host_of(normal: str) -> str:
    if normal.startswith("file://"):
        return ""
    return normal.split("://", 1)[1].split("/", 1)[0]


def _normalise_root(root: str) -> str:
    text = root.strip()
    if text and "://" not in text and not text.startswith("/"):
        text = os.path.abspath(text)
    return normalise(text, {*DEFAULT_SCHEMES, text.split("://", 1)[0].lower()})


def _within(normal: str, root: str) -> bool:
    return normal == root or normal.startswith(root.rstrip("/") + "/")
