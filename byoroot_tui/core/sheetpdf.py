"""The ceremony sheet as a PDF, for the printer: the same facts as the text sheet, laid out for paper.

Built with fpdf2 (see docs/DESIGN.md for why), the QR code drawn as vector squares from the
`qrcode` matrix (core.fingerprint.qr_matrix) and never split across pages. The PDF's built-in
fonts (Helvetica, Courier) cover Latin-1 only: any other character is printed as its ``\\uXXXX``
escape, so nothing is silently dropped or changed into a look-alike (the text sheet keeps the
exact text). Dates inside the PDF are the sheet's own, so the same facts give the same bytes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from byoroot_tui.core.fingerprint import grouped_hex, pgp_words, qr_matrix
from byoroot_tui.core.ledger import IssuedRecord
from byoroot_tui.core.root import iso

PAPERS = {"a4": "A4", "letter": "Letter"}
DEMO_MARK = "DEMO - throwaway root key; not a real ceremony"


def latin1(text: str) -> str:
    """``text`` with every character the built-in fonts lack written as ``\\uXXXX``."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\n":  # our own line breaks (grouped hex); hostile text reaches here through safe_text
            out.append(ch)
        elif code < 0x20 or 0x7F <= code < 0xA0:
            out.append(f"\\x{code:02x}")
        elif code > 0xFF:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


