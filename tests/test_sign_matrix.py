"""`byoroot sign` over every root key type x every CSR key type, checked with openssl and pkilint."""

from __future__ import annotations

import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import factories as f


@pytest.mark.parametrize("csr_kind", f.KEY_KINDS)
@pytest.mark.parametrize("root_kind", f.KEY_KINDS)
def test_sign_every_key_combination(root_kind: str, csr_kind: str, ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony(root_kind=root_kind, csr_kind=csr_kind)
    t0 = f.utcnow()
    r = cli(*c.sign_argv())
    t1 = f.utcnow()
    assert r.rc == 0, r.err
    assert r.err == ""
    cert = f.assert_good_intermediate(c, t0, t1)
    expected_sig = (
        "ed25519" if isinstance(c.root_key_obj, ed25519.Ed25519PrivateKey)
        else ("ecdsa-with-SHA512" if root_kind.startswith("p") else "sha512WithRSAEncryption")
    )
    assert f"Signature:           {expected_sig}" in r.out
    assert f"{cert.serial_number:x}" in r.out


def _requesting_csr(csr_key, ca: bool, path_length):  # type: ignore[no-untyped-def]
    exts = [
        (x509.BasicConstraints(ca=ca, path_length=path_length), True),
        (f.key_usage("key_encipherment", "data_encipherment"), True),
        (x509.SubjectAlternativeName([x509.DNSName("www.example.com"), x509.DNSName("*.example.org")]), False),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), False),
        (x509.NameConstraints(permitted_subtrees=[x509.DNSName("example.com")], excluded_subtrees=None), True),
        (x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1.2"), b"\x04\x03abc"), False),
    ]
    return f.make_csr(csr_key, extensions=exts)


@pytest.mark.parametrize("ca,path_length", [(False, None), (True, 5), (True, None)], ids=["CA-FALSE", "pathlen5", "nolimit"])
def test_requested_extensions_never_decide_the_result(ca, path_length, ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    """CA:FALSE, pathlen 5, SAN, EKU, keyUsage, name constraints requested: the profile wins."""
    csr = _requesting_csr(f.key("p256"), ca, path_length)
    c = ceremony(csr=csr)
    t0 = f.utcnow()
    r = cli(*c.sign_argv())
    t1 = f.utcnow()
    assert r.rc == 0, r.err
    cert = f.assert_good_intermediate(c, t0, t1)  # exactly BC/KU/SKI/AKI with the profile's values
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    # the officer is told which requests were ignored or overridden
    assert "WARNING" in r.out and "subjectAltName" in r.out and "ignored" in r.out
    if not ca or path_length not in (0, None):
        assert "the profile issues CA:TRUE, pathlen:0" in r.out
    elif path_length is None:  # a plain CA:TRUE (a hosted CA's request) is narrowed: not a warning
        assert not [line for line in r.out.splitlines() if line.startswith("WARNING") and "basicConstraints" in line]


def test_two_signings_give_different_serials(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    out2 = tmp_path / "second"
    out2.mkdir()
    assert cli(*c.sign_argv()).rc == 0
    assert cli(*c.sign_argv("--out", out2)).rc == 0
    a = c.issued()
    b = c.issued(out2)
    assert a.serial_number != b.serial_number
    for cert in (a, b):
        assert 0 < cert.serial_number < 2**159


def test_issuer_is_the_root_subject_byte_for_byte(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    """A root subject with mixed string types (PrintableString, UTF8String, IA5String email)."""
    rkey = f.key("p384")
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Grüße Root Org", _type=x509.name._ASN1Type.UTF8String),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "PKI", _type=x509.name._ASN1Type.PrintableString),
        x509.NameAttribute(NameOID.COMMON_NAME, "Mixed Root", _type=x509.name._ASN1Type.PrintableString),
    ])
    root = f.make_root(rkey, subject=subject)
    c = ceremony(root_key=rkey, root_cert=root)
    t0 = f.utcnow()
    assert cli(*c.sign_argv()).rc == 0
    cert = f.assert_good_intermediate(c, t0, f.utcnow())
    assert cert.issuer.public_bytes() == root.subject.public_bytes()
    # the raw issuer TLV inside the TBS is the root's raw subject TLV
    assert root.subject.public_bytes() in cert.tbs_certificate_bytes


def test_aki_copies_a_non_standard_root_ski(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    """A root whose SKI is not the SHA-1 of its key: the AKI must be that SKI, not a recomputed one."""
    rkey = f.key("p256", 3)
    odd_ski = bytes(range(1, 9))
    c = ceremony(root_key=rkey, root_cert=f.make_root(rkey, ski=odd_ski))
    t0 = f.utcnow()
    r = cli(*c.sign_argv())
    assert r.rc == 0, r.err
    cert = f.assert_good_intermediate(c, t0, f.utcnow())
    assert cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier == odd_ski


def test_root_without_ski_gets_the_rfc5280_method_1_key_id(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    rkey = f.key("p384")
    c = ceremony(root_key=rkey, root_cert=f.make_root(rkey, ski=None))
    r = cli(*c.sign_argv())
    assert r.rc == 0, r.err
    aki = c.issued().extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert aki == x509.SubjectKeyIdentifier.from_public_key(rkey.public_key()).digest
    root_pem = c.base / "root.pem"
    root_pem.write_bytes(f.pem(c.root_cert_obj))
    # not -x509_strict: strict mode itself refuses a CA certificate without an SKI (the root)
    r = subprocess.run([f.openssl(), "verify", "-CAfile", str(root_pem), str(c.cert_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
