"""The ceremony app: built by `make_app` with its environment injected (media, clock, clipboard).

Crypto and the core's parsers are imported inside thread workers, never at start-up, so the
first screen appears about as fast as a bare Textual app. Background work runs as jobs
(ui/jobs.py) started by ui/flow.py and the screens; every error a job meets becomes the core's
one-line reason, shown inline or in a modal. Public Textual API only.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

from textual import events
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from byoroot_tui.core.ceremony import Ceremony
from byoroot_tui.core.errors import ByorootError
from byoroot_tui.core.media import Medium, discover_media
from byoroot_tui.ui.jobs import JobsMixin


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _pyperclip_copy(text: str) -> bool:
    """Copy with pyperclip where the station has a clipboard; False where it has none."""
    try:
        import pyperclip

        pyperclip.copy(text)
        return True
    except Exception:  # pyperclip.PyperclipException and friends: no clipboard here
        return False


@dataclass
class Services:
    """The app's environment. Tests replace the media discovery and the clock, never the crypto."""

    discover: Callable[[Iterable[Path]], list[Medium]] = field(
        default=lambda roots: discover_media(roots)
    )
    clock: Callable[[], datetime] = _utcnow
    clipboard: Callable[[str], bool] = _pyperclip_copy
    poll_interval: float = 2.0  # seconds between media scans; 0 disables polling
    log_path: Path | None = None  # the station log; None: core.stationlog.default_log_path()
    serial: Callable[[], int] | None = None  # the certificate serial; None: a random one (snapshot tests fix it)

    def station_log(self) -> Path:
        if self.log_path is not None:
            return self.log_path
        from byoroot_tui.core.stationlog import default_log_path

        return default_log_path()


def console_driver_class() -> type[Any]:
    """Textual's terminal driver, writing through `glyphs.console_text`: every glyph the Linux
    console's fonts lack (Textual's own included) becomes one they have, the same width."""
    from textual.drivers.linux_driver import LinuxDriver

    from byoroot_tui.ui.glyphs import console_text

    class ConsoleDriver(LinuxDriver):
        def write(self, data: str) -> None:
            super().write(console_text(data))

    return ConsoleDriver


STEPS_CSS = Path(__file__).with_name("steps.tcss")  # see ByorootApp.load_step_css

# Each step's screen, by name (core.kinds names the steps of each kind). A step two kinds share
# is one screen. Each screen's module is imported when it is first shown (or by the warm-up).
STEP_SCREENS: dict[str, tuple[str, str]] = {
    "kinds": ("byoroot_tui.ui.screens.kinds", "KindScreen"),  # the first screen: which ceremony
    "media": ("byoroot_tui.ui.screens.media", "MediaScreen"),
    "preview": ("byoroot_tui.ui.screens.preview", "PreviewScreen"),
    "profile": ("byoroot_tui.ui.screens.profile", "ProfileScreen"),
    "root": ("byoroot_tui.ui.screens.root", "RootScreen"),
    "crl": ("byoroot_tui.ui.screens.crl", "CrlScreen"),
    "review": ("byoroot_tui.ui.screens.review", "ReviewScreen"),
    "sign": ("byoroot_tui.ui.screens.sign", "SignScreen"),
    "result": ("byoroot_tui.ui.screens.sign", "ResultScreen"),
}


