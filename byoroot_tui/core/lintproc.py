"""A lint helper process for one CLI command: pkilint loads on another core meanwhile.

Most of a `byoroot sign` is importing pkilint (some 300 ms of pyasn1 building its ASN.1 classes),
and none of it needs the CSR, the root or the key. `helper()` forks a child at the start of a
command, before any key, passphrase or PIN has been read: the child imports pkilint and builds
its validators while the parent imports cryptography, reads the CSR and the root and builds the
certificate; then `lint.lint` sends the child the certificate and the issuer (public data only)
and gets the report back (`lint.lint_crl` a CRL, for `byoroot crl`).

It only saves time. The child lints with the same `lint.lint` code the parent would run, and
whenever it cannot answer (no fork, the child died, a broken pipe, a reply that does not parse)
the parent lints in-process and gets the same report or refusal. The child writes nothing: its
standard streams are /dev/null and it ignores Ctrl+C (the parent handles it). The parent kills
and reaps it when the command ends; should the parent die first, the child exits when it finds
the request pipe closed.

Not for the app: Textual runs threads, and a fork then is unsafe; the app imports pkilint in
its warm-up instead.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# A request is a certificate and its issuer (each read with a cap); a reply is a report. Anything
# longer is not ours.
MAX_FRAME = 16 * 1024 * 1024
_LEN = struct.Struct(">I")

_current: Helper | None = None


class Helper:
    """The parent's end: a child's pid and the two pipe ends."""

    def __init__(self, pid: int, to_child: int, from_child: int) -> None:
        self.pid = pid
        self._to = to_child
        self._from = from_child
        self.broken = False

    def ask(self, request: dict[str, Any]) -> dict[str, Any] | None:
        """The child's reply to ``request``, or None if it cannot give one (then it is not asked again)."""
        if self.broken:
            return None
        try:
            _write_frame(self._to, json.dumps(request).encode())
            reply = json.loads(_read_frame(self._from))
            if isinstance(reply, dict):
                return reply
        except (OSError, ValueError, EOFError):
            pass
        self.broken = True
        return None

    def close(self) -> None:
        """Stop the child and reap it. It holds nothing to save: it may still be loading pkilint
        (when the command ended early, on a refusal), and the command should not wait for that."""
        for fd in (self._to, self._from):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except OSError:
            pass


@contextmanager
def helper() -> Iterator[Helper | None]:
    """Run a lint helper for the block. Yields None, and `lint` lints in-process, where there is
    no fork, where another thread runs, or inside another helper's block. Call it before reading
    any secret: the child is a copy of this process as it is now."""
    global _current
    started = _start() if _current is None else None
    if started is not None:
        _current = started
    try:
        yield started
    finally:
        if started is not None:
            _current = None
            started.close()


def current() -> Helper | None:
    return _current


def _one_thread() -> bool:
    """Whether this process runs a single thread (the kernel's count where there is one)."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        import threading

        return threading.active_count() == 1


def _start() -> Helper | None:
    # Only the forking thread lives on in a child, and a lock another thread held at the fork
    # stays held there: with any other thread running, there is no helper.
    if not hasattr(os, "fork") or not _one_thread():
        return None
    try:
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        for fd in (req_r, req_w, rep_r, rep_w):
            os.close(fd)
        return None
    if pid == 0:  # the child: never returns
        status = 0
        try:
            os.close(req_w)
            os.close(rep_r)
            _serve(req_r, rep_w)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(req_r)
    os.close(rep_w)
    return Helper(pid, req_w, rep_r)


def _serve(req_fd: int, rep_fd: int) -> None:
    """The child: quiet, then pkilint loaded, then one reply per request until the parent closes."""
    global _current
    _current = None  # the child lints in-process
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)

    from byoroot_tui.core import lint
    from byoroot_tui.core.errors import ByorootError, PolicyRefused

    lint.warm_up()
    while True:
        try:
            request = json.loads(_read_frame(req_fd))
        except EOFError:
            return
        try:
            if "crl" in request:  # a CRL (core.lint.lint_crl)
                report = lint.lint_crl(base64.b64decode(request["crl"]))
            else:
                report = lint.lint(
                    base64.b64decode(request["cert"]), base64.b64decode(request["issuer"]),
                    check_signature=bool(request["check_signature"]), cabf_type=request["cabf_type"],
                )
            reply: dict[str, Any] = {"report": report.as_dict()}
        except PolicyRefused as exc:
            reply = {"refused": str(exc)}
        except ByorootError as exc:
            reply = {"error": str(exc)}
        _write_frame(rep_fd, json.dumps(reply).encode())


def _write_frame(fd: int, payload: bytes) -> None:
    if len(payload) > MAX_FRAME:
        raise ValueError("frame too long")
    data = memoryview(_LEN.pack(len(payload)) + payload)
    while data:
        data = data[os.write(fd, data):]


def _read_exactly(fd: int, n: int) -> bytes:
    parts, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 16))
        if not chunk:
            raise EOFError
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _read_frame(fd: int) -> bytes:
    (size,) = _LEN.unpack(_read_exactly(fd, _LEN.size))
    if size > MAX_FRAME:
        raise ValueError("frame too long")
    return _read_exactly(fd, size)
