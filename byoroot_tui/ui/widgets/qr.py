"""A QR code drawn with half-block characters: two modules per character cell, dark on light.

The matrix comes from ``qrcode`` with its 4-module quiet zone, so a phone can scan it straight
off the screen. Colours are fixed (black on white) whatever the theme: scanners want dark
modules on a light background.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

DARK_ON_LIGHT = Style(color="#000000", bgcolor="#ffffff")


def qr_matrix(payload: str) -> list[list[bool]]:
    """QR modules (True = dark) with the 4-module quiet zone: the core's matrix, the same one as the
    PNG written beside intermediate.crt (error correction M: 45x45 modules for a SHA-256 in hex)."""
    from byoroot_tui.core.fingerprint import qr_matrix as core_qr_matrix

    return core_qr_matrix(payload)


def half_block_lines(matrix: list[list[bool]]) -> list[str]:
    """Two matrix rows per text line; an odd last row is paired with a light row. The dark modules
    are the blocks, as on the printed sheet (the widget draws them dark on a fixed light ground)."""
    from byoroot_tui.core.fingerprint import qr_text

    return qr_text(matrix, for_paper=True)


def lines_to_matrix(lines: list[str]) -> list[list[bool]]:
    """The inverse of `half_block_lines` (for tests: what is drawn is exactly the code)."""
    from byoroot_tui.core.fingerprint import HALF_BLOCKS

    inverse = {v: k for k, v in HALF_BLOCKS.items()}
    rows: list[list[bool]] = []
    for line in lines:
        pairs = [inverse[c] for c in line]
        rows.append([p[0] for p in pairs])
        rows.append([p[1] for p in pairs])
    return rows


class QrCode(Widget):
    """The QR code of ``payload``."""

    DEFAULT_CSS = """
    QrCode {
        width: auto;
        height: auto;
    }
    """

    def __init__(self, payload: str, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.payload = payload
        self._lines = half_block_lines(qr_matrix(payload))  # the core makes the matrix once per payload

    @property
    def lines(self) -> list[str]:
        return list(self._lines)

    def get_content_width(self, container, viewport) -> int:  # type: ignore[no-untyped-def]
        return len(self._lines[0]) if self._lines else 0

    def get_content_height(self, container, viewport, width: int) -> int:  # type: ignore[no-untyped-def]
        return len(self._lines)

    def render(self) -> Text:
        return Text("\n".join(self._lines), style=DARK_ON_LIGHT, no_wrap=True, overflow="crop", end="")
