"""Controls: the independent checkers used by the other tests really do fail on bad certificates."""

from __future__ import annotations

from datetime import timedelta

from cryptography import x509

import factories as f


def test_openssl_verify_fails_for_a_foreign_root(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rkey, other = f.key("p256", 11), f.key("p256", 12)
    root = f.make_root(rkey)
    foreign = f.make_root(other)  # same subject, different key
    leaf = f.make_leaf(root, rkey)
    (tmp_path / "foreign.pem").write_bytes(f.pem(foreign))
    (tmp_path / "root.pem").write_bytes(f.pem(root))
    (tmp_path / "leaf.pem").write_bytes(f.pem(leaf))
    assert f.openssl_verify(tmp_path / "foreign.pem", tmp_path / "leaf.pem").returncode != 0
    f.assert_openssl_ok(tmp_path / "root.pem", tmp_path / "leaf.pem")


def test_openssl_strict_fails_for_a_chain_through_a_non_ca(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rkey, mkey = f.key("p256", 11), f.key("p256", 13)
    root = f.make_root(rkey)
    middle = f.make_leaf(root, rkey, mkey)  # CA:FALSE
    leaf = f.make_leaf(middle, mkey)
    for n, c in (("root", root), ("mid", middle), ("leaf", leaf)):
        (tmp_path / f"{n}.pem").write_bytes(f.pem(c))
    assert f.openssl_verify(tmp_path / "root.pem", tmp_path / "leaf.pem", tmp_path / "mid.pem").returncode != 0


def test_pkilint_reports_a_broken_ca_certificate() -> None:
    rkey, ckey = f.key("p256", 11), f.key("p256", 13)
    now = f.utcnow()
    bad = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(x509.Name([]))
        .public_key(ckey.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=False)
        .sign(rkey, f.sig_hash(rkey))
    )
    assert f.pkilint_problems(f.der(bad)) != []


def test_unsafe_chars_detector() -> None:
    assert f.unsafe_chars("plain text\nnext line") == []
    for ch in ("\x1b", "\x07", "\r", "\x00", "\x7f", "\x9b", "\u202e", "\u2066", "\u200f", "\u2028"):
        assert f.unsafe_chars(f"a{ch}b"), repr(ch)
    assert f.unsafe_bytes(b"ok\n") == [] and f.unsafe_bytes(b"\x1b[31m") == [0x1B]
