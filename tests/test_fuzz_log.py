"""Property tests for the station log (core/stationlog.py).

- Any bytes as a log: `verify_log` returns a `LogCheck` or raises a ByorootError, nothing else;
  it calls a file intact only when it is one (an independent reading of the format decides), and
  a broken one names a line that exists.
- A real log written by `append_event` (hostile field values), then damaged by random edits:
  unless the bytes came out identical, it fails against the head it had, and the line blamed is
  the first changed line or the one after it (the one whose ``prev`` no longer matches); a
  damaged log that still reads as a chain was changed only in its last line or cut at a line end.
- Only an intact chain takes an entry (chained to its last line, without a byte of it changing);
  a damaged log, one ending in a torn line, or a file that is no log takes none and is left
  exactly as it was.
- `byoroot log verify FILE` on such files: exit 0 or 1, never a traceback; a bad log gives exactly
  one line on stderr.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

import factories as f
from byoroot_tui.core.errors import ByorootError
from byoroot_tui.core.stationlog import EVENTS, GENESIS, MAX_LINE, LogCheck, append_event, check_appendable, verify_log
from byoroot_tui.core.software import software_id

PROP = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def log_file(data: bytes | None = None):  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "station-log.jsonl"
        if data is not None:
            path.write_bytes(data)
        yield path


def verify(path: Path, head: str | None = None) -> LogCheck | ByorootError:
    """verify_log, with the only exception it may raise turned into a value."""
    try:
        check = verify_log(path, head)
    except ByorootError as exc:
        assert str(exc) and "\n" not in str(exc)
        return exc
    assert isinstance(check, LogCheck)
    assert check.reason and "\n" not in check.reason and f.unsafe_chars(check.reason) == []
    return check


def reading(data: bytes) -> tuple[bool, int | None]:
    """The format, read independently of the module: (intact, first bad line)."""
    if not data:
        return True, None
    lines = data.split(b"\n")
    prev = GENESIS
    for number, line in enumerate(lines[:-1], start=1):
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            return False, number
        if not (isinstance(entry, dict) and entry.get("prev") == prev and entry.get("event") in EVENTS):
            return False, number
        prev = sha(line)
    if lines[-1] != b"":
        return False, len(lines)  # no newline at the end: a torn last line
    return True, None


# ----------------------------------------------------------------------------- any bytes


def _chained(prev: str, event: str, extra: dict[str, object]) -> bytes:
    return json.dumps({**extra, "event": event, "prev": prev}, sort_keys=True).encode()


@st.composite
def loglike(draw) -> bytes:  # type: ignore[no-untyped-def]
    """Lines that mostly look like log entries: right or wrong prev, known or unknown events,
    other JSON, junk; CR/LF trouble and missing last newlines."""
    out: list[bytes] = []
    prev = GENESIS
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["good", "good", "good", "bad-prev", "bad-event", "not-object", "junk", "blank"]))
        extra = draw(st.dictionaries(st.text(max_size=5), st.one_of(st.none(), st.integers(), st.text(max_size=8)),
                                     max_size=2))
        if kind == "good":
            line = _chained(prev, draw(st.sampled_from(EVENTS)), extra)
        elif kind == "bad-prev":
            line = _chained(draw(st.sampled_from([GENESIS, "0" * 64, prev.upper(), ""])), "issued", extra)
        elif kind == "bad-event":
            line = _chained(prev, draw(st.sampled_from(["", "Issued", "deleted", "issued "])), extra)
        elif kind == "not-object":
            line = draw(st.sampled_from([b"[]", b"null", b"1", b'"issued"', b"[" * 3000, b'{"a":' * 2000]))
        elif kind == "junk":
            line = draw(st.binary(max_size=40)).replace(b"\n", b"")
        else:
            line = b""
        out.append(line)
        prev = sha(line)
    data = b"".join(line + draw(st.sampled_from([b"\n", b"\n", b"\n", b"\r\n"])) for line in out)
    if data and draw(st.booleans()) and draw(st.booleans()):
        data = data[: -draw(st.integers(1, min(len(data), 20)))]
    return data


@PROP
@given(data=st.one_of(st.binary(max_size=3000), loglike()))
@example(data=b"[" * 100_000 + b"\n")  # nested deeper than Python's recursion limit
@example(data=b'{"event":"issued","prev":"' + GENESIS.encode() + b'","x":' + b"[" * 5000 + b"\n")
@example(data=b"\xef\xbb\xbf{}\n")
@example(data=b"\n")
@example(data=b"")
def test_any_bytes_only_byoroot_errors_and_only_real_logs_pass(data: bytes) -> None:
    with log_file(data) as path:
        check = verify(path)
        head_check = verify(path, "ab" * 32)
    intact, first_bad = reading(data)
    event("intact" if intact else "torn" if data and not data.endswith(b"\n") else "bad line")
    assert isinstance(check, LogCheck), check  # a regular file under the cap is always read
    assert check.ok is intact, (check, data[:200])
    assert check.bad_line == first_bad, (check, data[:200])
    if check.ok:
        assert check.entries == data.count(b"\n")
        assert check.head == (sha(data.split(b"\n")[-2]) if data else GENESIS)
    else:
        assert 1 <= check.bad_line <= len(data.split(b"\n"))  # type: ignore[operator]
        assert check.entries == check.bad_line - 1  # type: ignore[operator]  # the good lines before it
        assert f"line {check.bad_line}" in check.reason
    assert isinstance(head_check, LogCheck) and head_check.ok is False


# ----------------------------------------------------------------------------- a real log, then damage


HOSTILE = st.sampled_from(["\x1b[2J", "\u202e", "\n", "\r\n", "\x00", "\ud800", '"}\n{"event":"issued"', "\u2028",
                           "\\", "\ufeff", "Ω≈ç√∫", "\U0001f510", "a" * 300])
TEXT = st.one_of(st.text(st.characters(codec=None, exclude_categories=()), max_size=30), HOSTILE)
VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), TEXT),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
FIELDS = st.dictionaries(st.one_of(st.sampled_from(["reason", "sha256", "serial", "officers", "out"]), TEXT),
                         VALUE, max_size=4)
RESERVED = ("event", "time", "prev", "software")  # software: set by append_event on every entry


def write_log(path: Path, events: list[tuple[str, dict[str, object]]]) -> list[str]:
    return [append_event(path, event, fields) for event, fields in events]


@st.composite
def damage(draw, data: bytes) -> tuple[bytes, bool]:  # type: ignore[no-untyped-def]
    """Up to three random edits; also True if a forged line chained to what was there was added
    (a forger who recomputes hashes: only the head catches that, and the line blamed may be later)."""
    out = bytearray(data)
    forged = False
    for _ in range(draw(st.integers(1, 3))):
        lines = bytes(out).split(b"\n")
        body, tail = lines[:-1], lines[-1]  # tail: b"" unless already torn
        n = len(out)
        op = draw(st.sampled_from(["flip", "set", "delete", "insert", "truncate", "del-line", "dup-line",
                                   "swap-lines", "insert-line", "edit-last", "append-chained"]))
        if n == 0:
            op = "insert-line"
        if op == "flip":
            i = draw(st.integers(0, n - 1))
            out[i] ^= draw(st.integers(1, 255))
        elif op == "set":
            out[draw(st.integers(0, n - 1))] = draw(st.sampled_from(b'\n\r{}" :,0\x00\xff'))
        elif op == "delete":
            i = draw(st.integers(0, n - 1))
            del out[i : i + draw(st.integers(1, 64))]
        elif op == "insert":
            i = draw(st.integers(0, n))
            out[i:i] = draw(st.one_of(st.binary(min_size=1, max_size=8), st.sampled_from([b"\n", b"}", b" "])))
        elif op == "truncate":
            del out[draw(st.integers(0, n - 1)) :]
        elif op in ("del-line", "dup-line", "swap-lines", "insert-line") and (body or op == "insert-line"):
            if op == "del-line":
                del body[draw(st.integers(0, len(body) - 1))]
            elif op == "dup-line":
                i = draw(st.integers(0, len(body) - 1))
                body.insert(draw(st.integers(0, len(body))), body[i])
            elif op == "swap-lines":
                i, j = draw(st.integers(0, len(body) - 1)), draw(st.integers(0, len(body) - 1))
                body[i], body[j] = body[j], body[i]
            else:
                i = draw(st.integers(0, len(body)))
                prev = sha(body[i - 1]) if i else GENESIS
                line = draw(st.sampled_from([
                    json.dumps({"event": "issued", "prev": prev, "serial": "01"}, separators=(",", ":")).encode(),
                    b"", b"{}", b"[1]", b"not json",
                ]))
                forged |= line.startswith(b'{"event"')
                body.insert(i, line)
            out = bytearray(b"".join(line + b"\n" for line in body) + tail)
        elif op == "edit-last" and body:
            try:
                obj = json.loads(body[-1])
            except ValueError:
                continue
            if isinstance(obj, dict):
                obj[draw(st.sampled_from(["time", "serial", "officers", "x"]))] = draw(TEXT)
                body[-1] = json.dumps(obj, ensure_ascii=True, sort_keys=True, separators=(",", ":")).encode()
                out = bytearray(b"".join(line + b"\n" for line in body) + tail)
        elif op == "append-chained" and body and not tail:
            entry = {"event": "issued", "prev": sha(body[-1]), "serial": "01", "time": "2026-01-01T00:00:00Z"}
            out += json.dumps(entry, sort_keys=True, separators=(",", ":")).encode() + b"\n"
            forged = True
    return bytes(out), forged


def first_changed_line(original: bytes, damaged: bytes) -> int:
    """1-based number of the line holding the first byte that differs (its newline included)."""
    i = 0
    while i < min(len(original), len(damaged)) and original[i] == damaged[i]:
        i += 1
    return original[:i].count(b"\n") + 1


@PROP
@given(events=st.lists(st.tuples(st.sampled_from(EVENTS), FIELDS), min_size=1, max_size=4), draw=st.data())
def test_damage_to_a_real_log_is_caught_at_the_first_changed_line(events, draw) -> None:  # type: ignore[no-untyped-def]
    events = [(e, {k: v for k, v in fields.items() if k not in RESERVED}) for e, fields in events]
    with log_file() as path:
        try:
            heads = write_log(path, events)
        except ByorootError as exc:
            assert "too large" in str(exc)
            return
        original = path.read_bytes()
        damaged, forged = draw.draw(damage(original))
        path.write_bytes(damaged)
        check = verify(path)
        pinned = verify(path, heads[-1])
        assert isinstance(check, LogCheck) and isinstance(pinned, LogCheck)
        event("unchanged" if damaged == original else "still a chain" if check.ok else "broken")
        if damaged == original:
            assert check.ok and pinned.ok and check.entries == len(events) and check.head == heads[-1]
            return
        assert not pinned.ok, "the head from the sheet catches every change"
        changed = first_changed_line(original, damaged)
        lines = damaged.split(b"\n")
        if check.ok:  # still a chain: only the last line was changed, or it was cut at a line end
            assert damaged.endswith(b"\n") or damaged == b""
            assert forged or changed >= len(lines) - 1, (changed, check)
            assert "not at the given head" in pinned.reason
        else:
            assert check.bad_line is not None, check
            assert changed <= check.bad_line, (changed, check, damaged)  # nothing before the change is blamed
            assert forged or check.bad_line <= changed + 1, (changed, check, damaged)
            assert check.entries == check.bad_line - 1
            assert pinned.bad_line == check.bad_line
        # appending: refused onto anything but an intact chain (a torn last line, a damaged or no
        # log), and then nothing changes; onto a chain, one line, chained
        torn = bool(damaged) and not damaged.endswith(b"\n")
        for step in (check_appendable, lambda p: append_event(p, "refused", {"reason": "fuzz"})):
            try:
                step(path)
            except ByorootError as exc:
                assert not check.ok, exc
                assert "\n" not in str(exc)
                if torn and check.bad_line == len(lines):
                    assert "incomplete line" in str(exc), exc
                elif check.entries == 0:
                    assert "is not a station log" in str(exc), exc
                else:
                    assert "is damaged" in str(exc) and f"line {check.bad_line}" in str(exc), exc
                assert path.read_bytes() == damaged
                continue
            assert check.ok, "an entry was appended to a log whose chain is broken"
        if not check.ok:
            return
        assert not torn
        after = path.read_bytes()
        assert after.startswith(damaged) and after.count(b"\n") == damaged.count(b"\n") + 1
        added = json.loads(after[len(damaged) :])
        assert added["prev"] == (sha(lines[-2]) if damaged else GENESIS)
        again = verify(path)
        assert isinstance(again, LogCheck)
        assert again.ok is check.ok and again.bad_line == check.bad_line


# ----------------------------------------------------------------------------- append_event with hostile fields


@PROP
@given(
    events=st.lists(st.tuples(st.sampled_from(EVENTS), FIELDS), min_size=1, max_size=4),
    # up to ~4.8 MB escaped ("\x00" and "é" take six bytes each): around MAX_LINE (4 MiB)
    big=st.tuples(st.sampled_from(["x", "\x00", "\u202e", "é"]), st.integers(0, 800_000)),
    existing=st.one_of(st.just(b""), st.binary(max_size=50).map(lambda b: b + b"\n"),
                       # an entry longer than a read block (4096)
                       st.integers(4000, 9000).map(lambda n: _chained(GENESIS, "refused", {"reason": "z" * n}) + b"\n")),
)
@example(events=[("refused", {"event": "issued"})], big=("x", 0), existing=b"")
@example(events=[("issued", {"prev": GENESIS, "time": "1970-01-01T00:00:00Z"})], big=("x", 0), existing=b"")
@example(events=[("signing", {})], big=("x", 0), existing=b"\n")  # a file that is no log
@example(events=[("refused", {}), ("exported", {})], big=("é", 720_000), existing=b"")  # too large, then one that fits
@example(events=[("issued", {})], big=("x", 4_000_000), existing=_chained(GENESIS, "refused", {"reason": "z" * 5000}) + b"\n")
def test_append_event_writes_any_fields_as_one_chained_ascii_line(events, big, existing: bytes) -> None:  # type: ignore[no-untyped-def]
    """Whatever the callers pass: one ASCII line per event, no raw control character, the fields read
    back equal, the event is the one asked for, chained to what was there (even to a line longer
    than a read block); or a one-line ByorootError and the file unchanged: for reserved fields, an
    entry over MAX_LINE, or a file that is not a station log (not an intact chain: refused as such)."""
    char, count = big
    events = [(events[0][0], {**events[0][1], "blob": char * count}), *events[1:]]
    is_log = reading(existing)[0]
    with log_file(existing) as path:
        for kind, fields in events:
            before = path.read_bytes()
            try:
                head = append_event(path, kind, fields)
            except ByorootError as exc:
                assert str(exc) and "\n" not in str(exc)
                assert path.read_bytes() == before, "a refused entry leaves the log as it was"
                if not is_log:
                    assert "is not a station log" in str(exc), exc
                    assert before == existing
                    continue
                assert set(fields) & set(RESERVED) or len(json.dumps(fields)) > MAX_LINE - 300, exc
                continue
            assert is_log, "appended to a file that is not a station log"
            after = path.read_bytes()
            assert after.startswith(before)
            line = after[len(before) :]
            assert line.endswith(b"\n") and line.count(b"\n") == 1
            line = line[:-1]
            assert line.isascii() and f.unsafe_bytes(line) == [] and len(line) <= MAX_LINE
            assert head == sha(line)
            entry = json.loads(line)
            assert entry["event"] == kind and entry["prev"] == (sha(before.split(b"\n")[-2]) if before else GENESIS)
            assert {k: v for k, v in entry.items() if k not in RESERVED} == fields
            assert entry["software"] == software_id()  # every entry names the software that wrote it
        check = verify(path)
        assert isinstance(check, LogCheck) and check.ok is is_log, check


# ----------------------------------------------------------------------------- the CLI


def run_cli(*argv: object) -> tuple[int, str, str]:
    from byoroot_tui import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


@st.composite
def fuzzed_log(draw) -> bytes:  # type: ignore[no-untyped-def]
    kind = draw(st.sampled_from(["bytes", "loglike", "damaged"]))
    if kind == "bytes":
        return draw(st.binary(max_size=500))
    if kind == "loglike":
        return draw(loglike())
    with log_file() as path:
        write_log(path, [("issued", {"serial": "01"}), ("refused", {"reason": "x\x1b[2J\u202e"})])
        return draw(damage(path.read_bytes()))[0]


@FEW
@given(data=fuzzed_log(), as_json=st.booleans(), head=st.one_of(st.none(), st.sampled_from(["", "zz", "ab" * 32])))
@example(data=b"[" * 100_000 + b"\n", as_json=False, head=None)
def test_cli_log_verify_on_fuzzed_files(data: bytes, as_json: bool, head: str | None) -> None:
    with log_file(data) as path:
        argv = ["log", "verify", path, *(["--head", head] if head is not None else []), *(["--json"] if as_json else [])]
        rc, out, err = run_cli(*argv)
    assert rc in (0, 1), (rc, err)
    assert "Traceback" not in out + err and "internal error" not in err, err
    assert f.unsafe_chars(out) == [] and f.unsafe_chars(err) == []
    intact = reading(data)[0] and head is None
    assert rc == (0 if intact else 1), (rc, out, err)
    if as_json:
        report = json.loads(out)
        assert report["ok"] is intact
    elif rc == 1:
        assert out == ""
        assert err.count("\n") == 1 and err.startswith("byoroot: station log NOT intact: "), err
    else:
        assert err == "" and out.startswith("Station log intact:")
