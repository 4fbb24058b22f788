"""core.keyref: where the root key is (a file or a key in a token), opened with a typed secret that is
always wiped. Real keys, a real SoftHSM2 token; no Textual."""

from __future__ import annotations

from pathlib import Path

import pytest

import factories as f
from byoroot_tui.core.errors import ByorootError
from byoroot_tui.core.keyref import HsmKey, KeyFile, check_key, default_module_path, open_signer
from byoroot_tui.core.pkcs11 import parse_pkcs11_uri
from byoroot_tui.core.root import load_root
from test_pkcs11_softhsm import PIN, SoftHsm, hsm, make_hsm_root  # noqa: F401

PASS = b"root passphrase 7c1e"


def file_root(tmp_path: Path, kind: str = "p384") -> tuple[Path, Path, object]:
    key = f.key(kind)
    cert = tmp_path / "root.pem"
    cert.write_bytes(f.pem(f.make_root(key)))
    key_path = tmp_path / "root.key"
    key_path.write_bytes(f.key_bytes(key, password=PASS))
    return cert, key_path, key


def test_key_file_opens_checks_and_the_passphrase_is_wiped(tmp_path: Path) -> None:
    cert, key_path, _ = file_root(tmp_path)
    root = load_root(cert)
    secret = bytearray(PASS)
    assert "key file" in check_key(KeyFile(key_path), root, secret)
    assert secret == bytearray(len(PASS))  # wiped


@pytest.mark.parametrize("typed", [b"not-it-93b1", None])
def test_key_file_refusals_wipe_the_secret_and_never_say_it(tmp_path: Path, typed: bytes | None) -> None:
    cert, key_path, _ = file_root(tmp_path)
    root = load_root(cert)
    secret = bytearray(typed) if typed else None
    with pytest.raises(ByorootError) as err:
        check_key(KeyFile(key_path), root, secret)
    assert "\n" not in str(err.value)
    if typed:
        assert secret == bytearray(len(typed)) and typed.decode() not in str(err.value)


def test_another_key_file_does_not_match_the_root(tmp_path: Path) -> None:
    cert, _, _ = file_root(tmp_path)
    other = tmp_path / "other.key"
    other.write_bytes(f.key_bytes(f.key("p384", slot=1)))
    with pytest.raises(ByorootError, match="does not match the root certificate"):
        check_key(KeyFile(other), load_root(cert), None)


def test_hsm_key_opens_on_softhsm_and_the_pin_is_wiped(hsm: SoftHsm, tmp_path: Path) -> None:  # noqa: F811
    from byoroot_tui.core.pkcs11 import list_private_keys, list_tokens

    hsm.init_token("ref-token", PIN)
    key = hsm.generate("ref-token", PIN, "p384", "root-key", b"\x07")
    root_pem = tmp_path / "root.pem"
    make_hsm_root(hsm, "ref-token", PIN, key, root_pem)
    (token,) = [t for t in list_tokens(hsm.module) if t.label == "ref-token"]
    (info,) = list_private_keys(hsm.module, token)
    ref = HsmKey.chosen(hsm.module, token, info)
    uri = parse_pkcs11_uri(ref.uri())
    assert (uri.token, uri.serial, uri.object, uri.id, uri.type, uri.pin_value) == (
        "ref-token", token.serial, "root-key", b"\x07", "private", None)
    assert "P-384" in ref.describe() and "ref-token" in ref.describe()

    secret = bytearray(PIN.encode())
    described = check_key(ref, load_root(root_pem), secret)
    assert secret == bytearray(len(PIN)) and "root-key" in described and PIN not in described

    wrong = bytearray(b"not-the-pin")
    with pytest.raises(ByorootError) as err:
        open_signer(ref, wrong)
    assert wrong == bytearray(len(b"not-the-pin")) and "PIN" in str(err.value) and "not-the-pin" not in str(err.value)


def test_default_module_path_prefers_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BYOROOT_PKCS11_MODULE", str(tmp_path / "vendor.so"))
    assert default_module_path() == str(tmp_path / "vendor.so")
    monkeypatch.delenv("BYOROOT_PKCS11_MODULE")
    found = default_module_path()
    assert found is None or Path(found).is_file()
