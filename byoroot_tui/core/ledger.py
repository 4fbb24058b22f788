"""What the root issued, read from the station log; and the entries that put it there.

The record comes first: `record_signing` before the key is opened (the plan: CSR, profile, the
TBS's SHA-256, serial, officers), `record_issued` right after the signature verifies and before
any byte reaches a medium (everything above plus the certificate itself, PEM). One `issued` per
certificate, ever: a retry, another folder or a copy is an `exported` entry (core.record). So the
log alone can give every certificate back (`byoroot export`) and list what the root issued.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from byoroot_tui.core.errors import ByorootError
from byoroot_tui.core.text import safe_text

if TYPE_CHECKING:  # pragma: no cover
    from byoroot_tui.core.issue import Issued, Plan, SignedCertificate


class NotRecorded(ByorootError):
    """The root key signed, but the station log could not take the `issued` entry: nothing was
    written to any medium."""


def _officers(officers: list[str]) -> list[str]:
    return [safe_text(o, 64) for o in officers]


def plan_fields(plan: Plan, officers: list[str], csr_file: str) -> dict[str, object]:
    """The public facts of a planned certificate, as the `signing` and `issued` entries hold them."""
    return {
        "csr_file": safe_text(csr_file),
        "csr_sha256": plan.csr.sha256,
        "subject": plan.subject_text,
        "profile": plan.profile.name,
        "root_sha256": plan.root.sha256,
        "serial": plan.serial_hex,
        "tbs_sha256": hashlib.sha256(plan.tbs).hexdigest(),
        "officers": _officers(officers),
    }


def record_signing(log_path: str | os.PathLike[str], plan: Plan, officers: list[str], csr_file: str) -> str:
    """The `signing` entry, before the key is opened. Returns the new head."""
    from byoroot_tui.core.stationlog import append_event

    return append_event(log_path, "signing", plan_fields(plan, officers, csr_file))


@dataclass(frozen=True)
class IssuedRecord:
    """One certificate the root issued, as its `issued` entry holds it: enough to write the
    certificate, its QR code and the ceremony sheet again without the key or the CSR."""

    serial: str
    sha256: str
    certificate_pem: str
    subject: str
    not_before: str
    not_after: str
    csr_file: str
    csr_sha256: str
    key: str  # the CSR's public key, e.g. "EC P-384"
    profile: str
    profile_source: str
    profile_settings: list[tuple[str, str]]
    root_subject: str
    root_sha256: str
    signature_algorithm: str
    tbs_sha256: str
    officers: list[str]
    warnings: list[str] = field(default_factory=list)
    time: str = ""  # when it was recorded (from the entry)

    @property
    def pem(self) -> bytes:
        return self.certificate_pem.encode("ascii")

    @classmethod
    def from_signed(cls, signed: SignedCertificate | Issued, officers: list[str], csr_file: str) -> IssuedRecord:
        from byoroot_tui.core.root import iso

        plan = signed.plan
        return cls(
            serial=plan.serial_hex,
            sha256=signed.sha256,
            certificate_pem=signed.pem.decode("ascii"),
            subject=plan.subject_text,
            not_before=iso(plan.not_before),
            not_after=iso(plan.not_after),
            csr_file=safe_text(csr_file),
            csr_sha256=plan.csr.sha256,
            key=f"{plan.csr.key_algorithm} {plan.csr.key_size}",
            profile=plan.profile.name,
            profile_source=safe_text(plan.profile.source),
            profile_settings=[(safe_text(a), safe_text(b)) for a, b in plan.profile.describe()],
            root_subject=plan.root.subject_text,
            root_sha256=plan.root.sha256,
            signature_algorithm=plan.signature_algorithm,
            tbs_sha256=hashlib.sha256(plan.tbs).hexdigest(),
            officers=_officers(officers),
            warnings=list(plan.warnings),
        )

    def log_fields(self) -> dict[str, object]:
        return {
            "serial": self.serial,
            "sha256": self.sha256,
            "certificate": self.certificate_pem,
            "subject": self.subject,
            "not_before": self.not_before,
            "not_after": self.not_after,
            "csr_file": self.csr_file,
            "csr_sha256": self.csr_sha256,
            "key": self.key,
            "profile": self.profile,
            "profile_source": self.profile_source,
            "profile_settings": [list(p) for p in self.profile_settings],
            "root_subject": self.root_subject,
            "root_sha256": self.root_sha256,
            "signature_algorithm": self.signature_algorithm,
            "tbs_sha256": self.tbs_sha256,
            "officers": self.officers,
            "warnings": self.warnings,
        }

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> IssuedRecord:
        """From an `issued` entry. The certificate must be there and match the entry's SHA-256."""
        pem = entry.get("certificate")
        serial = safe_text(str(entry.get("serial", "?")))
        if not isinstance(pem, str) or not pem.startswith("-----BEGIN CERTIFICATE-----"):
            raise ByorootError(f"the issued entry of serial {serial} holds no certificate "
                               "(it was written by an older byoroot, which did not record it)")
        try:
            from cryptography import x509

            der = x509.load_pem_x509_certificate(pem.encode("ascii")).public_bytes(_der_encoding())
        except (ValueError, UnicodeEncodeError):
            raise ByorootError(f"the certificate in the issued entry of serial {serial} does not parse") from None
        if hashlib.sha256(der).hexdigest() != entry.get("sha256"):
            raise ByorootError(f"the certificate in the issued entry of serial {serial} does not match its SHA-256")

        def text(key: str) -> str:
            value = entry.get(key, "")
            return safe_text(value) if isinstance(value, str) else ""

        def texts(key: str) -> list[str]:
            value = entry.get(key)
            return [safe_text(v) for v in value if isinstance(v, str)] if isinstance(value, list) else []

        settings = entry.get("profile_settings")
        pairs = [(safe_text(p[0]), safe_text(p[1])) for p in settings
                 if isinstance(p, list) and len(p) == 2 and all(isinstance(v, str) for v in p)] \
            if isinstance(settings, list) else []
        return cls(
            serial=text("serial"), sha256=text("sha256"), certificate_pem=pem, subject=text("subject"),
            not_before=text("not_before"), not_after=text("not_after"), csr_file=text("csr_file"),
            csr_sha256=text("csr_sha256"), key=text("key"), profile=text("profile"),
            profile_source=text("profile_source"), profile_settings=pairs, root_subject=text("root_subject"),
            root_sha256=text("root_sha256"), signature_algorithm=text("signature_algorithm"),
            tbs_sha256=text("tbs_sha256"), officers=texts("officers"), warnings=texts("warnings"),
            time=text("time"),
        )


