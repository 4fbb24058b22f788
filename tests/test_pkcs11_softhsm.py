"""A real SoftHSM2 token per test, and the PKCS#11 signer against it.

Nothing here fakes PKCS#11: each test gets its own SoftHSM2 token folder (``SOFTHSM2_CONF``
points into the test's tmp_path), keys are generated on the token, root certificates are
self-signed by the token, and what the token signs is checked with `openssl verify`.

These tests FAIL (never skip) when SoftHSM2 is missing: CI installs it (`.ci/run`).
The helpers here (`SoftHsm`, the `hsm` fixture, `make_hsm_root`, `run_sign`) are shared with
test_pkcs11_refusals.py.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

import factories as f

# ----------------------------------------------------------------------------- SoftHSM2 on this machine

_MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)

MISSING = "SoftHSM2 is not installed (apt-get install softhsm2); the PKCS#11 tests never skip"


def softhsm_module() -> str:
    """The SoftHSM2 PKCS#11 module, found where Debian puts it (or via dpkg -L)."""
    for path in _MODULE_CANDIDATES:
        if os.path.isfile(path):
            return path
    for package in ("softhsm2", "libsofthsm2"):
        r = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True) if shutil.which("dpkg") else None
        if r is not None and r.returncode == 0:
            for line in r.stdout.splitlines():
                if line.endswith("/libsofthsm2.so") and os.path.isfile(line):
                    return line
    pytest.fail(MISSING)


def softhsm_util() -> str:
    path = shutil.which("softhsm2-util")
    if not path:
        pytest.fail(MISSING)
    return path


# SoftHSM2's file object store keeps the token flags as attribute CKA_OS_TOKENFLAGS
# (CKA_VENDOR_SOFTHSM + 3 = 0x8000534B) with value type "unsigned long" (2), all big-endian.
_TOKENFLAGS_RECORD = struct.pack(">QQ", 0x8000534B, 2)
CKF_PROTECTED_AUTHENTICATION_PATH = 0x100
CKF_USER_PIN_LOCKED = 0x40000

SO_PIN = "so-pin-6c1d"


@dataclass
class Key:
    label: str
    id: bytes
    kind: str


class SoftHsm:
    """One private SoftHSM2 installation: a config file and a token folder under tmp_path."""

    def __init__(self, base: Path, monkeypatch: pytest.MonkeyPatch, mechanisms: str = "ALL") -> None:
        self.module = softhsm_module()
        self.util = softhsm_util()
        self.base = base
        self.tokens = base / "softhsm-tokens"
        self.tokens.mkdir(parents=True)
        self.conf = base / "softhsm2.conf"
        self.conf.write_text(
            f"directories.tokendir = {self.tokens}\n"
            "objectstore.backend = file\n"
            "log.level = ERROR\n"
            "slots.removable = false\n"
            f"slots.mechanisms = {mechanisms}\n"
        )
        # Before the module is loaded: SoftHSM2 reads SOFTHSM2_CONF in C_Initialize, and
        # byoroot_tui.core.pkcs11 finalises the module whenever its last user closes.
        monkeypatch.setenv("SOFTHSM2_CONF", str(self.conf))

    # -- tokens

    def init_token(self, label: str, pin: str) -> None:
        r = subprocess.run(
            [self.util, "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", SO_PIN],
            capture_output=True, text=True, timeout=60, env=dict(os.environ),
        )
        assert r.returncode == 0, r.stderr + r.stdout

    def add_token_flags(self, flags: int) -> None:
        """Set flags on every token, as a real HSM would report them (SoftHSM2 never locks a PIN
        and has no PIN pad, so this is the honest way to show byoroot those states)."""
        paths = sorted(self.tokens.glob("*/token.object"))
        assert paths
        for path in paths:
            data = bytearray(path.read_bytes())
            at = data.find(_TOKENFLAGS_RECORD)
            assert at >= 0, "SoftHSM2's token file format changed"
            at += len(_TOKENFLAGS_RECORD)
            (old,) = struct.unpack(">Q", data[at : at + 8])
            data[at : at + 8] = struct.pack(">Q", old | flags)
            path.write_bytes(bytes(data))

    # -- keys, made on the token with python-pkcs11

    def session(self, label: str, pin: str):  # type: ignore[no-untyped-def]
        return _Session(self, label, pin)

    def generate(self, token: str, pin: str, kind: str, label: str, key_id: bytes, **private: object) -> Key:
        import pkcs11
        from pkcs11.util.ec import encode_named_curve_parameters

        A = pkcs11.Attribute
        private_template = {getattr(A, k.upper()): v for k, v in private.items()}
        with self.session(token, pin) as s:
            if kind.startswith("rsa"):
                s.generate_keypair(pkcs11.KeyType.RSA, int(kind[3:]), id=key_id, label=label, store=True,
                                   private_template=private_template)
            elif kind in ("p256", "p384", "p521", "secp256k1"):
                curve = {"p256": "secp256r1", "p384": "secp384r1", "p521": "secp521r1"}.get(kind, kind)
                params = s.create_domain_parameters(
                    pkcs11.KeyType.EC, {A.EC_PARAMS: encode_named_curve_parameters(curve)}, local=True)
                params.generate_keypair(id=key_id, label=label, store=True, private_template=private_template)
            elif kind == "ed25519":
                params = s.create_domain_parameters(
                    pkcs11.KeyType.EC_EDWARDS, {A.EC_PARAMS: encode_named_curve_parameters("1.3.101.112")},
                    local=True)
                params.generate_keypair(id=key_id, label=label, store=True,
                                        mechanism=pkcs11.Mechanism.EC_EDWARDS_KEY_PAIR_GEN)
            elif kind == "dsa2048":
                s.generate_domain_parameters(pkcs11.KeyType.DSA, 2048).generate_keypair(
                    id=key_id, label=label, store=True)
            else:
                raise ValueError(kind)
        return Key(label, key_id, kind)

    def mechanisms(self, token: str, pin: str) -> set[object]:
        with self.session(token, pin) as s:
            return set(s.token.slot.get_mechanisms())


