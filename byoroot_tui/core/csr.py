"""Load and inspect an intermediate-CA certificate signing request.

Parse problems (not a CSR at all) raise `InputRefused`. A CSR that parses is returned as a
`CsrInfo` whose `findings` say what `sign` would refuse or warn about, so `inspect` and the
preview screen can show everything about it first.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from byoroot_tui.core import der
from byoroot_tui.core.errors import ByorootError, InputRefused
from byoroot_tui.core.extensions import (
    ExtensionInfo,
    describe_extensions,
    name_fields,
    name_text,
    oid_name,
)
from byoroot_tui.core.files import read_input_file
from byoroot_tui.core.findings import Finding, refusals
from byoroot_tui.core.keys import describe_key, key_problem
from byoroot_tui.core.names import is_blank, name_attribute_findings, san_findings, shown
from byoroot_tui.core.text import has_control_chars, safe_bytes_hex, safe_text

CSR_LABELS = {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"}
CERT_LABELS = {"CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE"}
_PEM_BEGIN = re.compile(rb"-----BEGIN ([^\r\n-]{0,80})-----")
_PEM_BLOCK = re.compile(
    rb"-----BEGIN ([^\r\n-]{1,80})-----\r?\n(.*?)-----END ([^\r\n-]{1,80})-----", re.DOTALL
)
WEAK_HASHES = {"md2", "md4", "md5", "sha1", "sha224"}
# Bounds on what a real intermediate CA request holds; beyond them linting takes minutes.
MAX_SUBJECT_ATTRIBUTES = 32
MAX_SUBJECT_BYTES = 4096
MAX_EXTENSIONS = 100


@dataclass(frozen=True)
class CsrInfo:
    """Everything about one CSR, already escaped for display."""

    name: str  # file name (safe) or a label
    der: bytes
    sha256: str  # lowercase hex of the DER
    csr: x509.CertificateSigningRequest
    subject: x509.Name
    subject_text: str  # RFC 4514, escaped
    subject_fields: list[dict[str, str]]
    public_key: object
    raw_subject: bytes  # the subject Name TLV exactly as in the request
    spki: bytes  # the SubjectPublicKeyInfo TLV exactly as in the request
    key_algorithm: str
    key_size: str
    signature_algorithm: str
    signature_valid: bool
    extensions: list[ExtensionInfo]
    attributes: list[dict[str, str]]
    findings: list[Finding] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return bool(refusals(self.findings))

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.name,
            "sha256": self.sha256,
            "subject": self.subject_text,
            "subject_fields": self.subject_fields,
            "public_key": {"algorithm": self.key_algorithm, "size": self.key_size},
            "signature": {"algorithm": self.signature_algorithm, "valid": self.signature_valid},
            "extensions": [e.as_dict() for e in self.extensions],
            "attributes": self.attributes,
            "findings": [f.as_dict() for f in self.findings],
        }


def load_csr(path: str | os.PathLike[str]) -> CsrInfo:
    data = read_input_file(path, "CSR")
    return parse_csr(data, safe_text(Path(path).name))


def _refuse(name: str, reason: str) -> InputRefused:
    return InputRefused(f"{name}: {reason}")


def _pem_to_der(data: bytes, name: str) -> tuple[bytes, bool]:
    """DER of the one PEM block, and whether the file had other text around it (RFC 7468 allows it)."""
    labels = [m.group(1).decode("ascii", "replace").strip() for m in _PEM_BEGIN.finditer(data)]
    if len(labels) != data.count(b"-----BEGIN"):
        raise _refuse(name, "has a malformed PEM BEGIN line")
    if len(labels) > 1:
        if all(label in CSR_LABELS for label in labels):
            raise _refuse(name, f"holds {len(labels)} certificate requests; exactly one per file is allowed")
        raise _refuse(name, f"holds {len(labels)} PEM blocks; a CSR file must hold exactly one request")
    label = labels[0]
    if "PRIVATE KEY" in label:
        raise _refuse(name, "holds a private key, not a certificate request (remove it from the media)")
    if label in CERT_LABELS:
        raise _refuse(name, "holds a certificate, not a certificate request")
    if label not in CSR_LABELS:
        raise _refuse(name, f"holds a PEM block of type {safe_text(label, 40)!r}, not a certificate request")
    m = _PEM_BLOCK.search(data)
    if not m:
        raise _refuse(name, "is truncated: the PEM block has no END line")
    if m.group(3).decode("ascii", "replace").strip() != label:
        raise _refuse(name, "is malformed: the PEM END line does not match its BEGIN line")
    outside = bool(data[: m.start()].strip() or data[m.end() :].strip())
    body = m.group(2)
    if b":" in body:
        raise _refuse(name, "has PEM headers; an unencrypted certificate request has none")
    try:
        return base64.b64decode(b"".join(body.split()), validate=True), outside
    except (binascii.Error, ValueError):
        raise _refuse(name, "is malformed: the PEM body is not valid base64") from None


def _non_csr_der(der_bytes: bytes) -> str | None:
    """If DER that is not a CSR is recognisably something else, say what (never echo it)."""
    try:
        x509.load_der_x509_certificate(der_bytes)
        return "holds a certificate, not a certificate request"
    except Exception:
        pass
    try:
        serialization.load_der_private_key(der_bytes, None)
        return "holds a private key, not a certificate request (remove it from the media)"
    except TypeError:  # encrypted PKCS#8
        return "holds an encrypted private key, not a certificate request (remove it from the media)"
    except Exception:
        pass
    return None


_EXTENSION_REQUEST = x509.ObjectIdentifier("1.2.840.113549.1.9.14")


def _attribute_text(value: bytes) -> str:
    try:
        return safe_text(value.decode("utf-8"), 200)
    except UnicodeDecodeError:
        return safe_bytes_hex(value)


def parse_csr(data: bytes, name: str = "CSR") -> CsrInfo:
    """Parse PEM or DER bytes holding exactly one PKCS#10 request."""
    if not data.strip():
        raise _refuse(name, "is empty")
    outside_text = False
    if b"-----BEGIN" in data:
        der_bytes, outside_text = _pem_to_der(data, name)
    elif data[:1] == b"\x30":
        der_bytes = data
    else:
        raise _refuse(name, "is not a certificate request (neither PEM nor DER)")
    try:
        outer = der.read_tlv(der_bytes)
    except ByorootError:
        raise _refuse(name, "is truncated or malformed DER") from None
    if outer.tag != der.SEQUENCE:
        raise _refuse(name, "is not a certificate request (malformed DER)")
    if outer.end != len(der_bytes):
        raise _refuse(name, "has trailing data after the request")
    try:
        csr = x509.load_der_x509_csr(der_bytes)
    except Exception:
        raise _refuse(name, _non_csr_der(der_bytes) or "is not a valid certificate request (malformed DER)") from None

    # Some problems only surface when a field is read: read every field here, in one place.
    # cryptography's warnings about odd fields become findings instead of text on stderr.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fields_or_error = _read_fields(csr, der_bytes, name)
    return _assess(csr, der_bytes, name, outside_text, fields_or_error, [str(w.message) for w in caught])


