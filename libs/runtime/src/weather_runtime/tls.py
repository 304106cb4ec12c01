"""TLS and mutual TLS from PEM files: server credentials that follow rotated files, client
channels rebuilt when theirs change.

Server: `<P>TLS_CERT_FILE` and `<P>TLS_KEY_FILE` turn TLS on; `<P>TLS_CLIENT_CA_FILE` also
requires and verifies client certificates (mTLS). The files are checked before every new
connection's handshake (a stat; read again only when it changed) and a new, valid pair is
served from then on without a restart; a half-written pair (certificate and key that do not
match yet) keeps the previous one until the pair is complete.

Client: `<P>CLIENT_CA_FILE` (server verification: TLS) with `<P>CLIENT_CERT_FILE` and
`<P>CLIENT_KEY_FILE` (the caller's certificate: mTLS). A gRPC channel's credentials are fixed,
so ReloadingChannel checks the files at most every few seconds and, when they changed, sends
new calls over a new channel built from them (calls in progress finish on the old one).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from weather_runtime.settings import SettingsError

log = logging.getLogger(__name__)

# How often a long-lived client looks at its files (a stat each), and how long a replaced
# channel stays open for the calls still running on it.
CHECK_SECONDS = 5.0
RETIRE_SECONDS = 600.0
# Files are read again at least this often even when their stat looks the same (a rewrite in
# place within the file system's timestamp granularity, to the same size).
FULL_READ_SECONDS = 60.0

Stamp = tuple[tuple[int, int, int, int] | None, ...]


@dataclass(frozen=True)
class PemFile:
    """A PEM file and the setting (environment variable) it came from, for error messages."""

    path: Path
    variable: str

    def read(self) -> bytes:
        try:
            content = self.path.read_bytes()
        except OSError as exc:
            raise SettingsError(
                f"{self.variable}={str(self.path)!r}: cannot read: {exc.strerror or exc}"
            ) from None
        if not content.strip():
            raise SettingsError(f"{self.variable}={str(self.path)!r}: the file is empty")
        return content


def _stamp(files: Sequence[PemFile | None]) -> Stamp:
    """What changes when a file is rewritten or its Secret symlink swapped: (device, inode,
    mtime in ns, size) of each file (following links), None for an absent one."""
    stamps: list[tuple[int, int, int, int] | None] = []
    for file in files:
        try:
            st = os.stat(file.path) if file is not None else None
        except OSError:
            st = None
        stamps.append(None if st is None else (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size))
    return tuple(stamps)


def _certificates(file: PemFile, content: bytes) -> list[x509.Certificate]:
    try:
        found = x509.load_pem_x509_certificates(content)
    except ValueError:
        found = []
    if not found:
        raise SettingsError(f"{file.variable}={str(file.path)!r}: no PEM certificate in the file")
    return found


def _check_pair(cert: PemFile, cert_pem: bytes, key: PemFile, key_pem: bytes) -> None:
    """Raises SettingsError unless key is the private key of cert's (first) certificate."""
    leaf = _certificates(cert, cert_pem)[0]
    try:
        private = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise SettingsError(
            f"{key.variable}={str(key.path)!r}: not an unencrypted PEM private key ({exc})"
        ) from None
    der = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if private.public_key().public_bytes(der, spki) != leaf.public_key().public_bytes(der, spki):
        raise SettingsError(
            f"{key.variable}={str(key.path)!r} is not the key of the certificate in "
            f"{cert.variable}={str(cert.path)!r}"
        )


def _file(value: str | os.PathLike[str] | None, variable: str) -> PemFile | None:
    text = str(value or "").strip()
    return PemFile(Path(text), variable) if text else None


def _prefix(settings: Any) -> str:
    config = getattr(settings, "model_config", {}) or {}
    return str(config.get("env_prefix", "")).upper()


@dataclass(frozen=True)
class ServerMaterial:
    """The bytes a server's TLS configuration is built from."""

    cert: bytes
    key: bytes
    client_ca: bytes | None

    def configuration(self) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration([(self.key, self.cert)], self.client_ca)


