"""The one-line ceremony progress bar at the top of every step screen."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from byoroot_tui.core.kinds import INTERMEDIATE, STEP_TITLES


def step_text(current: str, width: int = 200, steps: tuple[str, ...] = INTERMEDIATE.steps) -> Text:
    """The kind's steps in order, ``current`` highlighted (the choice of ceremony has no number)."""
    text = Text()
    text.append(" byoroot ", style="bold reverse")
    text.append(" ")
    if current not in steps:  # the first screen: no kind chosen yet
        text.append(" Choose the ceremony ", style="bold reverse")
        return text
    idx = steps.index(current)
    for i, step in enumerate(steps):
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
        if i < len(steps) - 1:
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
        steps = self.app.ceremony.steps  # type: ignore[attr-defined]
        return step_text(self.step, self.size.width or self.app.size.width, steps)
