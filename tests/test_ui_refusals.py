"""Refusal paths in the app: each is shown with the core's reason, blocks, and never crashes."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from textual.widgets import Input

from byoroot_tui.core.ceremony import CERT_NAME
from byoroot_tui.core.demo import make_demo, make_root
from byoroot_tui.ui import drive
from byoroot_tui.ui.app import make_app
from test_ui_ceremony import PASSPHRASE, openssl_verify, run, services  # noqa: E402


@pytest.fixture
def demo(tmp_path: Path):  # type: ignore[no-untyped-def]
    m = make_demo(tmp_path / "demo")
    enc = tmp_path / "demo" / "station" / "root-encrypted.key"
    drive.write_encrypted_key(m.root_key, enc, PASSPHRASE)
    return m, enc


def only_csr(stick: Path, name: str, data: bytes | None = None) -> Path:
    stick.mkdir(parents=True, exist_ok=True)
    path = stick / name
    if data is not None:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("junk.csr", b"hello, I am not a CSR\n", "is not a certificate request (neither PEM nor DER)"),
        ("empty.req", b"", "is empty"),
        ("key.pem", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "holds a private key"),
    ],
)
def test_unparseable_csr_is_refused_with_its_reason_and_blocks(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = only_csr(tmp_path / "stick", name, content)
    # a .pem without a CERTIFICATE REQUEST block is not CSR-like (not preselected): given with --csr
    app = make_app(media_roots=[tmp_path / "stick"], services=services(),
                   csr=path if name.endswith(".pem") else None)

    async def script(pilot: Any) -> None:
        await drive.to_preview(pilot, app)
        assert app.ceremony.csr_path == path and app.ceremony.csr is None
        assert drive.shows(app, "REFUSED") and drive.shows(app, reason)
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert drive.step_of(app) == "preview"  # blocked
        assert drive.shows(app, reason)  # and still says why

    run(app, (80, 24), script)


def test_weak_csr_is_shown_in_full_and_blocks(tmp_path: Path) -> None:
    drive.write_weak_csr(only_csr(tmp_path / "stick", "weak.csr"))
    app = make_app(media_roots=[tmp_path / "stick"], services=services())

    async def script(pilot: Any) -> None:
        await drive.to_preview(pilot, app)
        assert drive.shows(app, "REFUSED") and drive.shows(app, "RSA key of 1024 bits is too small")
        text = drive.screen_text(app)
        assert "Weak Intermediate CA" in text and "RSA (1024 bits)" in text  # everything is still shown
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert drive.step_of(app) == "preview"

    run(app, (80, 24), script)


def test_hostile_markup_in_subject_and_file_name_is_shown_literally(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    m, _ = demo
    stick = tmp_path / "hostile"
    path = only_csr(stick, "[red]x.csr")
    drive.write_csr(path, "[bold]evil[/bold] [link=http://x]CA[/link]",
                    extensions=((x509.SubjectAlternativeName([x509.DNSName("[blink]a[/blink].example")]), False),))
    app = make_app(media_roots=[stick], root_cert=m.root_cert, root_key=m.root_key, services=services())

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.wait_for(pilot, lambda: c.csr is not None, "the CSR")
        assert "[red]x.csr" in drive.screen_text(app)
        await drive.to_preview(pilot, app)
        text = drive.screen_text(app)
        assert "[bold]evil[/bold]" in text and "[link=http://x]CA[/link]" in text
        assert "DNS:[blink]a[/blink].example" in text
        await pilot.press("ctrl+n", "ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "root", "root")
        await drive.check_key(pilot, app, None)
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, c.plan_is_current, "the plan")
        await pilot.press("pageup")
        assert "[bold]evil[/bold]" in drive.screen_text(app)

    run(app, (120, 40), script)


def test_same_officer_twice_is_refused(demo) -> None:  # type: ignore[no-untyped-def]
    m, _ = demo
    app = make_app(media_roots=[m.stick], root_cert=m.root_cert, root_key=m.root_key, services=services())

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.to_review(pilot, app)
        await drive.type_into(pilot, app, "#officer1", "Alice Martin")
        assert c.officer1 == "Alice Martin"
        for same in ("alice martin", "  ALICE   MARTIN "):
            await drive.type_into(pilot, app, "#officer2", same)
            assert c.officer2 is None
            assert drive.shows(app, "officer 2 must be a different person from officer 1")
        sign_word = app.screen.query_one("#sign-word", Input)
        assert sign_word.disabled  # no way to type SIGN
        app.screen.start_signing()  # even if something tried: the ceremony refuses
        await pilot.pause()
        assert c.sign_count == 0 and not c.signed
        assert not (m.stick / CERT_NAME).exists()
        await drive.type_into(pilot, app, "#officer2", "Bob")
        assert c.officer2 == "Bob" and not sign_word.disabled

    run(app, (80, 24), script)


def test_wrong_passphrase_is_said_at_once_and_blocks(demo) -> None:  # type: ignore[no-untyped-def]
    m, enc = demo
    app = make_app(media_roots=[m.stick], root_cert=m.root_cert, root_key=enc, services=services())

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.to_root(pilot, app)
        await drive.wait_for(pilot, lambda: app.flow.passphrase_needed and not app.flow.key_check_running, "the first check (no passphrase yet)")
        # an encrypted key asks for its passphrase: no red refusal before the officer could type one
        assert c.key_error is None and drive.shows(app, "the root key is encrypted: type its passphrase")
        assert not drive.shows(app, "no passphrase was given")
        await pilot.press("ctrl+n")  # nothing typed yet: asked again, the step stays
        await pilot.pause()
        assert drive.step_of(app) == "root" and c.key_error is None
        await drive.check_key(pilot, app, "Tr0ub4dor&3")
        assert not c.key_checked and "wrong passphrase" in (c.key_error or "")
        assert drive.shows(app, "wrong passphrase for root key 'root-encrypted.key'")
        assert "Tr0ub4dor" not in drive.screen_text(app)  # masked
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert drive.step_of(app) == "root"
        await drive.check_key(pilot, app, PASSPHRASE)
        assert c.key_checked and drive.shows(app, "matches the root certificate")
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "review", "review")

    run(app, (80, 24), script)


def test_key_that_is_not_the_roots_is_refused(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives import serialization

    m, _ = demo
    other_key, _ = make_root("Another Root")
    other = tmp_path / "other.key"
    other.write_bytes(other_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    app = make_app(media_roots=[m.stick], root_cert=m.root_cert, root_key=other, services=services())

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.to_root(pilot, app)
        await drive.check_key(pilot, app, None)
        assert drive.shows(app, "the root key does not match the root certificate's public key")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert drive.step_of(app) == "root" and not c.key_checked

    run(app, (80, 24), script)


def test_bad_root_certificate_path_is_shown_inline(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    m, _ = demo
    app = make_app(media_roots=[m.stick], root_cert=tmp_path, root_key=m.root_key, services=services())

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.to_root(pilot, app)
        await drive.wait_for(pilot, lambda: c.root_error is not None, "the root error")
        assert drive.shows(app, "is a directory, not a regular file")
        await drive.type_into(pilot, app, "#root-cert-path", str(m.csr))  # a CSR is not a certificate
        await drive.wait_for(pilot, lambda: c.root_error is not None, "the root error")
        assert "not a certificate" in (c.root_error or "")
        await drive.type_into(pilot, app, "#root-cert-path", str(m.root_cert))
        await drive.wait_for(pilot, lambda: c.key_checked, "the key check")

    run(app, (80, 24), script)


def test_existing_certificate_is_replaced_only_when_confirmed(demo) -> None:  # type: ignore[no-untyped-def]
    m, _ = demo
    old = m.stick / CERT_NAME
    old.write_text("an older certificate\n")
    app = make_app(media_roots=[m.stick], root_cert=m.root_cert, root_key=m.root_key, services=services())

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.to_review(pilot, app)
        # The output line is below the certificate at 80x24 (and below the demo's P-384 root's
        # warning that the default profile's SHA-512 does not match its curve).
        await pilot.press("pagedown", "pagedown")
        assert drive.shows(app, "you will be asked before anything is replaced")
        await drive.confirm_officers(pilot, app)
        await drive.sign(pilot, app)
        assert type(app.screen).__name__ == "ConfirmModal"
        assert drive.shows(app, "already exists")
        await pilot.press("n")  # keep it
        await pilot.pause()
        assert c.sign_count == 0 and old.read_text() == "an older certificate\n"
        await drive.sign(pilot, app)
        await pilot.press("y")  # replace it
        await drive.wait_for(pilot, lambda: c.written is not None, "the write")
        assert c.sign_count == 1

    run(app, (80, 24), script)
    openssl_verify(m.root_cert, old)


def test_missing_output_folder_refuses_before_signing(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    m, _ = demo
    out = tmp_path / "out-stick"
    out.mkdir()
    app = make_app(media_roots=[m.stick], root_cert=m.root_cert, root_key=m.root_key, out=out, services=services())

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.to_review(pilot, app)
        await drive.confirm_officers(pilot, app)
        out.rmdir()  # the stick is pulled
        await drive.sign(pilot, app)
        assert drive.step_of(app) == "review" and c.sign_count == 0
        assert drive.shows(app, "not an existing folder")
        out.mkdir()  # plugged back in
        await drive.sign(pilot, app)
        assert c.written == out / CERT_NAME and c.sign_count == 1

    run(app, (80, 24), script)
    openssl_verify(m.root_cert, out / CERT_NAME)


@pytest.fixture
def tmpfs(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A small tmpfs mounted in tmp_path (needs root); remounted read-only by the test."""
    point = tmp_path / "usb"
    point.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(point)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def remount(point: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(point)], check=True, capture_output=True)


