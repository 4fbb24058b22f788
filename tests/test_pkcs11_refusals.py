"""Every refusal of `byoroot sign --pkcs11-uri …`, against a real SoftHSM2 token.

Each one: exit 1, one line on stderr, no traceback, nothing written on the stick, and neither the
right PIN nor the wrong one anywhere in the output. These tests FAIL when SoftHSM2 is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import factories as f
from test_pkcs11_softhsm import (  # shared helpers (no tests are imported)
    CKF_USER_PIN_LOCKED,
    PIN,
    SoftHsm,
    Stick,
    hsm,  # noqa: F401,F811 - the fixture
    make_hsm_root,
    make_stick,
    pin_file,
    run_sign,
)

WRONG_PIN = "wrong-8d3e1b55"


class Setup:
    """A token "root" holding key "root-key" (P-256), its self-signed root, and a stick with a CSR."""

    def __init__(self, hsm: SoftHsm, base: Path, kind: str = "p256") -> None:  # noqa: F811
        self.hsm, self.base = hsm, base
        hsm.init_token("root", PIN)
        self.key = hsm.generate("root", PIN, kind, "root-key", b"\x01")
        self.root_pem = base / "root.pem"
        self.root = make_hsm_root(hsm, "root", PIN, self.key, self.root_pem)
        self.stick: Stick = make_stick(base, "p256")
        self.pin = pin_file(base, PIN)
        self.before = f.listing(self.stick.folder)

    def sign(self, uri: str = "pkcs11:token=root;object=root-key", *extra: object, pin: Path | None | str = "default",
             module: str | None = "default", stdin=None) -> f.Run:  # type: ignore[no-untyped-def]
        argv: list[object] = [self.stick.csr, "--root-cert", self.root_pem, "--pkcs11-uri", uri, *extra]
        if pin == "default":
            argv += ["--pin-file", self.pin]
        elif pin is not None:
            argv += ["--pin-file", pin]
        if module == "default":
            argv += ["--pkcs11-module", self.hsm.module]
        elif module is not None:
            argv += ["--pkcs11-module", module]
        return run_sign(*argv, **({"stdin": stdin} if stdin is not None else {}))

    def refused(self, run: f.Run, *reason: str) -> None:
        f.assert_refusal(run, *reason)
        assert PIN not in run.text and WRONG_PIN not in run.text, "a PIN reached the output"
        assert f.listing(self.stick.folder) == self.before, "something was written"
        assert not (self.stick.folder / f.CERT_NAME).exists()


@pytest.fixture
def setup(hsm: SoftHsm, tmp_path: Path) -> Setup:  # noqa: F811
    return Setup(hsm, tmp_path)


# ----------------------------------------------------------------------------- PINs


def test_wrong_pin_from_a_pin_file(setup: Setup) -> None:
    run = setup.sign(pin=pin_file(setup.base, WRONG_PIN, "wrong.txt"))
    setup.refused(run, "wrong PIN", "token 'root'")


def test_wrong_pin_in_the_uri(setup: Setup) -> None:
    run = setup.sign(f"pkcs11:token=root;object=root-key?pin-value={WRONG_PIN}", pin=None)
    setup.refused(run, "wrong PIN")


def test_softhsm_never_locks_so_repeated_wrong_pins_stay_wrong_pins(setup: Setup) -> None:
    """We tried to lock the token by entering wrong PINs: SoftHSM2 2.6 has no retry counter
    (Token::loginUser only sets CKF_USER_PIN_COUNT_LOW), so it never locks. The locked state is
    shown with the token flag in the next test."""
    from byoroot_tui.core.pkcs11 import list_tokens

    wrong = pin_file(setup.base, WRONG_PIN, "wrong.txt")
    for _ in range(6):
        setup.refused(setup.sign(pin=wrong), "wrong PIN")
    (info,) = [t for t in list_tokens(setup.hsm.module) if t.label == "root"]
    assert info.pin_count_low and not info.pin_locked
    assert "a wrong PIN was entered" in info.state


def test_locked_token(setup: Setup) -> None:
    """A token reporting CKF_USER_PIN_LOCKED (set in SoftHSM2's token file, as an HSM sets it after
    too many wrong PINs) is refused before any PIN is read or tried. The message comes from the same
    mapping as a CKR_PIN_LOCKED answer to C_Login (python-pkcs11's PinLocked)."""
    from byoroot_tui.core.errors import ByorootError
    from byoroot_tui.core.pkcs11 import Pkcs11Signer, list_tokens

    setup.hsm.add_token_flags(CKF_USER_PIN_LOCKED)
    (info,) = [t for t in list_tokens(setup.hsm.module) if t.label == "root"]
    assert info.pin_locked and "PIN locked" in info.state
    setup.refused(setup.sign(), "locked", "token 'root'")

    asked: list[int] = []
    with pytest.raises(ByorootError, match="locked"):
        Pkcs11Signer("pkcs11:token=root;object=root-key", module_path=setup.hsm.module,
                     pin_prompt=lambda: asked.append(1) or bytearray(PIN.encode()))  # type: ignore[func-returns-value]
    assert asked == [], "no PIN is tried on a locked token"


def test_pinlocked_from_the_module_maps_to_the_same_refusal() -> None:
    """The CKR_PIN_LOCKED return code (which SoftHSM2 never sends) as python-pkcs11 raises it."""
    import pkcs11

    from byoroot_tui.core.pkcs11 import TokenInfo, _mapped

    info = TokenInfo(slot_id=1, label="root", serial="abc", manufacturer="x", model="y", flags=0x40C)
    err = _mapped(pkcs11.PinLocked(), "logging in", info)
    assert "locked" in str(err) and "token 'root'" in str(err)
    assert "wrong PIN" in str(_mapped(pkcs11.PinIncorrect(), "logging in", info))


def test_no_pin_and_no_terminal(setup: Setup) -> None:
    run = setup.sign(pin=None)
    setup.refused(run, "needs a PIN", "--pin-file")


def test_empty_pin_file(setup: Setup) -> None:
    empty = setup.base / "empty.txt"
    empty.write_text("\n")
    setup.refused(setup.sign(pin=empty), "PIN file is empty")


def test_pin_file_and_pin_value_together(setup: Setup) -> None:
    run = setup.sign(f"pkcs11:token=root;object=root-key?pin-value={PIN}")
    setup.refused(run, "give the PIN once")


def test_pin_source_command_is_refused(setup: Setup) -> None:
    run = setup.sign(f"pkcs11:token=root;object=root-key?pin-source=%7Cecho%20{PIN}", pin=None)
    setup.refused(run, "pin-source names a command")


# ----------------------------------------------------------------------------- tokens and objects


def test_no_such_token(setup: Setup) -> None:
    setup.refused(setup.sign("pkcs11:token=nope;object=root-key"), "no token matches", "nope", "'root'")


def test_no_such_serial(setup: Setup) -> None:
    setup.refused(setup.sign("pkcs11:token=root;serial=0000;object=root-key"), "no token matches")


def test_several_tokens_match(setup: Setup) -> None:
    setup.hsm.init_token("root", PIN)  # a second token with the same label
    setup.refused(setup.sign("pkcs11:token=root;object=root-key"), "2 tokens match", "serial=")


def test_no_such_object(setup: Setup) -> None:
    setup.refused(setup.sign("pkcs11:token=root;object=other-key"), "no private key matches", "other-key",
                  "'root-key' (id 01)")


def test_no_such_id(setup: Setup) -> None:
    setup.refused(setup.sign("pkcs11:token=root;id=%02"), "no private key matches", "id=02")


def test_several_objects_match(setup: Setup) -> None:
    setup.hsm.generate("root", PIN, "p256", "root-key", b"\x02")  # same label, other id
    setup.refused(setup.sign("pkcs11:token=root;object=root-key"), "2 private keys match", "id=")


def test_uri_naming_no_key_on_a_token_with_several(setup: Setup) -> None:
    setup.hsm.generate("root", PIN, "p384", "other", b"\x02")
    setup.refused(setup.sign("pkcs11:token=root"), "2 private keys match")


def test_uri_naming_a_certificate_type(setup: Setup) -> None:
    setup.refused(setup.sign("pkcs11:token=root;object=root-key;type=cert"), "type=cert")


def test_key_that_may_not_sign(setup: Setup) -> None:
    setup.hsm.generate("root", PIN, "p256", "no-sign", b"\x03", sign=False)
    setup.refused(setup.sign("pkcs11:token=root;object=no-sign"), "may not sign")


def test_token_key_does_not_match_the_root_certificate(setup: Setup) -> None:
    setup.hsm.generate("root", PIN, "p256", "other-key", b"\x02")
    setup.refused(setup.sign("pkcs11:token=root;object=other-key"), "does not match the root certificate")


# ----------------------------------------------------------------------------- unsupported keys


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("ed25519", "EdDSA"),
        ("dsa2048", "DSA keys are not supported"),
        ("secp256k1", "curve secp256k1 is not supported"),
        ("rsa1024", "1024 bits is too small"),
    ],
)
def test_unsupported_key_on_the_token(setup: Setup, kind: str, reason: str) -> None:
    setup.hsm.generate("root", PIN, kind, "odd-key", b"\x09")
    setup.refused(setup.sign("pkcs11:token=root;object=odd-key"), reason, "'odd-key' (id 09)")


