"""The ledger: every certificate the root issued, its status (valid, revoked, expired, refused after
signing), which revocations are on a signed CRL, and the warnings (`byoroot ledger`)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import factories as f
from byoroot_tui.core.ledger import ledger_rows, ledger_warnings, read_ledger
from byoroot_tui.core.root import iso
from byoroot_tui.core.stationlog import append_event
from byoroot_tui.core.issue import serial_hex  # the serial as the log and byoroot write it: even-length hex

OFFICERS = ("--officer", "Alice Martin", "--officer", "Bob Okafor")


def issued_entry(log: Path, serial: str, subject: str, not_after: str, sha: str) -> None:
    """An `issued` entry as the ledger reads it (the ledger needs no certificate in it)."""
    append_event(log, "issued", {"serial": serial, "sha256": sha, "subject": subject, "not_before": "2020-01-01T00:00:00Z",
                                 "not_after": not_after, "root_sha256": "ab" * 32})


def test_statuses_and_warnings_through_a_real_ceremony(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    c = f.make_ceremony(tmp_path)
    log = tmp_path / "log.jsonl"
    assert cli(*c.sign_argv("--log", log)).rc == 0
    first = serial_hex(c.issued().serial_number)
    second_stick = tmp_path / "second"
    second_stick.mkdir()
    assert cli(*c.sign_argv("--log", log, "--out", second_stick)).rc == 0
    second = serial_hex(c.issued(second_stick).serial_number)

    now = f.utcnow()
    rows = {r.serial: r for r in ledger_rows(log, now)}
    assert {rows[first].status, rows[second].status} == {"valid"}
    assert ledger_warnings(log, now) == [
        "no CRL has been issued yet: relying parties that check revocation of the intermediates find none; "
        "hold the CRL ceremony (`byoroot crl`) and publish root.crl"]

    assert cli("revoke", first, "--reason", "superseded", *OFFICERS, "--log", log).rc == 0
    ledger = read_ledger(log, f.utcnow())
    row = next(r for r in ledger.rows if r.serial == first)
    assert (row.status, row.reason, row.on_crl) == ("revoked", "superseded", None)
    assert any(f"serial {first} was revoked" in w and "on no signed CRL yet" in w for w in ledger.warnings)

    out = tmp_path / "out"
    out.mkdir()
    r = cli("crl", "--root-cert", c.root_cert, "--root-key", c.root_key, *OFFICERS, "--log", log, "--out", out,
            "--next-update-days", "60")
    assert r.rc == 0, r.err
    ledger = read_ledger(log, f.utcnow())
    assert next(r for r in ledger.rows if r.serial == first).on_crl == 1
    assert ledger.warnings == []
    assert ledger.last_crl is not None and ledger.last_crl.number == 1

    # 40 days on: the CRL's nextUpdate is 20 days away; 61 days on it is past
    soon = read_ledger(log, f.utcnow() + timedelta(days=40)).warnings
    assert len(soon) == 1 and "the last CRL (number 1) expires at its nextUpdate" in soon[0] and "in 19 days" in soon[0]
    late = read_ledger(log, f.utcnow() + timedelta(days=61)).warnings
    assert len(late) == 1 and "the last CRL (number 1) expired at its nextUpdate" in late[0]

    # eleven years on, the certificates are expired (the revoked one stays revoked, and expired)
    later = {r.serial: r for r in ledger_rows(log, f.utcnow() + timedelta(days=365 * 11))}
    assert later[second].status == "expired" and later[second].expired
    assert later[first].status == "revoked" and later[first].expired

    # the CLI: a table, then the warnings; and JSON
    r = cli("ledger", "--log", log)
    assert r.rc == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].split()[:5] == ["SERIAL", "STATUS", "NOT", "BEFORE", "NOT"]
    assert any(line.startswith(first) and " revoked " in line for line in lines)
    assert any(line.startswith(second) and " valid " in line for line in lines)
    assert "on CRL number 1" in r.out and "Last CRL: number 1" in r.out
    r = cli("ledger", "--log", log, "--json")
    data = json.loads(r.out)
    statuses = {c["serial"]: c["status"] for c in data["certificates"]}
    assert statuses == {first: "revoked", second: "valid"}
    assert data["last_crl"]["number"] == 1 and data["warnings"] == []


def test_expired_refused_and_hostile_text_escaped(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "log.jsonl"
    now = f.utcnow()
    issued_entry(log, "01", "CN=old", iso(now - timedelta(days=1)), "11" * 32)
    issued_entry(log, "02", "CN=evil\x1b[2J\u202e", iso(now + timedelta(days=10)), "22" * 32)
    issued_entry(log, "03", "CN=refused", iso(now + timedelta(days=10)), "33" * 32)
    append_event(log, "refused", {"serial": "03", "sha256": "33" * 32, "reason": "lint after signing"})
    rows = {r.serial: r.status for r in ledger_rows(log, now)}
    assert rows == {"01": "expired", "02": "valid", "03": "refused"}
    r = cli("ledger", "--log", log)
    assert r.rc == 0, r.err
    assert f.unsafe_chars(r.out) == [] and "\x1b" not in r.out
    assert "CN=evil\\x1b[2J\\u202e" in r.out
    assert "never exported" in r.out


def test_empty_and_damaged_logs(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "none.jsonl"
    r = cli("ledger", "--log", log)
    assert r.rc == 0 and "No certificates issued" in r.out and "WARNING" not in r.out
    log.write_text('{"event": "issued"}\n')
    r = cli("ledger", "--log", log)
    f.assert_refusal(r, "is not intact")
