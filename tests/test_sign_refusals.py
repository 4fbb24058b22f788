"""Every refusal of `byoroot sign`: exit 1, one line on stderr, no traceback, nothing written."""

from __future__ import annotations

import base64
import os
import re
import subprocess
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

import factories as f

MIB = 1024 * 1024


def _write_csr(c: f.Ceremony, csr: x509.CertificateSigningRequest, encoding: str = "PEM") -> None:
    c.csr.write_bytes(f.pem(csr) if encoding == "PEM" else f.der(csr))


def _openssl_sha1_csr(c: f.Ceremony) -> None:
    k = c.base / "sha1.key"
    k.write_bytes(f.key_bytes(f.key("rsa2048"), "PEM", "traditional"))
    subprocess.run(
        [f.openssl(), "req", "-new", "-key", str(k), "-subj", "/CN=SHA-1 Intermediate", "-sha1", "-out", str(c.csr)],
        check=True, capture_output=True,
    )
    k.unlink()
    assert b"CERTIFICATE REQUEST" in c.csr.read_bytes()


def _tampered_subject(c: f.Ceremony) -> None:
    der = f.der(f.make_csr(f.key("rsa2048")))
    assert der.count(b"Example Intermediate CA") == 1
    c.csr.write_bytes(der.replace(b"Example Intermediate CA", b"Exbmple Intermediate CA"))


def _big(c: f.Ceremony, path, content: bytes) -> None:  # type: ignore[no-untyped-def]
    path.write_bytes(content + b"\n" + b"#" * (MIB + 1 - len(content) - 1))
    assert path.stat().st_size == MIB + 1


def _other_root_key(c: f.Ceremony) -> None:
    c.root_key.write_bytes(f.key_bytes(f.key("p384", 2)))


def _root(c: f.Ceremony, **kw) -> None:  # type: ignore[no-untyped-def]
    c.write_root_cert(f.make_root(c.root_key_obj, **kw))


NOW = f.utcnow()

