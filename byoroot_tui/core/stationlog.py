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

from byoroot_tui.core.errors import ByorootError, LogRefused
from byoroot_tui.core.root import iso, utcnow
from byoroot_tui.core.text import safe_text

GENESIS = hashlib.sha256(b"byoroot station log v1").hexdigest()
# revoked: a certificate revoked (no key); crl_signing / crl_issued: the root CRL ceremony's plan and
# the signed CRL itself, recorded as signing / issued are for a certificate
EVENTS = ("signing", "issued", "exported", "export_failed", "refused", "revoked", "crl_signing", "crl_issued")
MAX_LINE = 4 * 1024 * 1024  # an issued entry holds its certificate (a CSR file is at most 1 MiB)


def default_log_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "byoroot" / "station-log.jsonl"


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def _shown(p: Path) -> str:
    return repr(safe_text(str(p)))


def _not_a_log(p: Path, reason: str) -> ByorootError:
    return LogRefused(f"{_shown(p)} is not a station log ({reason}); give the station's log with --log, "
                        "or a new file name to start one")


def _lstat_regular(p: Path) -> os.stat_result | None:
    """The log's own status (a link is not followed), or None if it does not exist yet.
    Refuses anything but a regular file: a link, a FIFO (opening one would wait forever), a
    folder, a device or a socket."""
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LogRefused(f"cannot read the station log {_shown(p)}: {os.strerror(exc.errno or errno.EIO)}") from None
    if stat.S_ISLNK(st.st_mode):
        raise LogRefused(f"the station log {_shown(p)} is a symbolic link; give the log file itself")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise LogRefused(f"the station log {_shown(p)} is {kind}, not a regular file")
    return st


def _check_chain(p: Path) -> str:
    """The existing file is a station log: every line an entry chained to the one before, the
    last line complete; returns its head. A torn last line (power lost mid-write) is named as such."""
    try:
        check = verify_log(p)
    except ByorootError as exc:
        raise LogRefused(f"cannot read the station log {_shown(p)}: {exc}") from None
    if check.ok:
        return check.head
    if check.bad_line is not None and check.bad_line == check.entries + 1 and "incomplete" in check.reason:
        raise LogRefused(
            f"the station log {_shown(p)} ends with an incomplete line (a torn write?): "
            "check it with `byoroot log verify` before signing")
    if check.entries == 0:
        raise _not_a_log(p, check.reason)
    raise LogRefused(f"the station log {_shown(p)} is damaged: {check.reason}; "
                       "see `byoroot log verify`")


