"""Whole ceremonies through every screen, by keyboard, to an intermediate.crt that openssl accepts."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from textual.widgets import Input, OptionList, Tree

from byoroot_tui.core.demo import DEMO_CSR_NAME, make_demo
from byoroot_tui.core.media import Medium, discover_media, folder_media
from byoroot_tui.ui import drive
from byoroot_tui.ui.app import ByorootApp, Services, make_app
from byoroot_tui.ui.widgets.fingerprint import grouped
from byoroot_tui.ui.widgets.qr import QrCode

PASSPHRASE = "correct horse battery staple"


def services(**kw: Any) -> Services:
    base: dict[str, Any] = {"discover": lambda roots: discover_media(roots, include_system=False),
                            "poll_interval": 0, "clipboard": lambda text: False}
    base.update(kw)
    return Services(**base)


def run(app: ByorootApp, size: tuple[int, int], script: Callable[[Any], Awaitable[None]]) -> None:
    async def go() -> None:
        async with app.run_test(size=size) as pilot:
            await script(pilot)

    asyncio.run(go())


def demo_app(tmp_path: Path, **kw: Any) -> ByorootApp:
    """The app on fresh demo material in ``tmp_path``: the stick, the root certificate and key,
    the demo CSR chosen (``kw``: more of make_app's options)."""
    m = make_demo(tmp_path / "demo")
    return make_app(media_roots=[m.stick], root_cert=m.root_cert, root_key=m.root_key, csr=m.csr,
                    services=services(), **kw)


def openssl_verify(root: Path, cert: Path) -> None:
    out = subprocess.run(["openssl", "verify", "-x509_strict", "-CAfile", str(root), str(cert)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().endswith(": OK")


def der_sha256(pem_path: Path) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = x509.load_pem_x509_certificate(pem_path.read_bytes())
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


@pytest.fixture
def demo(tmp_path: Path):  # type: ignore[no-untyped-def]
    m = make_demo(tmp_path / "demo")
    enc = tmp_path / "demo" / "station" / "root-encrypted.key"
    drive.write_encrypted_key(m.root_key, enc, PASSPHRASE)
    return m, enc


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_whole_ceremony_to_a_verified_certificate(demo, size: tuple[int, int], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    m, enc = demo
    log = tmp_path / "station.jsonl"
    app = make_app(media_roots=[m.stick], root_cert=m.root_cert, root_key=enc, services=services(log_path=log))
    seen: dict[str, Any] = {}

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.wait_for(pilot, lambda: c.csr is not None, "the CSR")
        assert drive.step_of(app) == "media"
        assert DEMO_CSR_NAME in drive.screen_text(app)  # the only CSR on the only medium: preselected
        await drive.to_preview(pilot, app)
        text = drive.screen_text(app)
        assert "ACCEPTABLE" in text and "basicConstraints" in text and "kept" in text
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "profile", "profile")
        assert "intermediate-ca" in drive.screen_text(app)
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "root", "root")
        await drive.check_key(pilot, app, PASSPHRASE)
        assert c.key_checked
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "review", "review")
        await drive.wait_for(pilot, c.plan_is_current, "the plan")
        text = drive.screen_text(app)
        for expected in ("Certificate to be issued", "Subject", "Issuer", "Serial", "Not after"):
            assert expected in text
        assert app.screen.query_one("#sign-word", Input).disabled  # nothing to sign before both officers
        await drive.confirm_officers(pilot, app, "Alice Martin", "Bob Okafor")
        seen["serial"] = c.plan.serial
        await drive.sign(pilot, app)
        assert drive.step_of(app) == "result"
        fp = c.issued.sha256
        seen["fp"] = fp
        text = drive.screen_text(app)
        assert "ISSUED AND WRITTEN" in text
        assert grouped(fp, 4, 8)[0] in text  # grouped hex on screen
        assert app.screen.query_one(QrCode).payload == fp  # QR of the lowercase hex
        assert app.flow.passphrase_input().value == ""  # cleared after signing
        await pilot.press("c")  # copy: no clipboard here, a calm message instead
        await pilot.pause()
        assert app._clipboard == fp  # offered to the terminal (OSC 52)
        assert drive.shows(app, "No clipboard on this station (normal when offline)")
        await pilot.press("v")
        await drive.wait_for(pilot, lambda: type(app.screen).__name__ == "QrModal", "the QR modal")
        modal = app.screen
        assert modal.query_one(QrCode).payload == fp
        for close in ("escape", "enter", "v"):  # each closes it; "v" opens the same one again
            await pilot.press(close)
            await drive.wait_for(pilot, lambda: drive.step_of(app) == "result", "back on the result")
            await pilot.press("v")
            await drive.wait_for(pilot, lambda: app.screen is modal, "the QR modal again")
            assert "█" in drive.screen_text(app)  # the code is drawn (scaled: full blocks)
        await pilot.press("escape")
        await pilot.press("ctrl+q")

    run(app, size, script)
    cert = m.stick / "intermediate.crt"
    openssl_verify(m.root_cert, cert)
    assert der_sha256(cert) == seen["fp"]
    assert x509.load_pem_x509_certificate(cert.read_bytes()).serial_number == seen["serial"]
    assert app.return_code == 0
    # the same set `byoroot sign` writes: the QR as PNG, the ceremony record with both officers, the log
    import json

    from byoroot_tui.core.stationlog import verify_log

    assert (m.stick / "intermediate-fingerprint.png").read_bytes().startswith(b"\x89PNG")
    sheet = (m.stick / "ceremony-record.txt").read_text()
    assert "Alice Martin" in sheet and "Bob Okafor" in sheet and seen["fp"][:8] in sheet.lower().replace(" ", "")
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["event"] for e in events] == ["signing", "issued", "exported"] and events[1]["sha256"] == seen["fp"]
    assert events[0]["officers"] == events[1]["officers"] == ["Alice Martin", "Bob Okafor"]
    assert events[0]["serial"] == events[1]["serial"] == events[2]["serial"]
    assert events[1]["certificate"].encode() == cert.read_bytes()  # the app records the certificate itself
    assert {x["name"] for x in events[2]["files"]} == {"intermediate.crt", "intermediate-fingerprint.png",
                                                         "ceremony-record.txt", "ceremony-record.pdf"}
    assert verify_log(log).ok


