"""What every ceremony step screen shares: the step bar, the demo banner, Back/Next, the key bar (a one-widget Footer)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Input, Static

from byoroot_tui.core.ceremony import STEPS, Ceremony
from byoroot_tui.ui.widgets.keybar import KeyBar
from byoroot_tui.ui.widgets.steps import StepBar

if TYPE_CHECKING:
    from byoroot_tui.ui.app import ByorootApp

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

    def compose(self) -> ComposeResult:
        yield StepBar(self.STEP)
        if self.ceremony.demo:
            yield Static(Text(DEMO_BANNER), classes="demo-banner")
        yield from self.compose_body()
        yield KeyBar()

    def compose_body(self) -> ComposeResult:  # pragma: no cover - overridden
        yield from ()

    # The app-wide state (see _app_style_state) the widgets were last styled under: at mount, and
    # when the screen was last hidden. None while the screen is shown.
    _styled_under: tuple[object, ...] | None = None

    def on_mount(self) -> None:
        self._styled_under = self._app_style_state()
        # A step's screen is composed ahead of time (ByorootApp._prepare_next). If the app closes
        # while that screen is starting, Textual leaves its containers empty and still sends
        # Mount: a closing app has nothing to set up (and a query would raise).
        if self.app.is_running:
            self.on_step_mount()
            if not self.is_current:
                self.set_timer(0.05, self._lay_out_ahead)

    def _app_style_state(self) -> tuple[object, ...]:
        """The app-wide state a screen's styles depend on: theme, colours, terminal focus, size."""
        app = self.app
        return (app.theme, app.ansi_color, app.app_focus, app.size)

    # Showing a step -------------------------------------------------------------------------
    # Textual lays a screen out and draws every widget when it first shows, restyles every
    # widget (which throws away each widget's drawn lines) each time it shows again, and paints
    # at its next update tick. A step switch was 35-115 ms of that (bench-tui). Here a screen
    # built ahead is laid out and drawn off screen while the officers read the current step,
    # the restyle is skipped when it would change nothing, and the first frame is painted at
    # once, from the lines already drawn.

    def _lay_out_ahead(self) -> None:
        """A screen built ahead, not shown yet: lay it out at the app's size (then draw it)."""
        if self._shown_or_gone():
            return
        self._refresh_layout(self.app.size)
        self.set_timer(0.05, self._draw_ahead)  # after the Resize and Show events the layout sent

    def _draw_ahead(self) -> None:
        """Draw every widget of a screen built ahead into its own cache (the frame is not shown)."""
        if self._shown_or_gone():
            return
        if self._layout_required:
            self._layout_required = False
            self._refresh_layout(self.app.size)
        self._compositor.render_update(full=True)
        self._dirty_widgets.clear()

    def _shown_or_gone(self) -> bool:
        return not self.app.is_running or not self.is_attached or self.is_current

    @on(events.ScreenSuspend)
    def _hidden(self) -> None:
        self._styled_under = self._app_style_state()

    @on(events.ScreenResume)
    def _shown(self, event: events.ScreenResume) -> None:
        """Skip Textual's restyle of every widget when nothing app-wide changed since they were
        last styled (it would change nothing), and paint the first frame at once. Runs before
        Textual's own handler: a subclass's handlers come first. (A change of a widget's classes
        or focus while the screen was hidden restyles that widget on its own.)"""
        state, self._styled_under = self._styled_under, None
        if state is not None and state == self._app_style_state():
            event.refresh_styles = False
        self.call_next(self._paint_now)  # after Textual's handler and the subclasses' on_screen_resume

    def _paint_now(self) -> None:
        """This screen's pending layout and repaint now, not at Textual's next update tick."""
        if self.is_attached and self.is_current:
            self._on_timer_update()  # what that tick runs (private API; Textual is pinned)

    def _on_resize(self, event: events.Resize) -> None:
        """A resize to the size this screen is already laid out at (its outer_size; `size` is the
        app's), with the breakpoint classes of that size, changes nothing: skip Textual's layout
        and repaint. At start-up Textual sends two or three such, after the first paint. (After a
        real resize the layout comes first and then a Resize of the new size: Textual handles
        that one, which sets the breakpoint classes.)"""
        if event.size == self.outer_size and all(
                self.has_class(name) == on for name, on in self.byoroot.breakpoint_classes(event.size.width).items()):
            event.prevent_default()

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
        self.safe_sync()
        self.refresh_bindings()

    def _check_step_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return STEPS.index(self.STEP) > 0 and not self.ceremony.signed
        if action == "next":
            if self.STEP in ("review", "sign"):
                return False
            return True  # always offered; when blocked, pressing it says why
        return True

    def action_back(self) -> None:
        idx = STEPS.index(self.STEP)
        if idx > 0 and not self.ceremony.signed:
            self.byoroot.goto(STEPS[idx - 1])

    def action_next(self) -> None:
        reason = self.ceremony.blocker(self.STEP)
        if reason:
            self.byoroot.say(reason, severity="error")
            return
        self.byoroot.goto(STEPS[STEPS.index(self.STEP) + 1])
