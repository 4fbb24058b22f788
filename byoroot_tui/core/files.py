"""Read input files defensively: regular files only, size capped before reading."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from byoroot_tui.core.errors import InputRefused

MAX_INPUT_BYTES = 1024 * 1024  # 1 MiB: a CSR or certificate is a few KiB


def _describe_mode(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_input_file(path: str | os.PathLike[str], what: str, cap: int = MAX_INPUT_BYTES) -> bytes:
    """Return the bytes of ``path``, refusing non-regular files and files over ``cap``.

    The file is checked with ``stat`` before it is opened (opening a FIFO would block), and
    again on the open descriptor, so a file swapped in between is caught too.
    """
    p = Path(path)
    label = f"{what} {p.name!r}" if p.name else what
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise InputRefused(f"{label}: no such file") from None
    except OSError as exc:
        raise InputRefused(f"{label}: cannot read it ({os.strerror(exc.errno or errno.EIO)})") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputRefused(f"{label} is {_describe_mode(st.st_mode)}, not a regular file")
    if st.st_size > cap:
        raise InputRefused(f"{label} is {st.st_size} bytes, over the {cap}-byte limit")
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputRefused(f"{label}: cannot open it ({os.strerror(exc.errno or errno.EIO)})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputRefused(f"{label} is {_describe_mode(st.st_mode)}, not a regular file")
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(65536, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > cap:
                raise InputRefused(f"{label} is over the {cap}-byte limit")
    except OSError as exc:
        raise InputRefused(f"{label}: read failed ({os.strerror(exc.errno or errno.EIO)})") from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def read_without_following(path: Path, limit: int) -> bytes:
    """Up to ``limit`` + 1 bytes of the regular file ``path``, read without following a link and
    without blocking (for describing a file about to be replaced). `InputRefused` says, in a few
    words, why it could not be read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise InputRefused(f"cannot be read ({os.strerror(exc.errno or errno.EIO)})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputRefused("not a regular file")
        return os.read(fd, limit + 1)
    except OSError as exc:
        raise InputRefused(f"cannot be read ({os.strerror(exc.errno or errno.EIO)})") from None
    finally:
        os.close(fd)
