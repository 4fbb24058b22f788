"""The printable ceremony sheet: what was issued, by whom, from what, with every fingerprint.

Plain text, at most 80 columns, UTF-8 (the QR code uses block characters), one or two pages.
"""

from __future__ import annotations

import os
import socket
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from byoroot_tui.core.errors import ByorootError, ExportFailed
from byoroot_tui.core.export import check_writable_target, write_new_file
from byoroot_tui.core.fingerprint import grouped_hex, pgp_words, qr_matrix, qr_png, qr_text
from byoroot_tui.core.issue import Issued
from byoroot_tui.core.root import iso, utcnow
from byoroot_tui.core.text import safe_text

WIDTH = 80
LABEL = 22


def _width(text: str) -> int:
    """Columns on a terminal or printer: East Asian wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def _wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap by display width; words wider than a line are broken."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        while _width(word) > width:  # break an over-long word
            room = width - _width(line) - (1 if line else 0)
            if room <= 0:
                lines.append(line)
                line, room = "", width
            cut, used = 0, 0
            while cut < len(word) and used + _width(word[cut]) <= room:
                used += _width(word[cut])
                cut += 1
            line = f"{line} {word[:cut]}" if line else word[:cut]
            lines.append(line)
            line, word = "", word[cut:]
        candidate = f"{line} {word}" if line else word
        if _width(candidate) <= width:
            line = candidate
        else:
            lines.append(line)
            line = word
    lines.append(line)
    return lines


def _field(label: str, value: str) -> list[str]:
    """``label`` then ``value`` wrapped to the sheet's width, continuation lines indented.

    A label too long for the label column gets a line of its own.
    """
    lines = _wrap(value, WIDTH - LABEL) or [""]
    if len(label) >= LABEL:
        return [label] + [" " * LABEL + line for line in lines]
    out = [f"{label:<{LABEL}}{lines[0]}"]
    out += [" " * LABEL + line for line in lines[1:]]
    return out


def _hash_field(label: str, hex_digest: str) -> list[str]:
    """A SHA-256 as two lines of eight 4-digit groups, aligned after the label."""
    first, second = grouped_hex(hex_digest, per_line=8).split("\n")
    return [f"{label:<{LABEL}}{first}", " " * LABEL + second]


def _words_lines(words: list[str]) -> list[str]:
    """The words in order, as many to a line as fit in 80 columns, each line numbered."""
    lines: list[str] = []
    i = 0
    while i < len(words):
        j = i + 1
        while j < len(words) and len(f"  {i + 1:>2}-{j + 1:<2} " + " ".join(words[i : j + 1])) <= WIDTH:
            j += 1
        lines.append(f"  {i + 1:>2}-{j:<2} " + " ".join(words[i:j]))
        i = j
    return lines


def render_sheet(
    issued: Issued,
    *,
    csr_file: str,
    officers: list[str],
    log_head: str | None,
    certificate_path: str,
    when: datetime | None = None,
    host: str | None = None,
) -> str:
    plan = issued.plan
    when = when or utcnow()
    host = safe_text(host or socket.gethostname(), 60)
    local = when.astimezone()
    rule = "=" * WIDTH
    thin = "-" * WIDTH
    out = [rule, "OFFLINE ROOT CA KEY CEREMONY RECORD  -  intermediate CA issued".center(WIDTH).rstrip(), rule]
    out += _field("Date (UTC):", iso(when))
    out += _field("Date (local):", local.strftime("%Y-%m-%d %H:%M:%S %Z (UTC%z)"))
    out += _field("Station:", host)
    out += _field("Certificate file:", safe_text(certificate_path))
    out.append(thin)
    out.append("REQUEST")
    out += _field("CSR file:", safe_text(csr_file))
    out += _hash_field("CSR SHA-256 (DER):", plan.csr.sha256)
    out += _field("Subject:", plan.subject_text)
    out += _field("Public key:", f"{plan.csr.key_algorithm} {plan.csr.key_size}")
    out.append(thin)
    out.append("PROFILE")
    out += _field("Name:", f"{plan.profile.name} ({safe_text(plan.profile.source)})")
    for label, value in plan.profile.describe():
        out += _field(f"  {label}:", value)
    out.append(thin)
    out.append("ROOT")
    out += _field("Subject:", plan.root.subject_text)
    out += _hash_field("Certificate SHA-256:", plan.root.sha256)
    out.append(thin)
    out.append("ISSUED CERTIFICATE")
    out += _field("Serial:", plan.serial_hex)
    out += _field("Not before:", iso(plan.not_before))
    out += _field("Not after:", iso(plan.not_after))
    out += _field("Signature:", plan.signature_algorithm)
    for warning in plan.warnings:
        out += _field("Warning:", warning)
    out.append("")
    out.append("SHA-256 FINGERPRINT OF intermediate.crt (DER)")
    out.append("  " + grouped_hex(issued.sha256, per_line=8).replace("\n", "\n  "))
    out.append("")
    out.append("  as PGP words (read aloud in order):")
    out += _words_lines(pgp_words(issued.sha256))
    out.append("")
    qr = qr_text(qr_matrix(issued.sha256), for_paper=True)
    pad = max(0, (WIDTH - len(qr[0])) // 2)
    out += [(" " * pad + line).rstrip() for line in qr]  # the quiet zone is blank paper
    out.append(f"{'QR payload: the fingerprint in lowercase hex':^{WIDTH}}".rstrip())
    out.append(thin)
    out += _hash_field("Station log head:", log_head) if log_head else _field("Station log head:", "(no station log)")
    out.append(thin)
    out.append("OFFICERS: I reviewed the certificate above before it was signed, and compared")
    out.append("its fingerprint with what the hosted CA shows.")
    for number, name in enumerate(officers, start=1):
        out.append("")
        out += _field(f"Officer {number}:", safe_text(name, 64))
        out.append(f"{'Signature:':<{LABEL}}{'_' * 36}   Date: _____________")
    out.append(rule)
    return "\n".join(out) + "\n"


CERT_NAME = "intermediate.crt"
QR_NAME = "intermediate-fingerprint.png"
SHEET_NAME = "ceremony-record.txt"
EXPORT_NAMES = (CERT_NAME, QR_NAME, SHEET_NAME)


@dataclass(frozen=True)
class Exported:
    certificate: Path
    qr_png: Path
    sheet: Path
    sheet_text: str
    log_head: str | None


def check_export_targets(directory: str | os.PathLike[str], overwrite: bool = False) -> None:
    """Before signing: the folder exists and none of the files is there (unless overwriting)."""
    for name in EXPORT_NAMES:
        check_writable_target(directory, name, overwrite)


def issued_log_fields(issued: Issued, officers: list[str], csr_file: str, directory: str) -> dict[str, object]:
    plan = issued.plan
    return {
        "csr_file": safe_text(csr_file),
        "csr_sha256": plan.csr.sha256,
        "subject": plan.subject_text,
        "profile": plan.profile.name,
        "root_sha256": plan.root.sha256,
        "serial": plan.serial_hex,
        "not_before": iso(plan.not_before),
        "not_after": iso(plan.not_after),
        "sha256": issued.sha256,
        "officers": [safe_text(o, 64) for o in officers],
        "out": safe_text(directory),
    }


def export_ceremony(
    issued: Issued,
    directory: str | os.PathLike[str],
    *,
    officers: list[str],
    csr_file: str,
    log_path: str | os.PathLike[str] | None,
    overwrite: bool = False,
) -> Exported:
    """Write intermediate.crt, the QR PNG and the ceremony sheet; log the issuance.

    Order: certificate, QR, log entry ("issued"), then the sheet, which carries the log's head
    after that entry. Any failure removes the files this call wrote and logs "export_failed",
    so a retry (onto this or another medium) starts clean and never needs a new signature.
    """
    from byoroot_tui.core.stationlog import append_event

    folder = Path(directory)
    written: list[Path] = []
    try:
        check_export_targets(folder, overwrite)
        written.append(write_new_file(folder, CERT_NAME, issued.pem, overwrite=overwrite))
        written.append(write_new_file(folder, QR_NAME, qr_png(qr_matrix(issued.sha256)), overwrite=overwrite))
        head = None
        if log_path is not None:
            head = append_event(log_path, "issued", issued_log_fields(issued, officers, csr_file, str(folder)))
        text = render_sheet(issued, csr_file=csr_file, officers=officers, log_head=head,
                            certificate_path=str(written[0]))
        written.append(write_new_file(folder, SHEET_NAME, text.encode("utf-8"), overwrite=overwrite))
        return Exported(written[0], written[1], written[2], text, head)
    except ByorootError as exc:
        for path in written:
            try:
                os.unlink(path)
            except OSError:
                pass
        if log_path is not None:
            try:
                append_event(log_path, "export_failed", {
                    "sha256": issued.sha256, "serial": issued.plan.serial_hex,
                    "out": safe_text(str(folder)), "reason": str(exc),
                })
            except ByorootError:
                pass
        if isinstance(exc, ExportFailed) or not written:
            raise
        raise ExportFailed(f"{exc}; the files written were removed") from None


def print_sheet(sheet: str | os.PathLike[str]) -> str:
    """Send the ceremony sheet to the default printer with CUPS' `lp`; return what to tell the officer.

    Without `lp` nothing is attempted: the message says where the sheet file is.
    """
    import shutil
    import subprocess

    path = Path(sheet)
    shown = safe_text(str(path))
    lp = shutil.which("lp")
    if lp is None:
        return f"No printing system (CUPS `lp`) on this station: the sheet is {shown}"
    try:
        done = subprocess.run([lp, "--", str(path)], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ByorootError(f"printing failed ({type(exc).__name__}); the sheet is {shown}") from None
    if done.returncode != 0:
        reason = safe_text(" ".join((done.stderr or done.stdout).split()), 160) or f"lp exited {done.returncode}"
        raise ByorootError(f"printing failed: {reason}; the sheet is {shown}")
    return "Sent to the printer: " + (safe_text(" ".join(done.stdout.split()), 160) or shown)
