"""Process hardening, first thing in every `byoroot` run (each command and the app).

While a ceremony runs, this process holds the root key's private scalar (or a token's PIN) in
memory. A crash or a stray SIGABRT/SIGQUIT under `ulimit -c unlimited` would write all of that
memory into a core file, by default in the working directory (an 18 MB file with the key in it).
So, before anything is read:

- RLIMIT_CORE is set to 0, soft and hard: no core file, and nothing in this process (or the
  children it forks or starts, which inherit the limit) can raise it again;
- on Linux, prctl(PR_SET_DUMPABLE, 0): no core dump even if the limit were raised from outside
  (prlimit) or a core handler is configured, and another process of the same user can neither
  ptrace this one nor read its /proc/<pid>/mem, environ and the like. The lint helper that
  `sign` and `inspect` fork (core/lintproc.py) inherits both. A program this process starts with
  exec is dumpable again (the kernel resets the flag on exec) but keeps the core limit of 0.

Each step that the platform does not offer or refuses is skipped quietly: hardening never stops
a command.
"""

from __future__ import annotations

import sys

PR_SET_DUMPABLE = 4  # <linux/prctl.h>
PR_GET_DUMPABLE = 3


def harden() -> None:
    """No core dumps, not dumpable. Never raises."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, AttributeError, ValueError, OSError):
        pass
    if sys.platform.startswith("linux"):
        _set_not_dumpable()


def _set_not_dumpable() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        # prctl is variadic: pass the arguments as unsigned longs, as the kernel reads them.
        zero = ctypes.c_ulong(0)
        libc.prctl(ctypes.c_int(PR_SET_DUMPABLE), zero, zero, zero, zero)
    except Exception:  # no ctypes, no libc, no prctl: nothing more to do here
        pass


def is_dumpable() -> bool | None:
    """prctl(PR_GET_DUMPABLE) for this process; None where it cannot be asked."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        zero = ctypes.c_ulong(0)
        result = libc.prctl(ctypes.c_int(PR_GET_DUMPABLE), zero, zero, zero, zero)
    except Exception:
        return None
    return None if result < 0 else bool(result)
