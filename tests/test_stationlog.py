"""The station log: one JSON object per ceremony event, hash-chained from a fixed genesis, created
0600, only ever appended to; `byoroot log verify` catches every kind of tampering (and cutting
entries off the end with the head `byoroot sign` prints, or the head printed on the sheet with
--includes); refusals and failed exports are logged without secrets; a failed export leaves
nothing behind.

A signing adds three entries: `signing` (before the key is opened), `issued` (with the
certificate, before anything reaches the medium) and `exported`; a refusal before signing one
`refused`. The sheet prints the head after the `issued` entry (the log as it was when the sheet
was made); `byoroot sign` prints the head after the `exported` entry."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import multiprocessing
import os
import re
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

import factories as f
from byoroot_tui.core.errors import ByorootError
from byoroot_tui.core.stationlog import EVENTS, GENESIS, append_event, default_log_path, verify_log

EXPORTS = ("intermediate.crt", "intermediate-fingerprint.png", "ceremony-record.txt", "ceremony-record.pdf")
SHEET = "ceremony-record.txt"
PAGE = 4096


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def lines_of(data: bytes) -> list[bytes]:
    assert data.endswith(b"\n")
    return data.split(b"\n")[:-1]


def join(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def entries_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in lines_of(path.read_bytes())]


def reserialise(obj: dict) -> bytes:
    """The writer's own form (sorted keys, compact, ASCII), so only the edited field differs."""
    return json.dumps(obj, ensure_ascii=True, sort_keys=True, separators=(",", ":")).encode("ascii")


def edit(line: bytes, **changes: object) -> bytes:
    obj = json.loads(line)
    assert all(k in obj for k in changes), (changes, obj)
    obj.update(changes)
    return reserialise(obj)


def sheet_head(sheet: Path) -> str:
    """The station log head hash as printed on a ceremony sheet (two lines of grouped hex)."""
    lines = sheet.read_text("utf-8").split("\n")
    i = next(i for i, line in enumerate(lines) if line.startswith("Station log head:"))
    groups = (lines[i][len("Station log head:") :] + " " + lines[i + 1]).split()
    assert len(groups) == 16 and all(re.fullmatch(r"[0-9A-F]{4}", g) for g in groups), groups
    return "".join(groups).lower()


def sheet_head_as_printed(sheet: Path) -> str:
    lines = sheet.read_text("utf-8").split("\n")
    i = next(i for i, line in enumerate(lines) if line.startswith("Station log head:"))
    return lines[i][len("Station log head:") :].strip() + " " + lines[i + 1].strip()


def run_cli(*argv: object) -> tuple[int, str, str]:
    from byoroot_tui import cli as cli_module

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli_module.main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def log_verify(cli, path: Path, head: str | None = None):  # type: ignore[no-untyped-def]
    """`byoroot log verify` twice: plain (for the message) and --json (for the fields)."""
    extra = ["--head", head] if head is not None else []
    plain = cli("log", "verify", path, *extra)
    as_json = cli("log", "verify", path, *extra, "--json")
    assert plain.rc == as_json.rc
    assert "Traceback" not in plain.text + as_json.text
    return plain, json.loads(as_json.out)


# ----------------------------------------------------------------------------- a real history


# The events the five steps of `history` put on the log, one list per step.
SIGNED = ["signing", "issued", "exported"]
STEPS = [SIGNED, ["refused"], SIGNED, SIGNED, SIGNED]
HISTORY_EVENTS = [e for step in STEPS for e in step]
N = len(HISTORY_EVENTS)  # 13 lines
REFUSED = HISTORY_EVENTS.index("refused")  # index of the refused entry (3)
ISSUED = [i for i, e in enumerate(HISTORY_EVENTS) if e == "issued"]  # 1, 5, 8, 11


@pytest.fixture(scope="module")
def history(tmp_path_factory):  # type: ignore[no-untyped-def]
    """Five `byoroot sign` runs on one log: issued, refused, issued, issued, issued.

    Keeps the log's bytes after each run, the head printed on each sheet, the head `byoroot sign`
    printed last (the log's head) and the head printed on the last sheet.
    """
    base = tmp_path_factory.mktemp("history")
    log = base / "log" / "station-log.jsonl"
    snapshots: list[bytes] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_DATA_HOME", str(base / "data"))
        mp.setenv("XDG_CONFIG_HOME", str(base / "config"))
        c = f.make_ceremony(base)
        steps = [
            ("--officer", "Alice", "--officer", "Bob"),
            ("--officer", "Alice", "--officer", "ALICE", "--force"),  # refused: the same officer twice
            ("--officer", "Carol", "--officer", "Dave", "--force"),
            ("--officer", "Alice", "--officer", "Bob", "--force"),
            ("--officer", "Erin", "--officer", "Frank", "--force"),
        ]
        sheet_heads: list[str] = []
        printed = ""
        for step in steps:
            rc, out, err = run_cli(*c.sign_argv(*step, "--log", log))
            assert rc == (1 if "ALICE" in step else 0), err
            snapshots.append(log.read_bytes())
            if rc == 0:
                sheet_heads.append(sheet_head(c.stick / SHEET))
                m = re.search(r"Station log: +.* \(head ([0-9a-f]{64})\)$", out, re.M)
                assert m, out
                printed = m.group(1)
    data = log.read_bytes()
    return SimpleNamespace(c=c, log=log, data=data, lines=lines_of(data), snapshots=snapshots,
                           sheet=c.stick / SHEET, sheet_heads=sheet_heads, sheet_head=sheet_heads[-1],
                           printed_head=printed, head=sha(lines_of(data)[-1]))