class _Session:
    """A read-write user session, sharing byoroot's reference-counted module handle."""

    def __init__(self, hsm: SoftHsm, label: str, pin: str) -> None:
        self.hsm, self.label, self.pin = hsm, label, pin

    def __enter__(self):  # type: ignore[no-untyped-def]
        from byoroot_tui.core.pkcs11 import _acquire_module

        self.lib, self.real = _acquire_module(self.hsm.module)
        tok = self.lib.get_token(token_label=self.label)
        self.s = tok.open(rw=True, user_pin=self.pin)
        return self.s

    def __exit__(self, *exc: object) -> None:
        from byoroot_tui.core.pkcs11 import _release_module

        try:
            self.s.close()
        finally:
            _release_module(self.real, self.lib)


@pytest.fixture
def hsm(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    from byoroot_tui.core import pkcs11 as p11

    h = SoftHsm(tmp_path, monkeypatch)
    yield h
    leaked = dict(p11._module_users)
    for real in list(p11._module_users):  # do not let one failed test poison the next one's token
        import pkcs11

        p11._module_users.pop(real, None)
        try:
            pkcs11.lib(real).finalize()
        except Exception:
            pass
    assert not leaked, f"PKCS#11 module handles left open: {leaked}"


# ----------------------------------------------------------------------------- a root certificate made by the token


def make_hsm_root(
    hsm: SoftHsm,
    token: str,
    pin: str,
    key: Key,
    path: Path,
    hash_alg: hashes.HashAlgorithm | None = None,
    cn: str = "HSM Test Root CA",
) -> x509.Certificate:
    """A self-signed root whose signature comes from the token.

    The TBS is built by `cryptography` with a throwaway key of the same algorithm (so the TBS
    names the right signature algorithm); the token then signs those TBS bytes through
    byoroot's `Pkcs11Signer`, and the certificate is assembled with the tests' own DER helpers.
    """
    from byoroot_tui.core.pkcs11 import Pkcs11Signer, format_pkcs11_uri

    hash_alg = hash_alg or hashes.SHA384()
    uri = format_pkcs11_uri(token=token, object=key.label, id=key.id)
    with Pkcs11Signer(uri, module_path=hsm.module, pin_prompt=lambda: bytearray(pin.encode())) as signer:
        public = signer.public_key()
        throwaway = f.key("rsa2048") if isinstance(public, rsa.RSAPublicKey) else f.key("p256")
        now = f.utcnow()
        subject = f.name(cn, org="HSM Root Org")
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(public)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365 * 20))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(f.key_usage(*f.ROOT_KU), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)  # type: ignore[arg-type]
        )
        lint = builder.sign(throwaway, hash_alg)
        tbs, alg, _ = f.der_items(f.der(lint))
        signature = signer.sign(tbs, hash_alg)
    cert = x509.load_der_x509_certificate(f.tlv(0x30, tbs + alg + f.tlv(0x03, b"\x00" + signature)))
    path.write_bytes(f.pem(cert))
    return cert


