"""SHA-256 fingerprints: computed, grouped for reading aloud, as PGP words, and as a QR code."""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from functools import lru_cache

from byoroot_tui.core.errors import ByorootError
from byoroot_tui.core.pgpwords import from_words, to_words

_SEPARATORS = re.compile(r"[\s:\-]")
QR_BORDER = 4  # modules of quiet zone, as ISO/IEC 18004 asks


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def grouped_hex(hex_digest: str, group: int = 4, per_line: int = 0) -> str:
    """Upper-case hex in groups of ``group`` digits; ``per_line`` groups per line if set."""
    text = hex_digest.upper()
    groups = [text[i : i + group] for i in range(0, len(text), group)]
    if per_line:
        return "\n".join(" ".join(groups[i : i + per_line]) for i in range(0, len(groups), per_line))
    return " ".join(groups)


def pgp_words(hex_digest: str) -> list[str]:
    """The fingerprint as PGP words, in order (32 words for SHA-256)."""
    return to_words(bytes.fromhex(hex_digest))


def parse_fingerprint(text: str) -> str:
    """Normalise a typed SHA-256 fingerprint to 64 lowercase hex digits.

    Accepts hex in any case with colons, spaces or dashes and an optional ``SHA256:`` prefix,
    or the 32 PGP words read aloud.
    """
    cleaned = text.strip()
    if cleaned.lower().startswith("sha256:"):
        cleaned = cleaned[7:]
    compact = _SEPARATORS.sub("", cleaned).lower()
    if re.fullmatch(r"[0-9a-f]{64}", compact):
        return compact
    tokens = cleaned.replace(",", " ").split()
    if len(tokens) > 1 and all(t.isascii() and t.isalpha() for t in tokens):  # PGP words, not hex
        data = from_words(cleaned)
        if len(data) != 32:
            raise ByorootError(f"a SHA-256 fingerprint is 32 PGP words, not {len(data)}")
        return data.hex()
    raise ByorootError("the fingerprint is neither 64 hex digits (SHA-256) nor 32 PGP words")


def qr_matrix(payload: str) -> list[list[bool]]:
    """QR modules (True = dark) including the quiet zone; error correction M."""
    return [list(row) for row in _qr_rows(payload)]


@lru_cache(maxsize=4)
def _qr_rows(payload: str) -> tuple[tuple[bool, ...], ...]:
    # Made once per payload: the export draws the same code for the sheet and the PNG, and
    # qrcode's choice of mask (eight trial encodings in pure Python) is most of the cost.
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QR_BORDER)
    qr.add_data(payload)
    qr.make(fit=True)
    return tuple(tuple(bool(cell) for cell in row) for row in qr.get_matrix())


# (top module is a block, bottom module is a block) -> character
HALF_BLOCKS = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}


def qr_text(matrix: list[list[bool]], *, for_paper: bool = False) -> list[str]:
    """The matrix as half-block characters, two module rows per text line.

    On a terminal (light text on a dark background) light modules are drawn as blocks, so the
    code shows dark on light. On paper a block is ink, so ``for_paper=True`` draws the dark
    modules as blocks instead. The quiet zone is part of the matrix either way.
    """
    rows = matrix + ([[False] * len(matrix[0])] if len(matrix) % 2 else [])
    ink = (lambda m: m) if for_paper else (lambda m: not m)
    return ["".join(HALF_BLOCKS[(ink(t), ink(b))] for t, b in zip(top, bottom)) for top, bottom in zip(rows[0::2], rows[1::2])]


def qr_png(matrix: list[list[bool]], scale: int = 10) -> bytes:
    """A grayscale PNG of the matrix, ``scale`` pixels per module (black on white)."""
    size = len(matrix) * scale
    raw = bytearray()
    for row in matrix:
        line = bytes([0]) + b"".join((b"\x00" if dark else b"\xff") * scale for dark in row)
        raw += line * scale
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b"")