@dataclass(frozen=True)
class ServerTLS:
    """A server's certificate and key files, and the CA its clients' certificates must come
    from when mTLS is on."""

    cert: PemFile
    key: PemFile
    client_ca: PemFile | None = None

    @property
    def mutual(self) -> bool:
        return self.client_ca is not None

    def files(self) -> tuple[PemFile | None, ...]:
        return (self.cert, self.key, self.client_ca)

    def load(self) -> ServerMaterial:
        """Reads and checks the files; SettingsError names the variable of a bad one."""
        cert_pem, key_pem = self.cert.read(), self.key.read()
        _check_pair(self.cert, cert_pem, self.key, key_pem)
        client_ca = None
        if self.client_ca is not None:
            client_ca = self.client_ca.read()
            _certificates(self.client_ca, client_ca)
        return ServerMaterial(cert_pem, key_pem, client_ca)

    def credentials(self) -> grpc.ServerCredentials:
        """Server credentials whose certificate follows the files (see CertificateFetcher)."""
        fetcher = CertificateFetcher(self)
        return grpc.dynamic_ssl_server_credentials(
            fetcher.initial.configuration(),
            # gRPC takes None as "no change" (the stubs' type leaves it out)
            cast("Callable[[], grpc.ServerCertificateConfiguration]", fetcher),
            require_client_authentication=self.mutual,
        )


class CertificateFetcher:
    """Called by gRPC before each new connection's handshake: a new configuration when the
    files changed and hold a valid pair, else None (keep serving the current one)."""

    def __init__(self, tls: ServerTLS) -> None:
        self.tls = tls
        self._lock = threading.Lock()
        self._stamp = _stamp(tls.files())
        self._read_at = time.monotonic()
        self.initial = self._current = tls.load()
        self.reloads = 0

    def __call__(self) -> grpc.ServerCertificateConfiguration | None:
        try:
            with self._lock:
                stamp, now = _stamp(self.tls.files()), time.monotonic()
                if stamp == self._stamp and now - self._read_at < FULL_READ_SECONDS:
                    return None
                self._stamp, self._read_at = stamp, now
                try:
                    material = self.tls.load()
                except SettingsError as exc:
                    log.warning("TLS files changed but are not usable yet: %s", exc)
                    return None
                if material == self._current:
                    return None
                self._current = material
                self.reloads += 1
            log.info("TLS files changed: serving the new certificate to new connections")
            return material.configuration()
        except Exception:
            log.exception("could not reload the TLS files")
            return None


def server_tls(settings: Any) -> ServerTLS | None:
    """The server TLS settings of a service (None: plaintext, as without them); checks the
    combination, not yet the files (ServerTLS.load does)."""
    prefix = _prefix(settings)
    cert = _file(getattr(settings, "tls_cert_file", ""), f"{prefix}TLS_CERT_FILE")
    key = _file(getattr(settings, "tls_key_file", ""), f"{prefix}TLS_KEY_FILE")
    client_ca = _file(getattr(settings, "tls_client_ca_file", ""), f"{prefix}TLS_CLIENT_CA_FILE")
    if cert is None and key is None:
        if client_ca is not None:
            raise SettingsError(
                f"{client_ca.variable} is set: set {prefix}TLS_CERT_FILE and "
                f"{prefix}TLS_KEY_FILE too (mTLS needs the server's own certificate)"
            )
        return None
    if cert is None or key is None:
        missing = f"{prefix}TLS_KEY_FILE" if key is None else f"{prefix}TLS_CERT_FILE"
        present = (cert or key).variable  # type: ignore[union-attr]
        raise SettingsError(f"{present} is set but {missing} is not: set both or neither")
    return ServerTLS(cert, key, client_ca)


def server_credentials(settings: Any) -> grpc.ServerCredentials | None:
    """Credentials for the service's port from its settings, the files checked now; None
    without TLS settings."""
    tls = server_tls(settings)
    return None if tls is None else tls.credentials()


