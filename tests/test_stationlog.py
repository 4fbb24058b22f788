"""The station log: one JSON object per ceremony event, hash-chained from a fixed genesis, created
0600, only ever appended to; `byoroot log verify` catches every kind of tampering (and cutting
entries off the end with the head hash from the printed sheet); refusals and failed exports are
logged without secrets; a failed export leaves nothing behind."""

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

EXPORTS = ("intermediate.crt", "intermediate-fingerprint.png", "ceremony-record.txt")
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


@pytest.fixture(scope="module")
def history(tmp_path_factory):  # type: ignore[no-untyped-def]
    """Five events from the CLI on one log: issued, refused, issued, issued, issued.

    Keeps the log's bytes after each event and the head printed on the last sheet.
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
        for step in steps:
            rc, _out, err = run_cli(*c.sign_argv(*step, "--log", log))
            assert rc == (1 if "ALICE" in step else 0), err
            snapshots.append(log.read_bytes())
    data = log.read_bytes()
    return SimpleNamespace(c=c, log=log, data=data, lines=lines_of(data), snapshots=snapshots,
                           sheet=c.stick / SHEET, head=sheet_head(c.stick / SHEET))


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
    assert [e["event"] for e in entries] == ["issued", "refused", "issued", "issued", "issued"]
    prev = GENESIS
    for line, entry in zip(history.lines, entries):
        assert isinstance(entry, dict)
        assert line.startswith(b"{") and line.endswith(b"}") and b"\n" not in line
        assert entry["event"] in EVENTS
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry["time"])
        assert entry["prev"] == prev
        prev = sha(line)
    assert entries[0]["prev"] == GENESIS
    assert prev == history.head  # the last sheet printed the hash of the last line


def test_issued_entries_hold_the_certificate_facts(history) -> None:  # type: ignore[no-untyped-def]
    last = json.loads(history.lines[-1])
    cert = history.c.issued()
    assert last["sha256"] == sha(f.der(cert))
    assert int(last["serial"], 16) == cert.serial_number
    assert last["officers"] == ["Erin", "Frank"]
    assert last["csr_file"] == history.c.csr.name
    assert last["root_sha256"] == sha(f.der(history.c.root_cert_obj))
    shas = [json.loads(line)["sha256"] for line in history.lines if json.loads(line)["event"] == "issued"]
    assert len(set(shas)) == 4  # four signings, four certificates


def test_the_refused_entry_holds_the_reason(history) -> None:  # type: ignore[no-untyped-def]
    refused = json.loads(history.lines[1])
    assert refused["event"] == "refused"
    assert "named twice" in refused["reason"]
    assert refused["csr_file"] == history.c.csr.name
    assert "sha256" not in refused  # nothing was issued


def test_the_log_is_only_ever_appended_to(history) -> None:  # type: ignore[no-untyped-def]
    snaps = history.snapshots
    for before, after in zip(snaps, snaps[1:]):
        assert after.startswith(before), "bytes of earlier entries changed"
        added = after[len(before) :]
        assert added.count(b"\n") == 1 and added.endswith(b"\n"), "each event adds exactly one line"
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
    assert verify_log(log).ok and verify_log(log).entries == 4


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
    assert [e["event"] for e in entries_of(expected)] == ["issued"]
    assert sheet_head(c.stick / SHEET) == sha(lines_of(expected.read_bytes())[-1])
    v = cli("log", "verify")  # no FILE: the same default
    assert v.rc == 0, v.err
    assert "1 entries" in v.out


# ----------------------------------------------------------------------------- byoroot log verify: intact


def test_verify_an_intact_log_prints_the_head(cli, history) -> None:  # type: ignore[no-untyped-def]
    plain, data = log_verify(cli, history.log)
    assert plain.rc == 0, plain.err
    assert history.head in plain.out and "5 entries" in plain.out
    assert data == {"ok": True, "entries": 5, "head": history.head, "bad_line": None,
                    "reason": "5 entries, chain intact from genesis"}


def test_verify_with_the_head_of_the_last_entry(cli, history) -> None:  # type: ignore[no-untyped-def]
    plain, data = log_verify(cli, history.log, history.head)
    assert plain.rc == 0, plain.err
    assert data["ok"] and data["head"] == history.head


@pytest.mark.parametrize("form", ["upper", "as-printed", "colons"])
def test_verify_takes_the_head_as_printed_on_the_sheet(cli, history, form) -> None:  # type: ignore[no-untyped-def]
    head = {
        "upper": history.head.upper(),
        "as-printed": sheet_head_as_printed(history.sheet),
        "colons": ":".join(history.head[i : i + 2] for i in range(0, 64, 2)).upper(),
    }[form]
    plain, _ = log_verify(cli, history.log, head)
    assert plain.rc == 0, plain.err


@pytest.mark.parametrize("older", [0, 1, 2, 3])
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


# name: (tamper(lines) -> bytes, first bad line number)
TAMPERING = {
    "edit-first-entry": (lambda L: join([edit(L[0], officers=["Mallory", "Bob"])] + L[1:]), 2),
    "edit-first-entry-prev": (lambda L: join([edit(L[0], prev="0" * 64)] + L[1:]), 1),
    "edit-refused-reason": (lambda L: join(L[:1] + [edit(L[1], reason="nothing happened")] + L[2:]), 3),
    "edit-middle-serial": (lambda L: join(L[:2] + [edit(L[2], serial="01")] + L[3:]), 4),
    "edit-middle-time": (lambda L: join(L[:2] + [edit(L[2], time="2020-01-01T00:00:00Z")] + L[3:]), 4),
    "edit-fourth-officers": (lambda L: join(L[:3] + [edit(L[3], officers=["Mallory"])] + L[4:]), 5),
    "reformat-middle-json": (lambda L: join(L[:2] + [json.dumps(json.loads(L[2])).encode()] + L[3:]), 4),
    "one-byte-flipped-in-middle": (lambda L: join(L[:2] + [L[2].replace(b'"issued"', b'"issueD"')] + L[3:]), 3),
    "unknown-event-in-last": (lambda L: join(L[:4] + [edit(L[4], event="deleted")]), 5),
    "delete-first": (lambda L: join(L[1:]), 1),
    "delete-second": (lambda L: join(L[:1] + L[2:]), 2),
    "delete-middle": (lambda L: join(L[:2] + L[3:]), 3),
    "delete-fourth": (lambda L: join(L[:3] + L[4:]), 4),
    "reorder-1-2": (lambda L: join(_swap(L, 0, 1)), 1),
    "reorder-2-3": (lambda L: join(_swap(L, 1, 2)), 2),
    "reorder-4-5": (lambda L: join(_swap(L, 3, 4)), 4),
    "reorder-first-and-last": (lambda L: join(_swap(L, 0, 4)), 1),
    "duplicate-an-entry": (lambda L: join(L[:3] + [L[2]] + L[3:]), 4),
    "insert-forged-at-start": (lambda L: join([_forged(GENESIS)] + L), 2),
    "insert-forged-in-middle": (lambda L: join(L[:2] + [_forged(sha(L[1]))] + L[2:]), 4),
    "insert-forged-before-last": (lambda L: join(L[:4] + [_forged(sha(L[3]))] + L[4:]), 6),
    "torn-last-line": (lambda L: join(L)[:-12], 5),
    "last-newline-missing": (lambda L: join(L)[:-1], 5),
    "torn-first-line": (lambda L: L[0][:40], 1),
    "garbage-appended": (lambda L: join(L) + b"garbage\n", 6),
    "garbage-appended-without-newline": (lambda L: join(L) + b"\x00\xffjunk", 6),
    "blank-line-appended": (lambda L: join(L) + b"\n", 6),
    "json-array-appended": (lambda L: join(L) + b"[1,2,3]\n", 6),
    "blank-line-inserted": (lambda L: join(L[:2]) + b"\n" + join(L[2:]), 3),
    "crlf-line-ends": (lambda L: b"".join(line + b"\r\n" for line in L), 2),
}


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


@pytest.mark.parametrize("field,value", [("serial", "01"), ("officers", ["Mallory"]), ("sha256", "00" * 32),
                                         ("time", "2020-01-01T00:00:00Z")])
def test_editing_the_last_entry_is_caught_only_with_the_head(cli, history, copy, field, value) -> None:  # type: ignore[no-untyped-def]
    """No later line chains to the last one: only the head printed on the sheet pins it down."""
    lines = list(history.lines)
    path = copy(join(lines[:-1] + [edit(lines[-1], **{field: value})]))
    plain, _ = log_verify(cli, path)
    assert plain.rc == 0, plain.err  # the chain itself is intact
    plain, data = log_verify(cli, path, history.head)
    assert plain.rc == 1
    assert "not at the given head" in plain.err
    assert data["ok"] is False


@pytest.mark.parametrize("cut", [1, 2, 4])
def test_cutting_entries_off_the_end_is_caught_with_the_head_from_the_sheet(cli, history, copy, cut) -> None:  # type: ignore[no-untyped-def]
    path = copy(join(history.lines[:-cut]))
    plain, data = log_verify(cli, path)
    assert plain.rc == 0, plain.err  # a shorter chain is still a chain
    assert data["entries"] == 5 - cut
    plain, data = log_verify(cli, path, sheet_head_as_printed(history.sheet))
    assert plain.rc == 1
    assert "entries were cut off the end" in plain.err
    assert data["ok"] is False and data["entries"] == 5 - cut


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
    entry = entries_of(log)[-1]
    assert entry["event"] == "refused" and "wrong passphrase" in entry["reason"]
    assert entry["csr_sha256"] == sha(f.der(c.csr_obj))
    assert entry["officers"] == ["Alice", "Bob"]
    # then the right passphrase: issued; still no secret anywhere in the log
    r = cli(*c.sign_argv("--passphrase-file", right, "--officer", "Alice", "--officer", "Bob", "--log", log))
    assert r.rc == 0, r.err
    assert [e["event"] for e in entries_of(log)] == ["refused", "issued"]
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


def test_a_full_medium_logs_export_failed_and_leaves_nothing(ceremony, cli, tmpfs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    mp = tmpfs.mount("full", "64k")
    tmpfs.fill(mp)
    before = f.listing(mp)
    log = tmp_path / "log.jsonl"
    r = cli(*c.sign_argv("--officer", "Alice", "--officer", "Bob", "--log", log, "--out", mp))
    f.assert_refusal(r, "full")
    assert f.listing(mp) == before  # none of the three files, no temp file
    assert not f.temp_leftovers(mp)
    entries = entries_of(log)
    assert [e["event"] for e in entries] == ["export_failed"]
    failed = entries[0]
    assert re.fullmatch(r"[0-9a-f]{64}", failed["sha256"])
    assert re.fullmatch(r"[0-9a-f]+", failed["serial"])
    assert failed["out"] == str(mp) and "full" in failed["reason"]
    # signing again onto another folder works, and the log stays one chain
    other = tmp_path / "other-stick"
    other.mkdir()
    r = cli(*c.sign_argv("--officer", "Alice", "--officer", "Bob", "--log", log, "--out", other))
    assert r.rc == 0, r.err
    assert all((other / n).is_file() for n in EXPORTS)
    entries = entries_of(log)
    assert [e["event"] for e in entries] == ["export_failed", "issued"]
    assert entries[1]["out"] == str(other)
    assert sheet_head(other / SHEET) == sha(lines_of(log.read_bytes())[-1])
    v = cli("log", "verify", log, "--head", sheet_head(other / SHEET))
    assert v.rc == 0, v.err


def test_an_export_failing_on_the_sheet_removes_the_certificate_and_png(ceremony, cli, tmpfs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Room for exactly two pages: intermediate.crt and the PNG fit (a page each), the sheet does not."""
    c = ceremony()
    mp = tmpfs.mount("almost-full", "64k")
    filler = tmpfs.fill(mp)
    os.truncate(filler, os.path.getsize(filler) - 2 * PAGE)
    st = os.statvfs(mp)
    assert st.f_bavail * st.f_frsize == 2 * PAGE
    before = f.listing(mp)
    log = tmp_path / "log.jsonl"
    r = cli(*c.sign_argv("--officer", "Alice", "--officer", "Bob", "--log", log, "--out", mp))
    f.assert_refusal(r, "ceremony-record.txt", "full")
    assert f.listing(mp) == before
    assert not f.temp_leftovers(mp)
    entries = entries_of(log)
    # the certificate and the PNG were written (the "issued" entry is logged only after both), then removed
    assert [e["event"] for e in entries] == ["issued", "export_failed"]
    assert entries[0]["out"] == str(mp)
    assert entries[1]["sha256"] == entries[0]["sha256"] and entries[1]["serial"] == entries[0]["serial"]
    assert "ceremony-record.txt" in entries[1]["reason"]
    # again onto another folder; and the sizes that made this the sheet's failure
    other = tmp_path / "other"
    other.mkdir()
    r = cli(*c.sign_argv("--officer", "Alice", "--officer", "Bob", "--log", log, "--out", other))
    assert r.rc == 0, r.err
    sizes = {n: (other / n).stat().st_size for n in EXPORTS}
    assert sizes["intermediate.crt"] <= PAGE and sizes["intermediate-fingerprint.png"] <= PAGE, sizes
    assert sizes[SHEET] > PAGE, sizes
    assert cli("log", "verify", log).rc == 0