def read_only_right_after_the_checks(monkeypatch: pytest.MonkeyPatch, stick: Path) -> None:
    """The stick turns read-only between the checks made at SIGN (which would refuse a read-only
    stick before the key) and the export: the lock switch flipped, or the stick failing, while
    the key signs. Only the first check (the review's, before the key) is followed by it."""
    from byoroot_tui.core import record

    real = record.preflight
    done: list[bool] = []

    def checks_then_read_only(*args: Any, **kwargs: Any) -> Any:
        notes = real(*args, **kwargs)
        if not done:
            done.append(True)
            remount(stick, "ro")
        return notes

    monkeypatch.setattr(record, "preflight", checks_then_read_only)


def test_write_failure_then_retry_and_another_folder_without_signing_again(demo, tmpfs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    m, enc = demo
    log = tmp_path / "station.jsonl"
    app = make_app(media_roots=[m.stick], root_cert=m.root_cert, root_key=enc, out=tmpfs, services=services(log_path=log))
    seen: dict[str, Any] = {}

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.to_review(pilot, app, PASSPHRASE)
        await drive.confirm_officers(pilot, app)
        read_only_right_after_the_checks(monkeypatch, tmpfs)  # the stick turns read-only after the checks
        await drive.sign(pilot, app)
        assert c.signed and c.written is None and c.sign_count == 1
        serial, fp = c.issued.plan.serial, c.issued.sha256
        seen.update(serial=serial, fp=fp)
        assert drive.shows(app, "NOT WRITTEN") and drive.shows(app, "the medium is read-only")
        assert app.flow.passphrase_input().value == ""  # signed: the passphrase is gone already
        assert os.listdir(tmpfs) == []  # nothing partial left

        await pilot.press("r")  # retry: still read-only
        await drive.wait_for(pilot, lambda: not app.screen.writing, "the retry")
        assert c.write_error and "read-only" in c.write_error

        await pilot.press("ctrl+q")  # quitting now would lose the certificate: asked first
        await drive.wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmModal", "the quit question")
        assert drive.shows(app, "NOT written")
        await pilot.press("n")
        await pilot.pause()

        await pilot.press("ctrl+o")  # another folder: the picker opens on the first medium
        await drive.wait_for(pilot, lambda: type(app.screen).__name__ == "PathPicker", "the folder picker")
        await pilot.pause(0.2)
        await pilot.press("ctrl+s")  # the highlighted folder: the medium itself
        await drive.wait_for(pilot, lambda: c.written is not None, "the write elsewhere")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "result", "the result")
        assert c.written == m.stick / CERT_NAME
        assert c.sign_count == 1 and c.issued.plan.serial == serial and c.issued.sha256 == fp
        assert drive.screen_text(app).count("ISSUED AND WRITTEN") == 1

    run(app, (80, 24), script)
    cert = m.stick / CERT_NAME
    openssl_verify(m.root_cert, cert)
    from test_ui_ceremony import der_sha256

    assert der_sha256(cert) == seen["fp"]
    assert x509.load_pem_x509_certificate(cert.read_bytes()).serial_number == seen["serial"]
    import json

    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["event"] for e in events] == ["signing", "issued", "export_failed", "export_failed", "exported"]
    assert {e.get("sha256") for e in events[1:]} == {seen["fp"]}  # one certificate, signed once
    assert events[1]["certificate"].encode() == cert.read_bytes()  # on the record before it was written
    assert events[-1]["out"] == str(m.stick) and "read-only" in events[2]["reason"]