@dataclass(frozen=True)
class ClientTLS:
    """What a client verifies servers with (CA) and, for mTLS, presents (certificate, key)."""

    ca: PemFile
    cert: PemFile | None = None
    key: PemFile | None = None
    # checked against the server's certificate instead of the target's host (a probe dialling
    # 127.0.0.1 in a pod whose certificate names the Service)
    server_name: str = ""

    @classmethod
    def from_files(
        cls,
        ca_file: str | os.PathLike[str],
        cert_file: str | os.PathLike[str] | None = None,
        key_file: str | os.PathLike[str] | None = None,
        *,
        variables: tuple[str, str, str] = ("CA file", "certificate file", "key file"),
        server_name: str = "",
    ) -> ClientTLS:
        """From paths (variables name them in errors); checks the combination."""
        ca = _file(ca_file, variables[0])
        cert = _file(cert_file, variables[1])
        key = _file(key_file, variables[2])
        if ca is None:
            given = cert or key
            raise SettingsError(
                f"{given.variable if given else variables[1]} is set: set {variables[0]} too "
                "(the CA that verifies the servers)"
            )
        if (cert is None) != (key is None):
            present = (cert or key).variable  # type: ignore[union-attr]
            missing = variables[2] if key is None else variables[1]
            raise SettingsError(f"{present} is set but {missing} is not: set both or neither")
        return cls(ca, cert, key, server_name)

    @classmethod
    def from_environment(
        cls, prefix: str = "WEATHER_", environ: dict[str, str] | None = None
    ) -> ClientTLS | None:
        """From <prefix>CA_FILE, <prefix>CERT_FILE, <prefix>KEY_FILE (weatherctl); None when
        none is set."""
        env = os.environ if environ is None else environ
        names = (f"{prefix}CA_FILE", f"{prefix}CERT_FILE", f"{prefix}KEY_FILE")
        values = [env.get(name, "").strip() for name in names]
        if not any(values):
            return None
        return cls.from_files(*values, variables=names)

    def files(self) -> tuple[PemFile | None, ...]:
        return (self.ca, self.cert, self.key)

    def check(self) -> None:
        """Reads and checks the files; SettingsError names the variable of a bad one."""
        self.load()

    def load(self) -> tuple[bytes, bytes | None, bytes | None]:
        ca = self.ca.read()
        _certificates(self.ca, ca)
        if self.cert is None or self.key is None:
            return ca, None, None
        cert, key = self.cert.read(), self.key.read()
        _check_pair(self.cert, cert, self.key, key)
        return ca, key, cert

    def credentials(self) -> grpc.ChannelCredentials:
        """Channel credentials from the files as they are now."""
        ca, key, cert = self.load()
        return grpc.ssl_channel_credentials(
            root_certificates=ca, private_key=key, certificate_chain=cert
        )

    def channel_options(self) -> list[tuple[str, object]]:
        return [("grpc.ssl_target_name_override", self.server_name)] if self.server_name else []

    def stamp(self) -> Stamp:
        return _stamp(self.files())


def client_tls(settings: Any) -> ClientTLS | None:
    """The outgoing TLS settings of a service or the sync (<P>CLIENT_CA_FILE, _CERT_FILE,
    _KEY_FILE), the files checked now; None without them (plaintext, as without settings)."""
    prefix = _prefix(settings)
    names = (f"{prefix}CLIENT_CA_FILE", f"{prefix}CLIENT_CERT_FILE", f"{prefix}CLIENT_KEY_FILE")
    values = [
        str(getattr(settings, field, "") or "").strip()
        for field in ("client_ca_file", "client_cert_file", "client_key_file")
    ]
    if not any(values):
        return None
    tls = ClientTLS.from_files(*values, variables=names)
    tls.check()
    return tls


def _digest(parts: Sequence[bytes | None]) -> str:
    hashed = hashlib.sha256()
    for part in parts:
        hashed.update(b"-" if part is None else hashlib.sha256(part).digest())
    return hashed.hexdigest()


