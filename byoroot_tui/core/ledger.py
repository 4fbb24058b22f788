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
from datetime import datetime, timedelta, timezone
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


# ----------------------------------------------------------------------------- revocations, CRLs, the ledger

CRL_WARN_DAYS = 30  # warn when the last CRL's nextUpdate is closer than this


def parse_time(text: object) -> datetime | None:
    """A time as the log writes it (``2026-12-02T10:00:00Z``), or None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class RevokedRecord:
    """A certificate the officers revoked, as its `revoked` entry holds it (no key was used)."""

    serial: str
    sha256: str  # of the certificate's DER
    subject: str
    reason: str  # RFC 5280 CRLReason name, camelCase (core.crl.REASONS)
    revocation_date: str  # ISO 8601 UTC, seconds
    officers: list[str]
    time: str = ""

    def log_fields(self) -> dict[str, object]:
        return {"serial": self.serial, "sha256": self.sha256, "subject": self.subject, "reason": self.reason,
                "revocation_date": self.revocation_date, "officers": self.officers}

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> RevokedRecord:
        def text(key: str) -> str:
            value = entry.get(key, "")
            return safe_text(value) if isinstance(value, str) else ""

        officers = entry.get("officers")
        return cls(serial=text("serial"), sha256=text("sha256"), subject=text("subject"), reason=text("reason"),
                   revocation_date=text("revocation_date"),
                   officers=[safe_text(o) for o in officers if isinstance(o, str)] if isinstance(officers, list) else [],
                   time=text("time"))

    def as_dict(self) -> dict[str, object]:
        return {**self.log_fields(), "time": self.time}


def revoked_entries(entries: list[dict[str, Any]]) -> list[RevokedRecord]:
    """Every `revoked` entry, in log order."""
    return [RevokedRecord.from_entry(e) for e in entries if e.get("event") == "revoked"]


@dataclass(frozen=True)
class CrlSummary:
    """A CRL the root signed, as its `crl_issued` entry holds it (what the ledger needs)."""

    number: int
    sha256: str
    this_update: str
    next_update: str
    serials: tuple[str, ...]  # the revoked certificates it lists
    time: str
    root_sha256: str = ""  # the root that signed it


def _crl_number(entry: dict[str, Any]) -> int | None:
    number = entry.get("crl_number")
    return number if isinstance(number, int) and not isinstance(number, bool) and number > 0 else None


def highest_crl_number(entries: list[dict[str, Any]]) -> int:
    """The highest CRL number the log names (a planned one too: `crl_signing`), 0 if none. A
    CRL number is never used twice, even for a CRL that was planned and never recorded."""
    numbers = [_crl_number(e) for e in entries if e.get("event") in ("crl_signing", "crl_issued")]
    return max([n for n in numbers if n is not None], default=0)


def issued_crls(entries: list[dict[str, Any]]) -> list[CrlSummary]:
    """Every CRL the root signed and that was not refused after signing (the lint), in log order."""
    refused = {e.get("sha256") for e in entries if e.get("event") == "refused" and "crl_number" in e}
    out = []
    for e in entries:
        number = _crl_number(e)
        if e.get("event") != "crl_issued" or number is None or e.get("sha256") in refused:
            continue
        listed = e.get("entries")
        serials = tuple(str(x.get("serial", "")).lower() for x in listed if isinstance(x, dict)) \
            if isinstance(listed, list) else ()
        out.append(CrlSummary(number=number, sha256=safe_text(str(e.get("sha256", ""))),
                              this_update=safe_text(str(e.get("this_update", ""))),
                              next_update=safe_text(str(e.get("next_update", ""))), serials=serials,
                              time=safe_text(str(e.get("time", ""))),
                              root_sha256=safe_text(str(e.get("root_sha256", "")))))
    return out


@dataclass(frozen=True)
class LedgerRow:
    """One certificate the root issued, and where it stands."""

    serial: str
    subject: str
    not_before: str
    not_after: str
    sha256: str
    status: str  # valid | revoked | expired | refused (signed, then refused by the lint after signing: never exported)
    expired: bool  # notAfter is past (a revoked certificate may be expired too)
    revoked_at: str | None = None
    reason: str | None = None
    on_crl: int | None = None  # the number of the first signed CRL that lists it (revoked only)
    root_sha256: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"serial": self.serial, "subject": self.subject, "not_before": self.not_before,
                "not_after": self.not_after, "sha256": self.sha256, "status": self.status, "expired": self.expired,
                "revoked_at": self.revoked_at, "reason": self.reason, "on_crl": self.on_crl,
                "root_sha256": self.root_sha256}


@dataclass(frozen=True)
class Ledger:
    """Everything `byoroot ledger` shows: a row per issued certificate, the CRLs, the warnings."""

    rows: list[LedgerRow]
    crls: list[CrlSummary]
    warnings: list[str]

    @property
    def last_crl(self) -> CrlSummary | None:
        return max(self.crls, key=lambda c: c.number, default=None)

    def as_dict(self) -> dict[str, object]:
        last = self.last_crl
        return {"certificates": [r.as_dict() for r in self.rows],
                "last_crl": None if last is None else {"number": last.number, "sha256": last.sha256,
                                                       "this_update": last.this_update, "next_update": last.next_update,
                                                       "serials": list(last.serials)},
                "warnings": self.warnings}


def read_ledger(log_path: str | os.PathLike[str], now: datetime | None = None) -> Ledger:
    """The ledger from the station log (read once; a damaged log is refused)."""
    return ledger_from_entries(read_entries(log_path), now)


def ledger_rows(log_path: str | os.PathLike[str], now: datetime | None = None) -> list[LedgerRow]:
    return read_ledger(log_path, now).rows


def ledger_warnings(log_path: str | os.PathLike[str], now: datetime | None = None) -> list[str]:
    return read_ledger(log_path, now).warnings


def ledger_from_entries(entries: list[dict[str, Any]], now: datetime | None = None) -> Ledger:
    from byoroot_tui.core.root import utcnow

    now = now or utcnow()
    refused_certs = {e.get("sha256") for e in entries if e.get("event") == "refused" and "crl_number" not in e}
    revoked = {r.serial.lower(): r for r in reversed(revoked_entries(entries))}  # the first revocation counts
    crls = issued_crls(entries)
    by_number = sorted(crls, key=lambda c: c.number)
    rows = []
    for e in issued_entries(entries):
        def text(key: str) -> str:
            value = e.get(key, "")
            return safe_text(value) if isinstance(value, str) else ""

        serial = text("serial").lower()
        not_after = parse_time(e.get("not_after"))
        expired = not_after is not None and not_after <= now
        rev = revoked.get(serial)
        on_crl = next((c.number for c in by_number if serial in c.serials), None)
        if e.get("sha256") in refused_certs:
            status = "refused"
        elif rev is not None:
            status = "revoked"
        elif expired:
            status = "expired"
        else:
            status = "valid"
        rows.append(LedgerRow(serial=serial, subject=text("subject"), not_before=text("not_before"),
                              not_after=text("not_after"), sha256=text("sha256"), status=status, expired=expired,
                              revoked_at=rev.revocation_date if rev else None, reason=rev.reason if rev else None,
                              on_crl=on_crl if rev else None, root_sha256=text("root_sha256")))
    return Ledger(rows, crls, _warnings(rows, by_number[-1] if by_number else None, now))


def _warnings(rows: list[LedgerRow], last: CrlSummary | None, now: datetime) -> list[str]:
    warnings = []
    if last is None:
        if any(r.status != "refused" for r in rows):
            warnings.append("no CRL has been issued yet: relying parties that check revocation of the intermediates "
                            "find none; hold the CRL ceremony (`byoroot crl`) and publish root.crl")
    else:
        next_update = parse_time(last.next_update)
        if next_update is not None and next_update <= now:
            warnings.append(f"the last CRL (number {last.number}) expired at its nextUpdate {last.next_update}: "
                            "relying parties that check revocation reject the intermediates; hold the CRL ceremony now")
        elif next_update is not None and next_update - now < timedelta(days=CRL_WARN_DAYS):
            days = (next_update - now).days
            warnings.append(f"the last CRL (number {last.number}) expires at its nextUpdate {last.next_update}, "
                            f"in {days} day{'' if days == 1 else 's'}: hold the CRL ceremony and publish the new "
                            "root.crl before then")
    for r in rows:
        if r.status == "revoked" and r.on_crl is None:
            warnings.append(f"serial {r.serial} was revoked at {r.revoked_at} ({r.reason}) but is on no signed CRL "
                            "yet: hold the CRL ceremony (`byoroot crl`) within 24 hours of the revocation (BRs 4.9.7) "
                            "and publish root.crl")
    return warnings


def sign_and_record(plan: Plan, ref: Any, secret: bytearray | None, officers: list[str], csr_file: str,
                    log_path: str | os.PathLike[str], refusal_fields: dict[str, object],
                    progress: Any = lambda stage: None) -> tuple[Issued, IssuedRecord]:
    """The record-first signing of a planned certificate, as the app runs it: the `signing`
    entry before the key opens, the signature (`keyref.sign_with_key`), the `issued` entry
    with the certificate right after it verifies and before the lint after signing and any
    write. The secret is wiped.

    A refusal is logged as `refused` (with ``refusal_fields``) and raised with its own type
    (`KeyUnusable` when the key could not be used); a refusal after the `issued` entry raises
    `SignedNotExported`, saying the certificate is in the log. A log that cannot take an entry
    raises (`LogRefused`, `NotRecorded`) without a second attempt to log."""
    from byoroot_tui.core.errors import LogRefused, SignedNotExported
    from byoroot_tui.core.keyref import sign_with_key
    from byoroot_tui.core.secretbuf import wipe
    from byoroot_tui.core.stationlog import log_refusal

    try:
        record_signing(log_path, plan, officers, csr_file)
    except ByorootError as exc:
        wipe(secret)
        raise LogRefused(f"the station log could not record the signing: {exc}") from None
    recorded: list[IssuedRecord] = []

    def on_signed(signed: SignedCertificate) -> None:
        recorded.append(record_issued(log_path, IssuedRecord.from_signed(signed, officers, csr_file)))

    from byoroot_tui.core.interrupts import Interrupted

    try:
        issued = sign_with_key(ref, secret, plan, progress, on_signed)
    except (NotRecorded, LogRefused):
        raise
    except (ByorootError, Interrupted) as exc:
        fields = {**refusal_fields, "serial": plan.serial_hex}  # the plan the signing entry named
        if isinstance(exc, ByorootError):
            reason = str(exc)
        elif recorded:
            reason = f"interrupted by {exc.name} after signing, before anything was written"
        else:
            reason = f"interrupted by {exc.name} while the root key was open: no certificate was issued or written"
        if recorded:  # signed and on the log, then refused by the lint after signing
            reason = f"{reason}; the certificate (serial {recorded[0].serial}) is in the station log but was not exported"
            fields.update(serial=recorded[0].serial, sha256=recorded[0].sha256)
        reason = log_refusal(log_path, fields, reason)
        if recorded:
            raise SignedNotExported(reason) from None
        raise (type(exc)(reason) if isinstance(exc, ByorootError) else ByorootError(reason)) from None
    return issued, recorded[0]
