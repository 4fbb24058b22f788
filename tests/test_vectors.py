"""The CSR test vectors shipped with `cryptography_vectors` (x509/requests/)."""

from __future__ import annotations

import os
from pathlib import Path

import cryptography_vectors
import pytest

import factories as f

REQUESTS = Path(os.path.dirname(cryptography_vectors.__file__)) / "x509" / "requests"

# vector -> words the one-line refusal must contain
REFUSED = {
    "invalid_signature.pem": ["self-signature"],
    "two_basic_constraints.pem": ["basicConstraints", "more than once"],
    "unsupported_extension_critical.pem": ["refused"],  # SHA-1 signed and an unknown critical extension
    "bad-version.pem": ["not a valid certificate request"],
    "rsa_sha1.pem": ["SHA-1"],
    "rsa_sha1.der": ["SHA-1"],
    "san_rsa_sha1.pem": ["SHA-1"],
    "rsa_md4.pem": ["unsupported"],
    "rsa_md4.der": ["unsupported"],
    "dsa_sha1.pem": ["SHA-1"],
    "dsa_sha1.der": ["SHA-1"],
    "freeipa-bad-critical.pem": ["malformed"],
    "zero-element-attribute.pem": ["malformed"],
    "challenge-multi-valued.der": ["malformed"],
    "challenge-invalid.der": ["self-signature"],
    "basic_constraints.pem": ["SHA-1"],
    "unsupported_extension.pem": ["SHA-1"],
}
GOOD = ["rsa_sha256.pem", "rsa_sha256.der", "ec_sha256.pem", "ec_sha256.der", "ec_sha256_old_header.pem"]


def test_vectors_are_present() -> None:
    for name in [*REFUSED, *GOOD]:
        assert (REQUESTS / name).is_file(), name


@pytest.mark.parametrize("vector", sorted(REFUSED))
def test_sign_refuses_vector(vector: str, ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    data = (REQUESTS / vector).read_bytes()
    c = ceremony(csr_bytes=data, csr_name=vector)
    before = f.listing(c.stick)
    r = cli(*c.sign_argv())
    f.assert_refusal(r, *REFUSED[vector])
    assert f.listing(c.stick) == before
    ri = cli("inspect", c.csr)
    assert ri.rc == 1 and "Traceback" not in ri.text and "internal error" not in ri.err


def test_unknown_critical_extension_vector_is_named(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("inspect", REQUESTS / "unsupported_extension_critical.pem")
    assert r.rc == 1
    assert "unrecognised extension 1.2.3.4 critical" in r.out


@pytest.mark.parametrize("vector", GOOD)
def test_good_vectors_inspect_and_sign(vector: str, ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("inspect", REQUESTS / vector)
    assert r.rc == 0, (r.out, r.err)
    assert "Verdict: ACCEPTABLE" in r.out and "verifies" in r.out
    c = ceremony(csr_bytes=(REQUESTS / vector).read_bytes(), csr_name=vector)
    rs = cli(*c.sign_argv())
    assert rs.rc == 0, rs.err
    root_pem = c.base / "root.pem"
    root_pem.write_bytes(f.pem(c.root_cert_obj))
    f.assert_openssl_ok(root_pem, c.cert_path)