def check_appendable(path: str | os.PathLike[str]) -> None:
    """Before the key is touched: the log can take an entry cleanly. Refuses a log that is not a
    regular file, a file that is not a station log (an intact chain), a torn last line, a log
    that cannot be opened for appending, and a missing log whose folder cannot take it."""
    p = Path(path)
    st = _lstat_regular(p)
    if st is None:
        folder = p.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent  # append_event creates the missing folders
        if not folder.is_dir():
            raise LogRefused(f"cannot create the station log {_shown(p)}: {_shown(folder)} is not a folder")
        from byoroot_tui.core.export import probe_folder

        try:
            probe_folder(folder, "the station log's folder")
        except ByorootError as exc:
            raise LogRefused(str(exc)) from None
        return
    if st.st_size:
        _check_chain(p)
    try:
        fd = os.open(p, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
                     | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise LogRefused(f"the station log {_shown(p)} cannot be appended to: "
                           f"{os.strerror(exc.errno or errno.EIO)}") from None
    os.close(fd)


def append_event(path: str | os.PathLike[str], event: str, fields: dict[str, object]) -> str:
    """Append one event and return the new head hash (`append_entry`, for callers that need only that)."""
    return append_entry(path, event, fields)[0]


def log_refusal(path: str | os.PathLike[str], fields: dict[str, object], reason: str) -> str:
    """Record a refusal (`refused`, with ``fields`` and ``reason``); the reason to show: ``reason``
    itself, or ``reason`` saying the log could not take it (never raises for that)."""
    try:
        append_event(path, "refused", {**fields, "reason": reason})
    except ByorootError as exc:
        return f"{reason} (and the station log could not record it: {exc})"
    return reason


def append_entry(path: str | os.PathLike[str], event: str, fields: dict[str, object]) -> tuple[str, dict[str, object]]:
    """Append one event; return the new head hash and the entry as written. Raises
    `ByorootError` if it cannot.

    Only ever onto a station log: an existing file must be a regular file holding an intact
    chain. The entry is written whole or not at all: a short or failed write (a full disk) is cut
    back to the last whole entry, and no signal can land in the middle (`interrupts.deferred`).
    """
    from byoroot_tui.core.interrupts import deferred

    if event not in EVENTS:
        raise ByorootError(f"unknown log event {event!r}")
    reserved = sorted({"event", "time", "prev", "software"} & set(fields))
    if reserved:  # they would silently replace the event, its time or the chain link
        raise ByorootError(f"a log entry's fields cannot set {', '.join(reserved)}")
    p = Path(path)
    with deferred():
        _lstat_regular(p)
        try:
            p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
                         | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError as exc:
            raise LogRefused(f"cannot open the station log {_shown(p)}: {os.strerror(exc.errno or errno.EIO)}") from None
        try:
            return _append_locked(fd, p, event, fields)
        finally:
            os.close(fd)


def _append_locked(fd: int, p: Path, event: str, fields: dict[str, object]) -> tuple[str, dict[str, object]]:
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise LogRefused("the station log is not a regular file")
        if st.st_mode & 0o077:
            os.fchmod(fd, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        # never glue an entry onto a torn line, or onto a file that is no log; the chain's head is the link
        prev = _check_chain(p) if size else GENESIS
    except OSError as exc:
        raise LogRefused(f"cannot read the station log: {os.strerror(exc.errno or errno.EIO)}") from None
    from byoroot_tui.core.software import software_id

    # every entry names the software that wrote it: version and bundle manifest hash (core/software.py)
    entry = {"event": event, "time": iso(utcnow()), **fields, "software": software_id(), "prev": prev}
    line = json.dumps(entry, ensure_ascii=True, sort_keys=True, separators=(",", ":")).encode("ascii")
    if len(line) > MAX_LINE:
        raise ByorootError("log entry too large")
    data = line + b"\n"
    try:
        written = 0
        while written < len(data):
            n = os.write(fd, data[written:])
            if n <= 0:
                raise OSError(errno.EIO, "short write")
            written += n
        os.fsync(fd)
        return line_hash(line), entry
    except BaseException as exc:
        cut = _cut_back(fd, size)
        if isinstance(exc, OSError):
            raise LogRefused(f"cannot write the station log: {os.strerror(exc.errno or errno.EIO)}{cut}") from None
        raise


def _cut_back(fd: int, size: int) -> str:
    """After a failed append: truncate the log to ``size`` (its last whole entry). Returns what
    to add to the message."""
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError as exc:
        return (f"; the partial entry could not be cut off ({os.strerror(exc.errno or errno.EIO)}): "
                "the log now ends in a torn line")
    return "; the log was left as it was before this entry"


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
    return verify_data(read_log(path), head, includes)


def read_log(path: str | os.PathLike[str]) -> bytes:
    """The log's bytes (a regular file only, up to 256 MiB)."""
    from byoroot_tui.core.files import read_input_file

    return read_input_file(path, "station log", cap=256 * 1024 * 1024)


def verify_data(data: bytes, head: str | None = None, includes: str | None = None) -> LogCheck:
    """`verify_log` on a log already read."""
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
        return LogCheck(True, count, prev, None, f"{count} entr{'y' if count == 1 else 'ies'}, chain intact from genesis; the given hash is "
                        f"the head after entry {include_at} ({later} entr{'y' if later == 1 else 'ies'} since)")
    return LogCheck(True, count, prev, None, f"{count} entr{'y' if count == 1 else 'ies'}, chain intact from genesis")
