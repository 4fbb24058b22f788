"""The key bar: the screen's active bindings on one line, drawn as one piece of text.

It shows what Textual's ``Footer`` shows (each action once, its first key, dimmed when not
available now) and looks the same, but it is a single widget that redraws itself when the
bindings change. ``Footer`` recomposes a child widget per key on every change (a step switch,
a focus move): that was a third of the time of a step switch (bench-tui). A click on a key
presses it, as on ``Footer``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.widget import Widget


class KeyBar(Widget, can_focus=False):
    ALLOW_SELECT = False
    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-bar--key", "key-bar--description"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        width: 1fr;
        text-wrap: nowrap;
        text-overflow: clip;
        color: $footer-foreground;
        background: $footer-background;
        .key-bar--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        .key-bar--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._key_spans: list[tuple[int, int, str, bool]] = []  # (start, end, key, enabled) per key drawn

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._redraw_on_bindings)

    def _redraw_on_bindings(self, screen: Any) -> None:
        if self.is_attached and screen is self.screen:
            self.refresh()

    def shown_bindings(self) -> list[tuple[str, str, str, bool]]:
        """(key, key as shown, description, enabled) for each action shown, in the screen's order."""
        seen: set[str] = set()
        out = []
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            out.append((binding.key, self.app.get_key_display(binding), binding.description, enabled))
        return out

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-bar--key")
        description_style = self.get_component_rich_style("key-bar--description")
        dim = Style(dim=True)
        text = Text(no_wrap=True, overflow="crop", end="")
        self._key_spans = []
        for key, shown, description, enabled in self.shown_bindings():
            start = len(text)
            text.append(f" {shown} ", key_style if enabled else key_style + dim)
            if description:
                text.append(f"{description} ", description_style if enabled else description_style + dim)
            self._key_spans.append((start, len(text), key, enabled))
        return text

    def on_click(self, event: events.Click) -> None:
        for start, end, key, enabled in self._key_spans:
            if start <= event.x < end:
                if enabled:
                    self.app.simulate_key(key)
                else:
                    self.app.bell()
                return