def test_media_root_example_shows_the_file_on_the_first_screen(tmp_path: Path) -> None:
    """The issue's example: --media-root M with M/stick/csr-9e63a172-EXAMPLE-5b0c7.csr."""
    m = make_demo(tmp_path / "material")
    media_root = tmp_path / "M"
    (media_root / "stick").mkdir(parents=True)
    shutil.copy(m.csr, media_root / "stick" / DEMO_CSR_NAME)
    app = make_app(media_roots=[media_root], services=services())

    async def script(pilot: Any) -> None:
        await drive.wait_for(pilot, lambda: app.ceremony.csr is not None, "the CSR")
        text = drive.screen_text(app)
        assert DEMO_CSR_NAME in text
        assert app.ceremony.csr_path == media_root / "stick" / DEMO_CSR_NAME

    run(app, (80, 24), script)


def test_choosing_among_several_csrs_by_keyboard(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    m, _ = demo
    shutil.copy(m.csr, m.stick / "b-second.csr")
    (m.stick / "notes.txt").write_text("not a CSR")
    app = make_app(media_roots=[m.stick], root_cert=m.root_cert, root_key=m.root_key, services=services())

    async def script(pilot: Any) -> None:
        c = app.ceremony
        tree = app.screen.query_one("#files", Tree)
        await drive.wait_for(pilot, lambda: len(tree.root.children) >= 3, "the file tree")
        assert c.csr_path is None  # two CSRs: nothing preselected
        await pilot.press("ctrl+n")  # blocked: says why, stays
        await pilot.pause()
        assert drive.step_of(app) == "media"
        await pilot.press("down")  # tree order: b-second.csr, csr-…, notes.txt (cursor starts on the first CSR)
        await pilot.press("down")  # notes.txt: dimmed, refused
        await pilot.press("enter")
        await pilot.pause()
        assert c.csr_path is None and drive.step_of(app) == "media"
        await pilot.press("up", "enter")  # csr-9e63… opens the preview
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "preview", "preview")
        assert c.csr_path == m.csr
        await pilot.press("ctrl+n")
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "root", "root")
        await drive.check_key(pilot, app, None)  # unencrypted demo key: checked at once
        assert c.key_checked
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, c.plan_is_current, "the plan")
        await drive.confirm_officers(pilot, app)
        await drive.sign(pilot, app)
        assert c.written == m.stick / "intermediate.crt"

    run(app, (100, 30), script)
    openssl_verify(m.root_cert, m.stick / "intermediate.crt")


def test_going_back_keeps_everything_entered(demo) -> None:  # type: ignore[no-untyped-def]
    m, enc = demo
    app = make_app(media_roots=[m.stick], root_cert=m.root_cert, root_key=enc, services=services())

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.to_review(pilot, app, PASSPHRASE)
        await drive.confirm_officers(pilot, app, "Alice", "Bob")
        serial = c.plan.serial
        for step in ("root", "profile", "preview", "media"):
            await pilot.press("escape")
            await drive.wait_for(pilot, lambda s=step: drive.step_of(app) == s, step)
        assert app.flow.passphrase_input().value == PASSPHRASE  # still typed (masked)
        for step in ("preview", "profile", "root", "review"):
            await pilot.press("ctrl+n")
            await drive.wait_for(pilot, lambda s=step: drive.step_of(app) == s, step)
        assert app.screen.query_one("#officer1", Input).value == "Alice"
        assert app.screen.query_one("#officer2", Input).value == "Bob"
        assert c.plan.serial == serial and c.officer1 == "Alice" and c.officer2 == "Bob"
        assert not app.screen.query_one("#sign-word", Input).disabled
        await drive.sign(pilot, app)
        assert c.issued.plan.serial == serial

    run(app, (80, 24), script)
    openssl_verify(m.root_cert, m.stick / "intermediate.crt")


