"""The root CRL ceremony in the app, by keyboard: choose the kind, the root and its key, the CRL
step (the ledger; revoke the intermediate with a reason and both officers), the two-officer
review and SIGN, then root.crl checked with openssl (the CRL against the root, and the revoked
intermediate refused with -crl_check) and pkilint's lint_crl."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from textual.widgets import OptionList

import factories as f
from byoroot_tui.ui import drive
from byoroot_tui.ui.app import make_app
from byoroot_tui.core.issue import serial_hex  # the serial as the log and byoroot write it: even-length hex
from test_ui_ceremony import run, services

OFFICERS = ("--officer", "Alice Martin", "--officer", "Bob Okafor")


def events(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def issued_station(tmp_path: Path, cli: Any) -> tuple[Any, Path, str]:
    c = f.make_ceremony(tmp_path)
    log = tmp_path / "station-log.jsonl"
    r = cli(*c.sign_argv("--log", log))
    assert r.rc == 0, r.err
    return c, log, serial_hex(c.issued().serial_number)


def test_the_root_crl_ceremony_by_keyboard(tmp_path: Path, cli: Any) -> None:
    c, log, serial = issued_station(tmp_path, cli)
    out = tmp_path / "crl-stick"
    out.mkdir()
    app = make_app(media_roots=[out], root_cert=c.root_cert, root_key=c.root_key, services=services(log_path=log))

    async def script(pilot: Any) -> None:
        cer = app.ceremony
        assert drive.step_of(app) == "kinds"  # no CSR on the stick: the app asks which ceremony
        await drive.wait_for(pilot, lambda: cer.ledger is not None, "the ledger")
        assert drive.shows(app, "Issue the root CRL") and drive.shows(app, "no CRL yet")
        await drive.choose_kind(pilot, app, "crl")
        assert drive.shows(app, "1 Root") and drive.shows(app, "2 CRL")  # the kind's own steps
        await drive.check_key(pilot, app, None)
        assert cer.key_checked
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "crl", "the CRL step")
        await drive.wait_for(pilot, lambda: app.screen.query_one("#ledger-list", OptionList).option_count == 1,
                             "the ledger listed")
        assert drive.shows(app, "valid") and drive.shows(app, "lists 0 revoked")
        await pilot.press("r")
        await drive.wait_for(pilot, lambda: type(app.screen).__name__ == "RevokeModal", "the revoke dialog")
        await pilot.press("down", "down", "enter")  # unspecified → keyCompromise
        await drive.type_into(pilot, app, "#revoke-officer1", "Alice Martin")
        await drive.type_into(pilot, app, "#revoke-officer2", "Bob Okafor")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "crl" and cer.ledger is not None
                             and any(r.revoked_at for r in cer.ledger.rows), "the revocation recorded")
        assert drive.shows(app, "lists 1 revoked")
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "review", "the review")
        await drive.wait_for(pilot, lambda: cer.plan_is_current() or cer.plan_error is not None, "the CRL plan")
        assert cer.plan_error is None, cer.plan_error
        assert drive.shows(app, "CRL to be issued") and drive.shows(app, "CRL number") and drive.shows(app, "keyCompromise")
        await drive.confirm_officers(pilot, app)
        await drive.sign(pilot, app)
        assert drive.step_of(app) == "result", drive.screen_text(app)
        assert drive.shows(app, "SHA-256 fingerprint of root.crl (DER)")
        await pilot.press("p")  # print the CRL sheet: lp, or where the sheet is (once crashed the app)
        await pilot.pause(0.5)
        assert app.is_running and drive.step_of(app) == "result"

    run(app, (120, 40), script)

    crl = out / "root.crl"
    assert crl.exists() and (out / "root.crl.pem").exists()
    r = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", crl, "-CAfile", c.root_cert, "-noout"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "verify OK" in r.stdout + r.stderr, r.stdout + r.stderr
    r = subprocess.run(["openssl", "verify", "-crl_check", "-CAfile", c.root_cert, "-CRLfile", out / "root.crl.pem",
                        c.cert_path], capture_output=True, text=True)
    assert r.returncode != 0 and "certificate revoked" in r.stdout + r.stderr, r.stdout + r.stderr
    for kind, profile in (("ARL", "BR"), ("CRL", "PKIX")):
        lint = subprocess.run([str(Path(sys.executable).with_name("lint_crl")), "lint", "-t", kind, "-p", profile,
                               "-s", "WARNING", out / "root.crl.pem"], capture_output=True, text=True)
        assert lint.returncode == 0 and not lint.stdout.strip(), lint.stdout + lint.stderr
    names = [e["event"] for e in events(log)]
    assert names[-4:] == ["revoked", "crl_signing", "crl_issued", "exported"], names
    assert events(log)[-2]["officers"] == ["Alice Martin", "Bob Okafor"]


def test_the_first_screen_warns_of_a_revocation_on_no_crl(tmp_path: Path, cli: Any) -> None:
    c, log, serial = issued_station(tmp_path, cli)
    assert cli("revoke", serial, "--reason", "superseded", *OFFICERS, "--log", log).rc == 0
    empty = tmp_path / "empty-stick"
    empty.mkdir()
    app = make_app(media_roots=[empty], services=services(log_path=log))

    async def script(pilot: Any) -> None:
        await drive.wait_for(pilot, lambda: app.ceremony.ledger is not None, "the ledger")
        await pilot.pause(0.2)
        text = drive.screen_text(app)
        assert "WARN" in text and "1 revoked" in text, text

    run(app, (120, 40), script)


def test_a_csr_on_the_stick_starts_the_intermediate_and_esc_reaches_the_other_kinds(tmp_path: Path, cli: Any) -> None:
    c, log, serial = issued_station(tmp_path, cli)
    app = make_app(media_roots=[c.stick], root_cert=c.root_cert, root_key=c.root_key, services=services(log_path=log))

    async def script(pilot: Any) -> None:
        await drive.wait_for(pilot, lambda: app.ceremony.csr is not None, "the CSR")
        assert drive.step_of(app) == "media"
        await pilot.press("escape")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "kinds", "the choice of ceremony")
        await drive.choose_kind(pilot, app, "crl")
        assert drive.step_of(app) == "root" and app.ceremony.kind_name == "crl"
        await pilot.press("escape")
        await drive.choose_kind(pilot, app, "intermediate")
        assert drive.step_of(app) == "media" and len(app.screen_stack) == 1

    run(app, (100, 30), script)


def test_quitting_after_a_revocation_says_it_stays_in_the_log(tmp_path: Path, cli: Any) -> None:
    c, log, serial = issued_station(tmp_path, cli)
    empty = tmp_path / "empty-stick"
    empty.mkdir()
    app = make_app(media_roots=[empty], root_cert=c.root_cert, root_key=c.root_key, services=services(log_path=log))

    async def script(pilot: Any) -> None:
        await drive.choose_kind(pilot, app, "crl")
        await drive.check_key(pilot, app, None)
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "crl" and bool(app.screen.rows), "the ledger")
        await pilot.press("r")
        await drive.wait_for(pilot, lambda: type(app.screen).__name__ == "RevokeModal", "the revoke dialog")
        await pilot.press("down", "enter")  # unspecified
        await drive.type_into(pilot, app, "#revoke-officer1", "Alice Martin")
        await drive.type_into(pilot, app, "#revoke-officer2", "Bob Okafor")
        await drive.wait_for(pilot, lambda: app.ceremony.crl_revision == 1, "the revocation")
        await pilot.press("ctrl+q")
        await drive.wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmModal", "the question")
        assert drive.shows(app, "Quit without the CRL?") and drive.shows(app, "stays there")
        await pilot.press("n")

    run(app, (100, 30), script)
    assert [e["event"] for e in events(log)][-1] == "revoked" and events(log)[-1]["reason"] == "unspecified"
