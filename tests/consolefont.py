"""Debian's console fonts (PSF1/PSF2, console-setup) read in Python, and screen text drawn through
them to a PNG: what the Linux console would show, for zbarimg and for comparing glyphs."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

FONT_DIR = Path("/usr/share/consolefonts")
FONTS = ("Uni2-Fixed16", "Lat15-Fixed16", "Uni2-Terminus16", "Lat15-Terminus16")


class PsfFont:
    def __init__(self, path: Path) -> None:
        data = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
        self.cmap: dict[str, int] = {}
        if data[:2] == b"\x36\x04":  # PSF1
            mode, self.height = data[2], data[3]
            count, self.width, offset, size = (512 if mode & 1 else 256), 8, 4, data[3]
            self.glyphs = [data[offset + i * size: offset + (i + 1) * size] for i in range(count)]
            table, glyph, i, in_seq = data[offset + count * size:], 0, 0, False
            while mode & 2 and glyph < count and i + 1 < len(table):
                (u,) = struct.unpack_from("<H", table, i)
                i += 2
                if u == 0xFFFF:
                    glyph, in_seq = glyph + 1, False
                elif u == 0xFFFE:
                    in_seq = True
                elif not in_seq:
                    self.cmap.setdefault(chr(u), glyph)
        else:  # PSF2
            _magic, _ver, header, flags, count, size, self.height, self.width = struct.unpack_from("<8I", data)
            self.glyphs = [data[header + i * size: header + (i + 1) * size] for i in range(count)]
            if flags & 1:
                for glyph, entry in enumerate(data[header + count * size:].split(b"\xff")[:count]):
                    for ch in entry.split(b"\xfe")[0].decode("utf-8", "replace"):
                        self.cmap.setdefault(ch, glyph)
        self.row_bytes = (self.width + 7) // 8
        self.overrides: dict[str, list[list[bool]]] = {}

    def bitmap(self, ch: str) -> list[list[bool]]:
        """The glyph of ``ch`` (the font's replacement glyph when it has none), rows of pixels."""
        if ch in self.overrides:
            return self.overrides[ch]
        glyph = self.glyphs[self.cmap.get(ch, self.cmap.get("\ufffd", 0))]
        return [[bool(glyph[y * self.row_bytes + x // 8] & (0x80 >> (x % 8))) for x in range(self.width)]
                for y in range(self.height)]


def load(name: str) -> PsfFont:
    return PsfFont(FONT_DIR / f"{name}.psf.gz")


def draw(lines: list[str], font: PsfFont) -> list[list[bool]]:
    """Screen text drawn through ``font``: True where the glyph has ink."""
    width = max((len(line) for line in lines), default=0)
    pixels: list[list[bool]] = []
    for line in lines:
        rows: list[list[bool]] = [[] for _ in range(font.height)]
        for ch in line.ljust(width):
            bm = font.bitmap(ch)
            for y in range(font.height):
                rows[y].extend(bm[y])
        pixels.extend(rows)
    return pixels


def png(pixels: list[list[bool]], margin: int = 16) -> bytes:
    """Ink black on white (as the QR widget draws: dark modules in black on a white ground)."""
    width = (len(pixels[0]) if pixels else 0) + 2 * margin
    blank = b"\x00" + b"\xff" * width
    raw = bytearray(blank * margin)
    for row in pixels:
        raw += b"\x00" + b"\xff" * margin + bytes(0 if ink else 255 for ink in row) + b"\xff" * margin
    raw += blank * margin
    height = len(pixels) + 2 * margin

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(raw), 6)) + chunk(b"IEND", b"")