def test_changing_the_csr_after_review_needs_new_confirmations(demo) -> None:  # type: ignore[no-untyped-def]
    m, _ = demo
    app = make_app(media_roots=[m.stick], root_cert=m.root_cert, root_key=m.root_key, services=services())

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.to_review(pilot, app)
        await drive.confirm_officers(pilot, app)
        assert c.sign_blocker() is None
        drive.write_csr(m.stick / "replacement.csr", "Replacement CA")
        app.flow.choose_csr(m.stick / "replacement.csr")
        await drive.wait_for(pilot, lambda: c.csr is not None, "the new CSR")
        assert c.officer1 is None and c.officer2 is None and c.plan is None

    run(app, (80, 24), script)


def test_key_is_loaded_only_to_check_and_to_sign_and_dropped(demo, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from byoroot_tui.core import signer as signer_mod

    m, enc = demo
    calls = {"load": 0, "close": 0}
    real_load, real_close = signer_mod.load_root_key, signer_mod.FileSigner.close

    def load(*a: Any, **k: Any) -> Any:
        signer = real_load(*a, **k)  # a refused load (no or wrong passphrase) leaves no key behind
        calls["load"] += 1
        return signer

    def close(self: Any) -> None:
        calls["close"] += 1
        real_close(self)

    monkeypatch.setattr(signer_mod, "load_root_key", load)
    monkeypatch.setattr(signer_mod.FileSigner, "close", close)
    app = make_app(media_roots=[m.stick], root_cert=m.root_cert, root_key=enc, services=services())

    async def script(pilot: Any) -> None:
        await drive.to_review(pilot, app, PASSPHRASE)
        loads_before_sign = calls["load"]
        await drive.confirm_officers(pilot, app)
        assert calls["load"] == loads_before_sign  # reviewing never touches the key
        await drive.sign(pilot, app)

    run(app, (80, 24), script)
    assert calls["load"] == 2  # once to check the passphrase, once to sign
    assert calls["close"] == 2  # and dropped each time


def test_media_list_follows_sticks_coming_and_going(tmp_path: Path) -> None:
    a = tmp_path / "A"
    b = tmp_path / "B"
    a.mkdir()
    b.mkdir()
    drive.write_csr(b / "late.csr")
    present: list[Medium] = folder_media([a])
    app = make_app(services=services(discover=lambda roots: list(present), poll_interval=0.05))

    async def script(pilot: Any) -> None:
        await drive.choose_kind(pilot, app)  # no CSR on any medium yet: the app asks which ceremony first
        options = app.screen.query_one("#media-list", OptionList)
        await drive.wait_for(pilot, lambda: options.option_count == 1, "one medium")
        present.extend(folder_media([b]))  # a stick is plugged in
        await drive.wait_for(pilot, lambda: options.option_count == 2, "the new medium")
        await pilot.press("tab")  # to the media list... (focus order: list, tree)
        app.screen.query_one("#media-list", OptionList).focus()
        await pilot.press("down")
        await drive.wait_for(pilot, lambda: "late.csr" in drive.screen_text(app), "the new stick's files")
        present.pop()  # and pulled out again
        await drive.wait_for(pilot, lambda: options.option_count == 1, "the medium gone")
        assert "late.csr" not in drive.screen_text(app)

    run(app, (100, 30), script)


def test_csr_given_with_option_is_preselected_among_several(demo) -> None:  # type: ignore[no-untyped-def]
    m, _ = demo
    other = m.stick / "a-first.csr"
    drive.write_csr(other, "Another CA")
    app = make_app(media_roots=[m.stick], csr=m.csr, services=services())

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.wait_for(pilot, lambda: c.csr is not None, "the CSR")
        assert c.csr_path == m.csr
        tree = app.screen.query_one("#files", Tree)
        await drive.wait_for(pilot, lambda: tree.cursor_node is not None and tree.cursor_node.data is not None
                             and tree.cursor_node.data.path == m.csr, "the cursor on the given CSR")
        assert "▶ " + DEMO_CSR_NAME in drive.screen_text(app)

    run(app, (80, 24), script)


def test_profile_shows_capping_when_the_root_expires_first(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    from byoroot_tui.core.demo import make_root

    stick = tmp_path / "stick"
    stick.mkdir()
    drive.write_csr(stick / "req.csr", "Short-lived Root's Intermediate")
    key, cert = make_root("Root Expiring In Two Years", years=2)
    root_cert = tmp_path / "root.crt"
    root_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    root_key = tmp_path / "root.key"
    root_key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    app = make_app(media_roots=[stick], root_cert=root_cert, root_key=root_key, services=services())

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.to_profile(pilot, app)
        await drive.wait_for(pilot, lambda: c.root is not None, "the root")
        app.screen.safe_sync()
        await pilot.pause()
        assert drive.shows(app, "CAPPED: the root expires first")
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "root", "root")
        await drive.check_key(pilot, app, None)
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, c.plan_is_current, "the plan")
        assert c.plan.not_after == c.root.not_after
        await pilot.press("pagedown")
        assert drive.shows(app, "validity capped to the root's notAfter")

    run(app, (120, 40), script)