# name -> (how to break the ceremony, words the one-line reason must contain)
CASES = {
    # --- the CSR file
    "csr-empty": (lambda c: c.csr.write_bytes(b""), ["empty"]),
    "csr-whitespace": (lambda c: c.csr.write_bytes(b"  \n\t\n"), ["empty"]),
    "csr-truncated-pem": (lambda c: c.csr.write_bytes(c.csr.read_bytes()[: len(c.csr.read_bytes()) * 2 // 3]), ["truncated"]),
    "csr-truncated-der": (lambda c: c.csr.write_bytes(f.der(c.csr_obj)[:-10]), ["truncated"]),
    "csr-der-trailing-data": (lambda c: c.csr.write_bytes(f.der(c.csr_obj) + b"\x00\x00"), ["trailing data"]),
    "csr-garbage": (lambda c: c.csr.write_bytes(bytes(range(1, 256)) * 3), ["not a certificate request"]),
    "csr-garbage-der-like": (lambda c: c.csr.write_bytes(b"\x30\x82\x01\x00" + b"\xa5" * 256), ["not a valid certificate request"]),
    "csr-bad-base64": (
        lambda c: c.csr.write_bytes(b"-----BEGIN CERTIFICATE REQUEST-----\n!!!notbase64***\n-----END CERTIFICATE REQUEST-----\n"),
        ["base64"],
    ),
    "csr-mismatched-end": (
        lambda c: c.csr.write_bytes(c.csr.read_bytes().replace(b"END CERTIFICATE REQUEST", b"END CERTIFICATE")),
        ["END"],
    ),
    "csr-is-certificate-pem": (lambda c: c.csr.write_bytes(f.pem(c.root_cert_obj)), ["certificate, not a certificate request"]),
    "csr-is-certificate-der": (lambda c: c.csr.write_bytes(f.der(c.root_cert_obj)), ["certificate, not a certificate request"]),
    "csr-two-requests": (lambda c: c.csr.write_bytes(c.csr.read_bytes() * 2), ["2 certificate requests"]),
    "csr-request-and-certificate": (lambda c: c.csr.write_bytes(c.csr.read_bytes() + f.pem(c.root_cert_obj)), ["2 PEM blocks"]),
    "csr-other-pem-type": (
        lambda c: c.csr.write_bytes(c.csr.read_bytes().replace(b"CERTIFICATE REQUEST", b"PKCS7")),
        ["PEM block of type"],
    ),
    "csr-over-1mib": (lambda c: _big(c, c.csr, f.pem(c.csr_obj)), ["limit"]),
    "csr-missing": (lambda c: c.csr.unlink(), ["no such file"]),
    "csr-directory": (lambda c: (c.csr.unlink(), c.csr.mkdir()), ["directory"]),
    # --- the CSR's content
    "csr-invalid-signature-rsa": (lambda c: _write_csr(c, x509.load_der_x509_csr(f.flip_last_byte(f.der(f.make_csr(f.key("rsa2048")))))), ["self-signature"]),
    "csr-invalid-signature-ed25519": (lambda c: c.csr.write_bytes(f.flip_last_byte(f.der(f.make_csr(f.key("ed25519"))))), ["self-signature"]),
    "csr-tampered-subject": (_tampered_subject, ["self-signature"]),
    "csr-sha1-openssl": (_openssl_sha1_csr, ["SHA-1"]),
    "csr-rsa1024": (lambda c: _write_csr(c, f.make_csr(f.key("rsa1024"))), ["1024", "too small"]),
    "csr-rsa-exponent-3": (lambda c: _write_csr(c, f.make_csr(f.key("rsa2048e3"))), ["exponent"]),
    "csr-dsa": (lambda c: _write_csr(c, f.make_csr(f.key("dsa2048"))), ["DSA"]),
    "csr-p192": (lambda c: _write_csr(c, f.make_csr(f.key("p192"))), ["secp192r1", "not allowed"]),
    "csr-secp256k1": (lambda c: _write_csr(c, f.make_csr(f.key("k256"))), ["secp256k1", "not allowed"]),
    "csr-empty-subject": (lambda c: _write_csr(c, f.make_csr(f.key("p256"), subject=x509.Name([]))), ["subject is empty"]),
    "csr-subject-escape": (
        lambda c: _write_csr(c, f.make_csr(f.key("p256"), subject=f.name("Evil\x1b[31mCA"))), ["control characters"]),
    "csr-subject-bidi": (
        lambda c: _write_csr(c, f.make_csr(f.key("p256"), subject=f.name("Intermediate\u202eAC"))), ["control characters"]),
    "csr-subject-c1": (
        lambda c: _write_csr(c, f.make_csr(f.key("p256"), subject=f.name("ok", org="Org\x9b2J"))), ["control characters"]),
    "csr-unknown-critical-extension": (
        lambda c: _write_csr(c, f.make_csr(f.key("p256"), extensions=[
            (x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.9"), b"\x05\x00"), True)])),
        ["1.3.6.1.4.1.55555.9", "critical"],
    ),
    "csr-with-the-roots-own-key": (lambda c: _write_csr(c, f.make_csr(c.root_key_obj)), ["root's own public key"]),
    # --- the root certificate
    "root-key-cert-mismatch": (_other_root_key, ["does not match"]),
    "root-not-ca": (lambda c: _root(c, ca=False, ku=("digital_signature",)), ["not a CA"]),
    "root-no-basic-constraints": (lambda c: _root(c, ca=None), ["not a CA"]),
    "root-ku-without-keycertsign": (lambda c: _root(c, ku=("digital_signature", "crl_sign")), ["keyCertSign"]),
    "root-expired": (lambda c: _root(c, not_before=NOW - timedelta(days=800), not_after=NOW - timedelta(days=1)), ["expired"]),
    "root-not-yet-valid": (lambda c: _root(c, not_before=NOW + timedelta(days=2), not_after=NOW + timedelta(days=900)), ["not valid yet"]),
    "root-cert-is-key-pem": (lambda c: c.root_cert.write_bytes(f.key_bytes(c.root_key_obj)), ["private key"]),
    "root-cert-is-key-der": (lambda c: c.root_cert.write_bytes(f.key_bytes(c.root_key_obj, "DER")), ["not a certificate"]),
    "root-cert-is-csr": (lambda c: c.root_cert.write_bytes(c.csr.read_bytes()), ["not a certificate"]),
    "root-cert-two-certs": (lambda c: c.root_cert.write_bytes(f.pem(c.root_cert_obj) * 2), ["2 PEM blocks"]),
    "root-cert-garbage": (lambda c: c.root_cert.write_bytes(b"hello, world\n" * 20), ["not a certificate"]),
    "root-cert-empty": (lambda c: c.root_cert.write_bytes(b""), ["empty"]),
    "root-cert-over-1mib": (lambda c: _big(c, c.root_cert, f.pem(c.root_cert_obj)), ["limit"]),
    "root-cert-directory": (lambda c: (c.root_cert.unlink(), c.root_cert.mkdir()), ["directory"]),
    "root-weak-key": (lambda c: (c.write_root_cert(f.make_root(f.key("rsa1024"))),
                                 c.root_key.write_bytes(f.key_bytes(f.key("rsa1024")))), ["too small"]),
    # --- the root key file
    "root-key-is-cert": (lambda c: c.root_key.write_bytes(f.pem(c.root_cert_obj)), ["not a private key"]),
    "root-key-is-cert-der": (lambda c: c.root_key.write_bytes(f.der(c.root_cert_obj)), ["not a private key"]),
    "root-key-garbage": (lambda c: c.root_key.write_bytes(b"\x01\x02garbage" * 50), ["not a private key"]),
    "root-key-empty": (lambda c: c.root_key.write_bytes(b""), ["root key"]),
    "root-key-over-1mib": (lambda c: _big(c, c.root_key, f.key_bytes(c.root_key_obj)), ["limit"]),
    "root-key-directory": (lambda c: (c.root_key.unlink(), c.root_key.mkdir()), ["directory"]),
    "root-key-dsa": (lambda c: c.root_key.write_bytes(f.key_bytes(f.key("dsa2048"))), ["not supported"]),
    "root-key-two-keys": (lambda c: c.root_key.write_bytes(f.key_bytes(c.root_key_obj) * 2), ["2 PEM blocks"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_sign_refuses(case: str, ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    breaker, reason = CASES[case]
    breaker(c)
    before = f.listing(c.stick)
    r = cli(*c.sign_argv())
    f.assert_refusal(r, *reason)
    assert r.out == ""
    assert f.listing(c.stick) == before, "nothing may be written"
    assert f.temp_leftovers(c.base) == []


@pytest.mark.parametrize("case", ["csr-rsa1024", "csr-is-certificate-pem", "root-expired", "root-key-cert-mismatch"])
def test_sign_json_refusal(case: str, ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    import json

    c = ceremony()
    breaker, reason = CASES[case]
    breaker(c)
    r = cli(*c.sign_argv("--json"))
    f.assert_refusal(r, *reason)
    data = json.loads(r.out)
    assert data["ok"] is False
    assert data["error"] == r.err.strip().removeprefix("byoroot: ")
    assert not c.cert_path.exists()


# ----------------------------------------------------------------------------- a private key on the stick


KEY_AS_CSR = {
    "pem-pkcs8": lambda k: f.key_bytes(k, "PEM", "pkcs8"),
    "pem-traditional": lambda k: f.key_bytes(k, "PEM", "traditional"),
    "pem-encrypted": lambda k: f.key_bytes(k, "PEM", "pkcs8", b"pw"),
    "der-pkcs8": lambda k: f.key_bytes(k, "DER", "pkcs8"),
    "der-traditional": lambda k: f.key_bytes(k, "DER", "traditional"),
    "der-encrypted": lambda k: f.key_bytes(k, "DER", "pkcs8", b"pw"),
}


def _secret_chunks(blob: bytes) -> set[str]:
    """20-character chunks of the key as base64 and as hex (with and without colons)."""
    texts = []
    if b"-----BEGIN" in blob:
        body = b"".join(line for line in blob.splitlines() if not line.startswith(b"-----") and b":" not in line)
        texts.append(body.decode())
        raw = base64.b64decode(body)
    else:
        raw = blob
    texts += [base64.b64encode(raw).decode(), raw.hex(), raw.hex(":")]
    return {t[i : i + 20] for t in texts for i in range(0, max(1, len(t) - 20), 7)}


@pytest.mark.parametrize("form", sorted(KEY_AS_CSR))
@pytest.mark.parametrize("command", ["sign", "inspect", "inspect-json"])
def test_private_key_where_the_csr_belongs(form: str, command: str, ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    blob = KEY_AS_CSR[form](f.key("rsa2048", 5))
    c.csr.write_bytes(blob)
    before = f.listing(c.stick)
    argv = {"sign": c.sign_argv(), "inspect": ["inspect", c.csr], "inspect-json": ["inspect", c.csr, "--json"]}[command]
    r = cli(*argv)
    f.assert_refusal(r, "private key")
    leaked = [chunk for chunk in _secret_chunks(blob) if chunk in r.text]
    assert leaked == []
    assert f.listing(c.stick) == before


# ----------------------------------------------------------------------------- special files


def test_fifo_as_csr_does_not_hang(ceremony) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    c.csr.unlink()
    os.mkfifo(c.csr)
    for argv in (c.sign_argv(), ["inspect", c.csr]):
        p = f.run_proc([f.byoroot_exe(), *argv], timeout=30)  # a hang raises TimeoutExpired
        f.assert_refusal(f.Run(p.returncode, p.stdout.decode(), p.stderr.decode()), "FIFO")
    assert sorted(os.listdir(c.stick)) == ["request.csr"]


def test_fifo_as_root_key_does_not_hang(ceremony) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    c.root_key.unlink()
    os.mkfifo(c.root_key)
    p = f.run_proc([f.byoroot_exe(), *c.sign_argv()], timeout=30)
    f.assert_refusal(f.Run(p.returncode, p.stdout.decode(), p.stderr.decode()), "FIFO")
    assert not c.cert_path.exists()


def test_csr_exactly_1mib_is_read(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    """The cap is 1 MiB: a padded request of exactly 1 MiB is still read (text outside PEM: a warning)."""
    c = ceremony()
    body = f.pem(c.csr_obj)
    c.csr.write_bytes(body + b"\n" + b"#" * (MIB - len(body) - 1))
    assert c.csr.stat().st_size == MIB
    r = cli("inspect", c.csr)
    assert r.rc == 0, r.err
    assert "outside the PEM block" in r.out


def test_unknown_profile(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    f.assert_refusal(cli(*c.sign_argv("--profile", "no-such-profile")), "no profile")
    assert not c.cert_path.exists()


# ----------------------------------------------------------------------------- the PEM BEGIN line itself cut short


@pytest.mark.parametrize("cut", [10, 20, 33])
def test_pem_cut_inside_the_begin_line(cut: int, ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    c.csr.write_bytes(c.csr.read_bytes()[:cut])
    assert b"-----BEGIN" in c.csr.read_bytes() and not re.search(rb"-----BEGIN [^-]*-----", c.csr.read_bytes())
    r = cli(*c.sign_argv())
    f.assert_refusal(r)
    assert sorted(os.listdir(c.stick)) == ["request.csr"]


def test_control_characters_in_subject_are_refused_in_every_string_field(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    for ch in ("\x00", "\x07", "\x1b", "\r", "\n", "\x7f", "\x85", "\u200f", "\u2066"):
        subject = x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, "Intermediate"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"unit{ch}x"),
        ])
        c = ceremony(csr=f.make_csr(f.key("p256"), subject=subject))
        r = cli(*c.sign_argv())
        f.assert_refusal(r, "control characters")
        assert not c.cert_path.exists()