def test_write_failure_then_retry_same_folder_once_writable(demo, tmpfs: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    m, _ = demo
    app = make_app(media_roots=[m.stick], root_cert=m.root_cert, root_key=m.root_key, out=tmpfs, services=services())

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await signed_onto_a_read_only_stick(pilot, app, tmpfs, monkeypatch)
        fp = c.issued.sha256
        remount(tmpfs, "rw")  # the officer flips the stick's lock switch back
        await pilot.press("r")
        await drive.wait_for(pilot, lambda: c.written is not None, "the retried write")
        assert c.written == tmpfs / CERT_NAME and c.sign_count == 1 and c.issued.sha256 == fp

    run(app, (80, 24), script)
    openssl_verify(m.root_cert, tmpfs / CERT_NAME)


def test_signing_failure_goes_back_to_review_with_the_reason(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    m, _ = demo
    log = tmp_path / "station.jsonl"
    app = make_app(media_roots=[m.stick], root_cert=m.root_cert, root_key=m.root_key, services=services(log_path=log))

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.to_review(pilot, app)
        await drive.confirm_officers(pilot, app)
        m.root_key.write_text("the key file was damaged meanwhile\n")
        await drive.sign(pilot, app)
        await drive.wait_for(pilot, lambda: type(app.screen).__name__ == "ErrorModal", "the error")
        assert drive.shows(app, "Not signed") and drive.shows(app, "is not a private key")
        assert drive.shows(app, "nothing was signed")
        await pilot.press("enter")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "review", "back to review")
        assert not c.signed and c.sign_count == 0 and not (m.stick / CERT_NAME).exists()
        # the key is what failed (core KeyUnusable): the root step says so, and SIGN waits for a good key
        assert not c.key_checked and "is not a private key" in (c.key_error or "")
        assert c.sign_blocker()
        assert drive.shows(app, "Not ready to sign") and drive.shows(app, "esc goes back to the root step")
        await pilot.press("escape")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "root", "the root step")
        assert drive.shows(app, "is not a private key")

    run(app, (80, 24), script)
    import json

    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["event"] for e in events] == ["signing", "refused"]  # logged as `byoroot sign` logs it
    assert "is not a private key" in events[1]["reason"] and events[1]["officers"] == ["Alice Martin", "Bob Okafor"]
    assert events[0]["serial"] == events[1]["serial"]  # the plan that was about to be signed


