"""What `byoroot sign` writes beside intermediate.crt: the fingerprint QR (PNG, decoded with a
real decoder), the printable ceremony sheet (every field, checked against the certificate, the
CSR, the root and the station log on disk), the officers, and hostile text kept off the sheet."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import shutil
import socket
import struct
import subprocess
import time
import unicodedata
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import factories as f
from byoroot_tui.core.fingerprint import qr_matrix, qr_png, qr_text
from byoroot_tui.core.pgpwords import from_words
from byoroot_tui.core.text import safe_text

SHEET = "ceremony-record.txt"
QR_PNG = "intermediate-fingerprint.png"
EXPORTS = ("intermediate.crt", QR_PNG, SHEET, "ceremony-record.pdf")
OFFICERS = ("Zoë Åberg", "Bob O'Neil")
LOCAL_TZ = "BYT-05:30"  # POSIX TZ: a zone 5h30 ahead of UTC that needs no tzdata
LINES_PER_PAGE = 66
PGP_WORD_LINE = re.compile(r"\s*(\d+)-(\d+)\s+([A-Za-z ]+)")


# ----------------------------------------------------------------------------- independent helpers


def zbarimg() -> str:
    path = shutil.which("zbarimg")
    if not path:
        pytest.fail("zbarimg (Debian zbar-tools) is required for these tests and is not on PATH; tests never skip it")
    return path


def zbar_decode(path: Path, *options: str) -> str:
    """The payload zbarimg reads from an image file ('' if it finds no code)."""
    r = subprocess.run([zbarimg(), "--raw", "-q", *options, str(path)], capture_output=True, text=True, timeout=60)
    if r.returncode == 4:  # no symbol found
        return ""
    assert r.returncode == 0, (r.returncode, r.stderr)
    return r.stdout.strip()


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def read_png(data: bytes) -> list[list[int]]:
    """Pixels (0 black .. 255 white) of a non-interlaced grayscale or RGB(A) PNG, checking every CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "no PNG signature"
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, f"bad CRC on {kind!r}"
        chunks.append((kind, body))
        pos += 12 + length
    assert pos == len(data), "trailing bytes after the last chunk"
    assert chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    width, height, depth, color, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (comp, filt, interlace) == (0, 0, 0)
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color]
    assert depth == 8 or (color == 0 and depth in (1, 2, 4)), (color, depth)
    bits = depth * channels
    stride = (width * bits + 7) // 8
    bpp = max(1, bits // 8)
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(raw) == height * (stride + 1)
    pixels, prev = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        if kind:
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                b = prev[x]
                c = prev[x - bpp] if x >= bpp else 0
                line[x] = (line[x] + {1: a, 2: b, 3: (a + b) // 2, 4: _paeth(a, b, c)}[kind]) & 0xFF
        if depth == 8:
            row = [sum(line[x * channels : x * channels + min(channels, 3)]) // min(channels, 3) for x in range(width)]
        else:
            per = 8 // depth
            top = (1 << depth) - 1
            row = [((line[x // per] >> (8 - depth * (x % per + 1))) & top) * 255 // top for x in range(width)]
        pixels.append(row)
        prev = line
    return pixels


_HALF_BLOCKS = {"█": (False, False), "▄": (True, False), "▀": (False, True), " ": (True, True)}


def matrix_from_text(lines: list[str]) -> list[list[bool]]:
    """Module rows (True = dark) from half-block text: blocks are light, spaces dark (qr_text's convention)."""
    rows: list[list[bool]] = []
    for line in lines:
        pairs = [_HALF_BLOCKS[ch] for ch in line]
        rows.append([t for t, _ in pairs])
        rows.append([b for _, b in pairs])
    return rows


def write_pgm(matrix: list[list[bool]], path: Path, *, scale: int = 6, margin: int = 0, margin_dark: bool = False) -> Path:
    """A binary PGM of the matrix (dark modules black), with ``margin`` modules of extra border."""
    n, h = len(matrix[0]), len(matrix)
    out = bytearray()
    for y in range(-margin, h + margin):
        line = bytearray()
        for x in range(-margin, n + margin):
            dark = matrix[y][x] if 0 <= y < h and 0 <= x < n else margin_dark
            line += (b"\x00" if dark else b"\xff") * scale
        out += bytes(line) * scale
    path.write_bytes(b"P5 %d %d 255\n" % ((n + 2 * margin) * scale, (h + 2 * margin) * scale) + bytes(out))
    return path


def display_width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 0 if unicodedata.combining(ch) else 1 for ch in line)


def layout_lines(text: str) -> list[str]:
    """The sheet's lines except the PGP words lines, whose width depends on the random fingerprint
    (their own test: test_pgp_word_lines_fit_80_columns)."""
    return [line for line in text.split("\n") if not PGP_WORD_LINE.fullmatch(line)]


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def der(obj) -> bytes:  # type: ignore[no-untyped-def]
    return obj.public_bytes(serialization.Encoding.DER)


def log_lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return data.split(b"\n")[:-1]


def log_entries(path: Path) -> list[dict]:
    return [json.loads(line) for line in log_lines(path)]


def run_cli(*argv: object) -> tuple[int, str, str]:
    from byoroot_tui import cli as cli_module

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli_module.main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


# ----------------------------------------------------------------------------- reading the sheet


class Sheet:
    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.split("\n")[:-1]

    def index(self, line: str, start: int = 0) -> int:
        for i in range(start, len(self.lines)):
            if self.lines[i] == line:
                return i
        raise AssertionError(f"no line {line!r} on the sheet")

    def field(self, label: str, section: str | None = None) -> list[str]:
        """The value lines of ``label`` (its own line and indented continuation lines)."""
        start = self.index(section) if section else 0
        for i in range(start, len(self.lines)):
            line = self.lines[i]
            if line.startswith(label):
                values = [line[len(label) :].strip()]
                for more in self.lines[i + 1 :]:
                    if more.startswith(" " * 10) and more.strip():
                        values.append(more.strip())
                    else:
                        break
                return values
        raise AssertionError(f"no field {label!r} on the sheet" + (f" after {section!r}" if section else ""))

    def value(self, label: str, section: str | None = None) -> str:
        return " ".join(self.field(label, section))

    def hash_field(self, label: str, section: str | None = None) -> str:
        """A SHA-256 shown as grouped hex: groups of 4 upper-case digits; returned as lowercase hex."""
        groups = " ".join(self.field(label, section)).split()
        assert all(re.fullmatch(r"[0-9A-F]{4}", g) for g in groups), groups
        assert len(groups) == 16
        return "".join(groups).lower()

    def qr_lines(self) -> list[str]:
        block = [i for i, line in enumerate(self.lines) if line.strip() and set(line) <= set("█▀▄ ")]
        assert block, "no QR code on the sheet"
        assert block == list(range(block[0], block[-1] + 1)), "the QR lines are not one block"
        lines = [self.lines[i] for i in block]
        assert all(set(line) <= set(_HALF_BLOCKS) for line in lines)
        return lines


# ----------------------------------------------------------------------------- one real signing for the sheet


@pytest.fixture(scope="module")
def signed(tmp_path_factory):  # type: ignore[no-untyped-def]
    """`byoroot sign` with two officers, a station log and a local time zone of UTC+05:30."""
    base = tmp_path_factory.mktemp("record")
    log = base / "station" / "log.jsonl"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_DATA_HOME", str(base / "data"))
        mp.setenv("XDG_CONFIG_HOME", str(base / "config"))
        mp.setenv("TZ", LOCAL_TZ)
        time.tzset()
        try:
            c = f.make_ceremony(base)
            t0 = f.utcnow().replace(microsecond=0)
            rc, out, err = run_cli(*c.sign_argv("--officer", OFFICERS[0], "--officer", OFFICERS[1], "--log", log))
            t1 = f.utcnow()
        finally:
            mp.undo()
            time.tzset()
    assert rc == 0, err
    cert = c.issued()
    sheet_bytes = (c.stick / SHEET).read_bytes()
    return SimpleNamespace(
        c=c, log=log, out=out, cert=cert, der=der(cert), sha=hashlib.sha256(der(cert)).hexdigest(),
        sheet_bytes=sheet_bytes, sheet=Sheet(sheet_bytes.decode("utf-8")), t0=t0, t1=t1,
    )


# ----------------------------------------------------------------------------- the QR PNG


def test_the_three_files_are_written(signed) -> None:  # type: ignore[no-untyped-def]
    for name in EXPORTS:
        assert (signed.c.stick / name).is_file()
    assert not f.temp_leftovers(signed.c.stick)
    for name in EXPORTS:
        assert str(signed.c.stick / name) in signed.out


def test_qr_png_decodes_to_the_certificate_sha256(signed) -> None:  # type: ignore[no-untyped-def]
    payload = zbar_decode(signed.c.stick / QR_PNG)
    # independently of byoroot: the DER of intermediate.crt hashed by openssl
    der_bytes = subprocess.run([f.openssl(), "x509", "-in", str(signed.c.cert_path), "-outform", "DER"],
                               capture_output=True, check=True).stdout
    assert der_bytes == signed.der
    assert payload == hashlib.sha256(der_bytes).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", payload)


def test_qr_png_is_a_valid_png_sized_for_a_phone(signed) -> None:  # type: ignore[no-untyped-def]
    data = (signed.c.stick / QR_PNG).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = read_png(data)
    height, width = len(pixels), len(pixels[0])
    assert width == height and width >= 200
    assert {p for row in pixels for p in row} <= {0, 255}, "a QR for a camera is pure black and white"


def test_qr_png_has_a_white_quiet_zone_of_at_least_4_modules(signed) -> None:  # type: ignore[no-untyped-def]
    pixels = read_png((signed.c.stick / QR_PNG).read_bytes())
    size = len(pixels)
    dark_rows = [y for y, row in enumerate(pixels) if any(p < 128 for p in row)]
    dark_cols = [x for x in range(size) if any(row[x] < 128 for row in pixels)]
    top, bottom, left, right = dark_rows[0], size - 1 - dark_rows[-1], dark_cols[0], size - 1 - dark_cols[-1]
    # the top-left finder pattern is 7 modules wide: its first dark run gives the module size
    row = pixels[top]
    run = next(i for i in range(left, size) if row[i] >= 128) - left
    assert run % 7 == 0, run
    module = run // 7
    assert min(top, bottom, left, right) >= 4 * module, (top, bottom, left, right, module)
    # the border pixels themselves are white
    assert all(p == 255 for p in pixels[0] + pixels[-1] + [r[0] for r in pixels] + [r[-1] for r in pixels])
    # and the symbol (without its border) is square: (4v + 17) modules
    symbol = (size - 1 - bottom - top + 1) // module
    assert symbol % 4 == 1 and symbol >= 21


def test_qr_png_pixels_are_the_qr_matrix(signed) -> None:  # type: ignore[no-untyped-def]
    pixels = read_png((signed.c.stick / QR_PNG).read_bytes())
    matrix = qr_matrix(signed.sha)
    scale = len(pixels) // len(matrix)
    assert scale * len(matrix) == len(pixels)
    sampled = [[pixels[y * scale + scale // 2][x * scale + scale // 2] < 128 for x in range(len(matrix))]
               for y in range(len(matrix))]
    assert sampled == matrix


@pytest.mark.parametrize("payload", ["0" * 64, "SHA256:" + "ab" * 32, "x"])
def test_qr_png_round_trip_through_zbarimg(tmp_path, payload: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "qr.png"
    path.write_bytes(qr_png(qr_matrix(payload)))
    assert zbar_decode(path) == payload


# ----------------------------------------------------------------------------- the QR as text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(digest=st.binary(min_size=32, max_size=32), prefix=st.sampled_from(["", "SHA256:"]))
def test_qr_text_decodes_back_to_the_matrix_within_80_columns(digest: bytes, prefix: str) -> None:
    payload = prefix + digest.hex()
    matrix = qr_matrix(payload)
    lines = qr_text(matrix)
    assert len(lines) == (len(matrix) + 1) // 2
    assert all(len(line) == len(matrix[0]) <= 80 for line in lines)
    back = matrix_from_text(lines)
    assert back[: len(matrix)] == matrix
    assert all(not dark for row in back[len(matrix) :] for dark in row)  # the padding row is light


def test_qr_text_decodes_with_zbarimg(tmp_path) -> None:  # type: ignore[no-untyped-def]
    payload = hashlib.sha256(b"text qr").hexdigest()
    img = write_pgm(matrix_from_text(qr_text(qr_matrix(payload))), tmp_path / "qr.pgm")
    assert zbar_decode(img) == payload


# ----------------------------------------------------------------------------- the sheet: form


def test_sheet_is_utf8_within_80_columns_and_two_pages(signed) -> None:  # type: ignore[no-untyped-def]
    text = signed.sheet_bytes.decode("utf-8")  # strict
    assert text.endswith("\n") and "\r" not in text and "\t" not in text
    lines = text.split("\n")[:-1]
    assert len(lines) <= 2 * LINES_PER_PAGE
    for line in lines:
        if PGP_WORD_LINE.fullmatch(line):
            continue  # their width depends on the (random) fingerprint: see test_pgp_word_lines_fit_80_columns
        assert len(line) <= 80 and display_width(line) <= 80, line
        assert line == line.rstrip() or line == "\f", repr(line)
    assert not f.sheet_unsafe_chars(text)


def test_sheet_dates_utc_and_local(signed) -> None:  # type: ignore[no-untyped-def]
    utc_text = signed.sheet.value("Date (UTC):")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", utc_text)
    when = datetime.strptime(utc_text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert signed.t0 <= when <= signed.t1
    local = when.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert signed.sheet.value("Date (local):") == local.strftime("%Y-%m-%d %H:%M:%S") + " BYT (UTC+0530)"


def test_sheet_station_host_name(signed) -> None:  # type: ignore[no-untyped-def]
    assert signed.sheet.value("Station:") == safe_text(socket.gethostname(), 60)


def test_sheet_certificate_file(signed) -> None:  # type: ignore[no-untyped-def]
    assert "".join(signed.sheet.field("Certificate file:")) == str(signed.c.cert_path)


# ----------------------------------------------------------------------------- the sheet: request, profile, root


def test_sheet_csr_file_name_and_der_sha256(signed) -> None:  # type: ignore[no-untyped-def]
    s = signed.sheet
    assert s.value("CSR file:", "REQUEST") == signed.c.csr.name
    assert s.hash_field("CSR SHA-256 (DER):", "REQUEST") == hashlib.sha256(der(signed.c.csr_obj)).hexdigest()
    assert s.value("Subject:", "REQUEST") == signed.c.csr_obj.subject.rfc4514_string()
    assert signed.cert.subject == signed.c.csr_obj.subject


def test_sheet_profile_and_its_settings_match_the_certificate(signed) -> None:  # type: ignore[no-untyped-def]
    s, cert = signed.sheet, signed.cert
    assert s.value("Name:", "PROFILE").startswith("intermediate-ca ")
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert s.value("  path length:", "PROFILE") == str(bc.path_length) == "0"
    validity = s.value("  validity:", "PROFILE")
    days = int(re.match(r"(\d+) days", validity).group(1))
    backdate = int(re.match(r"(\d+) minutes", s.value("  backdate:", "PROFILE")).group(1))
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=days, minutes=backdate)
    hash_text = s.value("  signature hash:", "PROFILE")
    assert hash_text.startswith("SHA-512")
    assert cert.signature_hash_algorithm.name == hash_text.split()[0].replace("-", "").lower()
    ku_text = s.value("  key usage:", "PROFILE")
    named = set(ku_text.replace("(critical)", "").replace(",", " ").split())
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and "(critical)" in ku_text
    flags = {n for n in ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                         "key_agreement", "key_cert_sign", "crl_sign") if getattr(ku.value, n)}
    assert named == flags == {"digital_signature", "key_cert_sign", "crl_sign"}


def test_sheet_root_subject_and_sha256(signed) -> None:  # type: ignore[no-untyped-def]
    s = signed.sheet
    root = signed.c.root_cert_obj
    assert s.value("Subject:", "ROOT") == root.subject.rfc4514_string()
    assert s.hash_field("Certificate SHA-256:", "ROOT") == hashlib.sha256(der(root)).hexdigest()
    assert signed.cert.issuer == root.subject


# ----------------------------------------------------------------------------- the sheet: what was issued


def test_sheet_serial_and_validity_match_the_certificate(signed) -> None:  # type: ignore[no-untyped-def]
    s, cert = signed.sheet, signed.cert
    serial = s.value("Serial:", "ISSUED CERTIFICATE")
    assert re.fullmatch(r"[0-9a-f]+", serial)
    assert int(serial, 16) == cert.serial_number
    assert s.value("Not before:", "ISSUED CERTIFICATE") == iso(cert.not_valid_before_utc)
    assert s.value("Not after:", "ISSUED CERTIFICATE") == iso(cert.not_valid_after_utc)


def test_sheet_fingerprint_as_grouped_hex(signed) -> None:  # type: ignore[no-untyped-def]
    s = signed.sheet
    i = s.index("SHA-256 FINGERPRINT OF intermediate.crt (DER)")
    groups: list[str] = []
    for line in s.lines[i + 1 :]:
        if not line.strip():
            break
        groups += line.split()
    assert len(groups) == 16 and all(re.fullmatch(r"[0-9A-F]{4}", g) for g in groups), groups
    assert "".join(groups).lower() == signed.sha


def test_sheet_fingerprint_as_32_pgp_words_in_order(signed) -> None:  # type: ignore[no-untyped-def]
    s = signed.sheet
    i = s.index("  as PGP words (read aloud in order):")
    words: list[str] = []
    expected_first = 1
    for line in s.lines[i + 1 :]:
        m = PGP_WORD_LINE.fullmatch(line)
        if not m:
            break
        first, last, chunk = int(m.group(1)), int(m.group(2)), m.group(3).split()
        assert first == expected_first and last - first + 1 == len(chunk)
        expected_first = last + 1
        words += chunk
    assert len(words) == 32
    assert from_words(" ".join(words)) == bytes.fromhex(signed.sha)


_PAPER_BLOCKS = {"█": (True, True), "▀": (True, False), "▄": (False, True), " ": (False, False)}


def paper_symbol(lines: list[str]) -> list[list[bool]]:
    """Modules (True = dark = ink) of the sheet's QR symbol; the blank quiet zone is cut off."""
    left = min(len(line) - len(line.lstrip(" ")) for line in lines)
    width = max(len(line) for line in lines) - left
    rows: list[list[bool]] = []
    for line in lines:
        pairs = [_PAPER_BLOCKS[ch] for ch in line[left:].ljust(width)]
        rows.append([t for t, _ in pairs])
        rows.append([b for _, b in pairs])
    return rows


def test_sheet_qr_text_is_the_fingerprint_qr(signed, tmp_path) -> None:  # type: ignore[no-untyped-def]
    matrix = qr_matrix(signed.sha)
    border = 4
    symbol = [row[border:-border] for row in matrix[border:-border]]
    back = paper_symbol(signed.sheet.qr_lines())
    assert back[: len(symbol)] == symbol
    assert not any(any(row) for row in back[len(symbol):])  # what is left is quiet zone
    assert zbar_decode(write_pgm(symbol, tmp_path / "sheet-qr.pgm", margin=border)) == signed.sha


def test_sheet_qr_text_as_printed_reads_dark_on_light(signed, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """On paper a block is ink: printed as it is, an ordinary decoder (no inversion) reads it."""
    inked = paper_symbol(signed.sheet.qr_lines())
    img = write_pgm(inked, tmp_path / "printed.pgm", margin=4)  # white paper around it
    assert zbar_decode(img) == signed.sha


def test_sheet_station_log_head_is_the_hash_of_the_issued_log_line(signed) -> None:  # type: ignore[no-untyped-def]
    """The sheet was made after the `issued` entry and before the `exported` one: it shows the
    hash of the line before the last; `byoroot sign` prints the log's head after the export."""
    head = signed.sheet.hash_field("Station log head:")
    lines = log_lines(signed.log)
    assert [json.loads(line)["event"] for line in lines] == ["signing", "issued", "exported"]
    assert head == hashlib.sha256(lines[-2]).hexdigest()
    assert f"(head {hashlib.sha256(lines[-1]).hexdigest()})" in signed.out
    assert head not in signed.out


def test_issued_log_entry_matches_the_sheet(signed) -> None:  # type: ignore[no-untyped-def]
    entry = log_entries(signed.log)[-2]
    assert entry["event"] == "issued"
    assert entry["sha256"] == signed.sha
    assert entry["certificate"].encode("ascii") == signed.c.cert_path.read_bytes()
    assert int(entry["serial"], 16) == signed.cert.serial_number
    assert entry["serial"] == signed.sheet.value("Serial:", "ISSUED CERTIFICATE")
    assert entry["tbs_sha256"] == hashlib.sha256(signed.cert.tbs_certificate_bytes).hexdigest()
    assert entry["csr_sha256"] == hashlib.sha256(der(signed.c.csr_obj)).hexdigest()
    assert entry["root_sha256"] == hashlib.sha256(der(signed.c.root_cert_obj)).hexdigest()
    assert entry["root_subject"] == signed.sheet.value("Subject:", "ROOT") == signed.c.root_cert_obj.subject.rfc4514_string()
    assert entry["not_before"] == iso(signed.cert.not_valid_before_utc)
    assert entry["not_after"] == iso(signed.cert.not_valid_after_utc)
    assert entry["officers"] == list(OFFICERS)
    assert entry["profile"] == "intermediate-ca"
    assert entry["key"] == signed.sheet.value("Public key:", "REQUEST")
    assert entry["signature_algorithm"] == signed.sheet.value("Signature:", "ISSUED CERTIFICATE")
    assert entry["warnings"] == []
    # the profile's settings as the sheet lists them, in order
    assert entry["profile_settings"] and all(len(pair) == 2 for pair in entry["profile_settings"])
    for label, value in entry["profile_settings"]:
        assert signed.sheet.value(f"  {label}:", "PROFILE") == value, label
    assert "out" not in entry  # where it went is the `exported` entry's
    exported = log_entries(signed.log)[-1]
    assert exported["event"] == "exported" and exported["out"] == str(signed.c.stick)
    assert exported["sha256"] == entry["sha256"] and exported["serial"] == entry["serial"]
    assert {x["name"]: x["sha256"] for x in exported["files"]} == {
        n: hashlib.sha256((signed.c.stick / n).read_bytes()).hexdigest() for n in EXPORTS}


# ----------------------------------------------------------------------------- officers


def test_sheet_names_both_officers_each_with_a_signature_line(signed) -> None:  # type: ignore[no-untyped-def]
    s = signed.sheet
    for number, name in enumerate(OFFICERS, start=1):
        i = next(i for i, line in enumerate(s.lines) if line.startswith(f"Officer {number}:"))
        assert s.lines[i][len(f"Officer {number}:") :].strip() == name
        sig = s.lines[i + 1]
        assert sig.startswith("Signature:") and re.search(r"_{20,}", sig), sig
    assert not any(line.startswith("Officer 3:") for line in s.lines)
    assert sum(1 for line in s.lines if line.startswith("Signature:") and "___" in line) == 2


def test_officer_names_are_recorded_normalised(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    log = tmp_path / "log.jsonl"
    r = cli(*c.sign_argv("--officer", "  Alice   Smith ", "--officer", "Bob Jones", "--log", log))
    assert r.rc == 0, r.err
    sheet = Sheet((c.stick / SHEET).read_text("utf-8"))
    assert sheet.value("Officer 1:") == "Alice Smith"
    assert sheet.value("Officer 2:") == "Bob Jones"
    signing, issued, exported = log_entries(log)
    assert signing["event"] == "signing" and issued["event"] == "issued" and exported["event"] == "exported"
    assert signing["officers"] == issued["officers"] == ["Alice Smith", "Bob Jones"]


@pytest.mark.parametrize("pair", [
    ("Alice Smith", "alice smith"),
    ("Alice Smith", "  ALICE   SMITH  "),
    ("Zoë Åberg", "ZOË åBERG"),
    ("Straße", "STRASSE"),
])
def test_the_same_officer_twice_is_refused(ceremony, cli, tmp_path, pair) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    log = tmp_path / "log.jsonl"
    before = f.listing(c.stick)
    r = cli(*c.sign_argv("--officer", pair[0], "--officer", pair[1], "--log", log))
    f.assert_refusal(r, "named twice")
    assert f.listing(c.stick) == before  # nothing written
    entries = log_entries(log)
    assert [e["event"] for e in entries] == ["refused"]
    assert "named twice" in entries[0]["reason"]


@pytest.mark.parametrize("name", [
    "Eve\x1b[31mRed", "Eve\u202eevE", "Eve\nMallory", "Eve\tMallory", "Eve\x9b2J", "Eve\u200bX", "Eve\x7f", "Eve\u2066X",
])
def test_officer_name_with_control_characters_is_refused(ceremony, cli, tmp_path, name) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    log = tmp_path / "log.jsonl"
    before = f.listing(c.stick)
    r = cli(*c.sign_argv("--officer", "Alice", "--officer", name, "--log", log))
    f.assert_refusal(r, "control characters")
    assert not f.unsafe_chars(r.err)
    assert f.listing(c.stick) == before
    data = log.read_bytes()
    assert not f.unsafe_bytes(data) and data.isascii()
    entries = log_entries(log)
    assert [e["event"] for e in entries] == ["refused"]
    assert "control characters" in entries[0]["reason"]
    assert not any(f.unsafe_chars(v) for v in entries[0].values() if isinstance(v, str))
    assert entries[0].get("officers") in (None, [])  # the refused name is never recorded


# ----------------------------------------------------------------------------- hostile text


def test_hostile_file_and_folder_names_never_reach_the_sheet_raw(tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    c = f.make_ceremony(tmp_path, csr_name="req\x1b[2J\u202e\nevil.csr", stick_name="stick\x07\u2066")
    log = tmp_path / "log.jsonl"
    r = cli(*c.sign_argv("--officer", "Alice", "--officer", "Bob", "--log", log))
    assert r.rc == 0, r.err
    text = (c.stick / SHEET).read_text("utf-8")
    assert not f.sheet_unsafe_chars(text)
    assert all(len(line) <= 80 for line in layout_lines(text))
    sheet = Sheet(text)
    assert sheet.value("CSR file:", "REQUEST") == safe_text(c.csr.name)
    assert "\\x1b" in text and "\\u202e" in text and "\\u2066" in text and "\\x07" in text
    data = log.read_bytes()
    assert data.isascii() and not f.unsafe_bytes(data)
    entry = log_entries(log)[-1]
    assert not any(f.unsafe_chars(v) for v in entry.values() if isinstance(v, str))
    assert not f.unsafe_chars(r.out)


def test_a_csr_subject_with_a_bidi_control_is_refused_before_any_sheet(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony(csr=f.make_csr(f.key("p256"), subject=f.name("Intermediate\u202eAC")))
    log = tmp_path / "log.jsonl"
    r = cli(*c.sign_argv("--officer", "Alice", "--officer", "Bob", "--log", log))
    f.assert_refusal(r, "control characters")
    assert not any((c.stick / n).exists() for n in EXPORTS)
    entry = log_entries(log)[-1]
    assert entry["event"] == "refused"
    assert log.read_bytes().isascii() and not f.unsafe_bytes(log.read_bytes())


# ----------------------------------------------------------------------------- other profiles and layouts


def test_sheet_of_the_shipped_constrained_profile_fits(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    r = cli(*c.sign_argv("--profile", f.REPO / "profiles" / "internal-constrained.toml",
                         "--officer", "Alice", "--officer", "Bob", "--log", tmp_path / "log.jsonl"))
    assert r.rc == 0, r.err
    sheet = Sheet((c.stick / SHEET).read_text("utf-8"))
    assert len(sheet.lines) <= 2 * LINES_PER_PAGE
    assert all(len(line) <= 80 for line in layout_lines(sheet.text))
    assert sheet.value("Name:", "PROFILE").startswith("internal-constrained ")
    assert "1825 days" in sheet.value("  validity:", "PROFILE")
    assert sheet.value("  signature hash:", "PROFILE").startswith("SHA-384")
    assert "example.internal" in sheet.text and "10.0.0.0/8" in sheet.text


def _constrained_profile(tmp_path: Path, dns: list[str]) -> Path:
    names = ", ".join(json.dumps(d) for d in dns)
    text = (f.REPO / "profiles" / "internal-constrained.toml").read_text()
    text = text.replace('name = "internal-constrained"', 'name = "wide-constrained"')
    text = re.sub(r"permitted_dns = \[.*\]", f"permitted_dns = [{names}]", text)
    path = tmp_path / "wide-constrained.toml"
    path.write_text(text)
    return path


def test_sheet_with_a_long_name_constraint_stays_within_80_columns(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    profile = _constrained_profile(tmp_path, ["x" * 50 + ".corp.example.com", "b.example.com"])
    r = cli(*c.sign_argv("--profile", profile, "--officer", "Alice", "--officer", "Bob", "--log", tmp_path / "log"))
    assert r.rc == 0, r.err
    lines = layout_lines((c.stick / SHEET).read_text("utf-8"))
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)


def test_sheet_labels_are_always_separated_from_their_values(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    r = cli(*c.sign_argv("--profile", f.REPO / "profiles" / "internal-constrained.toml",
                         "--officer", "Alice", "--officer", "Bob", "--log", tmp_path / "log.jsonl"))
    assert r.rc == 0, r.err
    glued = [line for line in (c.stick / SHEET).read_text("utf-8").split("\n") if re.search(r"\):\S", line)]
    assert not glued, glued


def test_sheet_with_wide_characters_stays_within_80_display_columns(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    subject = f.name("日本語の中間認証局テスト", org="株式会社サンプルホールディングス日本語の長い組織名前テスト用")
    c = ceremony(csr=f.make_csr(f.key("p256"), subject=subject))
    r = cli(*c.sign_argv("--officer", "山田 太郎", "--officer", "Bob", "--log", tmp_path / "log.jsonl"))
    assert r.rc == 0, r.err
    lines = layout_lines((c.stick / SHEET).read_text("utf-8"))
    assert all(display_width(line) <= 80 for line in lines), max(lines, key=display_width)


def test_pgp_word_lines_fit_80_columns(ceremony, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """render_sheet for a real issuance, with the fingerprint swapped for one made of the longest words."""
    import dataclasses

    from byoroot_tui.core.csr import load_csr
    from byoroot_tui.core.issue import make_plan, sign_plan
    from byoroot_tui.core.pgpwords import EVEN_WORDS, ODD_WORDS
    from byoroot_tui.core.profiles import get_profile
    from byoroot_tui.core.record import render_sheet
    from byoroot_tui.core.root import load_root
    from byoroot_tui.core.signer import load_root_key

    c = ceremony()
    plan = make_plan(load_csr(c.csr), get_profile("intermediate-ca"), load_root(c.root_cert))
    with load_root_key(c.root_key) as signer:
        issued = sign_plan(plan, signer)
    even = max(range(256), key=lambda i: len(EVEN_WORDS[i]))
    odd = max(range(256), key=lambda i: len(ODD_WORDS[i]))
    long_words = dataclasses.replace(issued, sha256=bytes([even, odd] * 16).hex())
    text = render_sheet(long_words, csr_file=c.csr.name, officers=["Alice", "Bob"], log_head=None,
                        certificate_path=str(c.cert_path))
    word_lines = [line for line in text.split("\n") if PGP_WORD_LINE.fullmatch(line)]
    assert len(word_lines) >= 4
    assert all(len(line) <= 80 for line in word_lines), max(word_lines, key=len)
