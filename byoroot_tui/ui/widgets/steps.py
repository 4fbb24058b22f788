"""The one-line ceremony progress bar at the top of every step screen."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from byoroot_tui.core.ceremony import STEP_TITLES, STEPS


def step_text(current: str, width: int = 200) -> Text:
    idx = STEPS.index(current)
    text = Text()
    text.append(" byoroot ", style="bold reverse")
    text.append(" ")
    for i, step in enumerate(STEPS):
        title = STEP_TITLES[step]
        if width < 100 and i != idx:
            title = title.split()[0]  # "Sign & export" -> "Sign"
        label = f"{i + 1} {title}"
        if i < idx:
            text.append(label, style="green")
        elif i == idx:
            text.append(f" {label} ", style="bold reverse")
        else:
            text.append(label, style="dim")
        if i < len(STEPS) - 1:
            text.append(" › ", style="dim")
    return text


class StepBar(Static):
    DEFAULT_CSS = """
    StepBar {
        height: 1;
        width: 1fr;
        background: $panel;
    }
    """

    def __init__(self, step: str) -> None:
        super().__init__(markup=False)
        self.step = step

    def render(self) -> Text:  # drawn with the very first frame, sized to the terminal
        return step_text(self.step, self.size.width or self.app.size.width)
