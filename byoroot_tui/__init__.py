"""byoroot_tui: sign a hosted CA's intermediate CSR with an offline root, safely."""

import sys as _sys

__version__ = "0.1.0"


def _interrupted(kind, value, tb, _default=_sys.excepthook):  # type: ignore[no-untyped-def]
    """Ctrl+C while `byoroot` is still starting (before `cli.main` handles it) ends with one line,
    not a traceback. Every other uncaught exception goes to the hook that was there before."""
    if issubclass(kind, KeyboardInterrupt):
        print("byoroot: interrupted", file=_sys.stderr)
        return
    _default(kind, value, tb)


_sys.excepthook = _interrupted  # set first thing, so the window without it is the interpreter's own start
