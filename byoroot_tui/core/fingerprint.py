"""SHA-256 fingerprints: computed, grouped for reading aloud, and parsed back."""

from __future__ import annotations

import hashlib
import re

from byoroot_tui.core.errors import ByorootError

_SEPARATORS = re.compile(r"[\s:\-]")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def grouped_hex(hex_digest: str, group: int = 4, per_line: int = 0) -> str:
    """Upper-case hex in groups of ``group`` digits; ``per_line`` groups per line if set."""
    text = hex_digest.upper()
    groups = [text[i : i + group] for i in range(0, len(text), group)]
    if per_line:
        return "\n".join(" ".join(groups[i : i + per_line]) for i in range(0, len(groups), per_line))
    return " ".join(groups)


def parse_fingerprint(text: str) -> str:
    """Normalise a typed SHA-256 fingerprint: any case, colons, spaces or dashes, optional SHA256: prefix."""
    cleaned = text.strip()
    if cleaned.lower().startswith("sha256:"):
        cleaned = cleaned[7:]
    cleaned = _SEPARATORS.sub("", cleaned).lower()
    if not re.fullmatch(r"[0-9a-f]{64}", cleaned):
        raise ByorootError("the fingerprint is not 64 hex digits (SHA-256)")
    return cleaned
