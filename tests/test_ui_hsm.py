"""The app's root screen with the key in an HSM: a real SoftHSM2 token per test, driven by keyboard.

Module path, the token list (label, serial), the key list on the chosen token (label, id, type,
size), a masked PIN, then the same review and signing as with a key file. Every issued
certificate is checked with `openssl verify`. Like test_pkcs11_softhsm.py these tests fail, never
skip, without SoftHSM2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from textual.widgets import Input, OptionList

import factories as f
from byoroot_tui.ui import drive
from byoroot_tui.ui.app import make_app
from test_pkcs11_softhsm import PIN, SoftHsm, check_issued, hsm, make_hsm_root, make_stick  # noqa: F401
from test_ui_ceremony import run, services

SIZES = [(80, 24), (160, 48)]


def hsm_root(hsm: SoftHsm, tmp_path: Path, kind: str, token: str = "root-token", label: str = "root-key",
             key_id: bytes = b"\x01") -> tuple[Path, x509.Certificate]:
    hsm.init_token(token, PIN)
    key = hsm.generate(token, PIN, kind, label, key_id)
    root_pem = tmp_path / "root.pem"
    cert = make_hsm_root(hsm, token, PIN, key, root_pem, hashes.SHA384() if kind == "p384" else hashes.SHA256())
    return root_pem, cert


def app_for(hsm: SoftHsm, tmp_path: Path, root_pem: Path, stick: Any, module: str | None = None, **kw: Any):  # type: ignore[no-untyped-def]
    return make_app(media_roots=[stick.folder], root_cert=root_pem, pkcs11_module=module or hsm.module,
                    services=services(log_path=tmp_path / "station.jsonl"), **kw)


def options(app: Any, selector: str) -> list[str]:
    return [str(o.prompt) for o in app.screen.query_one(selector, OptionList).options]


async def hsm_key_chosen(pilot: Any, app: Any) -> None:
    c = app.ceremony
    await drive.wait_for(pilot, lambda: c.hsm_key is not None or c.key_error is not None
                         or app.screen._hsm_note is not None, "the token and key lists")


@pytest.mark.parametrize("kind,sig", [("p384", x509.oid.SignatureAlgorithmOID.ECDSA_WITH_SHA512),
                                      ("rsa3072", x509.oid.SignatureAlgorithmOID.RSA_WITH_SHA512)])
@pytest.mark.parametrize("size", SIZES)
def test_whole_ceremony_with_the_root_key_in_softhsm(hsm: SoftHsm, tmp_path: Path, kind: str, sig: Any,
                                                     size: tuple[int, int]) -> None:
    root_pem, root = hsm_root(hsm, tmp_path, kind)
    stick = make_stick(tmp_path, "p256")
    app = app_for(hsm, tmp_path, root_pem, stick)
    seen: dict[str, str] = {}
    t0 = f.utcnow()

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.to_root(pilot, app)
        await hsm_key_chosen(pilot, app)
        assert c.key_source == "hsm" and c.hsm_key is not None, app.screen._hsm_note
        # the only initialised token and the only key on it are chosen; SoftHSM2's free slot is listed, dimmed
        tokens = options(app, "#hsm-tokens")
        assert any("root-token" in t and "serial" in t for t in tokens)
        keys = options(app, "#hsm-keys")
        want = "P-384" if kind == "p384" else "3072 bits"
        assert any("root-key" in k and "id 01" in k and want in k for k in keys), keys
        assert isinstance(app.focused, Input) and app.focused.id == "pin" and app.focused.password
        assert drive.step_of(app) == "root"
        await pilot.press("ctrl+n")  # blocked: the key has not been checked
        assert drive.step_of(app) == "root"
        await drive.type_into(pilot, app, "#pin", PIN)
        await drive.wait_for(pilot, lambda: c.key_checked or c.key_error is not None, "the key check")
        assert c.key_checked, c.key_error
        seen["root"] = drive.screen_text(app)
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "review", "the review")
        await drive.wait_for(pilot, lambda: c.plan_is_current() or c.plan_error is not None, "the plan")
        assert c.plan_is_current(), c.plan_error
        await drive.confirm_officers(pilot, app)
        await drive.sign(pilot, app)
        assert c.written is not None, c.write_error
        seen["result"] = drive.screen_text(app)
        assert app.screen.app.flow.passphrase_input("hsm") is not None
        assert app.flow.passphrase_input("hsm").value == ""  # the PIN is not kept after signing

    run(app, size, script)
    assert PIN not in seen["root"] and PIN not in seen["result"]
    assert "matches the root certificate" in " ".join(seen["root"].split())
    if size[1] >= 48:  # at 80x24 the facts are below the fingerprint, a scroll away
        assert "logged out after signing" in " ".join(seen["result"].split())
    cert = check_issued(stick, root_pem, root, t0, f.utcnow())
    assert cert.signature_algorithm_oid == sig
    log = (tmp_path / "station.jsonl").read_text()
    assert PIN not in log and '"issued"' in log


def test_tokens_and_keys_are_picked_by_keyboard_and_a_wrong_key_is_refused(hsm: SoftHsm, tmp_path: Path) -> None:
    """Two tokens, two keys: the officer picks with arrows and Enter; the key that is not the root's
    is refused at once, with nothing signed; the right one then checks."""
    hsm.init_token("spare-token", PIN)
    hsm.generate("spare-token", PIN, "p256", "spare-key", b"\x05")
    root_pem, root = hsm_root(hsm, tmp_path, "p384", token="zz-root-token")
    hsm.generate("zz-root-token", PIN, "p384", "other-key", b"\x02")
    stick = make_stick(tmp_path, "p256")
    app = app_for(hsm, tmp_path, root_pem, stick)

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.to_root(pilot, app)
        await drive.wait_for(pilot, lambda: len([t for t in app.screen._tokens if t.initialized]) == 2, "two tokens")
        assert c.hsm_key is None and app.focused.id == "hsm-tokens"
        tokens = app.screen._tokens
        target = next(i for i, t in enumerate(tokens) if t.label == "zz-root-token")
        tl = app.screen.query_one("#hsm-tokens", OptionList)
        while tl.highlighted != target:
            await pilot.press("down")
        await pilot.press("enter")
        await drive.wait_for(pilot, lambda: len(app.screen._keys) == 2, "the keys on the root token")
        assert c.hsm_key is None and app.focused.id == "hsm-keys"
        keys = app.screen._keys
        kl = app.screen.query_one("#hsm-keys", OptionList)
        for label in ("other-key", "root-key"):
            idx = next(i for i, k in enumerate(keys) if k.label == label)
            kl.focus()
            await pilot.pause()
            while kl.highlighted != idx:
                await pilot.press("down" if (kl.highlighted or 0) < idx else "up")
            await pilot.press("enter")
            assert c.hsm_key is not None and c.hsm_key.key_label == label
            assert app.focused.id == "pin"
            await drive.type_into(pilot, app, "#pin", PIN)
            await drive.wait_for(pilot, lambda: c.key_checked or c.key_error is not None, "the key check")
            if label == "other-key":
                assert not c.key_checked and "does not match the root certificate" in c.key_error
                assert drive.shows(app, "does not match the root certificate")
                await pilot.press("ctrl+n")
                assert drive.step_of(app) == "root"
            else:
                assert c.key_checked, c.key_error
                assert c.hsm_key.token_label == "zz-root-token" and c.hsm_key.key_id == b"\x01"
        assert c.sign_count == 0 and not (stick.folder / f.CERT_NAME).exists()

    run(app, (80, 24), script)


def test_wrong_pin_is_one_line_and_the_pin_is_never_shown(hsm: SoftHsm, tmp_path: Path) -> None:
    root_pem, _ = hsm_root(hsm, tmp_path, "p384")
    stick = make_stick(tmp_path, "p256")
    app = app_for(hsm, tmp_path, root_pem, stick)
    wrong = "wrong-pin-91d0"
    texts: list[str] = []

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.to_root(pilot, app)
        await hsm_key_chosen(pilot, app)
        await drive.type_into(pilot, app, "#pin", wrong)
        await drive.wait_for(pilot, lambda: c.key_error is not None or c.key_checked, "the key check")
        assert not c.key_checked
        assert "\n" not in c.key_error and "PIN" in c.key_error, c.key_error
        texts.append(drive.screen_text(app))
        await pilot.press("ctrl+n")
        assert drive.step_of(app) == "root"
        # editing the PIN clears the refusal; the right PIN then checks
        await drive.type_into(pilot, app, "#pin", PIN)
        await drive.wait_for(pilot, lambda: c.key_checked or c.key_error is not None, "the key check")
        assert c.key_checked, c.key_error
        texts.append(drive.screen_text(app))

    run(app, (80, 24), script)
    for text in texts:
        assert wrong not in text and PIN not in text
    assert not (stick.folder / f.CERT_NAME).exists()


def test_a_module_that_does_not_load_says_why_and_keeps_the_app(hsm: SoftHsm, tmp_path: Path) -> None:
    root_pem, _ = hsm_root(hsm, tmp_path, "p384")
    stick = make_stick(tmp_path, "p256")
    bogus = tmp_path / "not-a-module.so"
    bogus.write_bytes(b"\x7fELF this is not a shared library")
    app = app_for(hsm, tmp_path, root_pem, stick, module=str(bogus))

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.to_root(pilot, app)
        await drive.wait_for(pilot, lambda: app.screen._hsm_note is not None, "the module refusal")
        note = app.screen._hsm_note
        assert "\n" not in note and "module" in note.lower(), note
        assert drive.shows(app, note[:40])
        assert c.hsm_key is None
        # the officer types the right module and goes on
        await drive.type_into(pilot, app, "#hsm-module", hsm.module)
        await hsm_key_chosen(pilot, app)
        assert c.hsm_key is not None and c.hsm_key.key_label == "root-key"

    run(app, (80, 24), script)


def test_switching_between_key_file_and_hsm_keeps_what_was_entered(hsm: SoftHsm, tmp_path: Path) -> None:
    root_pem, _ = hsm_root(hsm, tmp_path, "p384")
    stick = make_stick(tmp_path, "p256")
    app = make_app(media_roots=[stick.folder], root_cert=root_pem, root_key=tmp_path / "some.key",
                   services=services(log_path=tmp_path / "station.jsonl"))

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.to_root(pilot, app)
        assert c.key_source == "file" and app.screen.query_one("#file-key").display
        assert not app.screen.query_one("#hsm-key").display
        app.screen.query_one("#hsm-module", Input).value = hsm.module  # as if typed on an earlier visit
        await pilot.press("ctrl+t")
        await drive.wait_for(pilot, lambda: c.key_source == "hsm", "HSM mode")
        await drive.type_into(pilot, app, "#hsm-module", hsm.module)
        await hsm_key_chosen(pilot, app)
        assert c.hsm_key is not None
        assert app.screen.query_one("#hsm-key").display and not app.screen.query_one("#file-key").display
        await pilot.press("ctrl+t")
        assert c.key_source == "file"
        assert app.screen.query_one("#root-key-path", Input).value == str(tmp_path / "some.key")
        await pilot.press("ctrl+t")
        assert c.key_source == "hsm" and c.hsm_key is not None and c.hsm_key.key_label == "root-key"
        # back to the profile screen and forward again: still the token and key
        await pilot.press("escape")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "profile", "profile")
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "root", "root")
        await drive.wait_for(pilot, lambda: not app.screen._hsm_busy, "listing")
        assert c.key_source == "hsm" and c.hsm_key is not None and c.hsm_key.key_label == "root-key"

    run(app, (80, 24), script)


def test_keys_hidden_until_login_are_listed_with_the_pin(hsm: SoftHsm, tmp_path: Path) -> None:
    """A token whose public key objects are private too (hidden before a login): the officer types
    the PIN first, Enter lists the keys logged in with it, and the key is then checked with it."""
    import pkcs11
    from pkcs11.util.ec import encode_named_curve_parameters

    from test_pkcs11_softhsm import Key

    hsm.init_token("root-token", PIN)
    A = pkcs11.Attribute
    with hsm.session("root-token", PIN) as s:
        params = s.create_domain_parameters(pkcs11.KeyType.EC, {A.EC_PARAMS: encode_named_curve_parameters(
            "secp384r1")}, local=True)
        params.generate_keypair(id=b"\x01", label="root-key", store=True, public_template={A.PRIVATE: True})
    root_pem = tmp_path / "root.pem"
    make_hsm_root(hsm, "root-token", PIN, Key("root-key", b"\x01", "p384"), root_pem, hashes.SHA384())
    stick = make_stick(tmp_path, "p256")
    app = app_for(hsm, tmp_path, root_pem, stick)

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.to_root(pilot, app)
        await drive.wait_for(pilot, lambda: app.screen._hsm_note is not None, "the hint")
        assert "type the PIN" in app.screen._hsm_note and c.hsm_key is None
        await drive.type_into(pilot, app, "#pin", PIN)  # Enter: list the private keys, then check the key
        await drive.wait_for(pilot, lambda: c.key_checked or c.key_error is not None, "the key check")
        assert c.key_checked, c.key_error
        assert c.hsm_key is not None and c.hsm_key.key_label == "root-key"
        assert [k.source for k in app.screen._keys] == ["private key"]

    run(app, (80, 24), script)


def test_pin_pad_token_uses_the_pad_or_a_typed_pin(hsm: SoftHsm, tmp_path: Path) -> None:
    """A token with a PIN pad (CKF_PROTECTED_AUTHENTICATION_PATH): choosing the key checks it through
    the pad at once, asking nothing here. SoftHSM2 has no pad, so that login fails with one line;
    a PIN typed in the field then logs in with it (as `--pin-file` does on the CLI)."""
    from test_pkcs11_softhsm import CKF_PROTECTED_AUTHENTICATION_PATH

    root_pem, _ = hsm_root(hsm, tmp_path, "p384")
    hsm.add_token_flags(CKF_PROTECTED_AUTHENTICATION_PATH)
    stick = make_stick(tmp_path, "p256")
    app = app_for(hsm, tmp_path, root_pem, stick)

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.to_root(pilot, app)
        await drive.wait_for(pilot, lambda: c.key_error is not None or c.key_checked, "the check through the pad")
        assert c.hsm_key is not None and c.hsm_key.pin_pad
        assert any("PIN pad" in t for t in options(app, "#hsm-tokens"))
        assert "PIN pad" in c.key_error and "\n" not in c.key_error and not c.key_checked
        await drive.type_into(pilot, app, "#pin", PIN)
        await drive.wait_for(pilot, lambda: c.key_checked or c.key_error is not None, "the check with the PIN")
        assert c.key_checked, c.key_error

    run(app, (80, 24), script)


def test_locked_token_is_shown_and_refused_without_trying_the_pin(hsm: SoftHsm, tmp_path: Path) -> None:
    from test_pkcs11_softhsm import CKF_USER_PIN_LOCKED

    root_pem, _ = hsm_root(hsm, tmp_path, "p384")
    hsm.add_token_flags(CKF_USER_PIN_LOCKED)
    stick = make_stick(tmp_path, "p256")
    app = app_for(hsm, tmp_path, root_pem, stick)

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.to_root(pilot, app)
        await hsm_key_chosen(pilot, app)
        assert any("PIN locked" in t for t in options(app, "#hsm-tokens"))
        await drive.type_into(pilot, app, "#pin", PIN)
        await drive.wait_for(pilot, lambda: c.key_checked or c.key_error is not None, "the key check")
        assert not c.key_checked and "locked" in c.key_error and "\n" not in c.key_error
        assert drive.shows(app, "locked")
        await pilot.press("ctrl+n")
        assert drive.step_of(app) == "root" and c.sign_count == 0

    run(app, (80, 24), script)
