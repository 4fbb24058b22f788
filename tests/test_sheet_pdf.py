"""Issue 16, part 1: the ceremony sheet on paper.

`ceremony-record.pdf` is read back with poppler (`pdfinfo`, `pdftotext`, `pdftoppm`) and its QR
decoded with `zbarimg`; the text sheet goes through CUPS' own text filter (`texttopdf`, what `lp`
uses for a text file) to check that the QR starts a page and stays on it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import factories as f

CUPS_FILTERS = Path("/usr/lib/cups/filter")


def cups_filter(name: str, options: str, src: Path, dst: Path) -> Path:
    """Run one of CUPS' own filters (as the scheduler does: job, user, title, copies, options, file)."""
    exe = CUPS_FILTERS / name
    if not exe.exists():
        pytest.fail(f"CUPS' {name} is needed (apt-get install cups-filters)")
    with open(dst, "wb") as out:
        subprocess.run([str(exe), "1", "officer", "sheet", "1", options, str(src)], stdout=out, check=True,
                       stderr=subprocess.DEVNULL)
    return dst


def tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        pytest.fail(f"{name} is needed (apt-get install poppler-utils zbar-tools)")
    return exe


def pages_text(pdf: Path) -> list[str]:
    out = subprocess.run([tool("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return out.split("\f")


def qr_per_page(pdf: Path, tmp: Path) -> list[str]:
    """What zbarimg reads on each page, rendered at 150 dpi."""
    subprocess.run([tool("pdftoppm"), "-r", "150", "-png", str(pdf), str(tmp / "page")], check=True)
    found = []
    for png in sorted(tmp.glob("page-*.png")):
        r = subprocess.run([tool("zbarimg"), "-q", "--raw", str(png)], capture_output=True, text=True)
        found.append(r.stdout.strip())
    return found


def page_size(pdf: Path) -> str:
    info = subprocess.run([tool("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True).stdout
    m = re.search(r"Page size:\s+([\d.]+ x [\d.]+) pts", info)
    assert m, info
    return m.group(1)


def sha_of(c) -> str:  # type: ignore[no-untyped-def]
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return hashlib.sha256(x509.load_pem_x509_certificate(c.cert_path.read_bytes()).public_bytes(Encoding.DER)).hexdigest()


@pytest.mark.parametrize(("paper", "size"), [(None, "595.276 x 841.89"), ("letter", "612 x 792"), ("A4", "595.276 x 841.89")])
def test_the_pdf_sheet_holds_the_fingerprint_and_a_qr_on_one_page(ceremony, cli, tmp_path, paper, size) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    r = cli(*c.sign_argv("--log", tmp_path / "log.jsonl", *(["--paper", paper] if paper else [])))
    assert r.rc == 0, r.err
    pdf = c.stick / "ceremony-record.pdf"
    assert str(pdf) in r.out
    assert page_size(pdf).startswith(size.split(" x ")[0][:5])
    sha = sha_of(c)
    decoded = qr_per_page(pdf, tmp_path)
    assert decoded.count(sha) == 1 and all(d in ("", sha) for d in decoded), decoded  # whole, on one page
    text = "\n".join(pages_text(pdf))
    hexed = " ".join(sha[i : i + 4] for i in range(0, 64, 4)).upper()
    flat = " ".join(text.split())
    assert hexed[:39] in flat and hexed[40:] in flat  # the fingerprint as grouped hex, two lines
    assert "Officer One" in text and "Officer Two" in text and "Signature" in text
    from byoroot_tui.core.pgpwords import to_words

    words = to_words(bytes.fromhex(sha))
    assert " ".join(words[:8]) in flat  # eight PGP words a line
    assert "DEMO" not in text


def test_a_demo_sheet_says_demo(tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = f.run_proc([f.byoroot_exe(), "demo", "--headless", "--dir", tmp_path / "demo"], timeout=120)
    assert r.returncode == 0, r.stderr
    pdf = tmp_path / "demo" / "stick" / "ceremony-record.pdf"
    assert "DEMO" in pages_text(pdf)[0]
    assert "DEMO" in (tmp_path / "demo" / "stick" / "ceremony-record.txt").read_text().split("\n", 5)[3]


def test_hostile_text_reaches_the_pdf_escaped(tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    """A subject in Cyrillic and a CSR file name with controls: the PDF shows escapes, never the raw
    characters (the built-in fonts have no Cyrillic: nothing is dropped or swapped silently)."""
    key = f.key("p256")
    csr = f.make_csr(key, subject=f.name("Пример CA", org="Example Org"))
    c = f.make_ceremony(tmp_path, csr=csr, csr_name="req\x1b[2J\u202eevil.csr")
    r = cli(*c.sign_argv("--log", tmp_path / "log.jsonl"))
    assert r.rc == 0, r.err
    text = "\n".join(pages_text(c.stick / "ceremony-record.pdf"))
    assert "\\u041f" in text  # П
    assert "\x1b" not in text and "\u202e" not in text and "\\x1b" in text


@pytest.mark.parametrize("paper", ["A4", "Letter", "Legal"])
def test_the_text_sheet_keeps_its_qr_on_one_page_through_cups(ceremony, cli, tmp_path, paper) -> None:  # type: ignore[no-untyped-def]
    """CUPS' texttopdf (what `lp` uses for text) breaks pages at 54-66 lines depending on the paper:
    the form feed starts the fingerprint and its QR on a page of their own, whole."""
    c = ceremony()
    assert cli(*c.sign_argv("--log", tmp_path / "log.jsonl")).rc == 0
    pdf = cups_filter("texttopdf", f"PageSize={paper}", c.stick / "ceremony-record.txt", tmp_path / "sheet.pdf")
    pages = pages_text(pdf)
    with_qr = [p for p in pages if "SHA-256 FINGERPRINT" in p]
    assert len(with_qr) == 1
    page = with_qr[0]
    assert page.lstrip().startswith("SHA-256 FINGERPRINT")  # a fresh page
    assert "QR payload" in page and "Station log head" in page  # the QR drawn between them, on this page


def test_the_pdf_as_cups_prints_it_still_decodes_on_one_page(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """What `p` sends to `lp` is the PDF; CUPS puts a PDF through its own pdftopdf filter first."""
    c = ceremony()
    assert cli(*c.sign_argv("--log", tmp_path / "log.jsonl")).rc == 0
    printed = cups_filter("pdftopdf", "", c.stick / "ceremony-record.pdf", tmp_path / "printed.pdf")
    decoded = qr_per_page(printed, tmp_path)
    assert decoded.count(sha_of(c)) == 1 and all(d in ("", sha_of(c)) for d in decoded), decoded
