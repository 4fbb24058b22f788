"""Big hex digits for reading a fingerprint aloud: three columns by three rows each.

Every glyph is drawn with square box-drawing lines that Debian's console fonts carry (no rounded
corners: the console draws ╭ as ┌, which is how Textual's own Digits turned B into 8 and D into 0
there). The pairs that are easy to confuse differ in shape, not in a corner's rounding:
0 is slashed, D has cut corners on the right, B has a small upper bowl (8 has two equal ones).
`test_ui_console` renders each glyph through a console font and through the same font with
rounded corners and checks that no two digits come out alike.
"""

from __future__ import annotations

BIG_HEX: dict[str, tuple[str, str, str]] = {
    "0": ("┌─┐", "│╱│", "└─┘"),
    "1": ("╶┐ ", " │ ", "╶┴╴"),
    "2": ("╶─┐", "┌─┘", "└─╴"),
    "3": ("╶─┐", " ─┤", "╶─┘"),
    "4": ("╷ ╷", "└─┤", "  ╵"),
    "5": ("┌─╴", "└─┐", "╶─┘"),
    "6": ("┌─╴", "├─┐", "└─┘"),
    "7": ("╶─┐", "  │", "  ╵"),
    "8": ("┌─┐", "├─┤", "└─┘"),
    "9": ("┌─┐", "└─┤", "╶─┘"),
    "A": ("┌─┐", "├─┤", "╵ ╵"),
    "B": ("┌┐ ", "├┴┐", "└─┘"),
    "C": ("┌─╴", "│  ", "└─╴"),
    "D": ("┌─╲", "│ │", "└─╱"),
    "E": ("┌─╴", "├─╴", "└─╴"),
    "F": ("┌─╴", "├─╴", "╵  "),
}


def big_lines(text: str) -> list[str]:
    """``text`` (groups of hex digits split by spaces) as three lines of big glyphs: one column
    between digits, two more between groups."""
    groups = [[BIG_HEX[ch] for ch in group] for group in text.upper().split()]
    return ["   ".join(" ".join(g[row] for g in group) for group in groups) for row in range(3)]
