"""The station log: one JSON object per ceremony event, each chained to the one before.

Every line holds ``prev``, the SHA-256 (hex) of the previous line's bytes; the first holds
`GENESIS`. The head hash (SHA-256 of the last line) is printed on the ceremony sheet, so
cutting entries off the end is caught too. The file is created 0600 and only ever appended
to, with an fsync per entry. Secrets never go in: callers pass only public facts.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from byoroot_tui.core.errors import ByorootError
from byoroot_tui.core.root import iso, utcnow
from byoroot_tui.core.text import safe_text

GENESIS = hashlib.sha256(b"byoroot station log v1").hexdigest()
EVENTS = ("issued", "refused", "export_failed")
MAX_LINE = 64 * 1024


def default_log_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "byoroot" / "station-log.jsonl"


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def _last_line(fd: int) -> bytes | None:
    """The last complete line of the open log (without its newline), or None if empty."""
    size = os.fstat(fd).st_size
    if size == 0:
        return None
    pos, tail = size, b""
    while pos > 0:
        step = min(4096, pos)
        pos -= step
        tail = os.pread(fd, step, pos) + tail
        body = tail[:-1] if tail.endswith(b"\n") else tail
        nl = body.rfind(b"\n")
        if nl != -1:
            return body[nl + 1 :]
    return tail[:-1] if tail.endswith(b"\n") else tail


def check_appendable(path: str | os.PathLike[str]) -> None:
    """Before signing: refuse when the log cannot take an entry cleanly (e.g. a torn last line)."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ByorootError(f"cannot read the station log {safe_text(str(p))!r}: {os.strerror(exc.errno or errno.EIO)}") from None
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            raise ByorootError(
                f"the station log {safe_text(str(p))!r} ends with an incomplete line (a torn write?): "
                "check it with `byoroot log verify` before signing"
            )
    finally:
        os.close(fd)


def append_event(path: str | os.PathLike[str], event: str, fields: dict[str, object]) -> str:
    """Append one event and return the new head hash. Raises `ByorootError` if it cannot."""
    if event not in EVENTS:
        raise ByorootError(f"unknown log event {event!r}")
    reserved = sorted({"event", "time", "prev"} & set(fields))
    if reserved:  # they would silently replace the event, its time or the chain link
        raise ByorootError(f"a log entry's fields cannot set {', '.join(reserved)}")
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as exc:
        raise ByorootError(f"cannot open the station log {safe_text(str(p))!r}: {os.strerror(exc.errno or errno.EIO)}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ByorootError("the station log is not a regular file")
        if st.st_mode & 0o077:
            os.fchmod(fd, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        check_appendable(p)  # never glue an entry onto a torn line
        rfd = os.open(p, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            last = _last_line(rfd)
        finally:
            os.close(rfd)
        prev = GENESIS if last is None else line_hash(last)
        entry = {"event": event, "time": iso(utcnow()), **fields, "prev": prev}
        line = json.dumps(entry, ensure_ascii=True, sort_keys=True, separators=(",", ":")).encode("ascii")
        if len(line) > MAX_LINE:
            raise ByorootError("log entry too large")
        data = line + b"\n"
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        os.fsync(fd)
        return line_hash(line)
    except OSError as exc:
        raise ByorootError(f"cannot write the station log: {os.strerror(exc.errno or errno.EIO)}") from None
    finally:
        os.close(fd)


@dataclass(frozen=True)
class LogCheck:
    ok: bool
    entries: int
    head: str  # hash of the last good line (GENESIS for an empty log)
    bad_line: int | None  # 1-based line number of the first problem
    reason: str


def verify_log(path: str | os.PathLike[str], head: str | None = None, includes: str | None = None) -> LogCheck:
    """Check the chain from genesis to the end, and (if given) that it ends at ``head``, or that
    one of its entries ends at ``includes`` (the head printed on an older ceremony sheet: the log
    up to that entry is then exactly as it was when the sheet was printed)."""
    from byoroot_tui.core.files import read_input_file

    data = read_input_file(path, "station log", cap=256 * 1024 * 1024)
    prev = GENESIS
    count = 0
    include_at: int | None = None
    wanted = includes.strip().lower() if includes is not None else None
    lines = data.split(b"\n")  # the last piece is b"" unless the file ends in a torn line
    for number, line in enumerate(lines[:-1], start=1):
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict):
                raise ValueError
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
            return LogCheck(False, count, prev, number, f"line {number} is not a JSON object")
        if entry.get("prev") != prev:
            return LogCheck(False, count, prev, number,
                            f"line {number} does not follow line {number - 1}: an entry was edited, removed or reordered"
                            if number > 1 else "line 1 does not start from genesis: entries were removed from the start")
        if entry.get("event") not in EVENTS:
            return LogCheck(False, count, prev, number, f"line {number} has an unknown event")
        prev = line_hash(line)
        count += 1
        if wanted is not None and include_at is None and prev == wanted:
            include_at = number
    if lines[-1]:  # checked after the complete lines, so that an earlier bad line is named first
        return LogCheck(False, count, prev, len(lines), f"line {len(lines)} is incomplete (no newline): a torn or edited write")
    if head is not None:
        want = head.strip().lower()
        if want != prev:
            return LogCheck(False, count, prev, None,
                            f"the chain is intact but ends at {prev}, not at the given head: entries were cut off the end or added")
    if wanted is not None:
        if include_at is None:
            return LogCheck(False, count, prev, None,
                            "the chain is intact but no entry ends at the given hash: the sheet is not from this "
                            "log, or the entry it names was cut off the end")
        later = count - include_at
        return LogCheck(True, count, prev, None, f"{count} entries, chain intact from genesis; the given hash is "
                        f"the head after entry {include_at} ({later} entr{'y' if later == 1 else 'ies'} since)")
    return LogCheck(True, count, prev, None, f"{count} entries, chain intact from genesis")
