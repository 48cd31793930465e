"""The cluster PKI: a CA, a serving certificate for the local names, and a kubeconfig trusting them."""

from __future__ import annotations

import base64
import ipaddress
import stat
from pathlib import Path

import yaml
from cryptography import x509

from shared.cluster.pki import ensure_pki, write_kubeconfig


def test_serving_certificate_is_signed_by_the_ca_for_local_names(tmp_path: Path) -> None:
    paths = ensure_pki(tmp_path / "pki", extra_hosts=["cp-1.example"])
    ca = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    serving = x509.load_pem_x509_certificate(paths.serving_cert.read_bytes())
    serving.verify_directly_issued_by(ca)
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "cp-1.example"} <= set(names.get_values_for_type(x509.DNSName))
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for key in (paths.ca_key, paths.serving_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_pki_is_kept_once_made(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path).ca_cert.read_bytes()
    assert ensure_pki(tmp_path).ca_cert.read_bytes() == first


def test_kubeconfig_trusts_the_ca_and_sends_the_token(tmp_path: Path) -> None:
    paths = ensure_pki(tmp_path)
    config_path = write_kubeconfig(tmp_path / "kubeconfig", "https://127.0.0.1:6443", paths.ca_cert, "t0k3n")
    config = yaml.safe_load(config_path.read_text())
    cluster = config["clusters"][0]["cluster"]
    assert cluster["server"] == "https://127.0.0.1:6443"
    assert base64.b64decode(cluster["certificate-authority-data"]) == paths.ca_cert.read_bytes()
    assert config["users"][0]["user"] == {"token": "t0k3n"}
    assert config["current-context"] == config["contexts"][0]["name"]
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