# ----------------------------------------------------------------------------- modules


def test_no_module_given(setup: Setup) -> None:
    setup.refused(setup.sign(module=None), "no PKCS#11 module", "--pkcs11-module")


def test_module_path_that_does_not_exist(setup: Setup) -> None:
    setup.refused(setup.sign(module=str(setup.base / "nope.so")), "nope.so", "no such file")


def test_module_that_is_a_text_file(setup: Setup) -> None:
    fake = setup.base / "fake.so"
    fake.write_text("not a library\n")
    setup.refused(setup.sign(module=str(fake)), "cannot load", "not a shared library")


def test_module_that_is_a_library_but_not_pkcs11(setup: Setup) -> None:
    import cryptography.hazmat.bindings._rust as rust  # any shared library without C_GetFunctionList

    setup.refused(setup.sign(module=rust.__file__), "cannot load", "not a PKCS#11 library")


def test_module_that_is_a_directory(setup: Setup) -> None:
    setup.refused(setup.sign(module=str(setup.base)), "not a regular file")


def test_module_path_in_the_uri_that_does_not_exist(setup: Setup) -> None:
    run = setup.sign(f"pkcs11:token=root;object=root-key?module-path={setup.base}/missing.so", module=None)
    setup.refused(run, "missing.so", "no such file")


