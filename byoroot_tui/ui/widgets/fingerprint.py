"""A SHA-256 fingerprint shown large (for reading aloud) and as grouped hex."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from byoroot_tui.ui.widgets.bigdigits import big_lines


def grouped(hex_digest: str, group: int = 4, per_line: int = 4) -> list[str]:
    """Upper-case hex in groups of ``group``, ``per_line`` groups a line."""
    text = hex_digest.upper()
    groups = [text[i : i + group] for i in range(0, len(text), group)]
    return [" ".join(groups[i : i + per_line]) for i in range(0, len(groups), per_line)]


class Fingerprint(Vertical):
    """Big digits (no two alike), four groups a line, then the same digits as plain hex, eight groups a line."""

    DEFAULT_CSS = """
    Fingerprint {
        height: auto;
        width: auto;
    }
    Fingerprint > .fp-digits {
        width: auto;
    }
    Fingerprint > .fp-hex {
        width: auto;
        margin-top: 1;
    }
    """

    def __init__(self, hex_digest: str, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.hex_digest = hex_digest.lower()

    def compose(self) -> ComposeResult:
        # Big glyphs that the console fonts carry and that cannot be misread (widgets/bigdigits.py)
        big = [row for line in grouped(self.hex_digest, 4, 4) for row in big_lines(line)]
        yield Static(Text("\n".join(big), no_wrap=True, overflow="crop"), classes="fp-digits")
        yield Static(Text("\n".join(grouped(self.hex_digest, 4, 8))), classes="fp-hex")