class _Sheet:
    """One A4 or Letter page (or more) of a ceremony sheet, with the few building blocks both
    sheets use: a line of text, a labelled field, a section rule, the fingerprint block (hex,
    PGP words and the QR code, kept on one page) and the officers' signature lines."""

    def __init__(self, paper: str, when: datetime, title: str) -> None:
        from fpdf import FPDF

        fmt = PAPERS.get(paper.lower())
        if fmt is None:
            from byoroot_tui.core.errors import InputRefused

            raise InputRefused(f"unknown paper {paper!r}: a4 or letter")
        pdf = self.pdf = FPDF(orientation="portrait", unit="mm", format=fmt)
        pdf.set_creation_date(when)
        pdf.set_title(title)
        pdf.set_creator("byoroot")
        pdf.set_margins(18, 16, 18)
        pdf.set_auto_page_break(True, margin=16)
        pdf.add_page()
        self.width = pdf.w - pdf.l_margin - pdf.r_margin

    def line(self, text: str, size: float = 10, style: str = "", font: str = "Helvetica", h: float = 5.0) -> None:
        from fpdf.enums import XPos, YPos

        self.pdf.set_font(font, style, size)
        self.pdf.multi_cell(self.width, h, latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def field(self, label: str, value: str, mono: bool = False) -> None:
        from fpdf.enums import XPos, YPos

        pdf = self.pdf
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(42, 5, latin1(label), new_x=XPos.RIGHT, new_y=YPos.TOP)
        pdf.set_font("Courier" if mono else "Helvetica", "", 9)
        pdf.multi_cell(self.width - 42, 5, latin1(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def section(self, title: str) -> None:
        pdf = self.pdf
        pdf.ln(2)
        pdf.set_draw_color(120)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + self.width, pdf.get_y())
        pdf.ln(1.5)
        self.line(title, size=10, style="B")

    def header(self, what: str, demo: bool, when: datetime, host: str, software: str | None, file_label: str,
               file_path: str, signed: str) -> None:
        """The top of the sheet: DEMO mark, title, date, station, software, the file written, when signed."""
        if demo:
            self.pdf.set_text_color(200, 0, 0)
            self.line(DEMO_MARK, size=14, style="B", h=7)
            self.pdf.set_text_color(0)
        self.line("OFFLINE ROOT CA KEY CEREMONY RECORD", size=15, style="B", h=8)
        self.line(what, size=11, h=6)
        self.pdf.ln(1)
        self.field("Date (UTC):", iso(when))
        self.field("Station:", host)
        if software:
            self.field("Software:", software)
        self.field(file_label, file_path)
        if signed:
            self.field("Signed (UTC):", signed)

    def fingerprint(self, sha256: str, file_name: str) -> None:
        """The fingerprint as hex, its PGP words and the QR code, together on one page."""
        from fpdf.enums import XPos, YPos

        pdf, width = self.pdf, self.width
        matrix = qr_matrix(sha256)
        module = 1.4  # mm: a 41-module symbol with its quiet zone is ~57 mm
        qr_size = len(matrix) * module
        block = 8 + 2 * 7 + 6 + 4 * 5.5 + 4 + qr_size + 6
        if pdf.get_y() + block > pdf.h - pdf.b_margin:
            pdf.add_page()
        self.section(f"SHA-256 FINGERPRINT OF {file_name} (DER)")
        pdf.set_font("Courier", "B", 13)
        for row in grouped_hex(sha256, per_line=8).split("\n"):
            pdf.cell(width, 7, row, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.line("as PGP words (read aloud in order):", size=9, h=6)
        words = pgp_words(sha256)
        pdf.set_font("Courier", "", 9.5)
        for i in range(0, len(words), 8):
            pdf.cell(width, 5.5, f"{i + 1:>2}-{i + 8:<2} " + " ".join(words[i : i + 8]), new_x=XPos.LMARGIN,
                     new_y=YPos.NEXT)
        pdf.ln(4)
        x0 = pdf.l_margin + (width - qr_size) / 2
        y0 = pdf.get_y()
        pdf.set_fill_color(0)
        for r, row in enumerate(matrix):
            c = 0
            while c < len(row):  # one rectangle per run of dark modules
                if row[c]:
                    start = c
                    while c < len(row) and row[c]:
                        c += 1
                    pdf.rect(x0 + start * module, y0 + r * module, (c - start) * module, module, style="F")
                else:
                    c += 1
        pdf.set_y(y0 + qr_size)
        pdf.set_font("Helvetica", "", 8)
        pdf.cell(width, 5, "QR payload: the fingerprint in lowercase hex", align="C", new_x=XPos.LMARGIN,
                 new_y=YPos.NEXT)

    def log_head(self, head: str | None) -> None:
        self.section("STATION LOG")
        self.field("Head:", grouped_hex(head, per_line=8) if head else "(no station log)", mono=bool(head))
        if head:  # the export's own entry follows: the log's head moves on after this sheet is made
            self.field("That head is:", "the log as this sheet was made; check it with `byoroot log verify --includes`")

    def officers(self, names: list[str], statement: str, missing: str) -> None:
        """Each officer's name with a line to sign and date, under what they attest."""
        from fpdf.enums import XPos, YPos

        pdf, width = self.pdf, self.width
        names = [n for n in names if n.strip()]
        if pdf.get_y() + 30 + 22 * len(names) > pdf.h - pdf.b_margin:
            pdf.add_page()
        self.section("OFFICERS")
        if len(names) < 2:
            self.line(missing, size=9)
            return
        self.line(statement, size=9)
        for number, name in enumerate(names, start=1):
            pdf.ln(5)
            self.field(f"Officer {number}:", name)
            pdf.ln(7)
            y = pdf.get_y()
            pdf.line(pdf.l_margin + 42, y, pdf.l_margin + 42 + 80, y)
            pdf.line(pdf.l_margin + 130, y, pdf.l_margin + width, y)
            pdf.set_font("Helvetica", "", 7)
            pdf.set_xy(pdf.l_margin + 42, y + 0.5)
            pdf.cell(80, 4, "Signature")
            pdf.set_xy(pdf.l_margin + 130, y + 0.5)
            pdf.cell(30, 4, "Date", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def render_pdf(
    rec: IssuedRecord,
    *,
    log_head: str | None,
    certificate_path: str,
    when: datetime,
    host: str,
    software: str | None = None,
    paper: str = "a4",
    demo: bool = False,
) -> bytes:
    sheet = _Sheet(paper, when, "Offline root CA key ceremony record")
    field, section = sheet.field, sheet.section
    sheet.header("intermediate CA issued", demo, when, host, software, "Certificate file:", certificate_path, rec.time)

    section("REQUEST")
    field("CSR file:", rec.csr_file)
    field("CSR SHA-256 (DER):", grouped_hex(rec.csr_sha256, per_line=8), mono=True)
    field("Subject:", rec.subject)
    field("Public key:", rec.key)
    section("PROFILE")
    field("Name:", f"{rec.profile} ({rec.profile_source})")
    for label, value in rec.profile_settings:
        field(f"  {label}:", value)
    section("ROOT")
    field("Subject:", rec.root_subject)
    field("Certificate SHA-256:", grouped_hex(rec.root_sha256, per_line=8), mono=True)
    section("ISSUED CERTIFICATE")
    field("Serial:", rec.serial, mono=True)
    field("Not before:", rec.not_before)
    field("Not after:", rec.not_after)
    field("Signature:", rec.signature_algorithm)
    for warning in rec.warnings:
        field("Warning:", warning)

    sheet.fingerprint(rec.sha256, "intermediate.crt")
    sheet.log_head(log_head)
    sheet.officers(rec.officers, "I reviewed the certificate above before it was signed, and compared its "
                   "fingerprint with what the hosted CA shows.",
                   "Not recorded for this certificate (no two-officer review on record).")
    return sheet.output()


def render_crl_pdf(
    rec: object,
    *,
    log_head: str | None,
    crl_path: str,
    when: datetime,
    host: str,
    software: str | None = None,
    paper: str = "a4",
    demo: bool = False,
) -> bytes:
    """The CRL ceremony sheet as a PDF (``rec`` is a core.crl.CrlRecord): the same facts as the
    text sheet, the fingerprint block and QR never split across pages."""
    r: Any = rec
    sheet = _Sheet(paper, when, "Offline root CA key ceremony record: root CRL")
    field, section = sheet.field, sheet.section
    sheet.header("root CRL issued", demo, when, host, software, "CRL file:", crl_path, r.time)
    section("ROOT (ISSUER)")
    field("Subject:", r.root_subject)
    field("Certificate SHA-256:", grouped_hex(r.root_sha256, per_line=8), mono=True)
    section("CERTIFICATE REVOCATION LIST")
    field("CRL number:", str(r.number), mono=True)
    field("thisUpdate:", r.this_update)
    field("nextUpdate:", r.next_update)
    field("Signature:", r.signature_algorithm)
    field("Revoked:", f"{len(r.entries)} certificate{'' if len(r.entries) == 1 else 's'}")
    for e in r.entries:
        field("  Serial:", e.get("serial", ""), mono=True)
        field("    Subject:", e.get("subject", ""))
        field("    Reason:", e.get("reason", ""))
        field("    Revoked (UTC):", e.get("revocation_date", ""))

    sheet.fingerprint(r.sha256, "root.crl")
    sheet.log_head(log_head)
    sheet.officers(r.officers, "I reviewed the CRL above before it was signed: its number, dates and every "
                   "revoked certificate.", "Not recorded for this CRL (no two-officer review on record).")
    return sheet.output()
