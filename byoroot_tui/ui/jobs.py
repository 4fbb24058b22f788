"""Background work, one small mechanism: a function runs in a thread, its outcome comes back to
the app's thread as one typed value, and the callback that asked for it takes it there.

    run_job(app, load_csr, path, group="csr", then=self.csr_loaded)

`then` receives an `Outcome[T]`: the value, or the core's one-line reason and the type of what
was raised (a screen decides what to offer by the kind of refusal, never by its words). A job
never raises: a bug becomes "internal error (...)", never a traceback on screen. Jobs of one
group are exclusive: a newer one cancels the wait for an older one (its outcome is dropped).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from textual.message import Message
from textual.worker import get_current_worker
from textual.dom import DOMNode

from byoroot_tui.core.errors import ByorootError

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    value: T | None
    reason: str | None = None  # the one-line reason it did not work (None: it worked)
    kind: type[BaseException] | None = None  # what was raised (None: it worked)

    @property
    def ok(self) -> bool:
        return self.reason is None

    def raised(self, *kinds: type[BaseException]) -> bool:
        return self.kind is not None and issubclass(self.kind, kinds)


def attempt(fn: Callable[..., T], *args: Any, **kwargs: Any) -> Outcome[T]:
    """Run ``fn``; its value, or the reason it failed. Never raises."""
    try:
        return Outcome(fn(*args, **kwargs))
    except ByorootError as exc:
        return Outcome(None, str(exc), type(exc))
    except MemoryError:
        return Outcome(None, "out of memory", MemoryError)
    except KeyboardInterrupt as exc:  # core.interrupts.Interrupted: the app's cancel event (SIGTERM, SIGHUP)
        return Outcome(None, str(getattr(exc, "message", "interrupted")), type(exc))
    except Exception as exc:  # a bug, not the officer's fault: never a traceback on screen
        return Outcome(None, f"internal error ({type(exc).__name__}); nothing was signed or written", type(exc))


class JobDone(Message, bubble=False):
    """A job's outcome, delivered to the node that started it, which hands it to ``then``."""

    def __init__(self, then: Callable[[Outcome[Any]], None], outcome: Outcome[Any]) -> None:
        super().__init__()
        self.then, self.outcome = then, outcome


class JobsMixin:
    """For an App or Screen: `on_job_done` hands each outcome to the callback that asked for it."""

    def on_job_done(self, message: JobDone) -> None:
        message.stop()
        message.then(message.outcome)


def run_job(node: DOMNode, fn: Callable[..., T], *args: Any, group: str,
            then: Callable[[Outcome[T]], None], **kwargs: Any) -> None:
    """Run ``fn(*args, **kwargs)`` in a thread worker of ``node`` (group ``group``, exclusive) and
    call ``then(outcome)`` on the app's thread. ``node`` must handle JobDone (JobsMixin)."""

    def job() -> None:
        outcome = attempt(fn, *args, **kwargs)
        if not get_current_worker().is_cancelled:  # a newer job of the group replaced this one
            node.post_message(JobDone(then, outcome))

    node.run_worker(job, thread=True, group=group, exclusive=True, exit_on_error=False)


def run_steps(node: DOMNode, job: Callable[[Callable[[Callable[[], None]], None]], None], *, group: str) -> None:
    """A longer job that reports as it goes: ``job(report)`` runs in a thread worker; each
    ``report(fn)`` runs ``fn()`` on the app's thread (in order, without waiting)."""

    def report(fn: Callable[[], None]) -> None:
        node.post_message(JobDone(lambda _o: fn(), Outcome(None)))

    node.run_worker(lambda: job(report), thread=True, group=group, exclusive=True, exit_on_error=False)
