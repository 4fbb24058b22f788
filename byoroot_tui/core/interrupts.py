"""Signals that end a command (SIGINT, SIGTERM, SIGHUP) as an exception, never mid-record.

`byoroot` turns each of the three into `Interrupted` (a `KeyboardInterrupt`), so every `finally`
and `except` on the way out runs: the export removes what it created, the station log hears of
it, and the officer is told what is where. Python runs signal handlers in the main thread between
bytecodes, so an interrupt could land half-way through appending a log entry or undoing a write;
`deferred()` marks such a stretch: a signal that arrives inside it is kept and raised when the
stretch ends (or, with ``reraise=False``, left pending for the next check).

The app does not use `raising_on_signals` (raising inside Textual's event loop would end it
anywhere); its workers are told through a `threading.Event` instead, which the core's writers
check between steps with `check`.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """The command was told to stop by a signal (or the app's cancel event)."""

    def __init__(self, signum: int | None = None) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        if self.signum is None:
            return "a request to stop"
        try:
            return signal.Signals(self.signum).name
        except ValueError:
            return f"signal {self.signum}"


_depth = 0
_pending: int | None = None


def _handler(signum: int, frame: object) -> None:
    global _pending
    if _depth:
        if _pending is None:
            _pending = signum
        return
    raise Interrupted(signum)


def pending() -> int | None:
    return _pending


@contextmanager
def raising_on_signals() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP raise `Interrupted` while the block runs (main thread only;
    elsewhere the block runs unchanged). The previous handlers are restored afterwards."""
    global _pending
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {}
    for sig in SIGNALS:
        try:
            before[sig] = signal.signal(sig, _handler)
        except (OSError, ValueError):
            pass
    try:
        yield
    finally:
        for sig, old in before.items():
            try:
                signal.signal(sig, old)
            except (OSError, ValueError):
                pass
        _pending = None


@contextmanager
def deferred(reraise: bool = True) -> Iterator[None]:
    """A stretch no signal may cut: one that arrives meanwhile is raised when it ends (on a normal
    end, and only with ``reraise``; otherwise it stays pending for the next `check`)."""
    global _depth, _pending
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
    if reraise and _depth == 0 and _pending is not None:
        signum, _pending = _pending, None
        raise Interrupted(signum)


def check(cancel: threading.Event | None = None) -> None:
    """Raise `Interrupted` if a signal is pending (outside any deferred stretch) or ``cancel`` is set."""
    global _pending
    if _depth == 0 and _pending is not None:
        signum, _pending = _pending, None
        raise Interrupted(signum)
    if cancel is not None and cancel.is_set():
        raise Interrupted(None)
