"""The ceremony app: built by `make_app` with its environment injected (media, clock, clipboard).

Crypto and the core's parsers are imported inside thread workers, never at start-up, so the
first screen appears about as fast as a bare Textual app. Workers post typed messages; every
error a worker meets becomes the core's one-line reason, shown inline or in a modal.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

from textual import events, work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from byoroot_tui.core.ceremony import STEPS, Ceremony
from byoroot_tui.core.errors import ByorootError
from byoroot_tui.core.media import Medium, discover_media


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


def guarded(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, str | None]:
    """(result, None) or (None, one-line reason). Never raises."""
    result, reason, _ = attempt(fn, *args, **kwargs)
    return result, reason


def attempt(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, str | None, type[BaseException] | None]:
    """As `guarded`, plus the type of what was raised (None when it worked): a screen decides
    what to offer by the kind of refusal (KeyUnusable, TargetExists), never by its words."""
    try:
        return fn(*args, **kwargs), None, None
    except ByorootError as exc:
        return None, str(exc), type(exc)
    except MemoryError:
        return None, "out of memory", MemoryError
    except KeyboardInterrupt as exc:  # core.interrupts.Interrupted: the app's cancel event (SIGTERM, SIGHUP)
        return None, str(getattr(exc, "message", "interrupted")), type(exc)
    except Exception as exc:  # a bug, not the officer's fault: never a traceback on screen
        return None, f"internal error ({type(exc).__name__}); nothing was signed or written", type(exc)


# ------------------------------------------------------------------ worker messages


class CsrLoaded(Message):
    def __init__(self, path: Path, info: Any, error: str | None) -> None:
        super().__init__()
        self.path, self.info, self.error = path, info, error


class RootLoaded(Message):
    def __init__(self, path: Path, root: Any, error: str | None) -> None:
        super().__init__()
        self.path, self.root, self.error = path, root, error


class KeyChecked(Message):
    def __init__(self, token: tuple[Any, ...], ok: bool, error: str | None, description: str | None = None,
                 kind: type[BaseException] | None = None) -> None:
        super().__init__()
        self.token, self.ok, self.error, self.description = token, ok, error, description
        self.kind = kind  # what was raised (None when the key opened)


class TokensListed(Message):
    def __init__(self, module: str, tokens: list[Any] | None, error: str | None) -> None:
        super().__init__()
        self.module, self.tokens, self.error = module, tokens, error


class KeysListed(Message):
    def __init__(self, module: str, token: Any, keys: list[Any] | None, error: str | None) -> None:
        super().__init__()
        self.module, self.token, self.keys, self.error = module, token, keys, error


class Assessed(Message):
    def __init__(self, token: tuple[Any, ...], assessment: Any, error: str | None) -> None:
        super().__init__()
        self.token, self.assessment, self.error = token, assessment, error


class PlanMade(Message):
    def __init__(self, token: tuple[Any, ...], plan: Any, error: str | None) -> None:
        super().__init__()
        self.token, self.plan, self.error = token, plan, error


# ------------------------------------------------------------------ the work itself


def _load_csr(path: Path) -> Any:
    from byoroot_tui.core.csr import load_csr

    return load_csr(path)


def _load_root(path: Path, now: datetime) -> Any:
    from byoroot_tui.core.root import load_root

    return load_root(path, now=now)


def _check_key(ref: Any, root: Any, secret: bytearray | None) -> str:
    """Open the key (file or token) with the secret typed, check it is the root's, drop it at once."""
    from byoroot_tui.core.keyref import check_key

    return check_key(ref, root, secret)  # wipes the secret


def _list_tokens(module: str) -> list[Any]:
    from byoroot_tui.core.pkcs11 import list_tokens

    return list_tokens(module)


def _list_keys(module: str, token: Any, secret: bytearray | None) -> list[Any]:
    """The keys on the token: the public halves without a PIN, the private keys with one."""
    from byoroot_tui.core.pkcs11 import list_private_keys, wipe

    try:
        return list_private_keys(module, token, (lambda: bytearray(secret)) if secret else None)
    finally:
        wipe(secret)


def _make_plan(csr: Any, profile: Any, root: Any, now: datetime, serial: int | None = None) -> Any:
    from byoroot_tui.core.issue import make_plan

    return make_plan(csr, profile, root, now=now, serial=serial)  # lints with pkilint before the key is ever touched


