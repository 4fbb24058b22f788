"""Check an issued intermediate against its root, its CSR and a fingerprint."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from byoroot_tui.core import der
from byoroot_tui.core.csr import CsrInfo
from byoroot_tui.core.errors import ByorootError
from byoroot_tui.core.fingerprint import sha256_hex
from byoroot_tui.core.root import RootCA


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail}


def verify_certificate(
    cert: x509.Certificate, root: RootCA, csr: CsrInfo | None = None, fingerprint: str | None = None
) -> list[Check]:
    cert_der = cert.public_bytes(serialization.Encoding.DER)
    checks: list[Check] = []
    try:
        parts = der.split_certificate(cert_der)
    except ByorootError as exc:
        return [Check("structure", False, str(exc))]

    try:
        cert.verify_directly_issued_by(root.cert)
        checks.append(Check("issued by root", True, "signature verifies and issuer equals the root's subject"))
    except ValueError:
        checks.append(Check("issued by root", False, "the issuer name is not the root's subject"))
    except Exception:
        checks.append(Check("issued by root", False, "the signature does not verify with the root's public key"))

    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        aki = None
    except Exception:
        aki = None
    if aki == root.key_identifier:
        checks.append(Check("authority key id", True, "matches the root's key identifier"))
    else:
        checks.append(Check("authority key id", False, "missing or not the root's key identifier"))

    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
        is_ca = bc.value.ca and bc.critical
    except Exception:
        is_ca = False
    checks.append(Check("CA certificate", is_ca, "basicConstraints CA:TRUE, critical" if is_ca else "not a CA certificate"))

    if csr is not None:
        checks.append(Check("CSR public key", parts.spki == csr.spki,
                            "same key as the CSR" if parts.spki == csr.spki else "the key is not the CSR's"))
        checks.append(Check("CSR subject", parts.subject == csr.raw_subject,
                            "same subject as the CSR" if parts.subject == csr.raw_subject else "the subject is not the CSR's"))
    if fingerprint is not None:
        actual = sha256_hex(cert_der)
        checks.append(Check("SHA-256 fingerprint", actual == fingerprint,
                            "matches" if actual == fingerprint else f"is {actual}"))
    return checks
