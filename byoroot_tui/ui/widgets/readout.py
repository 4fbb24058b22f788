"""A Static that shows what the ceremony holds, and repaints only when that changes.

A step's sync() runs each time the step shows and each time a worker reports, and builds what
every field shows again. Static.update() throws the drawn lines away and asks for a new layout
even when the new content is the same as the old, so a step switch drew every field twice and
laid the screen out again (bench-tui). A Readout compares the new content with the last by value
first, and skips the update when they are equal.

Never markup: the text can quote a CSR, and text from a CSR is hostile.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.visual import VisualType
from textual.widgets import Static


def content_key(content: Any) -> tuple[Any, ...] | None:
    """What ``content`` shows, as a value to compare; None for a kind it cannot compare (always redrawn)."""
    if isinstance(content, str):
        return ("str", content)
    if isinstance(content, Text):
        return ("text", content.plain, tuple(content.spans), str(content.style), content.justify, content.overflow,
                content.no_wrap, content.end, content.tab_size)
    if isinstance(content, Group):
        parts = tuple(content_key(r) for r in content.renderables)
        return None if None in parts else ("group", parts)
    if isinstance(content, Table):
        columns = []
        for col in content.columns:
            cells = tuple(content_key(cell) for cell in col.cells)
            header = content_key(col.header)
            if header is None or None in cells:
                return None
            columns.append((header, str(col.style), str(col.header_style), col.justify, col.vertical, col.overflow,
                            col.width, col.min_width, col.max_width, col.ratio, col.no_wrap, cells))
        rows = tuple((str(row.style), row.end_section) for row in content.rows)
        return ("table", tuple(columns), rows, content.box, content.padding, content.expand, content.show_header,
                content.show_edge, content.pad_edge, content.show_lines, content.width, content.min_width,
                str(content.style), str(content.header_style), str(content.border_style))
    return None


class Readout(Static):
    """A Static (never markup) whose update() does nothing when the content shown is unchanged."""

    def __init__(self, content: VisualType = "", **kwargs: Any) -> None:
        kwargs.setdefault("markup", False)
        super().__init__(content, **kwargs)
        self._shown_key: tuple[Any, ...] | None = content_key(content)

    def update(self, content: VisualType = "", *, layout: bool = True) -> None:
        key = content_key(content)
        if key is not None and key == self._shown_key:
            return
        self._shown_key = key
        super().update(content, layout=layout)
