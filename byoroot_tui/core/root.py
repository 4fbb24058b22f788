"""Load the root CA certificate and check it can issue now."""

from __future__ import annotations

import hashlib
import os
import re
import warnings as _warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import ExtensionOID

from byoroot_tui.core import der
from byoroot_tui.core.errors import ByorootError, InputRefused
from byoroot_tui.core.extensions import name_text, oid_name
from byoroot_tui.core.files import read_input_file
from byoroot_tui.core.findings import Finding
from byoroot_tui.core.keys import describe_key, key_problem, spki_der
from byoroot_tui.core.text import safe_text

_BEGIN = re.compile(rb"-----BEGIN ([^\r\n-]{0,80})-----")

# The certificate extensions RFC 5280 defines (4.2.1, 4.2.2): a root may carry any of them, and
# marked critical each one has a defined meaning for whoever builds a chain through the root.
# Any other extension marked critical is one this tool (and likely a relying party) does not
# understand, and RFC 5280 4.2 says such a certificate must be rejected.
UNDERSTOOD_ROOT_EXTENSIONS = {
    oid.dotted_string: oid_name(oid)
    for oid in (
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.CERTIFICATE_POLICIES,
        ExtensionOID.POLICY_MAPPINGS,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.ISSUER_ALTERNATIVE_NAME,
        ExtensionOID.SUBJECT_DIRECTORY_ATTRIBUTES,
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.NAME_CONSTRAINTS,
        ExtensionOID.POLICY_CONSTRAINTS,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.CRL_DISTRIBUTION_POINTS,
        ExtensionOID.INHIBIT_ANY_POLICY,
        ExtensionOID.FRESHEST_CRL,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
        ExtensionOID.SUBJECT_INFORMATION_ACCESS,
    )
}

# Signature algorithms whose hash no longer protects a certificate (collisions can be made), by OID.
WEAK_SIGNATURE_ALGORITHMS = {
    "1.2.840.113549.1.1.2": "MD2",  # md2WithRSAEncryption
    "1.2.840.113549.1.1.3": "MD4",  # md4WithRSAEncryption
    "1.2.840.113549.1.1.4": "MD5",  # md5WithRSAEncryption
    "1.2.840.113549.1.1.5": "SHA-1",  # sha1WithRSAEncryption
    "1.3.14.3.2.29": "SHA-1",  # sha1WithRSASignature (OIW)
    "1.2.840.10040.4.3": "SHA-1",  # dsa-with-sha1
    "1.2.840.10045.4.1": "SHA-1",  # ecdsa-with-SHA1
}
_WEAK_HASH_NAMES = {"md5": "MD5", "sha1": "SHA-1"}  # e.g. inside RSASSA-PSS parameters


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
    serial: int = 0  # read once, with cryptography's warning about a non-positive serial caught
    # What the officer should know but need not stop for (a serial that is not positive): shown
    # where the root is shown, and `make_plan` passes them on, so `sign` prints them.
    warnings: tuple[Finding, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.name,
            "subject": self.subject_text,
            "sha256": self.sha256,
            "key": f"{self.key_algorithm} {self.key_size}",
            "not_before": iso(self.not_before),
            "not_after": iso(self.not_after),
            "warnings": [w.message for w in self.warnings],
        }


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def load_certificate_bytes(data: bytes, label: str) -> x509.Certificate:
    """One certificate from PEM or DER; refuses keys, CSRs, bundles and garbage.

    cryptography warns (CryptographyDeprecationWarning, on stderr) when it parses a serial number
    that is not positive; that warning is caught here, and the root's serial becomes a finding."""
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return _load_certificate_bytes(data, label)


def certificate_serial(cert: x509.Certificate) -> int:
    """The serial number, without cryptography's warning about one that is not positive."""
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return cert.serial_number


def _load_certificate_bytes(data: bytes, label: str) -> x509.Certificate:
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
        serial = certificate_serial(cert)
        unknown_critical = [e.oid for e in cert.extensions
                            if e.critical and e.oid.dotted_string not in UNDERSTOOD_ROOT_EXTENSIONS]
    except ByorootError:
        raise
    except Exception:
        raise InputRefused(f"{label} has a malformed field or an unsupported key") from None

    # An offline root is self-signed: its issuer is its subject and its own key verifies it.
    # This also catches a root.crt whose names were edited (the signature no longer holds).
    if parts.issuer != parts.subject:
        raise InputRefused(f"{label} is not self-signed (its issuer is not its subject); give the root CA certificate")
    weak = _weak_signature_hash(cert)
    if weak:
        raise InputRefused(f"{label} is signed with {weak}, which is no longer trusted "
                           "(a root must be signed with SHA-256 or stronger)")
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:
        raise InputRefused(f"{label}: its self-signature does not verify (damaged or edited?)") from None
    if unknown_critical:
        oid = unknown_critical[0]
        known = oid_name(oid)
        what = oid.dotted_string + (f" ({safe_text(known, 60)})" if known != oid.dotted_string else "")
        raise InputRefused(f"{label} has a critical extension this tool does not understand: {what}; "
                           "RFC 5280 says a certificate with one must be rejected")
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
        serial=serial,
        warnings=_serial_warnings(serial),
    )


def _weak_signature_hash(cert: x509.Certificate) -> str | None:
    """The broken hash the certificate's own signature uses ("SHA-1", "MD5", ...), else None."""
    weak = WEAK_SIGNATURE_ALGORITHMS.get(cert.signature_algorithm_oid.dotted_string)
    if weak:
        return weak
    try:
        algorithm = cert.signature_hash_algorithm  # RSASSA-PSS: the hash in its parameters
    except Exception:
        return None
    return _WEAK_HASH_NAMES.get(algorithm.name) if algorithm is not None else None


def _serial_warnings(serial: int) -> tuple[Finding, ...]:
    if serial > 0:
        return ()
    what = "zero" if serial == 0 else f"negative ({serial})" if serial > -10**12 else "negative"
    return (Finding("warn", "root.serial_not_positive",
                    f"the root certificate's serial number is {what}; RFC 5280 (4.1.2.2) requires a positive "
                    "serial, and some software rejects such a root or will in future"),)
