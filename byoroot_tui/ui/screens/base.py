"""What every ceremony step screen shares: the step bar, the demo banner, Back/Next, the key bar (a one-widget Footer)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Input, Static

from byoroot_tui.core.ceremony import Ceremony
from byoroot_tui.ui.widgets.keybar import KeyBar
from byoroot_tui.ui.widgets.steps import StepBar

if TYPE_CHECKING:
    from byoroot_tui.ui.app import ByorootApp
    from byoroot_tui.ui.flow import Flow

DEMO_BANNER = "DEMO — throwaway root key made just now; never use it for a real ceremony"


class StepScreen(Screen[None]):
    """A step of the ceremony. Subclasses set STEP and implement compose_body() and sync()."""

    STEP: ClassVar[str] = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="step.back", tooltip="Previous step (nothing entered is lost)"),
        Binding("ctrl+n", "next", "Next", id="step.next", tooltip="Next step", priority=True),
    ]

    @property
    def byoroot(self) -> ByorootApp:
        return self.app  # type: ignore[return-value]

    @property
    def ceremony(self) -> Ceremony:
        return self.byoroot.ceremony

    @property
    def flow(self) -> Flow:
        return self.byoroot.flow

    def compose(self) -> ComposeResult:
        yield StepBar(self.STEP)
        if self.ceremony.demo:
            yield Static(Text(DEMO_BANNER), classes="demo-banner")
        yield from self.compose_body()
        yield KeyBar()

    def compose_body(self) -> ComposeResult:  # pragma: no cover - overridden
        yield from ()

    def on_mount(self) -> None:
        # A closing app has nothing to set up (and a query would raise).
        if self.app.is_running:
            self.on_step_mount()
            self.call_after_refresh(self.byoroot.freeze_long_lived)  # its widgets live from now on (see app)

    def on_step_mount(self) -> None:
        """What a step does once its widgets are mounted (focus, first sync). Subclasses override."""

    def sync(self) -> None:
        """Show what the ceremony holds now. Called on resume and when a worker reports."""

    # Enter in a field, serialised with the keys typed after it --------------------------------
    # Textual hands each key to the widget focused when the app reads it. With a plain Input,
    # keys typed right after Enter (a fast second officer, a paste) reach the old field before
    # the Enter handler moves the focus. Screens with fields bind Enter with priority: the app
    # waits for this action, which first lets the field take every key typed before the Enter,
    # then submits and moves the focus; only then does the app read the next key.

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:  # noqa: D102
        if action == "submit_field":
            return isinstance(self.focused, Input)
        return self._check_step_action(action, parameters)

    async def action_submit_field(self) -> None:
        field = self.focused
        if not isinstance(field, Input):
            return
        flushed = asyncio.Event()
        field.call_later(flushed.set)  # runs after the keys already queued to the field
        try:
            await asyncio.wait_for(flushed.wait(), timeout=2)
        except asyncio.TimeoutError:
            pass
        self.submit_field(field)

    def submit_field(self, field: Input) -> None:
        """Enter in ``field`` (screens with fields override this)."""

    def safe_sync(self) -> None:
        """sync(), but a bug in showing something must not end a ceremony: say so and carry on."""
        try:
            self.sync()
        except Exception as exc:  # pragma: no cover - only on a bug
            self.byoroot.show_error("Display problem", f"internal error ({type(exc).__name__}) while "
                                    "showing this step; nothing was signed or written")

    def on_screen_resume(self) -> None:
        if self.byoroot.prebuilding:
            return  # composed ahead, not shown (ByorootApp.prebuild)
        self.query_one(StepBar).refresh()  # a screen two kinds share shows the chosen kind's steps
        self.safe_sync()
        self.refresh_bindings()

    def previous_step(self) -> str | None:
        """Where Esc goes: the kind's previous step; from its first, the choice of ceremony. None
        once signed."""
        if self.ceremony.signed or self.STEP not in self.ceremony.steps:
            return None
        return self.ceremony.kind.previous_step(self.STEP) or "kinds"

    def _check_step_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return self.previous_step() is not None
        if action == "next":
            if self.STEP in ("review", "sign"):
                return False
            return True  # always offered; when blocked, pressing it says why
        return True

    def action_back(self) -> None:
        step = self.previous_step()
        if step is not None:
            self.byoroot.goto(step)

    def action_next(self) -> None:
        reason = self.ceremony.blocker(self.STEP)
        if reason:
            self.byoroot.say(reason, severity="error")
            return
        step = self.ceremony.kind.next_step(self.STEP)
        if step is not None:
            self.byoroot.goto(step)