def test_an_entry_after_a_torn_line_is_not_glued_to_it(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    log = tmp_path / "log.jsonl"
    assert cli(*c.sign_argv("--log", log)).rc == 0
    assert cli(*c.sign_argv("--log", log, "--force")).rc == 0
    torn = log.read_bytes()[:-30]
    log.write_bytes(torn)
    r = cli(*c.sign_argv("--log", log, "--force"))
    after = log.read_bytes()
    assert after.startswith(torn)
    rest = after[len(torn) :]
    if r.rc == 0:  # issued: its record must be a line of its own
        assert rest.startswith(b"\n"), rest[:80]
        assert json.loads(lines_of(rest[1:])[-1])["event"] == "issued"
    else:  # or refuse to append to a damaged log
        assert rest == b""


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


@pytest.mark.parametrize("older", [0, 1, 2, 3, 4])
def test_includes_accepts_the_head_of_any_earlier_entry(cli, history, older) -> None:  # type: ignore[no-untyped-def]
    value = sha(history.lines[older]).upper()
    plain, data = log_includes(cli, history.log, ":".join(value[i : i + 2] for i in range(0, 64, 2)))
    assert plain.rc == 0, plain.err
    later = 4 - older
    assert f"head after entry {older + 1} ({later} entr" in plain.out
    assert data["ok"] is True and data["head"] == history.head


def test_includes_finds_an_older_sheet_after_the_log_grew(cli, history, copy) -> None:  # type: ignore[no-untyped-def]
    """The sheet printed after the first signing names the head then; the log grew since."""
    first = lines_of(history.snapshots[0])
    old_head = sha(first[-1])
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
