"""Throwaway demo material: a root CA and a Smallstep-like intermediate CSR. Never for real use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from byoroot_tui.core.export import write_new_file
from byoroot_tui.core.root import utcnow

DEMO_CSR_NAME = "csr-9e63a172-EXAMPLE-5b0c7.csr"
DEMO_WARNING = "DEMO ONLY: throwaway root key made just now; never use it for a real ceremony."


@dataclass(frozen=True)
class DemoMaterial:
    stick: Path
    csr: Path
    root_cert: Path
    root_key: Path


DEMO_ROOT_NAME = "Demo Offline Root CA"  # the sheets of certificates it issued say DEMO (core.record.is_demo)


def make_root(
    common_name: str = DEMO_ROOT_NAME, years: int = 20, curve: ec.EllipticCurve | None = None
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(curve or ec.SECP384R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Demo Org"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])
    now = utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA384())
    )
    return key, cert


def make_smallstep_like_csr() -> x509.CertificateSigningRequest:
    """Shaped like a hosted CA's intermediate request: P-256 key, CA:TRUE pathlen:0 requested."""
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Demo Org"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Example Demo Org Intermediate CA"),
        ]))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )


def make_demo(base: Path) -> DemoMaterial:
    """Create ``base/stick`` (the CSR) and ``base/station`` (the throwaway root)."""
    stick = base / "stick"
    station = base / "station"
    stick.mkdir(parents=True, exist_ok=True)
    station.mkdir(parents=True, exist_ok=True)
    key, cert = make_root()
    csr = make_smallstep_like_csr()
    csr_path = write_new_file(stick, DEMO_CSR_NAME, csr.public_bytes(serialization.Encoding.PEM))
    cert_path = write_new_file(station, "demo-root.crt", cert.public_bytes(serialization.Encoding.PEM))
    key_path = write_new_file(
        station,
        "demo-root.key",
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        mode=0o600,
    )
    return DemoMaterial(stick=stick, csr=csr_path, root_cert=cert_path, root_key=key_path)
