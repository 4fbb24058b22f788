"""What the app may draw on the Linux console, chosen once at start.

Debian's console fonts (console-setup: Uni2-Fixed16, Lat15-Fixed16, Uni2-Terminus16,
Lat15-Terminus16) carry ASCII, Latin-1, the box-drawing lines, █ ░ ▒ and a few arrows and marks,
but not ▀ ▄ ▌ ▐ ▏ ▔ ▁, ✓ ⏎ ⇄ ○, nor any emoji: the kernel draws a missing glyph as a diamond.
`CONSOLE_GLYPHS` is what all four fonts share (read from their Unicode tables; the test
`test_ui_console` checks it against the font files when they are installed).

With ``TERM=linux`` or ``--console`` the app writes everything through `console_text`: every
character the fonts lack becomes one they have, of the same width, so columns never shift. That
covers the app's own marks and Textual's widgets alike (the folder picker's emoji icons, the
Tree's guides, scroll bars, the progress bar, borders); the QR code and the big fingerprint
digits are drawn with console glyphs to begin with (see widgets/qr.py and widgets/bigdigits.py).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

# The non-ASCII characters all four fonts carry (ASCII 0x20-0x7e is in every one of them).
CONSOLE_GLYPHS = frozenset(
    "¡¢£¤¥¦§¨©ª«¬®¯°±²³´µ¶·¸¹º»¼½¾¿ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõö÷øùúûüýþÿ"
    "ĐĞğİıŒœŞşŠšŸŽžƒˆˉ˜‐‑‒–—―‘’‚“”„†‡•…‰‹›‼€№™←↑→↓−∞≈≠≡≤≥"
    "─━│┃┄┅┆┇┈┉┊┋┌┍┎┏┐┑┒┓└┕┖┗┘┙┚┛├┝┞┟┠┡┢┣┤┥┦┧┨┩┪┫┬┭┮┯┰┱┲┳┴┵┶┷┸┹┺┻┼┽┾┿╀╁╂╃╄╅╆╇╈╉╊╋╌╍╎╏"
    "═║╒╓╔╕╖╗╘╙╚╛╜╝╞╟╠╡╢╣╤╥╦╧╨╩╪╫╬╭╮╯╰╱╲╳╴╵╶╷╸╹╺╻╼╽╾╿"
    "█░▒■▮▲▴▶▸▼▾◀◂◈●☐☑☒♦✗✘ "
) | frozenset(chr(c) for c in range(0x20, 0x7F))

# The app's own marks and Textual's, each to a glyph of the console fonts (same width).
CONSOLE_MAP: dict[str, str] = {
    "✓": "☑", "✔": "☑", "✕": "✗", "⏎": "←", "↵": "←", "⌫": "«", "⇥": "»", "⎋": "e", "⇄": "/", "↔": "/", "○": "o", "◯": "o", "⭘": "o",
    "◆": "♦", "▪": "■", "□": "☐", "►": "▶", "◄": "◀", "⬤": "●", "∙": "·", "⋯": "…",
    # Partial blocks (Textual's scroll-bar ends, "tall"/"wide"/"outer" borders, Checkbox, Input)
    "▀": "─", "▔": "─", "▁": "─", "▂": "_", "▃": "_", "▄": "─", "▅": "█", "▆": "█", "▇": "█",
    "▏": "│", "▎": "│", "▍": "│", "▌": "│", "▋": "█", "▊": "│", "▉": "█", "▐": "│", "▕": "│",
    "▓": "▒", "▖": " ", "▗": " ", "▘": " ", "▙": "█", "▚": "▒", "▛": "█", "▜": "█", "▝": " ", "▞": "▒", "▟": "█",
    # Textual's folder picker (DirectoryTree) icons are emoji, two columns wide.
    "📁": "+ ", "📂": "- ", "📄": "  ", "🔗": "> ",
    "\N{VARIATION SELECTOR-16}": "",
}

_ALLOWED = "".join(sorted(CONSOLE_GLYPHS - {"]", "\\", "^", "-"}))


@lru_cache(maxsize=1)
def _pattern() -> re.Pattern[str]:
    return re.compile("[^\\n\\r\\t\\x1b\\x07\\]\\\\^\\-" + re.escape(_ALLOWED) + "]")


def _replace(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch in CONSOLE_MAP:
        return CONSOLE_MAP[ch]
    if ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0:
        return ch  # control characters belong to the escape sequences
    from rich.cells import cell_len

    return "?" * cell_len(ch)  # anything else the fonts lack: a visible stand-in, same width


def console_text(text: str) -> str:
    """``text`` with every character Debian's console fonts lack replaced (widths kept)."""
    return _pattern().sub(_replace, text)


def wants_console(option: bool | None = None, term: str | None = None) -> bool:
    """The console glyphs are used with ``--console``, or when TERM is ``linux`` (the bare console)."""
    if option is not None:
        return option
    term = os.environ.get("TERM", "") if term is None else term
    return term == "linux" or term.startswith("linux-")