class ReloadingChannel(grpc.Channel):  # type: ignore[misc]
    """A secure channel to target that follows its TLS files: at most every check_seconds a
    call looks at the files (a stat each) and, when their content changed and is valid, new
    calls go over a new channel built from them. Multicallables made earlier (stubs) follow
    too. A replaced channel stays open retire_seconds for calls still running on it."""

    def __init__(
        self,
        target: str,
        tls: ClientTLS,
        options: Sequence[tuple[str, Any]] = (),
        *,
        check_seconds: float = CHECK_SECONDS,
        retire_seconds: float = RETIRE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target = target
        self.tls = tls
        self._options = [*options, *tls.channel_options()]
        self._check_seconds = check_seconds
        self._retire_seconds = retire_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._stamp = tls.stamp()
        self._read_at = clock()
        material = tls.load()
        self._digest = _digest(material)
        self._channel = self._build(material)
        self.generation = 0
        self._next_check = clock() + check_seconds
        self._retired: list[tuple[float, grpc.Channel]] = []
        self._closed = False

    def _build(self, material: tuple[bytes, bytes | None, bytes | None]) -> grpc.Channel:
        ca, key, cert = material
        credentials = grpc.ssl_channel_credentials(ca, key, cert)
        return grpc.secure_channel(self.target, credentials, options=self._options)

    def current(self) -> tuple[int, grpc.Channel]:
        """(generation, channel) new calls go over, rebuilt first when the files changed."""
        now = self._clock()
        if now < self._next_check or self._closed:
            return self.generation, self._channel
        with self._lock:
            if now >= self._next_check and not self._closed:
                self._next_check = now + self._check_seconds
                self._reload(now)
            return self.generation, self._channel

    def _reload(self, now: float) -> None:
        stamp = self.tls.stamp()
        if stamp == self._stamp and now - self._read_at < FULL_READ_SECONDS:
            return
        self._stamp, self._read_at = stamp, now
        try:
            material = self.tls.load()
        except SettingsError as exc:
            log.warning("client TLS files changed but are not usable yet: %s", exc)
            return
        digest = _digest(material)
        if digest == self._digest:
            return
        self._digest = digest
        old = self._channel
        self._channel = self._build(material)
        self.generation += 1
        log.info("client TLS files changed: new calls to %s use them", self.target)
        keep = [(at, ch) for at, ch in self._retired if now - at < self._retire_seconds]
        for _, channel in self._retired:
            if all(channel is not kept for _, kept in keep):
                channel.close()
        self._retired = [*keep, (now, old)]

    def _all(self) -> Iterator[grpc.Channel]:
        yield self._channel
        for _, channel in self._retired:
            yield channel

    def subscribe(self, callback: Any, try_to_connect: bool = False) -> None:
        self.current()[1].subscribe(callback, try_to_connect=try_to_connect)

    def unsubscribe(self, callback: Any) -> None:
        for channel in self._all():
            with contextlib.suppress(ValueError):  # not subscribed on that one
                channel.unsubscribe(callback)

    def unary_unary(
        self,
        method: str,
        request_serializer: Any = None,
        response_deserializer: Any = None,
        _registered_method: Any = False,
    ) -> Any:
        args = (method, request_serializer, response_deserializer, _registered_method)
        return _Following(self, "unary_unary", args)

    def unary_stream(
        self,
        method: str,
        request_serializer: Any = None,
        response_deserializer: Any = None,
        _registered_method: Any = False,
    ) -> Any:
        args = (method, request_serializer, response_deserializer, _registered_method)
        return _Following(self, "unary_stream", args)

    def stream_unary(
        self,
        method: str,
        request_serializer: Any = None,
        response_deserializer: Any = None,
        _registered_method: Any = False,
    ) -> Any:
        args = (method, request_serializer, response_deserializer, _registered_method)
        return _Following(self, "stream_unary", args)

    def stream_stream(
        self,
        method: str,
        request_serializer: Any = None,
        response_deserializer: Any = None,
        _registered_method: Any = False,
    ) -> Any:
        args = (method, request_serializer, response_deserializer, _registered_method)
        return _Following(self, "stream_stream", args)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            channels = list(self._all())
            self._retired.clear()
        for channel in channels:
            channel.close()

    def __enter__(self) -> ReloadingChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Following:
    """A multicallable that makes each call on the holder's current channel (the inner
    multicallable is cached per channel generation)."""

    def __init__(self, holder: ReloadingChannel, kind: str, args: tuple[Any, ...]) -> None:
        self._holder = holder
        self._kind = kind
        self._args = args
        self._cached: tuple[int, Any] | None = None

    def _inner(self) -> Any:
        generation, channel = self._holder.current()
        cached = self._cached
        if cached is None or cached[0] != generation:
            cached = self._cached = (generation, getattr(channel, self._kind)(*self._args))
        return cached[1]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._inner()(*args, **kwargs)

    def with_call(self, *args: Any, **kwargs: Any) -> Any:
        return self._inner().with_call(*args, **kwargs)

    def future(self, *args: Any, **kwargs: Any) -> Any:
        return self._inner().future(*args, **kwargs)
