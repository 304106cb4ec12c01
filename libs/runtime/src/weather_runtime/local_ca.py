"""A throwaway certificate authority for local runs: CA, server and client certificates (PEM)."""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, as PEM files."""

    cert_file: Path
    key_file: Path


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_private(path: Path, content: bytes) -> None:
    """Writes content readable by the owner only (0600), replacing path atomically."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
    os.replace(temporary, path)


def write_public(path: Path, content: bytes) -> None:
    """Writes a certificate (0644), replacing path atomically."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(content)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def _san(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


class LocalCA:
    """A CA whose certificate and key live in folder (ca.pem, ca.key), issuing leaf
    certificates next to them: <name>-server.pem/.key and <name>-client.pem/.key."""

    def __init__(
        self, folder: Path, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey
    ) -> None:
        self.folder = folder
        self.certificate = certificate
        self.key = key

    @property
    def ca_file(self) -> Path:
        """The CA certificate (what clients and mTLS servers trust)."""
        return self.folder / CA_CERT

    @classmethod
    def create(
        cls, folder: Path, name: str = "weather local CA", days: int = DEFAULT_DAYS
    ) -> LocalCA:
        """A new CA in folder (created 0700), replacing any CA there."""
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        write_private(folder / CA_KEY, _key_pem(key))
        write_public(folder / CA_CERT, certificate.public_bytes(serialization.Encoding.PEM))
        return cls(folder, certificate, key)

    @classmethod
    def load(cls, folder: Path) -> LocalCA:
        """The CA an earlier create() left in folder."""
        certificate = x509.load_pem_x509_certificate((folder / CA_CERT).read_bytes())
        key = serialization.load_pem_private_key((folder / CA_KEY).read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{folder / CA_KEY} is not an EC key")
        return cls(folder, certificate, key)

    def issue_server(
        self, name: str, hosts: Sequence[str] = LOCAL_HOSTS, days: int = DEFAULT_DAYS
    ) -> Issued:
        """A server certificate for name (CN) valid for hosts (SAN; IPs as IP entries)."""
        return self.issue(name, f"{name}-server", hosts=hosts, server=True, days=days)

    def issue_client(self, name: str, days: int = DEFAULT_DAYS) -> Issued:
        """A client certificate whose identity (CN) is name."""
        return self.issue(name, f"{name}-client", client=True, days=days)

    def issue(
        self,
        name: str,
        stem: str,
        *,
        hosts: Sequence[str] = (),
        server: bool = False,
        client: bool = False,
        days: int = DEFAULT_DAYS,
    ) -> Issued:
        """A leaf certificate (CN name) written as <stem>.pem with its key <stem>.key (0600)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        usages = [ExtendedKeyUsageOID.SERVER_AUTH] if server else []
        usages += [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
        )
        if usages:
            builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        if hosts:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(_san(hosts)), critical=False
            )
        certificate = builder.sign(self.key, hashes.SHA256())
        issued = Issued(self.folder / f"{stem}.pem", self.folder / f"{stem}.key")
        write_private(issued.key_file, _key_pem(key))
        write_public(issued.cert_file, certificate.public_bytes(serialization.Encoding.PEM))
        return issued


@dataclass(frozen=True)
class LocalPki:
    """What a local suite runs with: the CA file, server and client identities by name."""

    ca_file: Path
    servers: dict[str, Issued]
    clients: dict[str, Issued]


def make_local_pki(
    folder: Path, servers: Sequence[str], clients: Sequence[str], days: int = DEFAULT_DAYS
) -> LocalPki:
    """A fresh CA in folder with a server certificate (SAN localhost, 127.0.0.1, ::1) for each
    of servers and a client certificate (CN the name) for each of clients."""
    ca = LocalCA.create(folder, days=days)
    return LocalPki(
        ca.ca_file,
        {name: ca.issue_server(name, days=days) for name in servers},
        {name: ca.issue_client(name, days=days) for name in clients},
    )
