"""The cluster's PKI and kubeconfig: a CA, the API servers' serving certificate, and a kubeconfig for kubectl.

``ensure_pki(dir)`` writes, once, a self-signed CA (``ca.crt``, ``ca.key``) and a serving certificate it
signed (``apiserver.crt``, ``apiserver.key``) valid for ``localhost``, ``127.0.0.1``, ``::1``, this host's
name and any extra names; keys are mode 0600. ``write_kubeconfig(path, server, ca, token)`` writes a
kubeconfig that trusts the CA and sends the token, so ``KUBECONFIG=… kubectl get nodes`` works.
Certificates use ECDSA P-256: as trusted as RSA by Go's TLS stack, and generated in milliseconds.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
SERVING_DAYS = 825
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class PkiPaths:
    """Where ``ensure_pki`` keeps the CA and the serving pair."""

    root: Path

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca.key"

    @property
    def serving_cert(self) -> Path:
        return self.root / "apiserver.crt"

    @property
    def serving_key(self) -> Path:
        return self.root / "apiserver.key"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kubenats"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_ca(common_name: str = "kubenats-ca", now: datetime | None = None) -> tuple[bytes, bytes]:
    """A self-signed CA: ``(certificate PEM, private key PEM)``."""
    now = now or datetime.now(UTC)
    key = _key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _pem(cert), _key_pem(key)


def _san(hosts: list[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def make_serving_cert(
    ca_cert_pem: bytes, ca_key_pem: bytes, hosts: list[str], now: datetime | None = None
) -> tuple[bytes, bytes]:
    """A server certificate for ``hosts`` (DNS names or IP addresses) signed by the CA: ``(cert, key)``."""
    now = now or datetime.now(UTC)
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the CA key must be an EC key")
    key = _key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("kube-apiserver"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=SERVING_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(_san(hosts), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return _pem(cert), _key_pem(key)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def serving_hosts(extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The names the serving certificate covers: loopback, this host's name, and ``extra``."""
    return [*DEFAULT_HOSTS, socket.gethostname(), *extra]


def _write(path: Path, data: bytes, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created with its final mode, so a private key is never readable by others, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def ensure_pki(root: Path, extra_hosts: list[str] | tuple[str, ...] = ()) -> PkiPaths:
    """Write the CA and the serving pair under ``root`` unless they exist (a cluster keeps its CA)."""
    paths = PkiPaths(root)
    if not (paths.ca_cert.exists() and paths.ca_key.exists()):
        ca_cert, ca_key = make_ca()
        _write(paths.ca_key, ca_key, private=True)
        _write(paths.ca_cert, ca_cert)
    if not (paths.serving_cert.exists() and paths.serving_key.exists()):
        cert, key = make_serving_cert(
            paths.ca_cert.read_bytes(), paths.ca_key.read_bytes(), serving_hosts(extra_hosts)
        )
        _write(paths.serving_key, key, private=True)
        _write(paths.serving_cert, cert)
    return paths


def kubeconfig(
    server: str, ca_cert_pem: bytes, token: str, *, user: str = "admin", namespace: str = "default"
) -> dict[str, Any]:
    """A kubeconfig for one cluster, one user (bearer token) and one context, all named ``kubenats``."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "kubenats",
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_cert_pem).decode(),
                },
            }
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {"name": "kubenats", "context": {"cluster": "kubenats", "user": user, "namespace": namespace}}
        ],
        "current-context": "kubenats",
        "preferences": {},
    }


def write_kubeconfig(path: Path, server: str, ca_cert: Path, token: str, *, user: str = "admin") -> Path:
    """Write the kubeconfig (mode 0600: it holds a token) and return its path."""
    config = kubeconfig(server, ca_cert.read_bytes(), token, user=user)
    _write(path, yaml.safe_dump(config, sort_keys=False).encode(), private=True)
    return path