def _read_fields(csr: x509.CertificateSigningRequest, der_bytes: bytes, name: str) -> tuple:  # type: ignore[type-arg]
    try:
        subject = csr.subject
        subject_text = name_text(subject)
        fields = name_fields(subject)
        public_key = csr.public_key()
        exts = csr.extensions
        extensions = describe_extensions(exts)
        attributes = [
            {"oid": a.oid.dotted_string, "name": safe_text(oid_name(a.oid)), "value": _attribute_text(a.value)}
            for a in csr.attributes
            if a.oid != _EXTENSION_REQUEST  # shown as the requested extensions
        ]
        raw_subject, raw_spki = der.split_csr(der_bytes)
    except x509.DuplicateExtension as exc:
        raise _refuse(name, f"requests the extension {oid_name(exc.oid)} more than once") from None
    except UnsupportedAlgorithm:
        raise _refuse(name, "uses a public key algorithm that is not supported") from None
    except Exception:
        raise _refuse(name, "has a malformed subject, key, extension or attribute") from None
    return subject, subject_text, fields, public_key, exts, extensions, attributes, raw_subject, raw_spki


def _assess(
    csr: x509.CertificateSigningRequest, der_bytes: bytes, name: str, outside_text: bool,
    read: tuple, parse_warnings: list[str],  # type: ignore[type-arg]
) -> CsrInfo:
    subject, subject_text, fields, public_key, exts, extensions, attributes, raw_subject, raw_spki = read
    findings: list[Finding] = []
    for message in dict.fromkeys(parse_warnings):
        findings.append(Finding("warn", "csr.parse_warning", f"the CSR has an unusual field: {safe_text(message, 160)}"))
    if len(raw_subject) > MAX_SUBJECT_BYTES or len(fields) > MAX_SUBJECT_ATTRIBUTES:
        findings.append(Finding("refuse", "csr.subject_too_large",
                                f"the CSR's subject is too large ({len(fields)} attributes, {len(raw_subject)} bytes; "
                                f"at most {MAX_SUBJECT_ATTRIBUTES} and {MAX_SUBJECT_BYTES})"))
    if len(extensions) > MAX_EXTENSIONS:
        findings.append(Finding("refuse", "csr.too_many_extensions",
                                f"the CSR requests {len(extensions)} extensions (at most {MAX_EXTENSIONS})"))
    if outside_text:
        findings.append(
            Finding("warn", "csr.text_outside_pem", "the file has text outside the PEM block; it was ignored")
        )
    sig_name = oid_name(csr.signature_algorithm_oid)
    hash_name: str | None
    try:
        h = csr.signature_hash_algorithm
        hash_name = h.name if h is not None else None
    except UnsupportedAlgorithm:
        hash_name = "unsupported"
    signature_valid = False
    if hash_name in WEAK_HASHES or hash_name == "unsupported":
        label = (hash_name or "").upper().replace("SHA", "SHA-")
        reason = "an unsupported algorithm" if hash_name == "unsupported" else f"{label}, which is too weak"
        findings.append(Finding("refuse", "csr.weak_signature_hash", f"CSR is signed with {reason} ({safe_text(sig_name)})"))
    else:
        try:
            signature_valid = bool(csr.is_signature_valid)
        except Exception:
            signature_valid = False
    if not signature_valid and hash_name not in WEAK_HASHES and hash_name != "unsupported":
        findings.append(Finding("refuse", "csr.signature_invalid", "the CSR's self-signature does not verify"))

    problem = key_problem(public_key)
    if problem:
        findings.append(Finding("refuse", "csr.key_not_allowed", problem))
    if len(subject) == 0:
        findings.append(Finding("refuse", "csr.subject_empty", "the CSR's subject is empty"))
    elif any(isinstance(a.value, str) and has_control_chars(a.value) for a in subject):
        findings.append(Finding("refuse", "csr.subject_control_chars", "the CSR's subject contains control characters"))
    elif all(isinstance(a.value, str) and is_blank(a.value) for a in subject):
        findings.append(Finding("refuse", "csr.subject_blank",
                                f"the CSR's subject has no visible text (every value is empty, blank or invisible: "
                                f"{shown(subject_text, 120)})"))
    else:
        if not subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME):
            findings.append(Finding("warn", "csr.subject_no_cn", "the CSR's subject has no commonName"))
        for a in subject:
            if isinstance(a.value, str) and is_blank(a.value):
                findings.append(Finding("warn", "csr.subject_blank_value",
                                        f'the subject\'s {safe_text(oid_name(a.oid))} is blank ("{shown(a.value)}")'))
        findings += name_attribute_findings("csr.subject", "the subject's", subject)
    findings += san_findings(exts)
    for ext in exts:
        if ext.critical and isinstance(ext.value, x509.UnrecognizedExtension):
            findings.append(
                Finding("refuse", "csr.unknown_critical_extension",
                        f"the CSR marks an unrecognised extension {ext.oid.dotted_string} critical")
            )

    algorithm, size = describe_key(public_key)
    return CsrInfo(
        name=name,
        der=der_bytes,
        sha256=hashlib.sha256(der_bytes).hexdigest(),
        csr=csr,
        subject=subject,
        subject_text=subject_text,
        subject_fields=fields,
        public_key=public_key,
        raw_subject=raw_subject,
        spki=raw_spki,
        key_algorithm=algorithm,
        key_size=size,
        signature_algorithm=safe_text(sig_name),
        signature_valid=signature_valid,
        extensions=extensions,
        attributes=attributes,
        findings=findings,
    )
