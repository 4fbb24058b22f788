"""`byoroot sign` input formats: CSR PEM/DER, root key PEM/DER, PKCS#8/traditional, encrypted or not."""

from __future__ import annotations

import os
import subprocess

import pytest

import factories as f

PASS = b"correct horse battery staple"


@pytest.mark.parametrize("encoding", ["PEM", "DER"])
def test_csr_pem_and_der(encoding: str, ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony(csr_encoding=encoding, root_kind="rsa2048", csr_kind="p384")
    t0 = f.utcnow()
    r = cli(*c.sign_argv())
    assert r.rc == 0, r.err
    f.assert_good_intermediate(c, t0, f.utcnow())


def test_root_certificate_in_der(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    c.root_cert.write_bytes(f.der(c.root_cert_obj))
    t0 = f.utcnow()
    r = cli(*c.sign_argv())
    assert r.rc == 0, r.err
    f.assert_good_intermediate(c, t0, f.utcnow())


def test_csr_with_new_certificate_request_label(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    c.csr.write_bytes(c.csr.read_bytes().replace(b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST"))
    r = cli(*c.sign_argv())
    assert r.rc == 0, r.err


KEY_FORMATS = [
    (kind, encoding, fmt, encrypted)
    for kind in ("rsa2048", "p384", "ed25519")
    for encoding in ("PEM", "DER")
    for fmt in ("pkcs8", "traditional")
    for encrypted in (False, True)
    # Ed25519 has no traditional format; DER traditional keys cannot be encrypted.
    if not (kind == "ed25519" and fmt == "traditional") and not (encoding == "DER" and fmt == "traditional" and encrypted)
]


@pytest.mark.parametrize("kind,encoding,fmt,encrypted", KEY_FORMATS)
def test_root_key_formats(kind, encoding, fmt, encrypted, ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    rkey = f.key(kind, 1)
    data = f.key_bytes(rkey, encoding, fmt, PASS if encrypted else None)
    if encoding == "PEM" and fmt == "traditional" and encrypted:
        assert b"Proc-Type: 4,ENCRYPTED" in data
    c = ceremony(root_kind=kind, root_key_bytes=data)
    extra = []
    if encrypted:
        pf = c.station / "pass.txt"
        pf.write_bytes(PASS + b"\n")  # with the trailing newline an editor adds
        extra = ["--passphrase-file", pf]
    t0 = f.utcnow()
    r = cli(*c.sign_argv(*extra))
    assert r.rc == 0, r.err
    f.assert_good_intermediate(c, t0, f.utcnow(), lint=False)


@pytest.mark.parametrize("tool", ["rsa", "ec"])
def test_root_key_encrypted_by_openssl_traditional(tool, ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    """A key written by `openssl rsa|ec -aes256` ("Proc-Type: 4,ENCRYPTED", DEK-Info)."""
    kind = "rsa2048" if tool == "rsa" else "p384"
    c = ceremony(root_kind=kind)
    plain = c.station / "plain.key"
    plain.write_bytes(f.key_bytes(c.root_key_obj, "PEM", "traditional"))
    argv = [f.openssl(), tool, "-in", str(plain), "-aes256", "-passout", "pass:" + PASS.decode(), "-out", str(c.root_key)]
    if tool == "rsa":
        argv.insert(-2, "-traditional")
    subprocess.run(argv, check=True, capture_output=True)
    plain.unlink()
    assert b"Proc-Type: 4,ENCRYPTED" in c.root_key.read_bytes()
    pf = c.station / "pass.txt"
    pf.write_bytes(PASS + b"\r\n")
    t0 = f.utcnow()
    r = cli(*c.sign_argv("--passphrase-file", pf))
    assert r.rc == 0, r.err
    f.assert_good_intermediate(c, t0, f.utcnow(), lint=False)


def test_passphrase_file_on_unencrypted_key_is_not_needed(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    pf = c.station / "pass.txt"
    pf.write_bytes(b"unused\n")
    assert cli(*c.sign_argv("--passphrase-file", pf)).rc == 0


def _encrypted(ceremony):  # type: ignore[no-untyped-def]
    c = ceremony(root_kind="p256")
    c.root_key.write_bytes(f.key_bytes(c.root_key_obj, "PEM", "pkcs8", PASS))
    return c


def test_wrong_passphrase(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = _encrypted(ceremony)
    pf = c.station / "pass.txt"
    pf.write_bytes(b"not the passphrase\n")
    before = f.listing(c.stick)
    r = cli(*c.sign_argv("--passphrase-file", pf))
    f.assert_refusal(r, "wrong passphrase")
    assert "not the passphrase" not in r.text
    assert f.listing(c.stick) == before


def test_empty_passphrase_file(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = _encrypted(ceremony)
    pf = c.station / "pass.txt"
    pf.write_bytes(b"\n")
    f.assert_refusal(cli(*c.sign_argv("--passphrase-file", pf)), "passphrase")
    assert not c.cert_path.exists()


def test_missing_passphrase_file(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = _encrypted(ceremony)
    f.assert_refusal(cli(*c.sign_argv("--passphrase-file", c.station / "nope.txt")), "no such file")
    assert not c.cert_path.exists()


def test_no_passphrase_and_no_terminal(ceremony) -> None:  # type: ignore[no-untyped-def]
    """stdin is not a terminal: a clear error, exit 1, no prompt, no hang, nothing written."""
    c = _encrypted(ceremony)
    before = f.listing(c.stick)
    p = f.run_proc([f.byoroot_exe(), *c.sign_argv()], stdin=subprocess.DEVNULL, timeout=60)
    err = p.stderr.decode()
    run = f.Run(p.returncode, p.stdout.decode(), err)
    f.assert_refusal(run, "encrypted", "--passphrase-file")
    assert f.listing(c.stick) == before


def test_passphrase_never_echoed(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = _encrypted(ceremony)
    pf = c.station / "pass.txt"
    pf.write_bytes(PASS + b"\n")
    r = cli(*c.sign_argv("--passphrase-file", pf, "--json"))
    assert r.rc == 0, r.err
    assert PASS.decode() not in r.text


def test_csr_written_by_openssl_req_text(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    """`openssl req -text` puts a human-readable dump before the PEM block: accepted with a warning."""
    c = ceremony()
    k = c.base / "csr.key"
    k.write_bytes(f.key_bytes(f.key("p384"), "PEM", "pkcs8"))
    subprocess.run(
        [f.openssl(), "req", "-new", "-key", str(k), "-subj", "/O=Example Org/CN=OpenSSL Intermediate", "-sha384",
         "-text", "-out", str(c.csr)],
        check=True, capture_output=True,
    )
    assert not c.csr.read_bytes().startswith(b"-----BEGIN")
    r = cli(*c.sign_argv())
    assert r.rc == 0, r.err
    assert "outside the PEM block" in r.out
    cert = c.issued()
    assert cert.subject.rfc4514_string() == "CN=OpenSSL Intermediate,O=Example Org"


def test_csr_with_crlf_line_endings(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    c.csr.write_bytes(c.csr.read_bytes().replace(b"\n", b"\r\n"))
    t0 = f.utcnow()
    r = cli(*c.sign_argv())
    assert r.rc == 0, r.err
    f.assert_good_intermediate(c, t0, f.utcnow())


@pytest.mark.parametrize("problem", ["refused-csr", "existing-certificate", "bad-root"])
def test_refusals_come_before_the_passphrase_is_needed(problem: str, ceremony) -> None:  # type: ignore[no-untyped-def]
    """Everything that can be checked without the key is checked first: the officer is not asked for
    the passphrase (here: no terminal, no passphrase file) only to be refused afterwards."""
    c = _encrypted(ceremony)
    if problem == "refused-csr":
        c.csr.write_bytes(f.pem(f.make_csr(f.key("rsa1024"))))
        reason = "too small"
    elif problem == "existing-certificate":
        c.cert_path.write_bytes(b"old")
        reason = "already exists"
    else:
        c.write_root_cert(f.make_root(c.root_key_obj, ca=False, ku=("digital_signature",)))
        reason = "not a CA"
    p = f.run_proc([f.byoroot_exe(), *c.sign_argv()], stdin=subprocess.DEVNULL)
    f.assert_refusal(f.Run(p.returncode, p.stdout.decode(), p.stderr.decode()), reason)


def test_root_certificate_with_openssl_text_dump(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    """`openssl x509 -text` output (a dump, then the PEM block) is a usable root certificate file."""
    c = ceremony()
    plain = c.station / "plain.pem"
    plain.write_bytes(f.pem(c.root_cert_obj))
    subprocess.run([f.openssl(), "x509", "-in", str(plain), "-text", "-out", str(c.root_cert)], check=True, capture_output=True)
    assert not c.root_cert.read_bytes().startswith(b"-----BEGIN")
    t0 = f.utcnow()
    r = cli(*c.sign_argv())
    assert r.rc == 0, r.err
    f.assert_good_intermediate(c, t0, f.utcnow())


def test_passphrase_file_that_is_a_fifo_does_not_hang(ceremony) -> None:  # type: ignore[no-untyped-def]
    c = _encrypted(ceremony)
    pf = c.station / "pass.fifo"
    os.mkfifo(pf)
    p = f.run_proc([f.byoroot_exe(), *c.sign_argv("--passphrase-file", pf)], timeout=30)
    f.assert_refusal(f.Run(p.returncode, p.stdout.decode(), p.stderr.decode()), "FIFO")
    assert not c.cert_path.exists()


def test_oversized_passphrase_file(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = _encrypted(ceremony)
    pf = c.station / "pass.txt"
    pf.write_bytes(PASS + b"\n" + b"x" * 5000)
    f.assert_refusal(cli(*c.sign_argv("--passphrase-file", pf)), "limit")
    assert not c.cert_path.exists()