def test_typed_ahead_keys_land_in_the_right_fields(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A burst of keys (a fast typist, a paste) is never misrouted: not the second officer's name into
    the first's field, not SIGN as a name, and never passphrase characters into a visible field."""
    m, enc = demo
    app = make_app(media_roots=[m.stick], root_cert=m.root_cert, services=services(log_path=tmp_path / "log"))

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.to_root(pilot, app)
        await drive.wait_for(pilot, lambda: c.root is not None, "the root certificate")
        key_field = app.screen.query_one("#root-key-path", Input)
        key_field.focus()
        await pilot.pause()
        drive.burst(app, f"{enc}\r{PASSPHRASE}\r")
        await drive.wait_for(pilot, lambda: c.key_checked or c.key_error is not None, "the key check")
        assert key_field.value == str(enc)  # nothing of the passphrase in the visible field
        assert app.screen.query_one("#passphrase", Input).value == PASSPHRASE
        assert c.key_checked, c.key_error
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, c.plan_is_current, "the plan")
        drive.burst(app, "Alice\rBob\rSIGN\r")
        await drive.wait_for(pilot, lambda: c.written is not None or c.write_error is not None, "signing")
        assert (c.officer1, c.officer2) == ("Alice", "Bob") and c.sign_count == 1

    run(app, (80, 24), script)
    openssl_verify(m.root_cert, m.stick / CERT_NAME)


