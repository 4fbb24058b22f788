"""core.keyref: where the root key is (a file or a key in a token), opened with a typed secret that is
always wiped. Real keys, a real SoftHSM2 token; no Textual."""

from __future__ import annotations

from pathlib import Path

import pytest

import factories as f
from byoroot_tui.core.errors import ByorootError, KeyUnusable
from byoroot_tui.core.keyref import HsmKey, KeyFile, check_key, default_module_path, open_signer, sign_with_key
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


# ------------------------------------------------------------------ sign_with_key: whose fault a refusal is


def planned(tmp_path: Path, kind: str = "p384"):  # type: ignore[no-untyped-def]
    from byoroot_tui.core.csr import load_csr
    from byoroot_tui.core.issue import make_plan
    from byoroot_tui.core.profiles import DEFAULT_PROFILE

    cert, key_path, _ = file_root(tmp_path, kind)
    csr = tmp_path / "intermediate.csr"
    csr.write_bytes(f.pem(f.make_csr(f.key("p256", slot=2))))
    return cert, key_path, make_plan(load_csr(csr), DEFAULT_PROFILE, load_root(cert))


def test_sign_with_key_signs_a_certificate_openssl_accepts_and_wipes_the_secret(tmp_path: Path) -> None:
    cert, key_path, plan = planned(tmp_path)
    secret = bytearray(PASS)
    stages: list[str] = []
    issued = sign_with_key(KeyFile(key_path), secret, plan, stages.append)
    assert secret == bytearray(len(PASS)) and stages == ["sign", "drop"]
    out = tmp_path / "intermediate.crt"
    out.write_bytes(issued.pem)
    f.assert_openssl_ok(cert, out)


@pytest.mark.parametrize("case", ["wrong passphrase", "no passphrase", "not a key", "another key"])
def test_sign_with_key_blames_the_key_when_it_cannot_be_opened_or_is_not_the_roots(tmp_path: Path, case: str) -> None:
    _, key_path, plan = planned(tmp_path)
    secret: bytearray | None = bytearray(b"not-it-93b1") if case == "wrong passphrase" else bytearray(PASS)
    if case == "no passphrase":
        secret = None
    elif case == "not a key":
        key_path.write_text("the key file was damaged meanwhile\n")
    elif case == "another key":
        key_path.write_bytes(f.key_bytes(f.key("p384", slot=1)))
        secret = None
    stages: list[str] = []
    with pytest.raises(KeyUnusable) as err:
        sign_with_key(KeyFile(key_path), secret, plan, stages.append)
    assert "\n" not in str(err.value) and "not-it-93b1" not in str(err.value)
    assert "sign" not in stages  # nothing reached the signature
    if secret is not None:
        assert secret == bytearray(len(secret))


def test_sign_with_key_blames_the_key_when_the_signer_fails_mid_signature(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from byoroot_tui.core import signer as signer_mod

    _, key_path, plan = planned(tmp_path)

    def pulled(self, tbs, hash_algorithm):  # type: ignore[no-untyped-def]
        raise ByorootError("the token was removed while signing")

    monkeypatch.setattr(signer_mod.FileSigner, "sign", pulled)  # a fault injected; the key and plan are real
    with pytest.raises(KeyUnusable, match="the token was removed while signing"):
        sign_with_key(KeyFile(key_path), bytearray(PASS), plan)


def test_sign_with_key_keeps_a_refusal_of_the_plan_as_it_is(tmp_path: Path) -> None:
    import dataclasses

    from byoroot_tui.core.errors import PolicyRefused

    _, key_path, plan = planned(tmp_path)
    tampered = dataclasses.replace(plan, tbs=plan.tbs[:-1] + bytes([plan.tbs[-1] ^ 1]))
    with pytest.raises(PolicyRefused, match="not the one that was linted") as err:
        sign_with_key(KeyFile(key_path), bytearray(PASS), tampered)
    assert not isinstance(err.value, KeyUnusable)


# ------------------------------------------------------------------ a damaged RSA key never lets out a bad signature


def _damaged_rsa_key(key, *, d: bool, crt: bool) -> bytes:  # type: ignore[no-untyped-def]
    """The same public key with private parts damaged: ``crt`` spoils dmp1 and dmq1, ``d`` spoils d."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    n = key.private_numbers()
    damaged = rsa.RSAPrivateNumbers(
        p=n.p, q=n.q, d=n.d ^ 2 if d else n.d,
        dmp1=n.dmp1 ^ 2 if crt else n.dmp1, dmq1=n.dmq1 ^ 2 if crt else n.dmq1,
        iqmp=n.iqmp, public_numbers=n.public_numbers,
    ).private_key(unsafe_skip_rsa_key_validation=True)
    return f.key_bytes(damaged, password=PASS)


def test_a_damaged_rsa_key_never_lets_out_a_signature_that_does_not_verify(tmp_path: Path) -> None:
    cert, key_path, plan = planned(tmp_path, "rsa2048")
    key_path.write_bytes(_damaged_rsa_key(f.key("rsa2048"), d=True, crt=True))
    secret = bytearray(PASS)
    with pytest.raises(KeyUnusable, match="does not verify: the key file is damaged") as err:
        sign_with_key(KeyFile(key_path), secret, plan)
    assert "\n" not in str(err.value) and secret == bytearray(len(PASS))


def test_a_damaged_rsa_crt_part_still_signs_correctly(tmp_path: Path) -> None:
    # OpenSSL checks each CRT result with the public exponent and falls back to d: the signature is
    # right, and openssl accepts the certificate.
    cert, key_path, plan = planned(tmp_path, "rsa2048")
    key_path.write_bytes(_damaged_rsa_key(f.key("rsa2048"), d=False, crt=True))
    issued = sign_with_key(KeyFile(key_path), bytearray(PASS), plan)
    out = tmp_path / "intermediate.crt"
    out.write_bytes(issued.pem)
    f.assert_openssl_ok(cert, out)
