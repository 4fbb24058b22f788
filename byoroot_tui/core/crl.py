"""Revocation and the root CRL ceremony: what the root says about the intermediates it revoked.

A revocation is a `revoked` entry in the station log (no key). The CRL ceremony follows the
certificate's pipeline (core/issue.py): the CRL is planned from the log and built exactly as it
will be issued, signed with a throwaway key of the root's algorithm and linted (pkilint's
`lint_crl`, RFC 5280 and the CA/B Forum BRs for an ARL) before the root key is touched; the
`crl_signing` entry is recorded; the root key (a file or a PKCS#11 token, `keyref.sign_with`)
signs the very same TBS bytes; the signature is verified with the root certificate's key; the
`crl_issued` entry holds the CRL itself before any byte reaches a medium; it is linted again;
then root.crl (DER), root.crl.pem, a QR code of its SHA-256 and the sheet (text and PDF) are
written all or none (`export.write_file_set`) and the export is logged.

The app calls `revoke`, `plan_crl`, `sign_crl` and `export_crl` from a worker thread; each
raises `ByorootError` with one line for the officers.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from byoroot_tui.core.errors import ByorootError, ExportFailed, InputRefused, PolicyRefused, TargetExists
from byoroot_tui.core.ledger import (RevokedRecord, find_issued, highest_crl_number, normalise_serial, read_entries,
                                     revoked_entries)
from byoroot_tui.core.root import iso, utcnow
from byoroot_tui.core.text import safe_text

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    from byoroot_tui.core.keyref import KeyRef
    from byoroot_tui.core.lint import LintReport
    from byoroot_tui.core.root import RootCA
    from byoroot_tui.core.signer import RootSigner

# ----------------------------------------------------------------------------- reasons

# RFC 5280 5.3.1 CRLReason, by its ASN.1 name (value 7 is unused).
REASON_CODES = {
    "unspecified": 0, "keyCompromise": 1, "cACompromise": 2, "affiliationChanged": 3, "superseded": 4,
    "cessationOfOperation": 5, "certificateHold": 6, "removeFromCRL": 8, "privilegeWithdrawn": 9,
    "aACompromise": 10,
}
# What a root may say about a CA certificate on its CRL (an ARL): CA/B Forum BRs 7.2.2 (and RFC
# 5280: certificateHold and removeFromCRL belong to holds, which a root CRL never uses; aACompromise
# to attribute certificates). pkilint's BR ARL allowlist also takes privilegeWithdrawn, which the
# BRs keep for subscriber certificates: it is refused here. unspecified means no reasonCode.
ALLOWED_REASONS = ("unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded",
                   "cessationOfOperation")
MAX_NEXT_UPDATE_DAYS = 365  # BRs 4.9.7: a root's CRL is reissued at least every 12 months
DEFAULT_NEXT_UPDATE_DAYS = 365


def _squash(text: str) -> str:
    return "".join(c for c in text.lower() if c not in "-_ ")


def parse_reason(text: str) -> str:
    """A reason as typed (``keyCompromise``, ``key-compromise``, ``key_compromise``, any case) as
    its RFC 5280 name; `InputRefused` (one line, listing the allowed ones) for an unknown reason
    or one not allowed for a CA certificate."""
    allowed = ", ".join(ALLOWED_REASONS)
    wanted = _squash(text)
    name = next((n for n in REASON_CODES if _squash(n) == wanted), None)
    if name is None:
        raise InputRefused(f"unknown revocation reason {safe_text(text, 60)!r}; allowed for a CA certificate: {allowed}")
    if name not in ALLOWED_REASONS:
        raise InputRefused(f"revocation reason {name} is not allowed for a CA certificate on a root's CRL "
                           f"(RFC 5280 5.3.1, CA/B Forum BRs 7.2.2); allowed: {allowed}")
    return name


def _reason_flag(name: str) -> x509.ReasonFlags:
    from cryptography import x509

    flags = {"keyCompromise": x509.ReasonFlags.key_compromise, "cACompromise": x509.ReasonFlags.ca_compromise,
             "affiliationChanged": x509.ReasonFlags.affiliation_changed, "superseded": x509.ReasonFlags.superseded,
             "cessationOfOperation": x509.ReasonFlags.cessation_of_operation}
    return flags[name]


# ----------------------------------------------------------------------------- revoke


def revoke(log_path: str | os.PathLike[str], serial: str, reason: str, officers: list[str],
           now: datetime | None = None) -> RevokedRecord:
    """Revoke the certificate of ``serial`` (hex, as on the sheet): a `revoked` entry in the
    station log with the certificate's SHA-256 and subject, the reason, the revocation date (now,
    in whole seconds, UTC) and the two officers. No key is used; the next CRL ceremony lists it.

    Refused (`ByorootError`, one line): two officers who are not two different people; a reason
    not allowed for a CA certificate; a serial the log does not hold, or one refused after
    signing (never exported); a serial already revoked."""
    from byoroot_tui.core.officers import check_two_officers
    from byoroot_tui.core.stationlog import append_entry

    officers = check_two_officers(officers, "revoke")
    name = parse_reason(reason)
    record = find_issued(log_path, serial)  # unknown serials and certificates refused after signing
    wanted = normalise_serial(serial)
    earlier = [r for r in revoked_entries(read_entries(log_path)) if r.serial.lower() == wanted]
    if earlier:
        first = earlier[0]
        raise PolicyRefused(f"serial {wanted} is already revoked (at {first.revocation_date}, {first.reason}); "
                            "a certificate is revoked once")
    when = (now or utcnow()).replace(microsecond=0)
    rec = RevokedRecord(serial=record.serial, sha256=record.sha256, subject=record.subject, reason=name,
                        revocation_date=iso(when), officers=[safe_text(o, 64) for o in officers])
    _, entry = append_entry(log_path, "revoked", rec.log_fields())
    return RevokedRecord.from_entry(entry)


# ----------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class CrlEntry:
    """One revoked certificate as the CRL lists it."""

    serial: str  # hex, as the log writes it
    revocation_date: datetime
    reason: str  # RFC 5280 name; unspecified: no reasonCode extension
    subject: str
    sha256: str  # of the revoked certificate

    def as_dict(self) -> dict[str, object]:
        return {"serial": self.serial, "revocation_date": iso(self.revocation_date), "reason": self.reason,
                "subject": self.subject, "sha256": self.sha256}


@dataclass(frozen=True)
class CrlPlan:
    """Exactly the CRL that will be issued, linted, before the root key is touched: what the
    review screen shows."""

    root: RootCA
    number: int
    this_update: datetime
    next_update: datetime
    entries: list[CrlEntry]
    hash_algorithm: hashes.HashAlgorithm | None
    signature_algorithm: str  # display name, e.g. ecdsa-with-SHA384
    tbs: bytes
    signature_algorithm_der: bytes
    lint: LintReport
    lint_crl: bytes  # DER of the throwaway-signed CRL that was linted
    notes: list[str] = field(default_factory=list)  # what the officers should know (not refusals)

    @property
    def tbs_sha256(self) -> str:
        return hashlib.sha256(self.tbs).hexdigest()

    def as_dict(self) -> dict[str, object]:
        return {"crl_number": self.number, "this_update": iso(self.this_update), "next_update": iso(self.next_update),
                "issuer": self.root.subject_text, "root_sha256": self.root.sha256,
                "signature_algorithm": self.signature_algorithm, "entries": [e.as_dict() for e in self.entries],
                "lint": self.lint.as_dict(), "notes": self.notes}


def crl_hash(root: RootCA) -> hashes.HashAlgorithm | None:
    """The hash a CRL is signed with: the certificates' rule (`Profile.hash_for`) under the built-in
    curve-matched profile: SHA-256/384/512 for P-256/384/521 (BRs 7.1.3.2.2, Mozilla 5.1.2),
    SHA-512 for RSA, none for Ed25519."""
    from byoroot_tui.core.profiles import CURVE_MATCHED_PROFILE

    return CURVE_MATCHED_PROFILE.hash_for(root.public_key)


def _tbs_parts(crl_der: bytes) -> tuple[bytes, bytes, bytes]:
    """(tbsCertList, signatureAlgorithm, the TBS's issuer), each as raw DER."""
    from byoroot_tui.core import der

    outer = der.read_tlv(crl_der)
    top = der.children(crl_der, outer)
    if len(top) != 3:
        raise ByorootError("malformed CRL: expected three top-level fields")
    fields = der.children(crl_der, top[0])
    i = 1 if fields and fields[0].tag == 0x02 else 0  # optional version INTEGER
    if len(fields) < i + 3:
        raise ByorootError("malformed CRL: TBS too short")
    return top[0].raw(crl_der), top[1].raw(crl_der), fields[i + 1].raw(crl_der)


def plan_crl(root: RootCA, log_path: str | os.PathLike[str], now: datetime | None = None,
             next_update_days: int = DEFAULT_NEXT_UPDATE_DAYS) -> CrlPlan:
    """Plan and lint the root's next CRL from the station log: every certificate this root issued
    and the officers revoked (expired ones stay listed: RFC 5280 allows removing them, keeping them
    is safe); CRL number = the highest in the log + 1; thisUpdate = now (seconds, UTC), nextUpdate =
    now + ``next_update_days`` (1 to 365). Raises `PolicyRefused` when it cannot be issued."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from byoroot_tui.core.extensions import oid_name
    from byoroot_tui.core.issue import _throwaway_key
    from byoroot_tui.core.lint import lint_crl
    from byoroot_tui.core.ledger import issued_entries, parse_time

    if isinstance(next_update_days, bool) or not isinstance(next_update_days, int) \
            or not 1 <= next_update_days <= MAX_NEXT_UPDATE_DAYS:
        raise PolicyRefused(f"refused: nextUpdate must be 1 to {MAX_NEXT_UPDATE_DAYS} days after thisUpdate "
                            f"(CA/B Forum BRs 4.9.7 and 7.2.2 for a root's CRL), not {safe_text(str(next_update_days), 20)}")
    now = (now or utcnow()).replace(microsecond=0)
    this_update, next_update = now, now + timedelta(days=next_update_days)
    notes: list[str] = []
    if next_update > root.not_after:
        notes.append(f"nextUpdate {iso(next_update)} is after the root certificate's notAfter {iso(root.not_after)}")
    log_entries = read_entries(log_path)
    issued = {str(e.get("serial", "")).lower(): e for e in issued_entries(log_entries)}
    entries: list[CrlEntry] = []
    other_root = 0
    for rev in revoked_entries(log_entries):
        cert = issued.get(rev.serial.lower())
        if cert is None or cert.get("root_sha256") != root.sha256:
            other_root += 1
            continue
        when = parse_time(rev.revocation_date)
        if when is None or rev.reason not in ALLOWED_REASONS:
            raise PolicyRefused(f"refused: the revoked entry of serial {rev.serial} is damaged (date or reason)")
        entries.append(CrlEntry(serial=rev.serial.lower(), revocation_date=when, reason=rev.reason,
                                subject=rev.subject, sha256=rev.sha256))
    if other_root:
        notes.append(f"{other_root} revoked certificate{'s were' if other_root > 1 else ' was'} not issued by this "
                     "root (another root certificate); not on this CRL")
    number = highest_crl_number(log_entries) + 1
    hash_algorithm = crl_hash(root)
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(root.cert.subject)
               .last_update(this_update)
               .next_update(next_update)
               .add_extension(x509.AuthorityKeyIdentifier(root.key_identifier, None, None), critical=False)
               .add_extension(x509.CRLNumber(number), critical=False))
    for entry in entries:
        revoked = x509.RevokedCertificateBuilder().serial_number(int(entry.serial, 16)).revocation_date(
            entry.revocation_date)
        if entry.reason != "unspecified":
            revoked = revoked.add_extension(x509.CRLReason(_reason_flag(entry.reason)), critical=False)
        builder = builder.add_revoked_certificate(revoked.build())
    try:
        lint_crl_obj = builder.sign(_throwaway_key(root.public_key), hash_algorithm)  # type: ignore[arg-type]
    except ValueError as exc:
        raise PolicyRefused(f"refused: the CRL cannot be built ({safe_text(str(exc), 120)})") from None
    lint_der = lint_crl_obj.public_bytes(serialization.Encoding.DER)
    tbs, sig_alg, issuer = _tbs_parts(lint_der)
    if issuer != root.raw_subject:
        raise PolicyRefused("refused: the root's subject cannot be reproduced byte for byte as the CRL's issuer")
    report = lint_crl(lint_der)
    if not report.clean:
        raise PolicyRefused(f"refused by the linter before signing: {report.summary()}")
    return CrlPlan(root=root, number=number, this_update=this_update, next_update=next_update, entries=entries,
                   hash_algorithm=hash_algorithm, signature_algorithm=oid_name(lint_crl_obj.signature_algorithm_oid),
                   tbs=tbs, signature_algorithm_der=sig_alg, lint=report, lint_crl=lint_der, notes=notes)


# ----------------------------------------------------------------------------- sign


@dataclass(frozen=True)
class SignedCrl:
    """The CRL as the root key signed it and as it verified, before the lint after signing."""

    plan: CrlPlan
    der: bytes

    @property
    def pem(self) -> bytes:
        import base64

        body = base64.encodebytes(self.der).decode("ascii").replace("\n", "")
        lines = [body[i:i + 64] for i in range(0, len(body), 64)]
        return ("-----BEGIN X509 CRL-----\n" + "\n".join(lines) + "\n-----END X509 CRL-----\n").encode("ascii")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.der).hexdigest()


def sign_crl_tbs(plan: CrlPlan, signer: RootSigner) -> SignedCrl:
    """Sign the planned TBS with the root signer, assemble, and check the result against the root
    certificate (the signature verifies with its key; the TBS is the planned one byte for byte)."""
    from cryptography import x509

    from byoroot_tui.core import der
    from byoroot_tui.core.signer import sign_as_root

    if not plan.lint.clean or _tbs_parts(plan.lint_crl)[0] != plan.tbs:
        raise PolicyRefused("refused: the CRL to sign is not the one that was linted; nothing was signed")
    signature = sign_as_root(signer, plan.root, plan.tbs, plan.hash_algorithm)
    crl_der = der.assemble_certificate(plan.tbs, plan.signature_algorithm_der, signature)  # the same outer SEQUENCE
    try:
        crl = x509.load_der_x509_crl(crl_der)
        valid = crl.is_signature_valid(plan.root.public_key)  # type: ignore[arg-type]
    except Exception:
        valid = False
    if not valid:
        raise ByorootError("the signed CRL's signature does not verify with the root certificate's key "
                           "(a key that is not the root's?); it was not recorded or written")
    if _tbs_parts(crl_der)[0] != plan.tbs:
        raise ByorootError("the signed CRL's TBS differs from the planned one; it was not recorded or written")
    return SignedCrl(plan, crl_der)


@dataclass(frozen=True)
class CrlRecord:
    """One CRL the root issued, as its `crl_issued` entry holds it: enough to write root.crl, its
    QR code and the sheet again without the key."""

    number: int
    sha256: str  # of the DER
    crl_pem: str
    this_update: str
    next_update: str
    entries: list[dict[str, str]]  # serial, reason, revocation_date, subject, sha256
    root_subject: str
    root_sha256: str
    signature_algorithm: str
    tbs_sha256: str
    officers: list[str]
    time: str = ""

    @property
    def der(self) -> bytes:
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        return x509.load_pem_x509_crl(self.crl_pem.encode("ascii")).public_bytes(Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.crl_pem.encode("ascii")

    def log_fields(self) -> dict[str, object]:
        return {"crl_number": self.number, "sha256": self.sha256, "crl": self.crl_pem, "this_update": self.this_update,
                "next_update": self.next_update, "entries": self.entries, "root_subject": self.root_subject,
                "root_sha256": self.root_sha256, "signature_algorithm": self.signature_algorithm,
                "tbs_sha256": self.tbs_sha256, "officers": self.officers}

    def as_dict(self) -> dict[str, object]:
        out = self.log_fields()
        out.pop("crl")
        return {**out, "time": self.time}

    @classmethod
    def from_signed(cls, signed: SignedCrl, officers: list[str]) -> CrlRecord:
        plan = signed.plan
        return cls(number=plan.number, sha256=signed.sha256, crl_pem=signed.pem.decode("ascii"),
                   this_update=iso(plan.this_update), next_update=iso(plan.next_update),
                   entries=[{k: str(v) for k, v in e.as_dict().items()} for e in plan.entries],
                   root_subject=plan.root.subject_text, root_sha256=plan.root.sha256,
                   signature_algorithm=plan.signature_algorithm, tbs_sha256=plan.tbs_sha256,
                   officers=[safe_text(o, 64) for o in officers])

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> CrlRecord:
        """From a `crl_issued` entry. The CRL must be there and match the entry's SHA-256."""
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        number = entry.get("crl_number")
        pem = entry.get("crl")
        if not isinstance(pem, str) or not pem.startswith("-----BEGIN X509 CRL-----"):
            raise ByorootError(f"the crl_issued entry of CRL number {safe_text(str(number), 30)} holds no CRL")
        try:
            der_bytes = x509.load_pem_x509_crl(pem.encode("ascii")).public_bytes(Encoding.DER)
        except (ValueError, UnicodeEncodeError):
            raise ByorootError(f"the CRL in the crl_issued entry of number {safe_text(str(number), 30)} does not parse") from None
        if hashlib.sha256(der_bytes).hexdigest() != entry.get("sha256") or not isinstance(number, int):
            raise ByorootError(f"the CRL in the crl_issued entry of number {safe_text(str(number), 30)} does not match "
                               "its SHA-256")

        def text(key: str) -> str:
            value = entry.get(key, "")
            return safe_text(value) if isinstance(value, str) else ""

        listed = entry.get("entries")
        entries = [{safe_text(str(k)): safe_text(str(v)) for k, v in e.items()} for e in listed if isinstance(e, dict)] \
            if isinstance(listed, list) else []
        officers = entry.get("officers")
        return cls(number=number, sha256=text("sha256"), crl_pem=pem, this_update=text("this_update"),
                   next_update=text("next_update"), entries=entries, root_subject=text("root_subject"),
                   root_sha256=text("root_sha256"), signature_algorithm=text("signature_algorithm"),
                   tbs_sha256=text("tbs_sha256"),
                   officers=[safe_text(o) for o in officers if isinstance(o, str)] if isinstance(officers, list) else [],
                   time=text("time"))


@dataclass(frozen=True)
class IssuedCrl:
    """A CRL signed, verified, recorded and linted again: ready to be written."""

    plan: CrlPlan
    der: bytes
    record: CrlRecord  # as the `crl_issued` entry holds it
    lint: LintReport

    @property
    def sha256(self) -> str:
        return self.record.sha256

    def as_dict(self) -> dict[str, object]:
        return {**self.plan.as_dict(), "sha256": self.sha256, "post_sign_lint": self.lint.as_dict()}


class CrlProgress:
    """How far `sign_crl` got, for a caller that must say what is where after a failure or a
    signal: the `crl_signing` entry, the key open, the `crl_issued` record."""

    def __init__(self) -> None:
        self.signing_logged = False
        self.key_open = False
        self.record: CrlRecord | None = None


def plan_fields(plan: CrlPlan, officers: list[str]) -> dict[str, object]:
    """The public facts of a planned CRL, as the `crl_signing` entry holds them."""
    return {"crl_number": plan.number, "this_update": iso(plan.this_update), "next_update": iso(plan.next_update),
            "root_sha256": plan.root.sha256, "tbs_sha256": plan.tbs_sha256,
            "serials": [e.serial for e in plan.entries], "officers": [safe_text(o, 64) for o in officers]}


class CrlNotRecorded(ByorootError):
    """The root key signed the CRL, but the station log could not take the `crl_issued` entry:
    nothing was written to any medium."""


KeySource = Union["KeyRef", Callable[[], "RootSigner"]]


def sign_crl(plan: CrlPlan, key: KeySource, officers: list[str], log_path: str | os.PathLike[str], *,
             secret: bytearray | None = None, progress: Callable[[str], object] = lambda stage: None,
             state: CrlProgress | None = None) -> IssuedCrl:
    """The CRL ceremony after the review: the `crl_signing` entry, then the root key (``key``: a
    `KeyRef` opened with ``secret``, which is wiped, or a function that opens a `RootSigner`) signs
    the planned TBS (`keyref.sign_with`: the key is closed right after), the signature is verified
    with the root certificate's key, the `crl_issued` entry records the CRL, and it is linted
    again. ``progress`` hears "sign" and "drop" as `keyref.sign_with` says. Raises `ByorootError`
    saying what is where: before the `crl_issued` entry nothing was written anywhere; after it
    the CRL is in the station log (`export_crl` writes it from there, `find_crl`)."""
    from byoroot_tui.core.keyref import open_signer, sign_with
    from byoroot_tui.core.lint import lint_crl
    from byoroot_tui.core.officers import check_two_officers
    from byoroot_tui.core.stationlog import append_entry, append_event

    from byoroot_tui.core.secretbuf import wipe

    state = state or CrlProgress()
    try:  # the secret is wiped whatever happens, even when the key is never opened
        officers = check_two_officers(officers, "the CRL ceremony")
        append_event(log_path, "crl_signing", plan_fields(plan, officers))  # the record comes first
    except BaseException:
        wipe(secret)
        raise
    state.signing_logged = True
    opener = key if callable(key) else (lambda: open_signer(key, secret))  # type: ignore[arg-type]

    def opened() -> RootSigner:
        signer = opener()  # type: ignore[operator]
        state.key_open = True
        return signer

    def record(signed: SignedCrl) -> None:
        rec = CrlRecord.from_signed(signed, officers)
        try:
            entries = read_entries(log_path)
            if any(e.get("event") == "crl_issued" and e.get("crl_number") == rec.number for e in entries):
                raise ByorootError(f"the station log already holds CRL number {rec.number}")
            _, entry = append_entry(log_path, "crl_issued", rec.log_fields())
        except ByorootError as exc:
            raise CrlNotRecorded(
                f"the root key signed CRL number {rec.number} (SHA-256 {rec.sha256}) but the station log could not "
                f"record it: {exc}; nothing was written to any medium and the CRL was discarded") from None
        state.record = CrlRecord.from_entry(entry)

    signed = sign_with(opened, plan.root, lambda signer: sign_crl_tbs(plan, signer), progress=progress,
                       on_signed=record)
    assert state.record is not None
    report = lint_crl(signed.der)
    if not report.clean:
        raise PolicyRefused(f"the signed CRL failed the linter: {report.summary()}; CRL number {plan.number} is signed "
                            "and in the station log but was not written")
    return IssuedCrl(plan, signed.der, state.record, report)


def find_crl(log_path: str | os.PathLike[str], number: int | None = None) -> CrlRecord:
    """A CRL from its `crl_issued` entry: ``number``, or the last one issued."""
    from byoroot_tui.core.ledger import issued_crls

    entries = read_entries(log_path)
    good = {c.number for c in issued_crls(entries)}
    found = [e for e in entries if e.get("event") == "crl_issued" and e.get("crl_number") in good
             and (number is None or e.get("crl_number") == number)]
    if not found:
        which = f"number {number}" if number is not None else "at all"
        raise ByorootError(f"no CRL {which} in the station log {safe_text(str(log_path))!r}")
    return CrlRecord.from_entry(max(found, key=lambda e: int(e["crl_number"])))


# ----------------------------------------------------------------------------- export

CRL_NAME = "root.crl"
CRL_PEM_NAME = "root.crl.pem"
CRL_QR_NAME = "root-crl-fingerprint.png"
CRL_SHEET_NAME = "crl-ceremony-record.txt"
CRL_PDF_NAME = "crl-ceremony-record.pdf"
CRL_EXPORT_NAMES = (CRL_NAME, CRL_PEM_NAME, CRL_QR_NAME, CRL_SHEET_NAME, CRL_PDF_NAME)


@dataclass(frozen=True)
class CrlExported:
    files: list[Path]  # in CRL_EXPORT_NAMES order
    sheet_text: str
    log_head: str | None  # after the `exported` entry
    sheet_head: str | None  # printed on the sheet
    notes: tuple[str, ...] = ()

    @property
    def crl(self) -> Path:
        return self.files[0]


def how_to_export_crl_again(record: CrlRecord, log_path: str | os.PathLike[str] | None = None) -> str:
    from byoroot_tui.core.stationlog import default_log_path

    log = ""
    if log_path is not None and os.path.abspath(log_path) != os.path.abspath(default_log_path()):
        log = f" --log {safe_text(os.path.abspath(log_path))}"
    return (f"CRL number {record.number} is in the station log: `byoroot export-crl {record.number} --out DIR{log}` "
            "writes it again, without the key")


def crl_is_demo(rec: CrlRecord) -> bool:
    """Signed by `byoroot demo`'s throwaway root (its subject): the sheets say DEMO."""
    from byoroot_tui.core.demo import DEMO_ROOT_NAME

    return rec.root_subject.startswith(f"CN={DEMO_ROOT_NAME},")


def describe_crl_file(path: Path, limit: int = 4 * 1024 * 1024) -> str:
    """One safe line naming the CRL in ``path`` (issuer, number, thisUpdate), for the question
    before it is replaced. Read without following a link; never raises."""
    from byoroot_tui.core.files import read_without_following

    try:
        data = read_without_following(path, limit)
    except InputRefused as exc:
        return f"{safe_text(path.name)}: {exc}"
    try:
        from cryptography import x509

        crl = x509.load_pem_x509_crl(data) if b"-----BEGIN X509 CRL-----" in data else x509.load_der_x509_crl(data)
        try:
            number = str(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
        except x509.ExtensionNotFound:
            number = "(none)"
        return (f"{safe_text(path.name)}: issuer {safe_text(crl.issuer.rfc4514_string(), 200)}, CRL number {number}, "
                f"this update {crl.last_update_utc.strftime('%Y-%m-%d %H:%M UTC')}, {len(crl)} revoked")
    except Exception:
        return f"{safe_text(path.name)}: not a CRL that can be read"


def render_crl_sheet(rec: CrlRecord, *, log_head: str | None, crl_path: str, when: datetime, host: str) -> str:
    """The printable CRL ceremony sheet (80 columns, UTF-8), from the CRL's log record."""
    from byoroot_tui.core.record import WIDTH, _field, _hash_field, fingerprint_page, sheet_head

    rule, thin = "=" * WIDTH, "-" * WIDTH
    out = sheet_head("root CRL issued", crl_is_demo(rec), when, host, "CRL file:", crl_path, rec.time)
    out.append(thin)
    out.append("ROOT (ISSUER)")
    out += _field("Subject:", rec.root_subject)
    out += _hash_field("Certificate SHA-256:", rec.root_sha256)
    out.append(thin)
    out.append("CERTIFICATE REVOCATION LIST")
    out += _field("CRL number:", str(rec.number))
    out += _field("thisUpdate:", rec.this_update)
    out += _field("nextUpdate:", rec.next_update)
    out += _field("Signature:", rec.signature_algorithm)
    out += _field("Revoked:", f"{len(rec.entries)} certificate{'' if len(rec.entries) == 1 else 's'}")
    for e in rec.entries:
        out += _field("  Serial:", e.get("serial", ""))
        out += _field("    Subject:", e.get("subject", ""))
        out += _field("    Reason:", e.get("reason", "") + (" (no reasonCode)" if e.get("reason") == "unspecified" else ""))
        out += _field("    Revoked (UTC):", e.get("revocation_date", ""))
    out += fingerprint_page(rec.sha256, CRL_NAME, log_head)
    out.append(thin)
    names = [n for n in rec.officers if n.strip()]
    out.append("OFFICERS: I reviewed the CRL above before it was signed: its number, its dates")
    out.append("and every revoked certificate.")
    for number, name in enumerate(names, start=1):
        out.append("")
        out += _field(f"Officer {number}:", safe_text(name, 64))
        out.append(f"{'Signature:':<22}{'_' * 36}   Date: _____________")
    out.append(rule)
    return "\n".join(out) + "\n"


def export_crl(record: CrlRecord, directory: str | os.PathLike[str], *, log_path: str | os.PathLike[str] | None,
               overwrite: bool = False, cancel: object = None, paper: str = "a4") -> CrlExported:
    """Write root.crl (DER), root.crl.pem, its QR PNG and the CRL ceremony sheet (text and PDF)
    of a CRL already in the station log, all or none; log `exported` (each file's SHA-256) or
    `export_failed`. No key. The same for the first export and every later one (`byoroot
    export-crl`). On a failure or an interrupt (`interrupts.Interrupted`, re-raised with
    ``message`` set) nothing of this export is left (or the message names what is)."""
    from byoroot_tui.core.export import SetFailed, describe_left, write_file_set
    from byoroot_tui.core.fingerprint import qr_matrix, qr_png
    from byoroot_tui.core.interrupts import Interrupted
    from byoroot_tui.core.record import _current_head, append_quietly, preflight, software_line
    from byoroot_tui.core.sheetpdf import render_crl_pdf

    folder = Path(directory)
    shown = safe_text(str(folder))
    notes: list[str] = []
    writing = False
    facts = {"crl_number": record.number, "sha256": record.sha256, "out": shown}
    try:
        notes += preflight(folder, log_path, overwrite, names=CRL_EXPORT_NAMES)
        head = _current_head(log_path)
        when, host = utcnow(), safe_text(socket.gethostname(), 60)
        crl_path = folder / CRL_NAME
        text = render_crl_sheet(record, log_head=head, crl_path=str(crl_path), when=when, host=host)
        pdf = render_crl_pdf(record, log_head=head, crl_path=safe_text(str(crl_path)), when=when, host=host,
                             software=software_line(), paper=paper, demo=crl_is_demo(record))
        files = [(CRL_NAME, record.der), (CRL_PEM_NAME, record.pem), (CRL_QR_NAME, qr_png(qr_matrix(record.sha256))),
                 (CRL_SHEET_NAME, text.encode("utf-8")), (CRL_PDF_NAME, pdf)]
        writing = True
        paths = write_file_set(folder, files, overwrite=overwrite, cancel=cancel)
    except Interrupted as exc:
        left, restored = getattr(exc, "left", []), getattr(exc, "restored", [])
        reason = f"interrupted by {exc.name} while writing to {shown!r}"
        append_quietly(log_path, "export_failed", {**facts, "reason": reason, "interrupted": exc.name,
                                                   "left": [safe_text(str(p)) for p in left],
                                                   "restored": [safe_text(str(p)) for p in restored]})
        exc.message = (f"{reason}{describe_left(left, restored)}; the CRL is signed and in the station log; "  # type: ignore[attr-defined]
                       f"{how_to_export_crl_again(record, log_path)}")
        raise
    except ByorootError as exc:
        left, restored = getattr(exc, "left", []), getattr(exc, "restored", [])
        append_quietly(log_path, "export_failed", {**facts, "reason": str(exc),
                                                   "left": [safe_text(str(p)) for p in left],
                                                   "restored": [safe_text(str(p)) for p in restored]})
        message = str(exc)
        if not isinstance(exc, SetFailed):
            message += "; nothing of this export is left on the medium" if writing else "; nothing was written"
        message += f"; the CRL is signed and in the station log but not written; {how_to_export_crl_again(record, log_path)}"
        if isinstance(exc, TargetExists):
            raise TargetExists(message) from None
        raise ExportFailed(message) from None
    new_head = append_quietly(log_path, "exported", {
        **facts, "files": [{"name": name, "sha256": hashlib.sha256(data).hexdigest()} for name, data in files]})
    if log_path is not None and new_head is None:
        notes.append("the files are written, but the station log could not record this export "
                     "(the CRL itself is on the log)")
    return CrlExported(paths, text, new_head or head, head, tuple(notes))


def sign_and_record_crl(plan: CrlPlan, ref: KeySource, secret: bytearray | None, officers: list[str],
                        log_path: str | os.PathLike[str], refusal_fields: dict[str, object],
                        progress: Callable[[str], object] = lambda stage: None) -> tuple[IssuedCrl, CrlRecord]:
    """`sign_crl` as the app runs it, with the refusal logged as `byoroot crl` logs it: a refusal
    is logged as `refused` (with ``refusal_fields``) and raised with its own type, saying nothing
    was issued; one after the `crl_issued` entry raises `SignedNotExported` (the CRL is in the
    log). A log that cannot take an entry raises without a second attempt to log."""
    from byoroot_tui.core.errors import LogRefused, SignedNotExported
    from byoroot_tui.core.interrupts import Interrupted
    from byoroot_tui.core.stationlog import log_refusal

    state = CrlProgress()
    try:
        issued = sign_crl(plan, ref, officers, log_path, secret=secret, progress=progress, state=state)
    except (CrlNotRecorded, LogRefused):
        raise
    except (ByorootError, Interrupted) as exc:
        fields = {**refusal_fields, "crl_number": plan.number}
        if isinstance(exc, ByorootError):
            reason = str(exc)
        elif state.record is not None:
            reason = f"interrupted by {exc.name} after signing, before anything was written"
        elif state.key_open:
            reason = f"interrupted by {exc.name} while the root key was open: no CRL was issued or written"
        else:
            reason = f"interrupted by {exc.name} before the root key was used: nothing was signed or written"
        if state.record is not None:
            fields["sha256"] = state.record.sha256
            if "station log" not in reason:
                reason = f"{reason}; CRL number {state.record.number} is signed and in the station log but was not written"
        reason = log_refusal(log_path, fields, reason)
        if state.record is not None:
            raise SignedNotExported(reason) from None
        raise (type(exc)(reason) if isinstance(exc, ByorootError) else ByorootError(reason)) from None
    return issued, issued.record