async def signed_onto_a_read_only_stick(pilot: Any, app: Any, stick: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two officers confirm, SIGN, the stick turns read-only after the checks: signed once, not written."""
    await drive.to_review(pilot, app)
    await drive.confirm_officers(pilot, app)
    read_only_right_after_the_checks(monkeypatch, stick)
    await drive.sign(pilot, app)
    assert app.ceremony.write_error and app.ceremony.sign_count == 1


def test_a_file_that_appears_before_a_retry_is_replaced_only_when_confirmed(demo, tmpfs: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # The retry finds intermediate.crt there (the core raises TargetExists): the officers are asked,
    # by the kind of refusal, not by its words; "no" keeps the file, "yes" replaces it.
    m, _ = demo
    app = make_app(media_roots=[m.stick], root_cert=m.root_cert, root_key=m.root_key, out=tmpfs, services=services())

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await signed_onto_a_read_only_stick(pilot, app, tmpfs, monkeypatch)
        remount(tmpfs, "rw")
        (tmpfs / CERT_NAME).write_text("put there meanwhile\n")
        await pilot.press("r")
        await drive.wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmModal", "the question")
        assert drive.shows(app, CERT_NAME)
        await pilot.press("n")
        await drive.wait_for(pilot, lambda: not app.screen.writing, "back on the sign step")
        assert (tmpfs / CERT_NAME).read_text() == "put there meanwhile\n" and c.written is None
        await pilot.press("r")
        await drive.wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmModal", "the question again")
        await pilot.press("y")
        await drive.wait_for(pilot, lambda: c.written is not None, "the write")
        assert c.written == tmpfs / CERT_NAME and c.sign_count == 1

    run(app, (80, 24), script)
    openssl_verify(m.root_cert, tmpfs / CERT_NAME)


def test_a_temp_file_left_by_a_killed_export_is_named_and_removed_at_sign(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A power cut during an earlier export left `.intermediate.crt.<hex>.tmp` on the stick: the
    app removes it when the officers sign onto that folder, and says so."""
    m, _ = demo
    stale = m.stick / ".intermediate.crt.0123456789ab.tmp"
    stale.write_bytes(b"-----BEGIN CERTIFICATE-----\npartial")
    app = make_app(media_roots=[m.stick], root_cert=m.root_cert, root_key=m.root_key,
                   services=services(log_path=tmp_path / "station.jsonl"))
    said: list[str] = []

    async def script(pilot: Any) -> None:
        real_say = app.say
        app.say = lambda message, *a, **k: (said.append(message), real_say(message, *a, **k))  # type: ignore[method-assign]
        await drive.to_review(pilot, app)
        await drive.confirm_officers(pilot, app)
        await drive.sign(pilot, app)
        await drive.wait_for(pilot, lambda: app.ceremony.written is not None, "the write")

    run(app, (80, 24), script)
    assert not stale.exists()
    assert any("removed the temporary file '.intermediate.crt.0123456789ab.tmp'" in s for s in said), said
    openssl_verify(m.root_cert, m.stick / CERT_NAME)
