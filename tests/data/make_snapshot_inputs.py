#!/usr/bin/env python3
"""Generate the fixed inputs of the screen snapshots in tests/data/snapshot/ (run once, commit the output).

    .venv/bin/python tests/data/make_snapshot_inputs.py [--force]

tests/test_ui_snapshots.py drives a whole ceremony on these files with a fixed clock and a fixed
serial, so every run issues the very same certificate bytes (same fingerprint, same QR code) and
each screen can be compared with its stored snapshot in tests/snapshots/. What is written:

- ``root.crt``: a self-signed RSA-3072 root, "Snapshot Offline Root CA", valid 2026-01-01 to
  2046-01-01 (00:00 UTC), serial 0x5a17c0de. RSA with PKCS#1 v1.5 signs deterministically, so the
  issued certificate's signature (and so its fingerprint) is the same on every run; an ECDSA root
  would sign differently every time.
- ``root-encrypted.key``: its private key, PKCS#8 encrypted with the test passphrase
  ``correct horse battery staple`` (the `PASSPHRASE` of tests/test_ui_ceremony.py). Public test
  material: it signs nothing but the snapshot tests' throwaway certificates.
- ``csr-7d3e91b0-SNAPSHOT-4a2f6.csr``: a Smallstep-like intermediate request (P-256 key,
  CA:TRUE pathlen:0 requested), as byoroot_tui/core/demo.py makes it.
- ``weak-intermediate.csr``: a well-formed request the profile refuses (a 1024-bit RSA key), for
  the refusal snapshot.

The keys are random, so running this again writes different files: every stored snapshot must
then be regenerated (`.venv/bin/python -m pytest tests/test_ui_snapshots.py --update-snapshots`).
That is why it refuses to overwrite existing files without ``--force``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

HERE = Path(__file__).resolve().parent
OUT = HERE / "snapshot"

PASSPHRASE = "correct horse battery staple"  # must match tests/test_ui_ceremony.py PASSPHRASE
ROOT_NOT_BEFORE = datetime(2026, 1, 1, tzinfo=timezone.utc)
ROOT_NOT_AFTER = datetime(2046, 1, 1, tzinfo=timezone.utc)
ROOT_SERIAL = 0x5A17C0DE
ORG = "Example Snapshot Org"
CSR_NAME = "csr-7d3e91b0-SNAPSHOT-4a2f6.csr"
WEAK_CSR_NAME = "weak-intermediate.csr"


def name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORG),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def make_root() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    subject = name("Snapshot Offline Root CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(ROOT_SERIAL)
        .not_valid_before(ROOT_NOT_BEFORE)
        .not_valid_after(ROOT_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_csr(common_name: str, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> x509.CertificateSigningRequest:
    """Shaped like a hosted CA's intermediate request: CA:TRUE pathlen:0 requested."""
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(name(common_name))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--force", action="store_true", help="overwrite existing inputs (all snapshots change)")
    args = parser.parse_args(argv)
    files = ("root.crt", "root-encrypted.key", CSR_NAME, WEAK_CSR_NAME)
    if not args.force and any((OUT / f).exists() for f in files):
        print(f"{OUT} already holds the inputs; --force replaces them (then regenerate every snapshot)",
              file=sys.stderr)
        return 1
    OUT.mkdir(exist_ok=True)
    key, cert = make_root()
    (OUT / "root.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (OUT / "root-encrypted.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE.encode("utf-8")),
    ))
    csr = make_csr("Example Snapshot Org Intermediate CA", ec.generate_private_key(ec.SECP256R1()))
    (OUT / CSR_NAME).write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    weak = make_csr("Weak Intermediate CA", rsa.generate_private_key(public_exponent=65537, key_size=1024))
    (OUT / WEAK_CSR_NAME).write_bytes(weak.public_bytes(serialization.Encoding.PEM))
    for f in files:
        print(OUT / f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
