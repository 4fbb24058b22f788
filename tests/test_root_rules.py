"""Rules about the root and its relation to the CSR that are easy to get subtly wrong."""

from __future__ import annotations

from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

import factories as f


def test_csr_with_the_roots_own_subject_is_refused(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    rkey = f.key("p384", 1)
    root = f.make_root(rkey)
    csr = f.make_csr(f.key("p256"), subject=root.subject)
    c = ceremony(root_key=rkey, root_cert=root, csr=csr)
    f.assert_refusal(cli(*c.sign_argv()), "root's own subject")
    assert not c.cert_path.exists()


def test_root_key_in_the_csr_as_a_compressed_point_is_named_as_the_roots_key(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    rkey = f.key("p384", 1)
    c = ceremony(root_key=rkey, csr=f.make_csr(rkey))
    compressed = rkey.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    # Rebuild the CSR's SPKI with the compressed point: the same key, other bytes.
    from byoroot_tui.core.csr import parse_csr
    from byoroot_tui.core.issue import make_plan
    from byoroot_tui.core.profiles import DEFAULT_PROFILE
    from byoroot_tui.core.root import parse_root
    from byoroot_tui.core.errors import PolicyRefused
    import pytest

    info = parse_csr(c.csr.read_bytes(), "request.csr")
    assert len(compressed) < len(info.spki)  # the CSR itself carries the uncompressed form
    info = info.__class__(**{**info.__dict__, "spki": b"\x30compressed" + compressed})
    with pytest.raises(PolicyRefused, match="root's own public key"):
        make_plan(info, DEFAULT_PROFILE, parse_root(c.root_cert.read_bytes()))


def test_root_that_is_not_self_signed_is_refused(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    top_key, rkey = f.key("p384", 2), f.key("p384", 1)
    top = f.make_root(top_key, subject=f.name("Top Root"))
    now = f.utcnow()
    sub = (
        x509.CertificateBuilder()
        .subject_name(f.name("Not A Root"))
        .issuer_name(top.subject)
        .public_key(rkey.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(rkey.public_key()), critical=False)
        .sign(top_key, hashes.SHA384())
    )
    c = ceremony(root_key=rkey, root_cert=sub)
    f.assert_refusal(cli(*c.sign_argv()), "not self-signed")
    assert not c.cert_path.exists()


def test_verify_still_works_after_the_root_expired(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An intermediate issued long ago can be checked against a root that has since expired."""
    rkey = f.key("p384", 1)
    now = f.utcnow()
    old_root = f.make_root(rkey, not_before=now - timedelta(days=4000), not_after=now - timedelta(days=1))
    ckey = f.key("p256")
    csr = f.make_csr(ckey)
    old = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(old_root.subject)
        .public_key(ckey.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=3000))
        .not_valid_after(now - timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(rkey.public_key()), critical=False
        )
        .sign(rkey, hashes.SHA384())
    )
    (tmp_path / "root.pem").write_bytes(f.pem(old_root))
    (tmp_path / "old.pem").write_bytes(f.pem(old))
    r = cli("verify", tmp_path / "old.pem", "--root-cert", tmp_path / "root.pem")
    assert r.rc == 0, r.text
    # ... while sign refuses the expired root.
    c = ceremony(root_key=rkey, root_cert=old_root)
    f.assert_refusal(cli(*c.sign_argv()), "expired")


def test_main_returns_2_on_usage_errors_instead_of_raising() -> None:
    from byoroot_tui.cli import main

    assert main(["sign", "x.csr"]) == 2
    assert main(["no-such-command"]) == 2
    assert main([]) == 2
