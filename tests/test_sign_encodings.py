"""Byte-level corner cases: names and keys that cryptography would re-encode, tampered roots."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

import factories as f


def _unsorted_rdn_csr() -> bytes:
    """A validly signed CSR whose multi-valued RDN SET OF is not in DER order."""
    k = f.key("p256")
    subject = x509.Name([
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Org")]),
        x509.RelativeDistinguishedName([
            x509.NameAttribute(NameOID.COMMON_NAME, "Intermediate"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "PKI"),
        ]),
    ])
    csr_der = f.der(f.make_csr(k, subject=subject))
    cri = f.der_items(csr_der)[0]
    version, subj, spki, *rest = f.der_items(cri)
    rdns = f.der_items(subj)
    multi = f.der_items(rdns[1])
    assert len(multi) == 2
    swapped = f.tlv(0x31, b"".join(sorted(multi, reverse=True)))
    assert swapped != rdns[1], "the RDN is now out of DER order"
    new_subject = f.tlv(0x30, rdns[0] + swapped)
    new_cri = f.tlv(0x30, version + new_subject + spki + b"".join(rest))
    return f.resign_csr(csr_der, k, new_cri)


def test_non_der_subject_is_refused_not_silently_re_encoded(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    """If the issued subject could differ from the CSR's bytes, sign must refuse."""
    c = ceremony(csr_bytes=_unsorted_rdn_csr(), csr_name="unsorted.der")
    before = f.listing(c.stick)
    ri = cli("inspect", c.csr)
    assert ri.rc in (0, 1) and "internal error" not in ri.err
    r = cli(*c.sign_argv())
    f.assert_refusal(r)
    assert f.listing(c.stick) == before


def _compressed_spki_csr(private_key) -> bytes:  # type: ignore[no-untyped-def]
    csr_der = f.der(f.make_csr(private_key))
    cri = f.der_items(csr_der)[0]
    version, subj, spki, *rest = f.der_items(cri)
    alg = f.der_items(spki)[0]
    point = private_key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    new_spki = f.tlv(0x30, alg + f.tlv(0x03, b"\x00" + point))
    assert new_spki != spki
    new_cri = f.tlv(0x30, version + subj + new_spki + b"".join(rest))
    out = f.resign_csr(csr_der, private_key, new_cri)
    parsed = x509.load_der_x509_csr(out)
    assert parsed.is_signature_valid and f.spki(parsed.public_key()) == spki
    return out


def test_root_key_in_compressed_form_is_refused(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    """The root's own key, encoded as a compressed point so its SPKI bytes differ from the root's."""
    rkey = f.key("p256", 1)
    c = ceremony(root_kind="p256", csr_bytes=_compressed_spki_csr(rkey), csr_name="sneaky.der")
    before = f.listing(c.stick)
    r = cli(*c.sign_argv())
    f.assert_refusal(r)
    assert f.listing(c.stick) == before


def _tampered_root(rkey) -> x509.Certificate:  # type: ignore[no-untyped-def]
    root_der = f.der(f.make_root(rkey))
    assert root_der.count(b"Test Offline Root CA") == 2  # issuer and subject
    tampered = x509.load_der_x509_certificate(root_der.replace(b"Test Offline Root CA", b"Test Offline Root CB"))
    with pytest.raises(Exception):
        tampered.verify_directly_issued_by(tampered)
    return tampered


def test_root_with_a_broken_self_signature_is_refused(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    """A corrupted or edited root.crt (here its names) must not be trusted: its issuer name would be
    copied into the intermediate, which would then not chain to the real root."""
    rkey = f.key("p384", 1)
    c = ceremony(root_key=rkey, root_cert=_tampered_root(rkey))
    before = f.listing(c.stick)
    r = cli(*c.sign_argv())
    f.assert_refusal(r, "signature")
    assert f.listing(c.stick) == before


def test_root_with_a_broken_signature_byte_is_refused(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    rkey = f.key("rsa2048", 1)
    broken = x509.load_der_x509_certificate(f.flip_last_byte(f.der(f.make_root(rkey))))
    c = ceremony(root_key=rkey, root_cert=broken)
    f.assert_refusal(cli(*c.sign_argv()), "signature")
    assert not c.cert_path.exists()


def test_root_with_only_its_subject_edited_is_refused(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rkey = f.key("p384", 1)
    real = f.make_root(rkey)
    d = f.der(real)
    i = d.rindex(b"Test Offline Root CA")  # the subject (the issuer comes first)
    edited = x509.load_der_x509_certificate(d[:i] + b"Test Offline Root CB" + d[i + 20 :])
    assert edited.issuer != edited.subject
    c = ceremony(root_key=rkey, root_cert=edited)
    r = cli(*c.sign_argv())
    if r.rc == 0:  # show the harm before failing: the intermediate does not chain to the real root
        (tmp_path / "real.pem").write_bytes(f.pem(real))
        assert f.openssl_verify(tmp_path / "real.pem", c.cert_path).returncode != 0
    f.assert_refusal(r)
    assert not c.cert_path.exists()