@pytest.fixture
def copy(history, tmp_path):  # type: ignore[no-untyped-def]
    """Write (tampered) log bytes to a fresh file; returns its path."""
    def write(data: bytes) -> Path:
        path = tmp_path / "copy.jsonl"
        path.write_bytes(data)
        return path

    return write


# ----------------------------------------------------------------------------- format


def test_one_json_object_per_line_chained_from_genesis(history) -> None:  # type: ignore[no-untyped-def]
    assert re.fullmatch(r"[0-9a-f]{64}", GENESIS)
    assert history.data.isascii() and not f.unsafe_bytes(history.data)
    entries = [json.loads(line) for line in history.lines]
    assert [e["event"] for e in entries] == HISTORY_EVENTS
    prev = GENESIS
    for line, entry in zip(history.lines, entries):
        assert isinstance(entry, dict)
        assert line.startswith(b"{") and line.endswith(b"}") and b"\n" not in line
        assert entry["event"] in EVENTS
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry["time"])
        assert entry["prev"] == prev
        prev = sha(line)
    assert entries[0]["prev"] == GENESIS
    assert prev == history.head == history.printed_head  # `byoroot sign` printed the hash of the last line
    # the last sheet was made after the `issued` entry and before the `exported` one
    assert history.sheet_head == sha(history.lines[-2]) and entries[-2]["event"] == "issued"


def test_each_sheet_prints_the_head_after_its_issued_entry(history) -> None:  # type: ignore[no-untyped-def]
    heads = [sha(line) for line in history.lines]
    assert history.sheet_heads == [heads[i] for i in ISSUED]


def test_issued_entries_hold_the_certificate_facts(history) -> None:  # type: ignore[no-untyped-def]
    signing, last, exported = (json.loads(line) for line in history.lines[-3:])
    assert (signing["event"], last["event"], exported["event"]) == ("signing", "issued", "exported")
    cert = history.c.issued()
    assert last["sha256"] == sha(f.der(cert))
    assert last["certificate"].encode("ascii") == history.c.cert_path.read_bytes()  # the certificate itself
    assert int(last["serial"], 16) == cert.serial_number
    assert last["tbs_sha256"] == sha(cert.tbs_certificate_bytes)
    assert last["officers"] == ["Erin", "Frank"]
    assert last["csr_file"] == history.c.csr.name
    assert last["root_sha256"] == sha(f.der(history.c.root_cert_obj))
    assert "out" not in last  # where it went is the `exported` entry's
    # the signing entry before it named the same certificate; the exported entry after it the files
    for key in ("serial", "tbs_sha256", "csr_sha256", "officers", "root_sha256", "profile"):
        assert signing[key] == last[key], key
    assert "sha256" not in signing and "certificate" not in signing  # nothing was signed yet
    assert exported["serial"] == last["serial"] and exported["sha256"] == last["sha256"]
    assert exported["out"] == str(history.c.stick)
    assert {x["name"]: x["sha256"] for x in exported["files"]} == {
        n: sha((history.c.stick / n).read_bytes()) for n in EXPORTS}
    shas = [json.loads(history.lines[i])["sha256"] for i in ISSUED]
    assert len(set(shas)) == 4  # four signings, four certificates


def test_the_refused_entry_holds_the_reason(history) -> None:  # type: ignore[no-untyped-def]
    refused = json.loads(history.lines[REFUSED])
    assert refused["event"] == "refused"
    assert "named twice" in refused["reason"]
    assert refused["csr_file"] == history.c.csr.name
    assert "sha256" not in refused  # nothing was issued


def test_the_log_is_only_ever_appended_to(history) -> None:  # type: ignore[no-untyped-def]
    snaps = [b"", *history.snapshots]
    for before, after, step in zip(snaps, snaps[1:], STEPS):
        assert after.startswith(before), "bytes of earlier entries changed"
        added = after[len(before) :]
        assert added.endswith(b"\n")
        # a signing adds signing, issued, exported; a refusal one line
        assert [json.loads(line)["event"] for line in lines_of(added)] == step
    assert snaps[-1] == history.data


