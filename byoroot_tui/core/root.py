"""Load the root CA certificate and check it can issue now."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from byoroot_tui.core import der
from byoroot_tui.core.errors import ByorootError, InputRefused
from byoroot_tui.core.extensions import name_text
from byoroot_tui.core.files import read_input_file
from byoroot_tui.core.keys import describe_key, key_problem, spki_der
from byoroot_tui.core.text import safe_text

_BEGIN = re.compile(rb"-----BEGIN ([^\r\n-]{0,80})-----")


@dataclass(frozen=True)
class RootCA:
    name: str  # file name, safe
    cert: x509.Certificate
    der: bytes
    sha256: str
    subject_text: str
    raw_subject: bytes  # subject TLV exactly as encoded in the root certificate
    key_identifier: bytes  # SKI if present, else computed (RFC 5280 method 1)
    public_key: object
    spki: bytes
    key_algorithm: str
    key_size: str
    not_before: datetime
    not_after: datetime
    path_length: int | None  # the root's pathLenConstraint (None: no limit)

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.name,
            "subject": self.subject_text,
            "sha256": self.sha256,
            "key": f"{self.key_algorithm} {self.key_size}",
            "not_before": iso(self.not_before),
            "not_after": iso(self.not_after),
        }


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def load_certificate_bytes(data: bytes, label: str) -> x509.Certificate:
    """One certificate from PEM or DER; refuses keys, CSRs, bundles and garbage."""
    if not data.strip():
        raise InputRefused(f"{label} is empty")
    if b"-----BEGIN" in data:
        labels = [m.group(1).decode("ascii", "replace").strip() for m in _BEGIN.finditer(data)]
        if len(labels) != 1:
            raise InputRefused(f"{label} holds {len(labels)} PEM blocks; give exactly one certificate")
        if "PRIVATE KEY" in labels[0]:
            raise InputRefused(f"{label} holds a private key, not a certificate")
        if labels[0] != "CERTIFICATE":
            raise InputRefused(f"{label} holds a PEM block of type {safe_text(labels[0], 40)!r}, not a certificate")
        try:
            return x509.load_pem_x509_certificate(data)
        except Exception:
            raise InputRefused(f"{label} is not a valid certificate") from None
    try:
        return x509.load_der_x509_certificate(data)
    except Exception:
        raise InputRefused(f"{label} is not a certificate (neither PEM nor DER)") from None


def load_root(path: str | os.PathLike[str], now: datetime | None = None, *, for_issuing: bool = True) -> RootCA:
    name = safe_text(Path(path).name)
    data = read_input_file(path, "root certificate")
    return parse_root(data, name, now, for_issuing=for_issuing)


def parse_root(
    data: bytes, name: str = "root certificate", now: datetime | None = None, *, for_issuing: bool = True
) -> RootCA:
    """Load a root CA certificate. ``for_issuing=False`` (for `verify`) skips the checks of
    validity now and of pathLenConstraint, which matter only when issuing."""
    label = f"root certificate {name!r}"
    cert = load_certificate_bytes(data, label)
    now = now or utcnow()
    try:
        cert_der = cert.public_bytes(Encoding.DER)
        parts = der.split_certificate(cert_der)
        public_key = cert.public_key()
        try:
            bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            bc = None
        try:
            ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            ku = None
        try:
            ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        except x509.ExtensionNotFound:
            ski = x509.SubjectKeyIdentifier.from_public_key(public_key).digest  # type: ignore[arg-type]
        subject_text = name_text(cert.subject)
        not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    except ByorootError:
        raise
    except Exception:
        raise InputRefused(f"{label} has a malformed field or an unsupported key") from None

    # An offline root is self-signed: its issuer is its subject and its own key verifies it.
    # This also catches a root.crt whose names were edited (the signature no longer holds).
    if parts.issuer != parts.subject:
        raise InputRefused(f"{label} is not self-signed (its issuer is not its subject); give the root CA certificate")
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:
        raise InputRefused(f"{label}: its self-signature does not verify (damaged or edited?)") from None
    if bc is None or not bc.ca:
        raise InputRefused(f"{label} is not a CA certificate (basicConstraints CA:TRUE is missing)")
    if for_issuing and bc.path_length == 0:
        raise InputRefused(f"{label} has pathLenConstraint 0: it cannot certify an intermediate CA")
    if ku is not None and not ku.key_cert_sign:
        raise InputRefused(f"{label} may not sign certificates (keyUsage lacks keyCertSign)")
    if for_issuing and now < not_before:
        raise InputRefused(f"{label} is not valid yet (notBefore {iso(not_before)}); check the station clock")
    if for_issuing and now > not_after:
        raise InputRefused(f"{label} expired on {iso(not_after)}")
    problem = key_problem(public_key)
    if problem:
        raise InputRefused(f"{label}: {problem}")
    algorithm, size = describe_key(public_key)
    return RootCA(
        name=name,
        cert=cert,
        der=cert_der,
        sha256=hashlib.sha256(cert_der).hexdigest(),
        subject_text=subject_text,
        raw_subject=parts.subject,
        key_identifier=ski,
        public_key=public_key,
        spki=spki_der(public_key),
        key_algorithm=algorithm,
        key_size=size,
        not_before=not_before,
        not_after=not_after,
        path_length=bc.path_length,
    )
