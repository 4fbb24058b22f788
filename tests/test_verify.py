"""`byoroot verify CERT --root-cert F [--csr F] [--fingerprint HEX]`."""

from __future__ import annotations

import hashlib
import json

import pytest

import factories as f


@pytest.fixture
def issued(ceremony, cli):  # type: ignore[no-untyped-def]
    c = ceremony(root_kind="rsa2048", csr_kind="p256")
    r = cli(*c.sign_argv())
    assert r.rc == 0, r.err
    c.extra["sha256"] = hashlib.sha256(f.der(c.issued())).hexdigest()
    return c


def _fp_forms(hex_lower: str) -> list[str]:
    up = hex_lower.upper()
    pairs = [up[i : i + 2] for i in range(0, 64, 2)]
    quads = [up[i : i + 4] for i in range(0, 64, 4)]
    return [
        hex_lower,
        up,
        ":".join(pairs),  # openssl x509 -fingerprint style
        " ".join(quads),  # as printed by sign
        " ".join(quads[:8]) + "\n" + " ".join(quads[8:]),
        "SHA256:" + ":".join(p.lower() for p in pairs),
        "  " + "-".join(quads) + "  ",
    ]


@pytest.mark.parametrize("form", range(7))
def test_verify_success_with_fingerprint_forms(form: int, issued, cli) -> None:  # type: ignore[no-untyped-def]
    c = issued
    fp = _fp_forms(c.extra["sha256"])[form]
    r = cli("verify", c.cert_path, "--root-cert", c.root_cert, "--csr", c.csr, "--fingerprint", fp)
    assert r.rc == 0, (r.out, r.err)
    assert "Verified." in r.out
    assert "SHA-256 fingerprint: matches" in r.out
    assert "FAILED" not in r.out


def test_verify_without_csr_or_fingerprint(issued, cli) -> None:  # type: ignore[no-untyped-def]
    c = issued
    r = cli("verify", c.cert_path, "--root-cert", c.root_cert)
    assert r.rc == 0, r.err
    assert "Verified." in r.out


def test_verify_json(issued, cli) -> None:  # type: ignore[no-untyped-def]
    c = issued
    r = cli("verify", c.cert_path, "--root-cert", c.root_cert, "--csr", c.csr, "--fingerprint", c.extra["sha256"], "--json")
    assert r.rc == 0
    data = json.loads(r.out)
    assert data["ok"] is True
    names = {ch["check"] for ch in data["checks"]}
    assert {"issued by root", "authority key id", "CA certificate", "CSR public key", "CSR subject",
            "SHA-256 fingerprint"} <= names
    assert all(ch["ok"] for ch in data["checks"])


def test_wrong_fingerprint(issued, cli) -> None:  # type: ignore[no-untyped-def]
    c = issued
    wrong = format(int(c.extra["sha256"], 16) ^ 1, "064x")
    r = cli("verify", c.cert_path, "--root-cert", c.root_cert, "--fingerprint", wrong)
    assert r.rc == 1
    assert "FAILED  SHA-256 fingerprint" in r.out
    assert "NOT verified: SHA-256 fingerprint failed." in r.out
    rj = cli("verify", c.cert_path, "--root-cert", c.root_cert, "--fingerprint", wrong, "--json")
    assert rj.rc == 1
    failed = [ch["check"] for ch in json.loads(rj.out)["checks"] if not ch["ok"]]
    assert failed == ["SHA-256 fingerprint"]


@pytest.mark.parametrize("bad", ["abc", "g" * 64, "a" * 63, "a" * 65, "", "SHA1:" + "a" * 40, "0x" + "a" * 64])
def test_malformed_fingerprint(bad: str, issued, cli) -> None:  # type: ignore[no-untyped-def]
    c = issued
    r = cli("verify", c.cert_path, "--root-cert", c.root_cert, "--fingerprint", bad)
    f.assert_refusal(r, "64 hex digits")


def test_certificate_from_another_root_same_name(issued, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A root with the same subject but a different key: the signature check names the failure."""
    c = issued
    other = tmp_path / "other-root.pem"
    other.write_bytes(f.pem(f.make_root(f.key("rsa2048", 4))))
    r = cli("verify", c.cert_path, "--root-cert", other)
    assert r.rc == 1
    assert "FAILED  issued by root" in r.out
    assert "FAILED  authority key id" in r.out


def test_certificate_from_another_root_other_name(issued, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = issued
    other = tmp_path / "other-root.pem"
    other.write_bytes(f.pem(f.make_root(f.key("p384", 4), subject=f.name("Another Root", org="Other"))))
    r = cli("verify", c.cert_path, "--root-cert", other)
    assert r.rc == 1
    assert "FAILED  issued by root" in r.out


def test_csr_of_another_key(issued, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = issued
    other = tmp_path / "other.csr"
    other.write_bytes(f.pem(f.make_csr(f.key("p256", 4))))  # same subject, other key
    r = cli("verify", c.cert_path, "--root-cert", c.root_cert, "--csr", other)
    assert r.rc == 1
    assert "FAILED  CSR public key" in r.out
    assert "ok      CSR subject" in r.out


def test_csr_of_another_subject(issued, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = issued
    other = tmp_path / "other.csr"
    other.write_bytes(f.pem(f.make_csr(c.csr_key_obj, subject=f.name("Somebody Else"))))
    r = cli("verify", c.cert_path, "--root-cert", c.root_cert, "--csr", other)
    assert r.rc == 1
    assert "FAILED  CSR subject" in r.out


def test_leaf_is_not_an_intermediate(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    leaf = f.make_leaf(c.root_cert_obj, c.root_key_obj, c.csr_key_obj)  # CA:FALSE, issued by the root
    c.cert_path.write_bytes(f.pem(leaf))
    r = cli("verify", c.cert_path, "--root-cert", c.root_cert)
    assert r.rc == 1
    assert "FAILED  CA certificate" in r.out
    assert "ok      issued by root" in r.out


def test_verify_refuses_a_non_certificate(issued, cli) -> None:  # type: ignore[no-untyped-def]
    c = issued
    f.assert_refusal(cli("verify", c.csr, "--root-cert", c.root_cert), "not a certificate")
    f.assert_refusal(cli("verify", c.cert_path, "--root-cert", c.root_key), "private key")


def test_verify_der_certificate(issued, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = issued
    d = tmp_path / "intermediate.der"
    d.write_bytes(f.der(c.issued()))
    assert cli("verify", d, "--root-cert", c.root_cert, "--fingerprint", c.extra["sha256"]).rc == 0


def test_verify_through_the_console_script(issued) -> None:  # type: ignore[no-untyped-def]
    c = issued
    fp = " ".join(c.extra["sha256"].upper()[i : i + 4] for i in range(0, 64, 4))
    p = f.run_proc([f.byoroot_exe(), "verify", c.cert_path, "--root-cert", c.root_cert, "--csr", c.csr, "--fingerprint", fp])
    assert p.returncode == 0, p.stderr
    assert b"Verified." in p.stdout