# ----------------------------------------------------------------------------- the URI and the options


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("pkcs11:token=root;slot-id=3;object=root-key", "unsupported PKCS#11 URI attribute(s): slot-id"),
        ("pkcs11:token=root;object=root%G1", "bad percent escape"),
        ("pkcs11:token=root;object", "not of the form name=value"),
        ("pkcs11:token=root;object=a;object=b", "appears more than once"),
        ("token=root;object=root-key", "must start with 'pkcs11:'"),
        (f"pkcs11:token=root;object=root-key;pin-value={PIN}", "pin-value (belongs after '?')"),
        (f"pkcs11:token=root;object=root-key?pin-value={PIN}&x-secret=1", "x-secret"),
        (f"pkcs11:token=root;object=root-key?pin-value={PIN}%ZZ", "bad percent escape in attribute pin-value"),
        (f"pkcs11:token=root;object=root-key?pin-value=a {PIN}", "must be percent-encoded"),
    ],
)
def test_malformed_or_unsupported_uri(setup: Setup, uri: str, reason: str) -> None:
    setup.refused(setup.sign(uri, pin=None), reason)


def test_root_key_and_pkcs11_uri_are_mutually_exclusive(setup: Setup) -> None:
    key = setup.base / "root.key"
    key.write_bytes(f.key_bytes(f.key("p256")))
    run = run_sign(setup.stick.csr, "--root-cert", setup.root_pem, "--root-key", key,
                   "--pkcs11-uri", "pkcs11:token=root;object=root-key")
    assert run.rc == 2 and "not allowed with" in run.err and "Traceback" not in run.err
    run = run_sign(setup.stick.csr, "--root-cert", setup.root_pem)
    assert run.rc == 2 and "one of the arguments --root-key --pkcs11-uri is required" in run.err
    assert f.listing(setup.stick.folder) == setup.before


def test_pin_file_without_pkcs11_uri(setup: Setup) -> None:
    key = setup.base / "root.key"
    key.write_bytes(f.key_bytes(f.key("p256")))
    run = run_sign(setup.stick.csr, "--root-cert", setup.root_pem, "--root-key", key, "--pin-file", setup.pin)
    setup.refused(run, "go with --pkcs11-uri")


def test_passphrase_file_with_pkcs11_uri(setup: Setup) -> None:
    setup.refused(setup.sign("pkcs11:token=root;object=root-key", "--passphrase-file", setup.pin),
                  "--passphrase-file goes with --root-key")


def test_a_refused_csr_never_opens_the_token(setup: Setup) -> None:
    """The plan is made (and refused) before the PIN is read: a wrong PIN is never even tried."""
    bad = setup.stick.folder / "weak.csr"
    bad.write_bytes(f.pem(f.make_csr(f.key("rsa1024"))))
    before = f.listing(setup.stick.folder)
    run = run_sign(bad, "--root-cert", setup.root_pem, "--pkcs11-uri", "pkcs11:token=root;object=root-key",
                   "--pin-file", pin_file(setup.base, WRONG_PIN, "wrong.txt"), "--pkcs11-module", setup.hsm.module)
    f.assert_refusal(run)
    assert "PIN" not in run.err
    assert f.listing(setup.stick.folder) == before


def test_refusals_in_process_leave_no_module_open(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    """The same refusals through cli.main in this process: the module is finalised each time."""
    from byoroot_tui import cli
    from byoroot_tui.core import pkcs11 as p11

    argv = [str(setup.stick.csr), "--root-cert", str(setup.root_pem), "--pkcs11-module", setup.hsm.module, *f.OFFICERS]
    for uri, extra in (
        ("pkcs11:token=root;object=root-key", ["--pin-file", str(pin_file(setup.base, WRONG_PIN, "w.txt"))]),
        ("pkcs11:token=nope", ["--pin-file", str(setup.pin)]),
        ("pkcs11:token=root;object=nope", ["--pin-file", str(setup.pin)]),
    ):
        assert cli.main(["sign", *argv, "--pkcs11-uri", uri, *extra]) == 1
        assert p11._module_users == {}
    out, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 3 and PIN not in out + err and WRONG_PIN not in out + err
    assert cli.main(["sign", *argv, "--pkcs11-uri", "pkcs11:token=root;object=root-key",
                     "--pin-file", str(setup.pin)]) == 0
    assert p11._module_users == {}
    assert (setup.stick.folder / f.CERT_NAME).exists()
