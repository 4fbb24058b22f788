"""Make hostile text safe to show on a terminal."""

from __future__ import annotations

import unicodedata

# Bidirectional controls: they are category Cf, but they reorder what the officer sees.
_BIDI = {0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}
BIDI_CONTROLS = frozenset(_BIDI)
_UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def is_unsafe_char(ch: str) -> bool:
    """True for characters that must never reach a terminal raw."""
    return ord(ch) in _BIDI or unicodedata.category(ch) in _UNSAFE_CATEGORIES


def has_control_chars(value: str) -> bool:
    """Control characters (C0, C1, DEL) and bidi controls: refused in subjects."""
    return any(unicodedata.category(c) == "Cc" or ord(c) in _BIDI for c in value)


def safe_text(value: str, limit: int | None = None) -> str:
    r"""Escape everything non-printable as ``\xNN``/``\uNNNN``.

    The result has no control, format or bidi characters, so it can go to any terminal.
    ``limit`` truncates (after escaping) and says so.
    """
    out: list[str] = []
    for ch in value:
        if is_unsafe_char(ch):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    text = "".join(out)
    if limit is not None and len(text) > limit:
        text = text[:limit] + f"… ({len(text) - limit} more characters)"
    return text


def safe_bytes_hex(data: bytes, limit: int = 64) -> str:
    """Hex of at most ``limit`` bytes, saying how many more there were."""
    shown = data[:limit].hex(":")
    return shown + (f" … ({len(data) - limit} more bytes)" if len(data) > limit else "")