def _assess(csr: Any, profile: Any, root: Any) -> Any:
    from byoroot_tui.core.issue import assess

    return assess(csr, profile, root)  # what `byoroot inspect` shows, lint included


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

_SCREENS = {
    "media": ("byoroot_tui.ui.screens.media", "MediaScreen"),
    "preview": ("byoroot_tui.ui.screens.preview", "PreviewScreen"),
    "profile": ("byoroot_tui.ui.screens.profile", "ProfileScreen"),
    "root": ("byoroot_tui.ui.screens.root", "RootScreen"),
    "review": ("byoroot_tui.ui.screens.review", "ReviewScreen"),
    "sign": ("byoroot_tui.ui.screens.sign", "SignScreen"),
    "result": ("byoroot_tui.ui.screens.sign", "ResultScreen"),
}


class ByorootApp(App[int]):
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
        from byoroot_tui.ui.glyphs import wants_console

        # The Linux console (TERM=linux, or --console): only the glyphs its fonts carry (ui/glyphs.py).
        self.console_glyphs = wants_console(console)
        super().__init__(driver_class=console_driver_class() if self.console_glyphs else None)
        self.ceremony = ceremony
        self.services = services
        self.csr_given = csr_given
        self._steps: dict[str, Screen[Any]] = {}
        self._warm = False
        self.key_check_running = False
        self.passphrase_needed = False  # the key file is encrypted and no passphrase was typed yet
        self._key_check_token: tuple[Any, ...] = ()
        self._checked_token: tuple[Any, ...] = ()  # the token a successful key check was made under
        self._assess_timer: Any = None  # the pending lint after a profile change (see profile_changed)
        # Set by SIGTERM, SIGHUP or SIGINT: the core's writers check it between steps, remove what
        # they made and log it; the app ends once no signing or writing worker runs.
        self.cancel_event = threading.Event()
        self.stopped_by: str | None = None

    # -------------------------------------------------------------- navigation

    def step_screen(self, step: str) -> Screen[Any]:
        if step not in self._steps:
            if step != "media":
                self.load_step_css()
            import importlib

            module, cls = _SCREENS[step]  # each screen's module is imported when first shown
            factory: Callable[[], Screen[Any]] = getattr(importlib.import_module(module), cls)
            screen = factory()
            # The breakpoint class now, not on the first resize: saves a second full restyle and
            # layout when the screen first shows. Not styled yet: that happens when it first shows.
            for name, on in self.breakpoint_classes(self.size.width).items():
                screen.set_class(on, name, update=False)
            self._steps[step] = screen
            self.install_screen(screen, name=f"step-{step}")
        return self._steps[step]

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

    def breakpoint_classes(self, width: int) -> dict[str, bool]:
        """Which of HORIZONTAL_BREAKPOINTS' classes a screen ``width`` columns wide has (as Textual sets them)."""
        chosen = ""
        for threshold, name in self.HORIZONTAL_BREAKPOINTS:
            if width >= threshold:
                chosen = name
        return {name: name == chosen for _, name in self.HORIZONTAL_BREAKPOINTS}

    def get_default_screen(self) -> Screen[Any]:
        """The media step is the app's first screen, composed in Textual's own start-up.

        Pushing it over an empty default screen from on_mount cost a second layout and a
        discarded first frame (Textual was still in its start-up batch): ~40 ms to first paint.
        """
        screen = self.step_screen("media")
        # What push_screen gives a screen and switch_screen takes back when it switches away
        # (private API, like _register below; Textual is pinned in constraints.txt).
        screen._push_result_callback(self, None)
        return screen

    def goto(self, step: str) -> None:
        screen = self.step_screen(step)
        while len(self.screen_stack) > 1:  # close any modal left open
            self.pop_screen()
        if self.screen is not screen:
            self.switch_screen(screen)
        self.call_after_refresh(self._prepare_next)

    @property
    def current_step(self) -> str | None:
        for name, screen in self._steps.items():
            if screen is self.screen:
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
        self.goto("media")
        c = self.ceremony
        if c.csr_path is not None:
            self.load_csr(c.csr_path)
        if c.root_cert_path is not None:
            self.load_root(c.root_cert_path)
        self.set_timer(0.3, self._start_warm_up)  # after the first screen is on the terminal
        self.set_timer(10, self._collect_in_idle_moments)  # if the warm-up never reports
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
        c = self.ceremony
        what = c.write_error or ("the certificate was written" if c.written is not None else
                                 "the certificate is in the station log; `byoroot export` writes it"
                                 if c.issued is not None else "nothing was signed")
        self.exit(return_code=1, message=f"byoroot: stopped by {self.stopped_by}: {what}")

    def _start_warm_up(self) -> None:
        self.run_worker(self.warm_up, thread=True, group="warm", exit_on_error=False)

    def _prepare_next(self) -> None:
        """Compose the next step's screen ahead of time, while the officers read this one.

        A screen is composed when it is first shown (50-150 ms for the larger ones); doing it
        ahead makes the step switch a layout and a paint only. It starts an installed screen
        without showing it, as Textual does for installed screens that were popped.

        It starts 0.1 s after this step's first frame: composing holds the main thread in
        20-40 ms slices for 50-150 ms, and a key pressed meanwhile waits. Officers read a new
        step before pressing anything, so the sooner after the paint the better (it was 0.4 s,
        and the first ↓ on the profile step then waited 90-140 ms: bench-tui).
        """
        step = self.current_step
        if not self._warm or step not in STEPS or STEPS.index(step) + 1 >= len(STEPS):
            return
        nxt = STEPS[STEPS.index(step) + 1]
        self.set_timer(0.1, lambda: self.prebuild(nxt))

    def prebuild(self, step: str) -> None:
        """Compose ``step``'s screen now without showing it (best effort; never raises).

        The app may close while the screen is starting; StepScreen.on_mount then does nothing.
        """
        try:
            screen = self.step_screen(step)
            if not screen.is_running and self.is_running:
                self._register(self, screen)  # Textual's own start of a screen (private API)
        except Exception:
            pass

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

        for module, _cls in _SCREENS.values():
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

    # -------------------------------------------------------------- garbage collection
    # Python collects garbage when allocations cross a threshold, in the middle of whatever runs
    # then: a key's repaint, or a worker's lint holding the interpreter. bench-tui caught a 30 ms
    # young collection inside a 13 ms step switch, and full collections of ~50 ms. After the
    # warm-up, what start-up loaded is frozen (it lives all run), automatic collection is off, and
    # the same collections run in idle moments: no key for IDLE_S, by the interpreter's own
    # thresholds (left as they are). Allocation without any idle moment (a key held down for
    # minutes) still collects at FORCE_AT. Restored when the app ends.

    IDLE_S: ClassVar[float] = 0.4
    FORCE_AT: ClassVar[int] = 100_000
    _gc_was_enabled: bool | None = None  # set while the app collects in idle moments
    _last_input = 0.0

    def _collect_in_idle_moments(self) -> None:
        # (`byoroot` itself runs with automatic collection off, the app's start included: see cli.main.)
        if self._gc_was_enabled is None:
            self._gc_was_enabled = gc.isenabled()
            gc.freeze()
            gc.disable()
            self.set_interval(0.25, self._collect_if_idle, name="idle-gc")

    def _collect_if_idle(self) -> None:
        young, _middle, old = gc.get_count()
        threshold0, _threshold1, threshold2 = gc.get_threshold()
        idle = time.monotonic() - self._last_input >= self.IDLE_S
        if young >= self.FORCE_AT or (idle and young >= threshold0):
            # What automatic collection would have done by now: the young generations, and every
            # generation after threshold2 of those (with freeze(), only what the ceremony made).
            gc.collect(2 if idle and old >= threshold2 else 1)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):
            self._last_input = time.monotonic()
        await super().on_event(event)

    def on_unmount(self) -> None:
        self._release_stop_signals()
        if self._gc_was_enabled is not None:
            enabled, self._gc_was_enabled = self._gc_was_enabled, None
            gc.unfreeze()
            if enabled:
                gc.enable()

    # -------------------------------------------------------------- messages to the officer

    def say(self, message: str, severity: str = "information", timeout: float | None = None) -> None:
        """A toast. Never markup: reasons can quote hostile text."""
        self.notify(message, severity=severity, markup=False, timeout=timeout or (8 if severity == "error" else 4))  # type: ignore[arg-type]

    def show_error(self, title: str, reason: str) -> None:
        from byoroot_tui.ui.screens.modals import ErrorModal

        self.push_screen(ErrorModal(title, reason))

    def sync_screen(self) -> None:
        for screen in self.screen_stack:
            sync = getattr(screen, "safe_sync", None)
            if sync is not None and screen.is_mounted:
                sync()
                screen.refresh_bindings()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "warm" and event.state in (WorkerState.SUCCESS, WorkerState.ERROR,
                                                            WorkerState.CANCELLED):
            self._collect_in_idle_moments()  # also when the warm-up failed
            if event.state == WorkerState.SUCCESS:
                self._warm = True
                self._prepare_next()
        # Workers catch their own errors; this is the last line of defence.
        if event.state == WorkerState.ERROR and event.worker.group != "warm":
            err = event.worker.error
            reason = str(err) if isinstance(err, ByorootError) else f"internal error ({type(err).__name__})"
            self.show_error("Something went wrong", reason)

    # -------------------------------------------------------------- CSR

    def choose_csr(self, path: Path) -> None:
        """The officers picked a CSR file: remember it and read it in the background."""
        self.ceremony.set_csr(path, None, None)
        self.load_csr(path)

    @work(thread=True, group="csr", exclusive=True, exit_on_error=False)
    def load_csr(self, path: Path) -> None:
        info, error = guarded(_load_csr, path)
        self.post_message(CsrLoaded(path, info, error))

    def on_csr_loaded(self, msg: CsrLoaded) -> None:
        c = self.ceremony
        if c.signed or msg.path != c.csr_path:
            return  # a newer choice was made meanwhile
        c.set_csr(msg.path, msg.info, msg.error)
        self.start_assessment()
        self.sync_screen()

    # -------------------------------------------------------------- root certificate and key

    @work(thread=True, group="root", exclusive=True, exit_on_error=False)
    def load_root(self, path: Path) -> None:
        root, error = guarded(_load_root, path, self.services.clock())
        self.post_message(RootLoaded(path, root, error))

    def on_root_loaded(self, msg: RootLoaded) -> None:
        c = self.ceremony
        if c.signed or msg.path != c.root_cert_path:
            return
        c.set_root(msg.path, msg.root, msg.error)
        self.start_assessment()
        self.sync_screen()
        if msg.root is not None and c.key_ref() is not None and not c.key_checked and c.key_source == "file":
            self.start_key_check()

    def passphrase_input(self, source: str | None = None) -> Input | None:
        """The masked field holding the secret for the key source chosen: the passphrase or the PIN."""
        screen = self._steps.get("root")
        if screen is None or not screen.is_mounted:
            return None
        source = source or self.ceremony.key_source
        try:
            return screen.query_one("#pin" if source == "hsm" else "#passphrase", Input)
        except Exception:
            return None

    def take_passphrase(self) -> bytearray | None:
        """The typed passphrase (or PIN) as a wipeable buffer (None when the field is empty)."""
        field_ = self.passphrase_input()
        if field_ is None or not field_.value:
            return None
        return bytearray(field_.value.encode("utf-8"))

    def clear_passphrase(self) -> None:
        """Empty both secret fields (after signing; the PIN and the passphrase are not kept)."""
        self._checked_token = self._key_check_token = ()
        for source in ("file", "hsm"):
            field_ = self.passphrase_input(source)
            if field_ is not None:
                with field_.prevent(Input.Changed):
                    field_.value = ""

    def passphrase_edited(self) -> None:
        """The passphrase field changed: a key check done before no longer counts.

        Change events can arrive after a check of the final text started (keys typed ahead), so
        what counts is whether the field still holds the very string that was checked."""
        if not self._same_key_token(self._checked_token, self.key_token()):
            self._checked_token = ()
            self.ceremony.passphrase_changed()

    def key_token(self) -> tuple[Any, ...]:
        """What a key check depends on. The passphrase is compared by identity (`is`) with the
        string the field holds: no copy of it is made, and any edit makes a new string."""
        c = self.ceremony
        field_ = self.passphrase_input()
        return (c.key_ref(), c.root.sha256 if c.root else None, field_.value if field_ else None)

    def _same_key_token(self, a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
        return len(a) == len(b) == 3 and a[0] == b[0] and a[1] == b[1] and a[2] is b[2]

    def start_key_check(self) -> None:
        c = self.ceremony
        ref = c.key_ref()
        if c.root is None or ref is None or c.signed:
            return
        c.key_error = None
        self.key_check_running = True
        self._key_check_token = self.key_token()
        self._check_key(self._key_check_token, ref, c.root, self.take_passphrase())
        self.sync_screen()

    @work(thread=True, group="key", exclusive=True, exit_on_error=False)
    def _check_key(self, token: tuple[Any, ...], ref: Any, root: Any, secret: bytearray | None) -> None:
        description, error, kind = attempt(_check_key, ref, root, secret)
        self.post_message(KeyChecked(token, error is None, error, description, kind))

    def on_key_checked(self, msg: KeyChecked) -> None:
        current = self._same_key_token(msg.token, self.key_token())
        if self._same_key_token(msg.token, self._key_check_token):
            self.key_check_running = False
            self._key_check_token = ()  # drop the reference to the passphrase string
        if self.ceremony.signed or not current:
            return  # the passphrase or the key changed meanwhile
        self._checked_token = msg.token if msg.ok else ()
        from byoroot_tui.core.errors import PassphraseNeeded

        # An encrypted key checked before any passphrase was typed: not a refusal, a question
        # (the root step asks for the passphrase; see RootScreen.sync).
        self.passphrase_needed = msg.kind is not None and issubclass(msg.kind, PassphraseNeeded)
        self.ceremony.set_key_check(msg.ok, None if self.passphrase_needed else msg.error, msg.description)
        self.sync_screen()
        screen = self._steps.get("root")
        if screen is not None and screen.is_mounted:
            screen.go_on_if_checked()  # type: ignore[attr-defined]  # ctrl+n meant "check it and go on"

    # -------------------------------------------------------------- a key in an HSM (PKCS#11)

    @work(thread=True, group="hsm", exclusive=True, exit_on_error=False)
    def list_tokens(self, module: str) -> None:
        tokens, error = guarded(_list_tokens, module)
        self.post_message(TokensListed(module, tokens, error))

    @work(thread=True, group="hsm", exclusive=True, exit_on_error=False)
    def list_keys(self, module: str, token: Any, secret: bytearray | None) -> None:
        keys, error = guarded(_list_keys, module, token, secret)
        self.post_message(KeysListed(module, token, keys, error))

    def on_tokens_listed(self, msg: TokensListed) -> None:
        screen = self._steps.get("root")
        if screen is not None and screen.is_mounted:
            screen.tokens_listed(msg)  # type: ignore[attr-defined]

    def on_keys_listed(self, msg: KeysListed) -> None:
        screen = self._steps.get("root")
        if screen is not None and screen.is_mounted:
            screen.keys_listed(msg)  # type: ignore[attr-defined]

    # -------------------------------------------------------------- assessment (inspect) and plan

    def start_assessment(self) -> None:
        """Check the CSR against the profile (and the root, once known), lint included, in a thread."""
        c = self.ceremony
        if c.csr is None or c.signed or c.assessment_is_current():
            return
        if c.csr.refused:
            c.set_assessment(c.assessment_token(), None, None)  # refused already; nothing to lint
            return
        try:
            profile = c.profile
        except ByorootError as exc:
            c.set_assessment(c.assessment_token(), None, str(exc))
            return
        self._assess(c.assessment_token(), c.csr, profile, c.root)

    @work(thread=True, group="assess", exclusive=True, exit_on_error=False)
    def _assess(self, token: tuple[Any, ...], csr: Any, profile: Any, root: Any) -> None:
        assessment, error = guarded(_assess, csr, profile, root)
        self.post_message(Assessed(token, assessment, error))

    def on_assessed(self, msg: Assessed) -> None:
        c = self.ceremony
        if c.signed or msg.token != c.assessment_token():
            return
        c.set_assessment(msg.token, msg.assessment, msg.error)
        self.sync_screen()

    def profile_changed(self, name: str) -> None:
        c = self.ceremony
        if c.signed or name == c.profile_name:
            return
        c.set_profile(name)
        self.sync_screen()
        # Lint the CSR against the new profile once the officer stops moving through the list
        # (and after this key's repaint): a lint thread started at once holds the GIL while the
        # screen is being drawn, and moving through five profiles would start five of them.
        if self._assess_timer is not None:
            self._assess_timer.stop()
        self._assess_timer = self.set_timer(0.15, self.start_assessment)

    def plan_token(self) -> tuple[Any, ...]:
        c = self.ceremony
        return (c.csr.sha256 if c.csr else None, c.profile_name, c.root.sha256 if c.root else None)

    def start_plan(self) -> None:
        c = self.ceremony
        if c.csr is None or c.root is None or c.signed:
            return
        try:
            profile = c.profile
        except ByorootError as exc:
            c.set_plan(None, str(exc))
            return
        serial = self.services.serial() if self.services.serial is not None else None
        self._plan(self.plan_token(), c.csr, profile, c.root, self.services.clock(), serial)

    @work(thread=True, group="plan", exclusive=True, exit_on_error=False)
    def _plan(self, token: tuple[Any, ...], csr: Any, profile: Any, root: Any, now: datetime,
              serial: int | None = None) -> None:
        plan, error = guarded(_make_plan, csr, profile, root, now, serial)
        self.post_message(PlanMade(token, plan, error))

    def on_plan_made(self, msg: PlanMade) -> None:
        if self.ceremony.signed or msg.token != self.plan_token():
            return
        self.ceremony.set_plan(msg.plan, msg.error)
        self.sync_screen()

    # -------------------------------------------------------------- signing

    def log_refusal(self, reason: str) -> str:
        """Record a refused signing in the station log; the reason to show (saying if logging failed)."""
        from byoroot_tui.core.stationlog import append_event

        _, error = guarded(append_event, self.services.station_log(), "refused",
                           {**self.ceremony.log_fields(), "reason": reason})
        return reason if error is None else f"{reason} (and the station log could not record it: {error})"

    def begin_signing(self) -> None:
        """Hand the passphrase (as a wipeable buffer) to the sign screen, which signs once it shows."""
        reason = self.ceremony.sign_blocker()
        if reason:
            self.say(reason, severity="error")
            return
        screen = self.step_screen("sign")
        screen.arm(self.take_passphrase())  # type: ignore[attr-defined]
        self.goto("sign")

    # -------------------------------------------------------------- clipboard and quitting

    def copy_text(self, text: str) -> bool:
        """OSC 52 to the terminal, and pyperclip where a clipboard exists. True if pyperclip took it."""
        self.copy_to_clipboard(text)
        return self.services.clipboard(text)

    def action_request_quit(self) -> None:
        c = self.ceremony
        if c.signed and c.written is None:
            from byoroot_tui.ui.screens.modals import ConfirmModal

            def answered(yes: bool | None) -> None:
                if yes:  # a write under way sees the cancel event, removes what it made and logs it
                    self.stopped_by = "the officers (quit)"
                    self.cancel_event.set()
                    self._exit_when_idle(1)

            serial = c.issued_record.serial if c.issued_record is not None else "SERIAL"
            self.push_screen(
                ConfirmModal(
                    "Quit without the certificate?",
                    "The certificate is signed and in the station log, but NOT written to any medium. "
                    f"After quitting, `byoroot export {serial} --out DIR` writes it (no new signature).",
                    yes="Quit anyway",
                    no="Stay",
                    danger=True,
                ),
                answered,
            )
            return
        if not c.signed and (c.officer1 or c.officer2 or self.current_step not in (None, "media")):
            # Mid-ceremony (past the first step, or an officer confirmed): a stray ctrl+q would
            # throw away what the officers checked. Asked first; nothing was signed.
            from byoroot_tui.ui.screens.modals import ConfirmModal

            def leave(yes: bool | None) -> None:
                if yes:
                    self.exit(0)

            self.push_screen(
                ConfirmModal(
                    "Quit the ceremony?",
                    "Nothing has been signed. What the officers checked and confirmed is not kept: "
                    "a new ceremony starts from the first step.",
                    yes="Quit",
                    no="Stay",
                ),
                leave,
            )
            return
        self.exit(0 if c.written is not None or not c.signed else 1)


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