# ----------------------------------------------------------------------------- running byoroot


@dataclass
class Stick:
    folder: Path
    csr: Path
    csr_obj: x509.CertificateSigningRequest
    csr_key: object


def make_stick(base: Path, kind: str = "p384", cn: str = "Hosted Intermediate CA") -> Stick:
    folder = base / "stick"
    folder.mkdir()
    key = f.key(kind)
    csr = f.make_csr(key, subject=f.name(cn))
    path = folder / "intermediate.csr"
    path.write_bytes(f.pem(csr))
    return Stick(folder, path, csr, key)


def run_sign(*argv: object, stdin=subprocess.DEVNULL) -> f.Run:  # type: ignore[no-untyped-def]
    """`byoroot sign …` in a real process (the environment, SOFTHSM2_CONF included, is inherited)."""
    r = f.run_proc(f.with_officers([f.byoroot_exe(), "sign", *argv]), stdin=stdin, timeout=120)
    return f.Run(r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace"))


def assert_no_secret(run: f.Run, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in run.out and secret not in run.err, "a PIN reached the output"


def pin_file(base: Path, pin: str, name: str = "pin.txt") -> Path:
    p = base / name
    p.write_text(pin + "\n")
    p.chmod(0o600)
    return p


PIN = "pin-4f9c2a71"


def check_issued(stick: Stick, root_pem: Path, root_cert: x509.Certificate, t0, t1) -> x509.Certificate:  # type: ignore[no-untyped-def]
    """intermediate.crt chains with `openssl verify -x509_strict`, lints clean, has the profile's content."""
    cert_path = stick.folder / f.CERT_NAME
    data = cert_path.read_bytes()
    cert = x509.load_pem_x509_certificate(data)
    assert data.count(b"-----BEGIN") == 1
    f.assert_openssl_ok(root_pem, cert_path)
    leaf = f.make_leaf(cert, stick.csr_key)
    leaf_path = stick.folder.parent / "leaf.pem"
    leaf_path.write_bytes(f.pem(leaf))
    f.assert_openssl_ok(root_pem, leaf_path, untrusted=cert_path)
    assert f.pkilint_problems(f.der(cert)) == []
    f.assert_profile_content(cert, stick.csr_obj, root_cert, None, t0, t1)
    return cert


# ----------------------------------------------------------------------------- the issue's two roots, end to end


def test_rsa3072_root_in_softhsm_issues_an_intermediate(hsm: SoftHsm, tmp_path: Path) -> None:
    hsm.init_token("byoroot-rsa", PIN)
    key = hsm.generate("byoroot-rsa", PIN, "rsa3072", "root-key", b"\x01")
    root_pem = tmp_path / "root.pem"
    root = make_hsm_root(hsm, "byoroot-rsa", PIN, key, root_pem, hashes.SHA256())
    f.assert_openssl_ok(root_pem, root_pem)  # the token's self-signature, checked by openssl
    assert isinstance(root.public_key(), rsa.RSAPublicKey) and root.public_key().key_size == 3072
    stick = make_stick(tmp_path, "p384")
    t0 = f.utcnow()
    run = run_sign(stick.csr, "--root-cert", root_pem, "--pkcs11-uri", "pkcs11:token=byoroot-rsa;object=root-key",
                   "--pin-file", pin_file(tmp_path, PIN), "--pkcs11-module", hsm.module)
    t1 = f.utcnow()
    assert run.rc == 0, run.err
    assert run.err == ""
    assert_no_secret(run, PIN)
    cert = check_issued(stick, root_pem, root, t0, t1)
    assert cert.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.RSA_WITH_SHA512


def test_p384_root_in_softhsm_issues_an_intermediate(hsm: SoftHsm, tmp_path: Path) -> None:
    """Module from the URI's module-path, key chosen by id, ECDSA with SHA-512 (hashed locally:
    SoftHSM2 has no CKM_ECDSA_SHA512)."""
    import pkcs11

    hsm.init_token("byoroot-ec", PIN)
    key = hsm.generate("byoroot-ec", PIN, "p384", "root-key", b"\x0a\x0b")
    assert not hasattr(pkcs11.Mechanism, "ECDSA_SHA512") or pkcs11.Mechanism.ECDSA_SHA512 not in hsm.mechanisms(
        "byoroot-ec", PIN)
    root_pem = tmp_path / "root.pem"
    root = make_hsm_root(hsm, "byoroot-ec", PIN, key, root_pem, hashes.SHA384())
    f.assert_openssl_ok(root_pem, root_pem)
    stick = make_stick(tmp_path, "rsa3072")
    t0 = f.utcnow()
    uri = f"pkcs11:token=byoroot-ec;id=%0A%0B;type=private?module-path={hsm.module}"
    run = run_sign(stick.csr, "--root-cert", root_pem, "--pkcs11-uri", uri, "--pin-file", pin_file(tmp_path, PIN))
    t1 = f.utcnow()
    assert run.rc == 0, run.err
    assert_no_secret(run, PIN)
    cert = check_issued(stick, root_pem, root, t0, t1)
    assert cert.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.ECDSA_WITH_SHA512


def test_pin_value_in_the_uri_works_and_is_never_printed(hsm: SoftHsm, tmp_path: Path) -> None:
    hsm.init_token("byoroot-ec", PIN)
    key = hsm.generate("byoroot-ec", PIN, "p256", "root-key", b"\x01")
    root_pem = tmp_path / "root.pem"
    root = make_hsm_root(hsm, "byoroot-ec", PIN, key, root_pem)
    stick = make_stick(tmp_path, "p256")
    t0 = f.utcnow()
    run = run_sign(stick.csr, "--root-cert", root_pem, "--json", "--pkcs11-module", hsm.module,
                   "--pkcs11-uri", f"pkcs11:token=byoroot-ec;object=root-key?pin-value={PIN}")
    t1 = f.utcnow()
    assert run.rc == 0, run.err
    assert_no_secret(run, PIN)
    check_issued(stick, root_pem, root, t0, t1)


def test_pin_source_file_in_the_uri(hsm: SoftHsm, tmp_path: Path) -> None:
    hsm.init_token("byoroot-ec", PIN)
    key = hsm.generate("byoroot-ec", PIN, "p521", "root-key", b"\x01")
    root_pem = tmp_path / "root.pem"
    root = make_hsm_root(hsm, "byoroot-ec", PIN, key, root_pem, hashes.SHA512())
    stick = make_stick(tmp_path, "p256")
    source = pin_file(tmp_path, PIN)
    t0 = f.utcnow()
    run = run_sign(stick.csr, "--root-cert", root_pem, "--pkcs11-module", hsm.module,
                   "--pkcs11-uri", f"pkcs11:token=byoroot-ec;object=root-key?pin-source=file://{source}")
    t1 = f.utcnow()
    assert run.rc == 0, run.err
    check_issued(stick, root_pem, root, t0, t1)


# ----------------------------------------------------------------------------- every key kind x every hash, in process


@pytest.mark.parametrize("kind", ["rsa2048", "p256", "p384", "p521"])
def test_signer_key_kinds_and_hashes_checked_by_openssl(hsm: SoftHsm, tmp_path: Path, kind: str) -> None:
    """RSA PKCS#1 v1.5 and ECDSA with SHA-256/384/512: self-signed roots verified by openssl."""
    hsm.init_token("kinds", PIN)
    key = hsm.generate("kinds", PIN, kind, f"{kind}-key", b"\x07")
    for hash_alg in (hashes.SHA256(), hashes.SHA384(), hashes.SHA512()):
        path = tmp_path / f"root-{hash_alg.name}.pem"
        cert = make_hsm_root(hsm, "kinds", PIN, key, path, hash_alg)
        assert cert.signature_hash_algorithm is not None and cert.signature_hash_algorithm.name == hash_alg.name
        f.assert_openssl_ok(path, path)


def test_rsa_without_combined_mechanisms_hashes_locally(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A token offering only raw CKM_RSA_PKCS (SoftHSM2 restricted by slots.mechanisms): byoroot
    hashes locally and signs a DigestInfo; the result is the same PKCS#1 v1.5 signature."""
    import pkcs11

    from byoroot_tui.core import pkcs11 as p11

    raw_only = "CKM_RSA_PKCS,CKM_RSA_PKCS_KEY_PAIR_GEN,CKM_EC_KEY_PAIR_GEN,CKM_ECDSA"
    h = SoftHsm(tmp_path, monkeypatch, mechanisms=raw_only)
    try:
        h.init_token("raw", PIN)
        key = h.generate("raw", PIN, "rsa3072", "root-key", b"\x01")
        mechanisms = h.mechanisms("raw", PIN)
        assert pkcs11.Mechanism.RSA_PKCS in mechanisms
        assert not {pkcs11.Mechanism.SHA256_RSA_PKCS, pkcs11.Mechanism.SHA512_RSA_PKCS} & mechanisms
        root_pem = tmp_path / "root.pem"
        root = make_hsm_root(h, "raw", PIN, key, root_pem, hashes.SHA256())
        f.assert_openssl_ok(root_pem, root_pem)
        stick = make_stick(tmp_path, "p256")
        t0 = f.utcnow()
        run = run_sign(stick.csr, "--root-cert", root_pem, "--pkcs11-uri", "pkcs11:token=raw;object=root-key",
                       "--pin-file", pin_file(tmp_path, PIN), "--pkcs11-module", h.module)
        t1 = f.utcnow()
        assert run.rc == 0, run.err
        check_issued(stick, root_pem, root, t0, t1)
    finally:
        assert not p11._module_users


def test_key_that_wants_its_pin_for_each_signature(hsm: SoftHsm, tmp_path: Path) -> None:
    """CKA_ALWAYS_AUTHENTICATE (SoftHSM2 enforces it): byoroot logs in again before signing."""
    hsm.init_token("always", PIN)
    key = hsm.generate("always", PIN, "p384", "root-key", b"\x01", always_authenticate=True)
    root_pem = tmp_path / "root.pem"
    root = make_hsm_root(hsm, "always", PIN, key, root_pem)
    stick = make_stick(tmp_path, "p256")
    t0 = f.utcnow()
    run = run_sign(stick.csr, "--root-cert", root_pem, "--pkcs11-uri", "pkcs11:token=always;object=root-key",
                   "--pin-file", pin_file(tmp_path, PIN), "--pkcs11-module", hsm.module)
    t1 = f.utcnow()
    assert run.rc == 0, run.err
    assert_no_secret(run, PIN)
    check_issued(stick, root_pem, root, t0, t1)


def test_pin_pad_token_is_never_asked_for_a_pin(hsm: SoftHsm, tmp_path: Path) -> None:
    """A token with CKF_PROTECTED_AUTHENTICATION_PATH: the PIN source is not called, the officer is
    told to use the pad, and the login goes to the token with no PIN. SoftHSM2 has no pad, so it
    rejects that login: one line, nothing written."""
    from byoroot_tui.core.errors import ByorootError
    from byoroot_tui.core.pkcs11 import Pkcs11Signer, list_tokens

    hsm.init_token("pad", PIN)
    key = hsm.generate("pad", PIN, "p256", "root-key", b"\x01")
    root_pem = tmp_path / "root.pem"
    make_hsm_root(hsm, "pad", PIN, key, root_pem)
    hsm.add_token_flags(CKF_PROTECTED_AUTHENTICATION_PATH)
    (info,) = [t for t in list_tokens(hsm.module) if t.label == "pad"]
    assert info.protected_auth and "PIN pad" in info.state

    asked: list[int] = []
    notices: list[str] = []

    def prompt() -> bytearray:
        asked.append(1)
        return bytearray(PIN.encode())

    with pytest.raises(ByorootError) as err:
        Pkcs11Signer("pkcs11:token=pad;object=root-key", module_path=hsm.module, pin_prompt=prompt,
                     notice=notices.append)
    assert asked == []
    assert notices and "PIN pad" in notices[0]
    assert "PIN pad" in str(err.value) and "\n" not in str(err.value)

    stick = make_stick(tmp_path, "p256")
    before = f.listing(stick.folder)
    run = run_sign(stick.csr, "--root-cert", root_pem, "--pkcs11-uri", "pkcs11:token=pad;object=root-key",
                   "--pkcs11-module", hsm.module)
    assert run.rc == 1 and "Traceback" not in run.err
    err_lines = run.err.strip().splitlines()
    assert err_lines[0].startswith("Enter the PIN on the PIN pad")
    assert len(err_lines) == 2 and err_lines[1].startswith("byoroot: ")
    assert f.listing(stick.folder) == before


def test_pin_pad_token_with_an_explicit_pin_file_logs_in_with_it(hsm: SoftHsm, tmp_path: Path) -> None:
    hsm.init_token("pad", PIN)
    key = hsm.generate("pad", PIN, "p256", "root-key", b"\x01")
    root_pem = tmp_path / "root.pem"
    root = make_hsm_root(hsm, "pad", PIN, key, root_pem)
    hsm.add_token_flags(CKF_PROTECTED_AUTHENTICATION_PATH)
    stick = make_stick(tmp_path, "p256")
    t0 = f.utcnow()
    run = run_sign(stick.csr, "--root-cert", root_pem, "--pkcs11-uri", "pkcs11:token=pad;object=root-key",
                   "--pin-file", pin_file(tmp_path, PIN), "--pkcs11-module", hsm.module)
    t1 = f.utcnow()
    assert run.rc == 0, run.err
    check_issued(stick, root_pem, root, t0, t1)


def test_public_key_from_a_certificate_when_the_token_has_no_public_key_object(
    hsm: SoftHsm, tmp_path: Path
) -> None:
    """Some tokens keep only the private key and its certificate: the EC point comes from the
    certificate with the same CKA_ID."""
    import pkcs11

    hsm.init_token("certonly", PIN)
    key = hsm.generate("certonly", PIN, "p384", "root-key", b"\x05")
    root_pem = tmp_path / "root.pem"
    root = make_hsm_root(hsm, "certonly", PIN, key, root_pem)
    with hsm.session("certonly", PIN) as s:
        s.get_key(object_class=pkcs11.ObjectClass.PUBLIC_KEY, label="root-key").destroy()
        s.create_object({
            pkcs11.Attribute.CLASS: pkcs11.ObjectClass.CERTIFICATE,
            pkcs11.Attribute.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509,
            pkcs11.Attribute.TOKEN: True,
            pkcs11.Attribute.ID: b"\x05",
            pkcs11.Attribute.LABEL: "root-cert",
            pkcs11.Attribute.SUBJECT: root.subject.public_bytes(),
            pkcs11.Attribute.VALUE: f.der(root),
        })
    stick = make_stick(tmp_path, "p256")
    t0 = f.utcnow()
    run = run_sign(stick.csr, "--root-cert", root_pem, "--pkcs11-uri", "pkcs11:token=certonly;object=root-key",
                   "--pin-file", pin_file(tmp_path, PIN), "--pkcs11-module", hsm.module)
    t1 = f.utcnow()
    assert run.rc == 0, run.err
    check_issued(stick, root_pem, root, t0, t1)


# ----------------------------------------------------------------------------- listings for the app


def test_list_tokens_and_keys(hsm: SoftHsm) -> None:
    from byoroot_tui.core.pkcs11 import list_private_keys, list_tokens, parse_pkcs11_uri

    hsm.init_token("one", PIN)
    hsm.init_token("two", PIN)
    hsm.generate("one", PIN, "rsa2048", "rsa-root", b"\x01")
    hsm.generate("one", PIN, "p384", "ec-root", b"\x02")
    hsm.generate("one", PIN, "ed25519", "ed-key", b"\x03")
    hsm.generate("one", PIN, "secp256k1", "k1-key", b"\x04")

    tokens = list_tokens(hsm.module)
    labels = sorted(t.label for t in tokens if t.initialized)
    assert labels == ["one", "two"]
    assert any(not t.initialized for t in tokens), "SoftHSM2 always offers one free slot"
    one = next(t for t in tokens if t.label == "one")
    assert one.serial and one.manufacturer == "SoftHSM project" and one.model == "SoftHSM v2"
    assert one.login_required and not one.protected_auth and not one.pin_locked
    assert parse_pkcs11_uri(one.uri()).serial == one.serial

    with_pin = {k.label: k for k in list_private_keys(hsm.module, one, pin=lambda: bytearray(PIN.encode()))}
    assert set(with_pin) == {"rsa-root", "ec-root", "ed-key", "k1-key"}
    assert all(k.source == "private key" for k in with_pin.values())
    assert (with_pin["rsa-root"].key_type, with_pin["rsa-root"].size, with_pin["rsa-root"].id_hex) == (
        "RSA", "2048 bits", "01")
    assert (with_pin["ec-root"].key_type, with_pin["ec-root"].size, with_pin["ec-root"].usable) == (
        "ECDSA", "P-384", True)
    assert not with_pin["ed-key"].usable and "EdDSA" in (with_pin["ed-key"].problem or "")
    assert not with_pin["k1-key"].usable and "secp256k1" in (with_pin["k1-key"].problem or "")
    uri = parse_pkcs11_uri(with_pin["ec-root"].uri(one))
    assert (uri.token, uri.object, uri.id, uri.type) == ("one", "ec-root", b"\x02", "private")

    without_pin = {k.label: k for k in list_private_keys(hsm.module, "one")}
    assert set(without_pin) == set(with_pin)
    assert all(k.source == "public key" for k in without_pin.values())
    assert without_pin["ec-root"].size == "P-384"


def test_signing_with_a_key_file_never_loads_python_pkcs11(ceremony, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    probe = (
        "import sys\n"
        "from byoroot_tui.cli import main\n"
        "rc = main(sys.argv[1:])\n"
        "print('LOADED' if any(m == 'pkcs11' or m.startswith('pkcs11.') for m in sys.modules) else 'NOT LOADED')\n"
        "sys.exit(rc)\n"
    )
    r = subprocess.run([sys.executable, "-c", probe, "sign", str(c.csr), "--root-cert", str(c.root_cert),
                        "--root-key", str(c.root_key), *f.OFFICERS], capture_output=True, text=True, timeout=120,
                       cwd=f.REPO)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("NOT LOADED")


def test_pin_prompt_on_a_terminal_does_not_echo(hsm: SoftHsm, tmp_path: Path) -> None:
    """With a terminal on stdin and no other PIN source, byoroot asks for the PIN without echo."""
    import select

    hsm.init_token("prompt", PIN)
    key = hsm.generate("prompt", PIN, "p384", "root-key", b"\x01")
    root_pem = tmp_path / "root.pem"
    root = make_hsm_root(hsm, "prompt", PIN, key, root_pem)
    stick = make_stick(tmp_path, "p256")
    master, slave = os.openpty()
    t0 = f.utcnow()
    proc = subprocess.Popen(
        [str(f.byoroot_exe()), "sign", str(stick.csr), "--root-cert", str(root_pem),
         "--pkcs11-uri", "pkcs11:token=prompt;object=root-key", "--pkcs11-module", hsm.module, *f.OFFICERS],
        stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,  # no controlling terminal: getpass uses stdin (the pty), not /dev/tty
        cwd=f.REPO,
    )
    os.close(slave)
    try:
        assert proc.stderr is not None
        seen = b""
        while b"Token user PIN: " not in seen:  # type the PIN only once echo is off
            ready, _, _ = select.select([proc.stderr], [], [], 60)
            assert ready, f"no PIN prompt; stderr so far: {seen!r}"
            chunk = os.read(proc.stderr.fileno(), 1024)
            assert chunk, f"byoroot ended before prompting: {seen!r}"
            seen += chunk
        os.write(master, PIN.encode() + b"\n")
        out, err = proc.communicate(timeout=120)
        echoed = b""
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            echoed += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    t1 = f.utcnow()
    assert proc.returncode == 0, (seen + err).decode()
    assert PIN.encode() not in echoed + out + seen + err
    check_issued(stick, root_pem, root, t0, t1)
