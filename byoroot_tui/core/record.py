"""The printable ceremony sheet: what was issued, by whom, from what, with every fingerprint.

Plain text, at most 80 columns, UTF-8 (the QR code uses block characters), one or two pages.
"""

from __future__ import annotations

import hashlib
import os
import socket
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from byoroot_tui.core.errors import ByorootError, ExportFailed, TargetExists
from byoroot_tui.core.export import (SetFailed, check_writable_target, clean_stale, describe_left, probe_folder,
                                     write_file_set)
from byoroot_tui.core.fingerprint import grouped_hex, pgp_words, qr_matrix, qr_png, qr_text
from byoroot_tui.core.issue import Issued
from byoroot_tui.core.ledger import IssuedRecord
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


def _software() -> list[str]:
    """byoroot's version and its station bundle's manifest hash, or "development install"."""
    from byoroot_tui import __version__
    from byoroot_tui.core.software import DEVELOPMENT, manifest_sha256

    digest = manifest_sha256()
    if digest is None:
        return _field("Software:", f"byoroot {__version__} ({DEVELOPMENT})")
    return _field("Software:", f"byoroot {__version__}, from a station bundle") + _hash_field("Bundle manifest:", digest)


def sheet_head(what: str, demo: bool, when: datetime, host: str, file_label: str, file_path: str,
               signed: str) -> list[str]:
    """The top of a ceremony sheet (a certificate's or a CRL's): title, DEMO mark, dates, station,
    software, the file written and when it was signed."""
    rule = "=" * WIDTH
    out = [rule, f"OFFLINE ROOT CA KEY CEREMONY RECORD  -  {what}".center(WIDTH).rstrip(), rule]
    if demo:
        out += [DEMO_LINE.center(WIDTH).rstrip(), rule]
    out += _field("Date (UTC):", iso(when))
    out += _field("Date (local):", when.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z (UTC%z)"))
    out += _field("Station:", host)
    out += _software()
    out += _field(file_label, safe_text(file_path))
    if signed:
        out += _field("Signed (UTC):", signed)
    return out


def fingerprint_page(sha256: str, file_name: str, log_head: str | None) -> list[str]:
    """The fingerprint of ``file_name`` as hex, PGP words and QR, then the station log's head.

    It starts with a form feed: the fingerprint, its words and the QR start a page of their own,
    so a printer (CUPS' texttopdf breaks at 54-66 lines a page) never splits the QR."""
    out = ["\f", f"SHA-256 FINGERPRINT OF {file_name} (DER)", "  " + grouped_hex(sha256, per_line=8).replace("\n", "\n  "),
           "", "  as PGP words (read aloud in order):"]
    out += _words_lines(pgp_words(sha256))
    out.append("")
    qr = qr_text(qr_matrix(sha256), for_paper=True)
    pad = max(0, (WIDTH - len(qr[0])) // 2)
    out += [(" " * pad + line).rstrip() for line in qr]  # the quiet zone is blank paper
    out.append(f"{'QR payload: the fingerprint in lowercase hex':^{WIDTH}}".rstrip())
    out.append("-" * WIDTH)
    out += _hash_field("Station log head:", log_head) if log_head else _field("Station log head:", "(no station log)")
    if log_head:  # the export's own entry follows: the log's head moves on after this sheet is made
        out += _field("  That head is:", "the log as this sheet was made; check it with `byoroot log verify --includes`")
    return out


def render_sheet(
    issued: Issued | IssuedRecord,
    *,
    csr_file: str | None = None,
    officers: list[str] | None = None,
    log_head: str | None,
    certificate_path: str,
    when: datetime | None = None,
    host: str | None = None,
) -> str:
    """The sheet for a certificate, from its log record (an `Issued` is made into one first,
    with ``csr_file`` and ``officers``): the same sheet whether written at signing or again by
    `byoroot export`."""
    if not isinstance(issued, IssuedRecord):
        issued = IssuedRecord.from_signed(issued, officers or [], csr_file or "")
    rec = issued
    when = when or utcnow()
    host = safe_text(host or socket.gethostname(), 60)
    rule = "=" * WIDTH
    thin = "-" * WIDTH
    out = sheet_head("intermediate CA issued", is_demo(rec), when, host, "Certificate file:", certificate_path,
                     rec.time)
    out.append(thin)
    out.append("REQUEST")
    out += _field("CSR file:", safe_text(rec.csr_file))
    out += _hash_field("CSR SHA-256 (DER):", rec.csr_sha256)
    out += _field("Subject:", rec.subject)
    out += _field("Public key:", rec.key)
    out.append(thin)
    out.append("PROFILE")
    out += _field("Name:", f"{rec.profile} ({rec.profile_source})")
    for label, value in rec.profile_settings:
        out += _field(f"  {label}:", value)
    out.append(thin)
    out.append("ROOT")
    out += _field("Subject:", rec.root_subject)
    out += _hash_field("Certificate SHA-256:", rec.root_sha256)
    out.append(thin)
    out.append("ISSUED CERTIFICATE")
    out += _field("Serial:", rec.serial)
    out += _field("Not before:", rec.not_before)
    out += _field("Not after:", rec.not_after)
    out += _field("Signature:", rec.signature_algorithm)
    for warning in rec.warnings:
        out += _field("Warning:", warning)
    out += fingerprint_page(rec.sha256, "intermediate.crt", log_head)
    out.append(thin)
    names = [n for n in rec.officers if n.strip()]
    if len(names) >= 2:
        out.append("OFFICERS: I reviewed the certificate above before it was signed, and compared")
        out.append("its fingerprint with what the hosted CA shows.")
        for number, name in enumerate(names, start=1):
            out.append("")
            out += _field(f"Officer {number}:", safe_text(name, 64))
            out.append(f"{'Signature:':<{LABEL}}{'_' * 36}   Date: _____________")
    else:
        out.append("OFFICERS: not recorded for this certificate (no two-officer review on record).")
    out.append(rule)
    return "\n".join(out) + "\n"


CERT_NAME = "intermediate.crt"
QR_NAME = "intermediate-fingerprint.png"
SHEET_NAME = "ceremony-record.txt"
PDF_NAME = "ceremony-record.pdf"
EXPORT_NAMES = (CERT_NAME, QR_NAME, SHEET_NAME, PDF_NAME)
DEMO_LINE = "*** DEMO: throwaway root key, not a real ceremony ***"


def is_demo(rec: IssuedRecord) -> bool:
    """Issued by `byoroot demo`'s throwaway root (its subject): the sheets say DEMO."""
    from byoroot_tui.core.demo import DEMO_ROOT_NAME

    return rec.root_subject.startswith(f"CN={DEMO_ROOT_NAME},")


def software_line() -> str:
    """byoroot's version and how it was installed, in one line (the PDF's "Software:")."""
    from byoroot_tui import __version__
    from byoroot_tui.core.software import DEVELOPMENT, manifest_sha256

    digest = manifest_sha256()
    return f"byoroot {__version__} ({DEVELOPMENT})" if digest is None else \
        f"byoroot {__version__}, station bundle manifest {grouped_hex(digest, per_line=16)}"


@dataclass(frozen=True)
class Exported:
    certificate: Path
    qr_png: Path
    sheet: Path
    sheet_text: str
    log_head: str | None  # the log's head after this export was recorded
    sheet_head: str | None = None  # the head printed on the sheet (the log as it was when the sheet was made)
    notes: tuple[str, ...] = ()  # what the officers should know: stale files cleaned, a log that could not hear of it
    pdf: Path | None = None  # the sheet as a PDF, for the printer


def check_export_targets(directory: str | os.PathLike[str], overwrite: bool = False) -> None:
    """Before signing: the folder exists and none of the files is there (unless overwriting)."""
    for name in EXPORT_NAMES:
        check_writable_target(directory, name, overwrite)


def preflight(directory: str | os.PathLike[str], log_path: str | os.PathLike[str] | None,
              overwrite: bool = False, names: tuple[str, ...] = EXPORT_NAMES) -> list[str]:
    """Everything about the output and the log that can be checked before the key is touched.

    The station log is a regular file holding an intact chain (or can be created) and can be
    appended to; the folder exists and takes new files (an exclusive probe file, removed again);
    none of the files (``names``: the certificate's four, or the CRL's) is in the way (unless
    ``overwrite``). Temp files of ours left there by a
    killed export are removed first; returns what was done about them, one sentence each.
    """
    from byoroot_tui.core.errors import LogRefused
    from byoroot_tui.core.stationlog import check_appendable

    folder = Path(directory)
    if log_path is not None:
        log_real = os.path.join(os.path.realpath(os.path.dirname(os.path.abspath(log_path))), os.path.basename(log_path))
        for name in names:
            if log_real == os.path.join(os.path.realpath(folder), name):
                raise LogRefused(f"the station log {safe_text(str(log_path))!r} would be {name}, one of the files "
                                 "the export writes; keep the log apart from the output folder's files")
        check_appendable(log_path)
    if not folder.is_dir():
        raise ExportFailed(f"cannot write to {safe_text(str(folder))!r}: not an existing folder")
    notes = clean_stale(folder, names)
    probe_folder(folder)
    for name in names:
        check_writable_target(folder, name, overwrite)
    return notes


def append_quietly(log_path: str | os.PathLike[str] | None, event: str, fields: dict[str, object]) -> str | None:
    """Append an entry after the fact (exported / export_failed); None if the log could not take it."""
    from byoroot_tui.core.interrupts import deferred
    from byoroot_tui.core.stationlog import append_event

    if log_path is None:
        return None
    try:
        with deferred(reraise=False):  # a signal now does not turn a done export into a failed one
            return append_event(log_path, event, fields)
    except ByorootError:
        return None


def _current_head(log_path: str | os.PathLike[str] | None) -> str | None:
    from byoroot_tui.core.stationlog import verify_log

    if log_path is None or not Path(log_path).exists():
        return None
    check = verify_log(log_path)
    return check.head if check.ok else None


def how_to_export_again(record: IssuedRecord, log_path: str | os.PathLike[str] | None = None) -> str:
    """The sentence that tells the officers how to get the certificate out of the log again."""
    from byoroot_tui.core.stationlog import default_log_path

    log = ""
    if log_path is not None and os.path.abspath(log_path) != os.path.abspath(default_log_path()):
        log = f" --log {safe_text(os.path.abspath(log_path))}"
    return (f"the certificate (serial {record.serial}) is in the station log: "
            f"`byoroot export {record.serial} --out DIR{log}` writes it again, without the key")


def export_record(
    record: IssuedRecord,
    directory: str | os.PathLike[str],
    *,
    log_path: str | os.PathLike[str] | None,
    overwrite: bool = False,
    cancel: object = None,
    paper: str = "a4",
) -> Exported:
    """Write intermediate.crt, the QR PNG and the ceremony sheet (text and PDF, on ``paper``:
    a4 or letter) of a certificate already on the
    station log, all or none; log the attempt (`exported` with each file's SHA-256, or
    `export_failed` with what happened and what is left where). No key, no new signature: the
    same path for the first export, a retry, another folder, a copy and `byoroot export`.

    On a failure or an interrupt (`interrupts.Interrupted`) every file this call created is
    removed and files it replaced are put back; the error's message names anything that could
    not be. The interrupt is re-raised with ``message`` set to that one line.
    """
    from byoroot_tui.core.interrupts import Interrupted

    folder = Path(directory)
    shown = safe_text(str(folder))
    notes: list[str] = []
    writing = False
    try:
        notes += preflight(folder, log_path, overwrite)
        head = _current_head(log_path)
        cert_path = folder / CERT_NAME
        when, host = utcnow(), safe_text(socket.gethostname(), 60)
        text = render_sheet(record, log_head=head, certificate_path=str(cert_path), when=when, host=host)
        from byoroot_tui.core.sheetpdf import render_pdf

        pdf = render_pdf(record, log_head=head, certificate_path=safe_text(str(cert_path)), when=when, host=host,
                         software=software_line(), paper=paper, demo=is_demo(record))
        files = [(CERT_NAME, record.pem), (QR_NAME, qr_png(qr_matrix(record.sha256))), (SHEET_NAME, text.encode("utf-8")),
                 (PDF_NAME, pdf)]
        writing = True  # from here on files may have been made (and removed again on failure)
        paths = write_file_set(folder, files, overwrite=overwrite, cancel=cancel)
    except Interrupted as exc:
        left = getattr(exc, "left", [])
        restored = getattr(exc, "restored", [])
        reason = f"interrupted by {exc.name} while writing to {shown!r}"
        append_quietly(log_path, "export_failed", {
            "serial": record.serial, "sha256": record.sha256, "out": shown, "reason": reason,
            "interrupted": exc.name, "left": [safe_text(str(p)) for p in left],
            "restored": [safe_text(str(p)) for p in restored]})
        exc.message = f"{reason}{describe_left(left, restored)}; {how_to_export_again(record, log_path)}"  # type: ignore[attr-defined]
        raise
    except ByorootError as exc:
        left = getattr(exc, "left", [])
        restored = getattr(exc, "restored", [])
        append_quietly(log_path, "export_failed", {
            "serial": record.serial, "sha256": record.sha256, "out": shown, "reason": str(exc),
            "left": [safe_text(str(p)) for p in left], "restored": [safe_text(str(p)) for p in restored]})
        message = str(exc)
        if not isinstance(exc, SetFailed):  # SetFailed says what is left itself
            message += "; nothing of this export is left on the medium" if writing else "; nothing was written"
        if isinstance(exc, TargetExists):
            raise TargetExists(f"{message}; {how_to_export_again(record, log_path)}") from None
        raise ExportFailed(f"{message}; {how_to_export_again(record, log_path)}") from None
    new_head = append_quietly(log_path, "exported", {
        "serial": record.serial, "sha256": record.sha256, "out": shown,
        "files": [{"name": name, "sha256": hashlib.sha256(data).hexdigest()} for name, data in files]})
    if log_path is not None and new_head is None:
        notes.append("the files are written, but the station log could not record this export "
                     "(the certificate itself is on the log)")
    return Exported(paths[0], paths[1], paths[2], text, new_head or head, head, tuple(notes), pdf=paths[3])


def export_ceremony(
    issued: Issued,
    directory: str | os.PathLike[str],
    *,
    officers: list[str],
    csr_file: str,
    log_path: str | os.PathLike[str] | None,
    overwrite: bool = False,
    cancel: object = None,
    paper: str = "a4",
) -> Exported:
    """Record the certificate (`issued`, once: not again if the log already holds it), then
    `export_record`. For callers that signed with `issue.sign_plan`; `byoroot sign` and the app
    record the certificate themselves, before the lint after signing."""
    from byoroot_tui.core.ledger import find_issued, record_issued

    record = IssuedRecord.from_signed(issued, officers, csr_file)
    if log_path is not None:
        try:
            record = find_issued(log_path, record.serial)
        except ByorootError:
            record = record_issued(log_path, record)
    return export_record(record, directory, log_path=log_path, overwrite=overwrite, cancel=cancel, paper=paper)


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
