"""A QR code drawn with half-block characters (two modules a cell) or, scaled, full blocks; dark on light.

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


def scaled(matrix: list[list[bool]], k: int) -> list[list[bool]]:
    """Each module repeated ``k`` times across and down."""
    return [[m for m in row for _ in range(k)] for row in matrix for _ in range(k)]


def block_lines(matrix: list[list[bool]], scale: int = 2) -> list[str]:
    """The matrix with half-blocks, ``scale`` columns and ``scale`` half-rows a module.

    A terminal cell is about twice as tall as wide, so a module stays square at any scale. An even
    scale uses only full blocks and spaces: what the Linux console draws (its fonts have no ▀ ▄),
    two columns and one row a module at scale 2."""
    return half_block_lines(scaled(matrix, scale)) if scale > 1 else half_block_lines(matrix)


def choose_scale(modules: int, width: int, height: int, *, console: bool, most: int = 4) -> int:
    """The largest scale at which a ``modules``-wide code fits ``width`` x ``height`` cells; 0 when
    none fits. The console allows even scales only (full blocks)."""
    for k in range(most, 0, -1):
        if console and k % 2:
            continue
        if modules * k <= width and (modules * k + 1) // 2 <= height:
            return k
    return 0


class QrCode(Widget):
    """The QR code of ``payload``, at a fixed scale or (``fit=True``) as large as the space allows.

    On the Linux console (the app's ``console_glyphs``) it is drawn with full blocks only, two
    columns a module; where that cannot fit, it says so and points to the PNG and the sheet."""

    DEFAULT_CSS = """
    QrCode {
        width: auto;
        height: auto;
    }
    """

    def __init__(self, payload: str, *, fit: bool = False, spare: tuple[int, int] = (0, 0), name: str | None = None,
                 id: str | None = None, classes: str | None = None,
                 files: tuple[str, str] = ("intermediate-fingerprint.png", "intermediate.crt")) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.payload = payload
        self.files = files  # (the QR code's PNG, the file it fingerprints), named when the code does not fit
        self.fit = fit
        self.spare = spare  # (columns, rows) of the screen kept for what is around the code
        self._qr_matrix = qr_matrix(payload)  # the core makes the matrix once per payload
        self._lines_by_scale: dict[int, list[str]] = {}
        self.scale = 1

    @property
    def console(self) -> bool:
        return bool(getattr(self.app, "console_glyphs", False))

    def lines_at(self, scale: int) -> list[str]:
        if scale not in self._lines_by_scale:
            self._lines_by_scale[scale] = block_lines(self._qr_matrix, scale)
        return self._lines_by_scale[scale]

    @property
    def lines(self) -> list[str]:
        return list(self.lines_at(self.scale)) if self.scale else []

    def _scale_for(self, viewport_width: int, viewport_height: int) -> int:
        n = len(self._qr_matrix)
        width, height = viewport_width - self.spare[0], viewport_height - self.spare[1]
        if self.fit:  # off the console the code is always drawn (cropped if the terminal is tiny)
            return choose_scale(n, width, height, console=self.console) or (0 if self.console else 1)
        if self.console:
            return 2 if choose_scale(n, width, height, console=True, most=2) else 0
        return 1

    def _note(self) -> str:
        n = len(self._qr_matrix)
        # the full-screen view (fit) cannot offer itself
        first = "Scan" if self.fit else "Press v for the QR code alone, or scan"
        return (f"The QR code does not fit this screen (it needs {2 * n}x{n} characters here).\n"
                f"{first} {self.files[0]} beside {self.files[1]}, or the printed ceremony record sheet.")

    def get_content_width(self, container, viewport) -> int:  # type: ignore[no-untyped-def]
        self.scale = self._scale_for(viewport.width, viewport.height)
        if not self.scale:
            return 44  # the note, wrapped
        return len(self.lines_at(self.scale)[0])

    def get_content_height(self, container, viewport, width: int) -> int:  # type: ignore[no-untyped-def]
        if not self.scale:
            from rich.console import Console

            return len(Text(self._note()).wrap(Console(width=max(width, 1)), max(width, 1)))
        return len(self.lines_at(self.scale))

    def render(self) -> Text:
        if not self.scale:
            return Text(self._note(), style="bold")
        return Text("\n".join(self.lines_at(self.scale)), style=DARK_ON_LIGHT, no_wrap=True, overflow="crop", end="")