def test_appending_after_signings_keeps_every_earlier_byte(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    log = tmp_path / "log.jsonl"
    seen = b""
    for i in range(4):
        out = tmp_path / f"out{i}"
        out.mkdir()
        args = ("--officer", "Alice", "--officer", "alice") if i == 2 else ("--officer", "Alice", "--officer", "Bob")
        r = cli(*c.sign_argv(*args, "--out", out, "--log", log))
        assert r.rc == (1 if i == 2 else 0), r.err
        now = log.read_bytes()
        assert now.startswith(seen) and len(now) > len(seen)
        seen = now
    assert verify_log(log).ok and verify_log(log).entries == 3 + 3 + 1 + 3  # three signings, a refusal


# ----------------------------------------------------------------------------- permissions and where


def test_log_is_created_0600_in_a_new_folder(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    log = tmp_path / "new" / "deeper" / "station.jsonl"
    old = os.umask(0)  # the mode must not come from the umask
    try:
        r = cli(*c.sign_argv("--officer", "Alice", "--officer", "Bob", "--log", log))
    finally:
        os.umask(old)
    assert r.rc == 0, r.err
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600
    assert stat.S_ISREG(os.lstat(log).st_mode)
    assert not stat.S_IMODE(os.stat(log.parent).st_mode) & 0o077


def test_a_refusal_also_creates_the_log_0600(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    log = tmp_path / "fresh" / "log.jsonl"
    r = cli(*c.sign_argv("--officer", "Alice", "--officer", "alice", "--log", log))
    assert r.rc == 1
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600
    assert [e["event"] for e in entries_of(log)] == ["refused"]


def test_an_existing_world_readable_log_is_made_0600(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    log = tmp_path / "log.jsonl"
    log.write_bytes(b"")
    os.chmod(log, 0o644)
    r = cli(*c.sign_argv("--log", log))
    assert r.rc == 0, r.err
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600


def test_default_log_is_in_the_user_data_folder(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    expected = Path(os.environ["XDG_DATA_HOME"]) / "byoroot" / "station-log.jsonl"
    assert default_log_path() == expected
    assert not expected.exists()
    r = cli(*c.sign_argv("--officer", "Alice", "--officer", "Bob"))
    assert r.rc == 0, r.err
    assert stat.S_IMODE(os.stat(expected).st_mode) == 0o600
    assert [e["event"] for e in entries_of(expected)] == ["signing", "issued", "exported"]
    lines = lines_of(expected.read_bytes())
    assert sheet_head(c.stick / SHEET) == sha(lines[-2])  # the head after the issued entry
    assert f"(head {sha(lines[-1])})" in r.out
    v = cli("log", "verify")  # no FILE: the same default
    assert v.rc == 0, v.err
    assert "3 entries" in v.out


# ----------------------------------------------------------------------------- byoroot log verify: intact


def test_verify_an_intact_log_prints_the_head(cli, history) -> None:  # type: ignore[no-untyped-def]
    plain, data = log_verify(cli, history.log)
    assert plain.rc == 0, plain.err
    assert history.head in plain.out and f"{N} entries" in plain.out
    assert data == {"ok": True, "entries": N, "head": history.head, "bad_line": None,
                    "reason": f"{N} entries, chain intact from genesis"}


def test_verify_with_the_head_of_the_last_entry(cli, history) -> None:  # type: ignore[no-untyped-def]
    """The head `byoroot sign` printed is the head of the last entry (`exported`)."""
    plain, data = log_verify(cli, history.log, history.printed_head)
    assert plain.rc == 0, plain.err
    assert data["ok"] and data["head"] == history.head == history.printed_head


def _as(head: str, form: str) -> str:
    return {
        "upper": head.upper(),
        "as-printed": " ".join(head[i : i + 4] for i in range(0, 64, 4)).upper(),
        "colons": ":".join(head[i : i + 2] for i in range(0, 64, 2)).upper(),
    }[form]


@pytest.mark.parametrize("form", ["upper", "as-printed", "colons"])
def test_verify_takes_the_head_as_printed_on_the_sheet(cli, history, form) -> None:  # type: ignore[no-untyped-def]
    """The sheet's head is the head after its `issued` entry, one entry before the end: --includes
    takes it in any printed form; --head takes the log's head in the same forms."""
    if form == "as-printed":
        assert sheet_head_as_printed(history.sheet) == _as(history.sheet_head, form)
    plain, _ = log_includes(cli, history.log, _as(history.sheet_head, form))
    assert plain.rc == 0, plain.err
    assert f"head after entry {N - 1} (1 entry since)" in plain.out
    plain, _ = log_verify(cli, history.log, _as(history.head, form))
    assert plain.rc == 0, plain.err


@pytest.mark.parametrize("older", [0, 1, 2, 3, N - 2])  # N - 2: the head on the last sheet
def test_verify_with_an_older_entrys_hash_fails(cli, history, older) -> None:  # type: ignore[no-untyped-def]
    plain, data = log_verify(cli, history.log, sha(history.lines[older]))
    assert plain.rc == 1
    assert "not at the given head" in plain.err
    assert data["ok"] is False and data["bad_line"] is None


@pytest.mark.parametrize("head", ["xyz", "short", "genesis", "not-hex"])
def test_verify_with_a_malformed_head_fails(cli, history, head) -> None:  # type: ignore[no-untyped-def]
    value = {"xyz": "xyz", "short": history.head[:-1], "genesis": GENESIS, "not-hex": "g" * 64}[head]
    plain, data = log_verify(cli, history.log, value)
    assert plain.rc == 1
    assert data["ok"] is False


def test_verify_with_an_empty_head_fails(cli, history) -> None:  # type: ignore[no-untyped-def]
    plain, _ = log_verify(cli, history.log, "")
    assert plain.rc == 1


def test_verify_an_empty_log(cli, copy) -> None:  # type: ignore[no-untyped-def]
    plain, data = log_verify(cli, copy(b""))
    assert plain.rc == 0, plain.err
    assert data["entries"] == 0 and data["head"] == GENESIS


def test_verify_a_missing_log_fails(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = cli("log", "verify", tmp_path / "nope.jsonl")
    f.assert_refusal(r, "no such file")


# ----------------------------------------------------------------------------- tampering


def _forged(prev: str) -> bytes:
    return reserialise({"event": "issued", "time": "2026-01-01T00:00:00Z", "sha256": "ab" * 32,
                        "serial": "01", "officers": ["Mallory"], "prev": prev})


def _swap(lines: list[bytes], i: int, j: int) -> list[bytes]:
    out = list(lines)
    out[i], out[j] = out[j], out[i]
    return out


# name: (tamper(lines) -> bytes, first bad line number). The history's lines (0-based):
# 0-2 signing/issued/exported, 3 refused, 4-6, 7-9 and 10-12 signing/issued/exported; N = 13.
MID = ISSUED[1]  # 5: the issued entry of the third run, in the middle of the log
TAMPERING = {
    "edit-first-entry": (lambda L: join([edit(L[0], officers=["Mallory", "Bob"])] + L[1:]), 2),
    "edit-first-entry-prev": (lambda L: join([edit(L[0], prev="0" * 64)] + L[1:]), 1),
    "edit-first-issued-certificate": (lambda L: join(L[:1] + [edit(L[1], certificate="forged")] + L[2:]), 3),
    "edit-refused-reason": (lambda L: join(L[:REFUSED] + [edit(L[REFUSED], reason="nothing happened")]
                                           + L[REFUSED + 1 :]), REFUSED + 2),
    "edit-middle-serial": (lambda L: join(L[:MID] + [edit(L[MID], serial="01")] + L[MID + 1 :]), MID + 2),
    "edit-middle-time": (lambda L: join(L[:MID] + [edit(L[MID], time="2020-01-01T00:00:00Z")] + L[MID + 1 :]), MID + 2),
    "edit-fourth-officers": (lambda L: join(L[: ISSUED[2]] + [edit(L[ISSUED[2]], officers=["Mallory"])]
                                            + L[ISSUED[2] + 1 :]), ISSUED[2] + 2),
    "edit-last-issued-officers": (lambda L: join(L[:-2] + [edit(L[-2], officers=["Mallory"])] + L[-1:]), N),
    "edit-exported-files": (lambda L: join(L[:2] + [edit(L[2], files=[])] + L[3:]), 4),
    "reformat-middle-json": (lambda L: join(L[:MID] + [json.dumps(json.loads(L[MID])).encode()] + L[MID + 1 :]), MID + 2),
    "one-byte-flipped-in-middle": (lambda L: join(L[:MID] + [L[MID].replace(b'"issued"', b'"issueD"')] + L[MID + 1 :]),
                                   MID + 1),
    "unknown-event-in-last": (lambda L: join(L[:-1] + [edit(L[-1], event="deleted")]), N),
    "delete-first": (lambda L: join(L[1:]), 1),
    "delete-second": (lambda L: join(L[:1] + L[2:]), 2),
    "delete-middle": (lambda L: join(L[:MID] + L[MID + 1 :]), MID + 1),
    "delete-fourth": (lambda L: join(L[:3] + L[4:]), 4),
    "delete-last-issued": (lambda L: join(L[:-2] + L[-1:]), N - 1),
    "reorder-1-2": (lambda L: join(_swap(L, 0, 1)), 1),
    "reorder-2-3": (lambda L: join(_swap(L, 1, 2)), 2),
    "reorder-4-5": (lambda L: join(_swap(L, 3, 4)), 4),
    "reorder-first-and-last": (lambda L: join(_swap(L, 0, N - 1)), 1),
    "duplicate-an-entry": (lambda L: join(L[:3] + [L[2]] + L[3:]), 4),
    "insert-forged-at-start": (lambda L: join([_forged(GENESIS)] + L), 2),
    "insert-forged-in-middle": (lambda L: join(L[:2] + [_forged(sha(L[1]))] + L[2:]), 4),
    "insert-forged-before-last": (lambda L: join(L[:-1] + [_forged(sha(L[-2]))] + L[-1:]), N + 1),
    "torn-last-line": (lambda L: join(L)[:-12], N),
    "last-newline-missing": (lambda L: join(L)[:-1], N),
    "torn-first-line": (lambda L: L[0][:40], 1),
    "garbage-appended": (lambda L: join(L) + b"garbage\n", N + 1),
    "garbage-appended-without-newline": (lambda L: join(L) + b"\x00\xffjunk", N + 1),
    "blank-line-appended": (lambda L: join(L) + b"\n", N + 1),
    "json-array-appended": (lambda L: join(L) + b"[1,2,3]\n", N + 1),
    "blank-line-inserted": (lambda L: join(L[:2]) + b"\n" + join(L[2:]), 3),
    "crlf-line-ends": (lambda L: b"".join(line + b"\r\n" for line in L), 2),
}


def test_the_tampering_cases_are_written_for_this_history(history) -> None:  # type: ignore[no-untyped-def]
    assert len(history.lines) == N and json.loads(history.lines[MID])["event"] == "issued"


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampering_is_caught_naming_the_first_bad_line(cli, history, copy, case) -> None:  # type: ignore[no-untyped-def]
    tamper, bad = TAMPERING[case]
    path = copy(tamper(list(history.lines)))
    plain, data = log_verify(cli, path)
    assert plain.rc == 1, (case, plain.out)
    assert data["ok"] is False and data["bad_line"] == bad, (case, data)
    assert re.search(rf"\bline {bad}\b", plain.err), (case, plain.err)
    assert plain.err.startswith("byoroot: station log NOT intact")
    # and with the sheet's head too
    plain, data = log_verify(cli, path, history.head)
    assert plain.rc == 1 and data["bad_line"] == bad


@pytest.mark.parametrize("field,value", [("serial", "01"), ("out", "/media/elsewhere"), ("sha256", "00" * 32),
                                         ("files", []), ("time", "2020-01-01T00:00:00Z")])
def test_editing_the_last_entry_is_caught_only_with_the_head(cli, history, copy, field, value) -> None:  # type: ignore[no-untyped-def]
    """No later line chains to the last one (the `exported` entry): only the head `byoroot sign`
    printed pins it down. (The sheet's head pins the `issued` entry before it: see
    edit-last-issued-officers in TAMPERING.)"""
    lines = list(history.lines)
    path = copy(join(lines[:-1] + [edit(lines[-1], **{field: value})]))
    plain, _ = log_verify(cli, path)
    assert plain.rc == 0, plain.err  # the chain itself is intact
    plain, _ = log_includes(cli, path, history.sheet_head)
    assert plain.rc == 0, plain.err  # the sheet was made before the exported entry
    plain, data = log_verify(cli, path, history.printed_head)
    assert plain.rc == 1
    assert "not at the given head" in plain.err
    assert data["ok"] is False


@pytest.mark.parametrize("cut", [1, 2, 4])
def test_cutting_entries_off_the_end_is_caught_with_the_head_from_the_sheet(cli, history, copy, cut) -> None:  # type: ignore[no-untyped-def]
    path = copy(join(history.lines[:-cut]))
    plain, data = log_verify(cli, path)
    assert plain.rc == 0, plain.err  # a shorter chain is still a chain
    assert data["entries"] == N - cut
    # the head `byoroot sign` printed catches any cut
    plain, data = log_verify(cli, path, history.printed_head)
    assert plain.rc == 1
    assert "entries were cut off the end" in plain.err
    assert data["ok"] is False and data["entries"] == N - cut
    # the head printed on the sheet is that after the issued entry: cutting it (or more) off is
    # caught; the exported entry alone was written after the sheet was made, so the sheet cannot
    # pin it down
    plain, data = log_includes(cli, path, sheet_head_as_printed(history.sheet))
    if cut == 1:
        assert plain.rc == 0, plain.err
        assert f"head after entry {N - 1} (0 entries since)" in plain.out
    else:
        assert plain.rc == 1
        assert "cut off the end" in plain.err
        assert data["ok"] is False and data["entries"] == N - cut


def test_cutting_everything_is_caught_with_the_head(cli, history, copy) -> None:  # type: ignore[no-untyped-def]
    plain, _ = log_verify(cli, copy(b""), history.head)
    assert plain.rc == 1


def test_a_well_forged_entry_appended_is_caught_with_the_head(cli, history, copy) -> None:  # type: ignore[no-untyped-def]
    lines = list(history.lines)
    path = copy(join(lines + [_forged(sha(lines[-1]))]))
    plain, _ = log_verify(cli, path)
    assert plain.rc == 0  # chained correctly: only the head tells
    plain, _ = log_verify(cli, path, history.head)
    assert plain.rc == 1 and "not at the given head" in plain.err


# ----------------------------------------------------------------------------- refusals are logged, without secrets


PASSPHRASE = b"Correct-Horse-Battery-Staple-4711"
WRONG = b"Wrong-Zebra-Passphrase-0815"


def _secret_fragments(root_key, key_file: Path) -> list[bytes]:  # type: ignore[no-untyped-def]
    """Strings that must never appear in the log: the passphrases, base64 chunks of the key file and
    of the unencrypted key, and the private value in hex."""
    frags = [PASSPHRASE, WRONG, PASSPHRASE.hex().encode(), WRONG.hex().encode(),
             base64.b64encode(PASSPHRASE), base64.b64encode(WRONG)]
    for pem in (key_file.read_bytes(), f.key_bytes(root_key)):
        body = b"".join(line.strip() for line in pem.splitlines() if line.strip() and b":" not in line
                        and not line.startswith(b"-----"))
        assert len(body) > 100
        frags += [body[i : i + 16] for i in range(0, len(body) - 16, 8)]
    frags.append(f"{root_key.private_numbers().private_value:x}".encode())
    return frags


def test_wrong_passphrase_is_logged_as_refused_without_secrets(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rkey = f.key("p384", 1)
    c = ceremony(root_key=rkey, root_key_bytes=f.key_bytes(rkey, password=PASSPHRASE))
    wrong = tmp_path / "wrong.pass"
    wrong.write_bytes(WRONG + b"\n")
    right = tmp_path / "right.pass"
    right.write_bytes(PASSPHRASE + b"\n")
    log = tmp_path / "log.jsonl"
    r = cli(*c.sign_argv("--passphrase-file", wrong, "--officer", "Alice", "--officer", "Bob", "--log", log))
    f.assert_refusal(r, "wrong passphrase")
    assert not any((c.stick / n).exists() for n in EXPORTS)
    # the signing entry came before the key was opened; the refusal follows it
    assert [e["event"] for e in entries_of(log)] == ["signing", "refused"]
    signing, entry = entries_of(log)
    assert entry["event"] == "refused" and "wrong passphrase" in entry["reason"]
    assert entry["csr_sha256"] == sha(f.der(c.csr_obj))
    assert entry["officers"] == ["Alice", "Bob"]
    assert entry["serial"] == signing["serial"] and "sha256" not in entry  # nothing was signed
    # then the right passphrase: issued; still no secret anywhere in the log
    r = cli(*c.sign_argv("--passphrase-file", right, "--officer", "Alice", "--officer", "Bob", "--log", log))
    assert r.rc == 0, r.err
    assert [e["event"] for e in entries_of(log)] == ["signing", "refused", "signing", "issued", "exported"]
    data = log.read_bytes()
    for frag in _secret_fragments(rkey, c.root_key):
        assert frag not in data, frag
    for text in (r.out, r.err, (c.stick / SHEET).read_text("utf-8")):
        assert PASSPHRASE.decode() not in text and WRONG.decode() not in text


def test_bad_csr_signature_is_logged_as_refused(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony(csr_bytes=f.flip_last_byte(f.der(f.make_csr(f.key("ed25519")))))
    log = tmp_path / "log.jsonl"
    r = cli(*c.sign_argv("--officer", "Alice", "--officer", "Bob", "--log", log))
    f.assert_refusal(r, "self-signature")
    assert not any((c.stick / n).exists() for n in EXPORTS)
    entries = entries_of(log)
    assert len(entries) == 1
    assert entries[0]["event"] == "refused"
    assert "self-signature" in entries[0]["reason"]
    assert entries[0]["csr_file"] == c.csr.name
    assert entries[0]["prev"] == GENESIS
    for frag in _secret_fragments(c.root_key_obj, c.root_key):
        assert frag not in log.read_bytes()
    assert cli("log", "verify", log).rc == 0


def test_an_existing_sheet_without_force_is_refused_before_signing(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    (c.stick / SHEET).write_bytes(b"last year's sheet\n")
    log = tmp_path / "log.jsonl"
    r = cli(*c.sign_argv("--officer", "Alice", "--officer", "Bob", "--log", log))
    f.assert_refusal(r, "ceremony-record.txt already exists", "--force")
    assert not (c.stick / "intermediate.crt").exists()
    assert not (c.stick / "intermediate-fingerprint.png").exists()
    assert (c.stick / SHEET).read_bytes() == b"last year's sheet\n"
    assert not f.temp_leftovers(c.stick)


@pytest.mark.parametrize("how", ["existing-sheet", "missing-out-folder"])
def test_a_refusal_before_signing_is_logged(ceremony, cli, tmp_path, how) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    extra: tuple[object, ...] = ()
    if how == "existing-sheet":
        (c.stick / SHEET).write_bytes(b"last year's sheet\n")
    else:
        extra = ("--out", tmp_path / "no-such-folder")
    log = tmp_path / "log.jsonl"
    r = cli(*c.sign_argv("--officer", "Alice", "--officer", "Bob", "--log", log, *extra))
    assert r.rc == 1
    assert log.exists(), "the refusal was not logged"
    assert [e["event"] for e in entries_of(log)] == ["refused"]


def test_refused_entries_never_hold_raw_control_characters(tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    c = f.make_ceremony(tmp_path, csr_name="req\x1b[2J\u202e.csr")
    log = tmp_path / "log.jsonl"
    r = cli(*c.sign_argv("--officer", "Alice", "--officer", "alice", "--log", log))
    assert r.rc == 1
    entry = entries_of(log)[-1]
    assert entry["event"] == "refused"
    assert not any(f.unsafe_chars(v) for v in entry.values() if isinstance(v, str)), entry


# ----------------------------------------------------------------------------- failed exports


def _export_again_command(err: str) -> str:
    return f.export_again_serial(err)


def test_a_full_medium_logs_export_failed_and_leaves_nothing(ceremony, cli, tmpfs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The medium is full but still takes an empty file (the probe before signing passes): the
    certificate is signed and on the log, the export fails and leaves nothing; `byoroot export`
    writes the same certificate onto another folder, without the key."""
    c = ceremony()
    mp = tmpfs.mount("full", "64k")
    tmpfs.fill(mp)
    before = f.listing(mp)
    log = tmp_path / "log.jsonl"
    r = cli(*c.sign_argv("--officer", "Alice", "--officer", "Bob", "--log", log, "--out", mp))
    f.assert_refusal(r, "full", "nothing of this export is left on the medium")
    serial = _export_again_command(r.err)
    assert f.listing(mp) == before  # none of the three files, no temp file
    assert not f.temp_leftovers(mp)
    entries = entries_of(log)
    assert [e["event"] for e in entries] == ["signing", "issued", "export_failed"]
    issued, failed = entries[1], entries[2]
    assert re.fullmatch(r"[0-9a-f]{64}", failed["sha256"])
    assert failed["serial"] == issued["serial"] == serial and failed["sha256"] == issued["sha256"]
    assert failed["out"] == str(mp) and "full" in failed["reason"]
    assert failed["left"] == [] and failed["restored"] == []
    # the same certificate onto another folder, from the log: `exported`, never a second `issued`
    other = tmp_path / "other-stick"
    other.mkdir()
    r = cli("export", serial, "--out", other, "--log", log)
    assert r.rc == 0, r.err
    assert all((other / n).is_file() for n in EXPORTS)
    assert (other / "intermediate.crt").read_bytes() == issued["certificate"].encode("ascii")
    entries = entries_of(log)
    assert [e["event"] for e in entries] == ["signing", "issued", "export_failed", "exported"]
    assert entries[3]["out"] == str(other) and entries[3]["sha256"] == issued["sha256"]
    lines = lines_of(log.read_bytes())
    assert sheet_head(other / SHEET) == sha(lines[-2])  # the log as it was when the sheet was made
    v = cli("log", "verify", log, "--includes", sheet_head(other / SHEET))
    assert v.rc == 0, v.err
    assert cli("log", "verify", log, "--head", sha(lines[-1])).rc == 0


def test_an_export_failing_on_the_sheet_removes_the_certificate_and_png(ceremony, cli, tmpfs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Room for exactly two pages: intermediate.crt and the PNG fit (a page each), the sheet does not.
    All three go to temp files first: the certificate's and the PNG's are removed again."""
    c = ceremony()
    mp = tmpfs.mount("almost-full", "64k")
    filler = tmpfs.fill(mp)
    os.truncate(filler, os.path.getsize(filler) - 2 * PAGE)
    st = os.statvfs(mp)
    assert st.f_bavail * st.f_frsize == 2 * PAGE
    before = f.listing(mp)
    log = tmp_path / "log.jsonl"
    r = cli(*c.sign_argv("--officer", "Alice", "--officer", "Bob", "--log", log, "--out", mp))
    f.assert_refusal(r, "full", "nothing of this export is left on the medium")
    serial = _export_again_command(r.err)
    assert f.listing(mp) == before
    assert not f.temp_leftovers(mp)
    entries = entries_of(log)
    # the certificate is on the log before anything was written; the export then failed
    assert [e["event"] for e in entries] == ["signing", "issued", "export_failed"]
    assert "out" not in entries[1]
    assert entries[2]["out"] == str(mp) and entries[2]["left"] == []
    assert entries[2]["sha256"] == entries[1]["sha256"] and entries[2]["serial"] == entries[1]["serial"] == serial
    assert "full" in entries[2]["reason"]
    # again onto another folder, from the log; and the sizes that made this the sheet's failure
    other = tmp_path / "other"
    other.mkdir()
    r = cli("export", serial, "--out", other, "--log", log)
    assert r.rc == 0, r.err
    sizes = {n: (other / n).stat().st_size for n in EXPORTS}
    assert sizes["intermediate.crt"] <= PAGE and sizes["intermediate-fingerprint.png"] <= PAGE, sizes
    assert sizes[SHEET] > PAGE, sizes
    assert [e["event"] for e in entries_of(log)] == ["signing", "issued", "export_failed", "exported"]
    assert cli("log", "verify", log).rc == 0


def test_an_entry_after_a_torn_line_is_not_glued_to_it(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    log = tmp_path / "log.jsonl"
    assert cli(*c.sign_argv("--log", log)).rc == 0
    assert cli(*c.sign_argv("--log", log, "--force")).rc == 0
    torn = log.read_bytes()[:-30]
    log.write_bytes(torn)
    sheet = (c.stick / SHEET).read_bytes()
    r = cli(*c.sign_argv("--log", log, "--force"))
    # refused before the key: nothing is appended to a log that ends in a torn line
    f.assert_refusal(r, "incomplete line", "byoroot log verify")
    assert log.read_bytes() == torn
    assert (c.stick / SHEET).read_bytes() == sheet  # nothing was signed or written


# ----------------------------------------------------------------------------- append_event itself


def test_append_event_returns_the_new_head(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "log.jsonl"
    heads = [append_event(log, "refused", {"reason": f"test {i}"}) for i in range(3)]
    lines = lines_of(log.read_bytes())
    assert heads == [sha(line) for line in lines]
    check = verify_log(log, heads[-1])
    assert check.ok and check.entries == 3 and check.head == heads[-1]


def test_append_event_refuses_an_unknown_event(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "log.jsonl"
    with pytest.raises(ByorootError):
        append_event(log, "deleted", {})
    assert not log.exists()


def test_append_event_refuses_a_symlink(tmp_path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "elsewhere.txt"
    target.write_bytes(b"")
    link = tmp_path / "log.jsonl"
    link.symlink_to(target)
    with pytest.raises(ByorootError):
        append_event(link, "refused", {"reason": "x"})
    assert target.read_bytes() == b""


def _append_many(path: str, tag: str, count: int) -> None:
    for i in range(count):
        append_event(path, "refused", {"reason": f"{tag} {i}"})


def test_concurrent_appends_keep_one_chain(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "log.jsonl"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(str(log), tag, 25)) for tag in ("a", "b", "c")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    check = verify_log(log)
    assert check.ok, check.reason
    assert check.entries == 75


# ----------------------------------------------------------------------------- --includes: an older sheet's head


def log_includes(cli, path: Path, value: str):  # type: ignore[no-untyped-def]
    plain = cli("log", "verify", path, "--includes", value)
    as_json = cli("log", "verify", path, "--includes", value, "--json")
    assert plain.rc == as_json.rc and "Traceback" not in plain.text + as_json.text
    return plain, json.loads(as_json.out)


@pytest.mark.parametrize("older", [0, 1, 2, 3, 4, ISSUED[2], N - 2, N - 1])
def test_includes_accepts_the_head_of_any_earlier_entry(cli, history, older) -> None:  # type: ignore[no-untyped-def]
    value = sha(history.lines[older]).upper()
    plain, data = log_includes(cli, history.log, ":".join(value[i : i + 2] for i in range(0, 64, 2)))
    assert plain.rc == 0, plain.err
    later = N - 1 - older
    assert f"head after entry {older + 1} ({later} entr" in plain.out
    assert data["ok"] is True and data["head"] == history.head


def test_includes_finds_an_older_sheet_after_the_log_grew(cli, history, copy) -> None:  # type: ignore[no-untyped-def]
    """The sheet printed after the first signing names the head then; the log grew since."""
    first = lines_of(history.snapshots[0])
    old_head = history.sheet_heads[0]
    assert old_head == sha(first[-2])  # after the first issued entry
    plain, _ = log_includes(cli, copy(history.data), old_head)
    assert plain.rc == 0, plain.err
    plain, _ = log_verify(cli, copy(history.data), old_head)  # --head wants the end: fails
    assert plain.rc == 1


@pytest.mark.parametrize("case", ["edited-before", "unknown-hash", "cut-off"])
def test_includes_refuses_a_log_changed_up_to_that_entry(cli, history, copy, case) -> None:  # type: ignore[no-untyped-def]
    lines = list(history.lines)
    if case == "edited-before":
        target = sha(lines[2])
        lines[1] = lines[1].replace(b'"Alice"', b'"Mallory"', 1) if b'"Alice"' in lines[1] else lines[1] + b" "
        data = b"\n".join(lines) + b"\n"
    elif case == "unknown-hash":
        target, data = "ab" * 32, history.data
    else:
        target = sha(lines[-1])
        data = b"\n".join(lines[:-1]) + b"\n"
    plain, result = log_includes(cli, copy(data), target)
    assert plain.rc == 1 and result["ok"] is False
    assert len(plain.err.strip().splitlines()) == 1


def test_head_and_includes_together_are_a_usage_error(cli, history) -> None:  # type: ignore[no-untyped-def]
    run = cli("log", "verify", history.log, "--head", history.head, "--includes", history.head)
    assert run.rc == 2 and "Traceback" not in run.text