class ByorootApp(JobsMixin, App[int]):
    """The frame every ceremony runs in: which screen shows, jobs' outcomes, messages to the
    officers, quitting and stop signals. What a step does is its screen's; what may happen next
    is the core `Ceremony`'s; the background work the steps start is `ui.flow.Flow`'s."""

    CSS_PATH = "byoroot.tcss"
    TITLE = "byoroot"
    SUB_TITLE = "offline root CA ceremony"
    # Nothing on the station is written unasked: no command palette (its system commands include
    # "save a screenshot" into ~/Downloads), and the actions it would offer do nothing here.
    ENABLE_COMMAND_PALETTE = False
    COMMANDS: ClassVar[set[Any]] = set()
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [
        Binding("ctrl+q", "request_quit", "Quit", id="app.quit", tooltip="Leave the app", priority=True),
    ]

    def get_key_display(self, binding: Binding) -> str:
        """Textual's key names; on the console (no ⏎ ⌫ in its fonts) enter and backspace as words."""
        text = super().get_key_display(binding)
        if self.console_glyphs:
            text = text.replace("⏎", "enter").replace("⌫", "bksp")
        return text

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[Any]:
        return ()

    def action_command_palette(self) -> None:
        pass

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        self.say("screenshots are not saved on the ceremony station")

    def __init__(self, ceremony: Ceremony, services: Services, *, csr_given: Path | None = None,
                 console: bool | None = None) -> None:
        from byoroot_tui.ui.flow import Flow
        from byoroot_tui.ui.glyphs import wants_console

        # The Linux console (TERM=linux, or --console): only the glyphs its fonts carry (ui/glyphs.py).
        self.console_glyphs = wants_console(console)
        super().__init__(driver_class=console_driver_class() if self.console_glyphs else None)
        self.ceremony = ceremony
        self.services = services
        self.csr_given = csr_given
        self.flow = Flow(self)
        self._steps: dict[str, Screen[Any]] = {}
        self.first_step = "media"  # set by get_default_screen: "media", or "kinds" (the chooser)
        # Set by SIGTERM, SIGHUP or SIGINT: the core's writers check it between steps, remove what
        # they made and log it; the app ends once no signing or writing worker runs.
        self.cancel_event = threading.Event()
        self.stopped_by: str | None = None

    # -------------------------------------------------------------- navigation

    def step_screen(self, step: str) -> Screen[Any]:
        """The screen of ``step``, built (and installed) the first time it is asked for."""
        if step not in self._steps:
            if step != self.first_step:
                self.load_step_css()
            import importlib

            module, cls = STEP_SCREENS[step]
            factory: Callable[[], Screen[Any]] = getattr(importlib.import_module(module), cls)
            screen = factory()
            self._steps[step] = screen
            self.install_screen(screen, name=f"step-{step}")
        return self._steps[step]

    def step_screen_if_built(self, step: str) -> Screen[Any] | None:
        return self._steps.get(step)

    def load_step_css(self) -> None:
        """Add steps.tcss (the rules of every step but the first, and of the dialogs) to the app's
        stylesheet, once, before the first screen that needs it is built. byoroot.tcss alone is
        parsed before the first frame. Added as the app's own CSS (byoroot.tcss's priority), and
        parsed by itself: Textual keeps the parsed rules of the other sources."""
        path = str(STEPS_CSS)
        if not self.stylesheet.has_source(path):
            self.stylesheet.add_source(STEPS_CSS.read_text(encoding="utf-8"), read_from=(path, ""))

    def push_screen(self, screen: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: D102
        self.load_step_css()  # a dialog can open on the first screen
        return super().push_screen(screen, *args, **kwargs)

    def get_default_screen(self) -> Screen[Any]:
        """The first screen, composed in Textual's own start-up: the intermediate ceremony's media
        step when a CSR was given (--csr) or lies on a medium, else the choice of ceremony."""
        if self.csr_given is None and not self._csr_on_media():
            self.first_step = "kinds"
        return self.step_screen(self.first_step)

    def _csr_on_media(self) -> bool:
        from byoroot_tui.core.media import csr_on_media

        try:
            return csr_on_media(self.services.discover(self.ceremony.media_roots))
        except Exception:
            return False

    def goto(self, step: str) -> None:
        """Show ``step``'s screen. The first screen stays at the bottom of the stack; every other
        step is pushed over it, and a step switch replaces the step on top (public Textual:
        push_screen, switch_screen, pop_screen; the screens are installed, so kept)."""
        from byoroot_tui.ui.screens.base import StepScreen

        screen = self.step_screen(step)
        while len(self.screen_stack) > 1 and not isinstance(self.screen, StepScreen):
            self.pop_screen()  # close any dialog left open
        if step == self.first_step:
            while len(self.screen_stack) > 1:
                self.pop_screen()
        elif len(self.screen_stack) == 1:
            self.push_screen(screen)
        elif self.screen is not screen:
            self.switch_screen(screen)
        self.set_timer(0.1, self._prebuild_next)  # after this step's first frame

    # -------------------------------------------------------------- the next step, composed ahead
    # A step's screen is composed when it first shows: 30-100 ms for the larger ones (bench-tui),
    # which the officers would wait for at each first ctrl+n. While they read a step, the next
    # one is composed ahead by public means: pushed and popped again inside App.batch_update (no
    # frame is drawn meanwhile), as an installed screen that then stays composed. It runs inside
    # the app's own message handling, so a key pressed meanwhile waits for it and is never
    # delivered to the screen pushed for a moment. Steps ignore the resume and suspend events of
    # that moment (`prebuilding`).

    prebuilding = False

    def next_step(self) -> str | None:
        step, kind = self.current_step, self.ceremony.kind
        if step == "kinds":
            return None
        if step is None or step not in kind.steps:
            return None
        return kind.next_step(step)

    async def _prebuild_next(self) -> None:
        if not self.is_running or not self.screen_stack:
            return  # closing
        step = self.next_step()
        if step is not None and not self.ceremony.signed:
            await self.prebuild(step)

    async def prebuild(self, step: str) -> None:
        """Compose ``step``'s screen now without showing it (best effort; never raises)."""
        from byoroot_tui.ui.screens.base import StepScreen

        if not self.is_running or self.prebuilding or step in ("sign", "result"):
            return  # sign & export shows what only signing makes
        built = self._steps.get(step)
        if built is not None and built.is_mounted:
            return
        stack = self.screen_stack
        if not stack or len(stack) > 2 or not isinstance(stack[-1], StepScreen):
            return  # a dialog is open (or the app closes): not now
        try:
            screen = self.step_screen(step)
            self.prebuilding = True
            with self.batch_update():
                await self.push_screen(screen)
                await self.pop_screen()
        except Exception:
            pass
        finally:
            self.prebuilding = False

    @property
    def current_step(self) -> str | None:
        stack = self.screen_stack  # empty while the app closes
        for name, screen in self._steps.items():
            if stack and screen is stack[-1]:
                return name
        return None

    MIN_SIZE: ClassVar[tuple[int, int]] = (80, 24)  # every step is laid out for this much at least
    _too_small = False

    def on_resize(self, event: events.Resize) -> None:
        self.say_if_too_small(event.size.width, event.size.height)

    def say_if_too_small(self, width: int, height: int) -> None:
        """Below 80x24 parts of a step are cut off: say so (once each time the terminal gets too small)."""
        small = width < self.MIN_SIZE[0] or height < self.MIN_SIZE[1]
        if small and not self._too_small:
            self.say(f"The terminal is too small ({width}x{height}): the app needs at least "
                     f"{self.MIN_SIZE[0]}x{self.MIN_SIZE[1]}. Make the window larger, or use a smaller font.",
                     severity="warning", timeout=15)
        self._too_small = small

    def on_mount(self) -> None:
        self.call_after_refresh(lambda: self.say_if_too_small(*self.size))  # once the first screen shows
        c = self.ceremony
        if c.csr_path is not None:
            self.flow.load_csr(c.csr_path)
        if c.root_cert_path is not None:
            self.flow.load_root(c.root_cert_path)
        self.set_timer(0.3, self._start_warm_up)  # after the first screen is on the terminal
        self.set_timer(0.5, lambda: self.flow.load_ledger(then=self._ledger_warnings))
        self.set_interval(0.1, self._heartbeat, name="repaint-heartbeat")
        self._handle_stop_signals()

    def _handle_stop_signals(self) -> None:
        """SIGTERM, SIGHUP (the terminal closed) and SIGINT (from kill; Ctrl+C is a key here) stop
        the app without cutting a write in half: see `_stop_signal`."""
        import asyncio
        import signal

        try:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                loop.add_signal_handler(sig, self._stop_signal, sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread (tests run the app elsewhere): the default handlers stay

    def _release_stop_signals(self) -> None:
        """The stop signals go back to the interpreter's handlers when the app ends."""
        import asyncio
        import signal

        try:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                loop.remove_signal_handler(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass

    def _stop_signal(self, signum: int) -> None:
        import signal

        self.stopped_by = signal.Signals(signum).name
        self.cancel_event.set()
        self._exit_when_idle(2)

    def _exit_when_idle(self, settle: int) -> None:
        """End the app once no signing or writing worker runs (a writer that saw the cancel event
        removes what it made and logs export_failed first), and its last message was handled."""
        busy = any(w.group in ("sign", "write") and w.is_running for w in self.workers)
        if busy or settle > 0:
            self.set_timer(0.1, lambda: self._exit_when_idle(settle if busy else settle - 1))
            return
        self.exit(return_code=1, message=f"byoroot: stopped by {self.stopped_by}: {self.ceremony.where_things_are()}")

    def _ledger_warnings(self, read: Any) -> None:
        """On start: the root's other duties (core.ledger): a CRL due or past, a revocation on no CRL."""
        if self.first_step == "kinds":
            return  # the first screen shows them under the choice of ceremony
        ledger = read.value
        if ledger is not None and ledger.warnings:
            n = len(ledger.warnings)
            self.say(f"The root's other duties: {ledger.warnings[0]}" + (f" (and {n - 1} more: esc on this step, "
                     "then Issue the root CRL, lists them)" if n > 1 else ""), severity="warning", timeout=10)
        elif not read.ok and read.reason:
            self.say(f"The station log cannot be read: {read.reason}", severity="error", timeout=10)

    def _start_warm_up(self) -> None:
        self.run_worker(self.warm_up, thread=True, group="warm", exit_on_error=False)

    def _heartbeat(self) -> None:
        """Nudge the current screen to repaint anything left dirty.

        Textual can miss a repaint when its update timer fires while the main thread is starved
        by a busy worker thread (crypto in a worker, the warm-up imports); nothing else would
        wake it until the next key. An idle check is cheap and paints only what is dirty.
        """
        if self.screen_stack:
            self.screen_stack[-1].check_idle()

    def warm_up(self) -> None:  # runs in a thread worker (group "warm"), see _start_warm_up
        """Import what later steps need after the first screen is up, so they show at once.

        Python-only imports in a thread: the screens first (the next key may need them), then the
        crypto stack and the linter. Nothing here composes widgets or touches a key.
        """
        import importlib

        for module, _cls in STEP_SCREENS.values():
            importlib.import_module(module)
        for name in ("byoroot_tui.ui.widgets.qr", "byoroot_tui.ui.screens.modals", "byoroot_tui.core.csr",
                     "byoroot_tui.core.profiles", "byoroot_tui.core.issue", "byoroot_tui.core.signer",
                     "byoroot_tui.core.export", "byoroot_tui.core.record", "byoroot_tui.core.fingerprint",
                     "byoroot_tui.core.keyref", "byoroot_tui.core.stationlog", "qrcode", "pkilint.pkix.certificate",
                     "pkilint.document", "pkilint.validation", "pyasn1_alt_modules.rfc5280"):
            try:
                importlib.import_module(name)
            except Exception:
                pass

    def on_unmount(self) -> None:
        self._release_stop_signals()
        if self._frozen:
            gc.unfreeze()  # what the app froze goes back to the collector (tests run many apps in one process)

    # -------------------------------------------------------------- garbage collection
    # Textual, the crypto stack and pkilint allocate a few hundred thousand objects that live as
    # long as the app, and a screen's widgets live from their first show on. Python's full
    # collections walk all of them: bench-tui counted 18 of ~90 ms each over three ceremonies,
    # each landing inside whatever key or step switch was running. After the warm-up, and after a
    # step's screen first shows, what exists is moved out of the collector's reach (gc.freeze):
    # a full collection then walks only what was made since. Automatic collection stays on.
    # Measured in pairs with bench-tui (bench/README.md).

    _frozen = False

    def freeze_long_lived(self) -> None:
        gc.freeze()
        self._frozen = True

    # -------------------------------------------------------------- messages to the officer

    def say(self, message: str, severity: str = "information", timeout: float | None = None) -> None:
        """A toast. Never markup: reasons can quote hostile text."""
        self.notify(message, severity=severity, markup=False, timeout=timeout or (8 if severity == "error" else 4))  # type: ignore[arg-type]

    def show_error(self, title: str, reason: str) -> None:
        from byoroot_tui.ui.screens.modals import ErrorModal

        self.push_screen(ErrorModal(title, reason))

    def sync_screen(self) -> None:
        """Every screen on the stack shows what the ceremony holds now."""
        for screen in self.screen_stack:
            sync = getattr(screen, "safe_sync", None)
            if sync is not None and screen.is_mounted:
                sync()
                screen.refresh_bindings()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "warm" and event.state == WorkerState.SUCCESS:
            self.freeze_long_lived()
            self.set_timer(0.1, self._prebuild_next)
        # Jobs catch their own errors (ui/jobs.py); this is the last line of defence.
        if event.state == WorkerState.ERROR and event.worker.group != "warm":
            err = event.worker.error
            reason = str(err) if isinstance(err, ByorootError) else f"internal error ({type(err).__name__})"
            self.show_error("Something went wrong", reason)

    # -------------------------------------------------------------- clipboard and quitting

    def copy_text(self, text: str) -> bool:
        """OSC 52 to the terminal, and pyperclip where a clipboard exists. True if pyperclip took it."""
        self.copy_to_clipboard(text)
        return self.services.clipboard(text)

    def action_request_quit(self) -> None:
        c = self.ceremony
        question = c.quit_question(started=self.current_step not in (None, self.first_step, "kinds"))
        if question is None:
            self.exit(c.exit_code())
            return
        from byoroot_tui.ui.screens.modals import ConfirmModal

        title, text, yes, no, danger = question

        def answered(leave: bool | None) -> None:
            if not leave:
                return
            if c.signed:  # a write under way sees the cancel event, removes what it made and logs it
                self.stopped_by = "the officers (quit)"
                self.cancel_event.set()
                self._exit_when_idle(1)
            else:
                self.exit(0)

        self.push_screen(ConfirmModal(title, text, yes=yes, no=no, danger=danger), answered)


def make_app(
    *,
    media_roots: Iterable[str | os.PathLike[str]] = (),
    csr: str | os.PathLike[str] | None = None,
    root_cert: str | os.PathLike[str] | None = None,
    root_key: str | os.PathLike[str] | None = None,
    pkcs11_module: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    demo: bool = False,
    services: Services | None = None,
    include_system_media: bool = True,
    profile_dirs: Iterable[str | os.PathLike[str]] = (),
    log_path: str | os.PathLike[str] | None = None,
    console: bool | None = None,
    paper: str = "a4",
) -> ByorootApp:
    """Build the app. The CLI, the demo, the tests, the screenshots and the bench all use this."""
    roots = [Path(r).absolute() for r in media_roots]
    if services is None:
        services = Services()
        if not include_system_media:
            services.discover = lambda rs: discover_media(rs, include_system=False)
    if log_path is not None:
        services.log_path = Path(log_path)
    ceremony = Ceremony(media_roots=roots, demo=demo, profile_dirs=[Path(d) for d in profile_dirs], paper=paper)
    csr_path = Path(csr).absolute() if csr is not None else None
    if csr_path is not None:
        ceremony.set_csr(csr_path)
    if root_cert is not None:
        ceremony.root_cert_path = Path(root_cert).absolute()
    if root_key is not None:
        ceremony.root_key_path = Path(root_key).absolute()
    if pkcs11_module is not None:  # the root key is in an HSM; the root screen lists its tokens
        ceremony.key_source, ceremony.hsm_module = "hsm", os.fspath(pkcs11_module)
    if out is not None:
        ceremony.out_dir_override = Path(out).absolute()
    return ByorootApp(ceremony, services, csr_given=csr_path, console=console)