def _der_encoding() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


def read_entries(log_path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every entry of an intact station log (refuses a damaged one); a missing log has none."""
    from byoroot_tui.core.stationlog import read_log, verify_data

    p = Path(log_path)
    if not p.exists() and not p.is_symlink():
        return []
    data = read_log(p)  # read once: checked and parsed from the same bytes
    check = verify_data(data)
    if not check.ok:
        raise ByorootError(f"the station log {safe_text(str(p))!r} is not intact: {check.reason}; "
                           "see `byoroot log verify`")
    return [json.loads(line) for line in data.split(b"\n") if line]


def issued_entries(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e.get("event") == "issued"]


def normalise_serial(serial: str) -> str:
    """A serial as typed (any case, colons or spaces, an optional 0x) as the log writes it."""
    text = "".join(serial.split()).replace(":", "").lower().removeprefix("0x")
    if not text or any(c not in "0123456789abcdef" for c in text):
        raise ByorootError(f"{safe_text(serial)!r} is not a serial number in hex")
    text = text.lstrip("0") or "0"
    return text if len(text) % 2 == 0 else "0" + text


def find_issued(log_path: str | os.PathLike[str], serial: str) -> IssuedRecord:
    """The certificate of that serial, from its `issued` entry."""
    wanted = normalise_serial(serial)
    entries = read_entries(log_path)
    found = [e for e in issued_entries(entries) if str(e.get("serial", "")).lower() == wanted]
    if not found:
        raise ByorootError(f"no certificate with serial {wanted} in the station log {safe_text(str(log_path))!r}")
    if len(found) > 1:
        raise ByorootError(f"the station log holds {len(found)} issued entries for serial {wanted}")
    # signed and recorded, then refused by the checks after signing (the lint): never exported
    for e in entries:
        if e.get("event") == "refused" and e.get("sha256") == found[0].get("sha256"):
            raise ByorootError(f"the certificate with serial {wanted} was refused after signing "
                               f"({safe_text(str(e.get('reason', '')), 200)}); it is not exported")
    return IssuedRecord.from_entry(found[0])


def record_issued(log_path: str | os.PathLike[str], record: IssuedRecord) -> IssuedRecord:
    """The `issued` entry, right after the signature verified and before any byte reaches a
    medium. Refused if the log already holds that certificate (one `issued` per certificate).
    Raises `NotRecorded` (saying what was signed) when the log cannot take it. Returns the
    record with the entry's time (so the sheet written now is the one `byoroot export` writes)."""
    from byoroot_tui.core.stationlog import append_entry

    try:
        entries = read_entries(log_path)
        if any(e.get("sha256") == record.sha256 or e.get("serial") == record.serial for e in issued_entries(entries)):
            raise ByorootError(f"the station log already holds an issued entry for serial {record.serial}")
        _, entry = append_entry(log_path, "issued", record.log_fields())
        return IssuedRecord.from_entry(entry)
    except ByorootError as exc:
        raise NotRecorded(
            f"the root key signed serial {record.serial} (SHA-256 {record.sha256}) but the station log could not "
            f"record it: {exc}; nothing was written to any medium and the certificate was discarded") from None
