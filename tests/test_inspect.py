"""`byoroot inspect`: what a CSR asks for, escaped; exit 0 when acceptable, 1 when sign would refuse."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import tempfile
import unicodedata

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import AttributeOID, ExtendedKeyUsageOID, NameOID
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import factories as f

UNKNOWN_OID = "1.3.6.1.4.1.55555.7"
KEY_DISPLAY = {
    "rsa2048": "RSA (2048 bits)",
    "rsa3072": "RSA (3072 bits)",
    "rsa4096": "RSA (4096 bits)",
    "p256": "ECDSA (P-256)",
    "p384": "ECDSA (P-384)",
    "p521": "ECDSA (P-521)",
    "ed25519": "Ed25519",
}
SIG_DISPLAY = {"rsa": "sha256WithRSAEncryption", "p": "ecdsa-with-SHA256", "ed": "ed25519"}


def _sig_name(kind: str) -> str:
    return SIG_DISPLAY["rsa" if kind.startswith("rsa") else "p" if kind.startswith("p") else "ed"]


def _rich_csr(kind: str) -> x509.CertificateSigningRequest:
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CH"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Hosted CA, Inc."),  # a comma: escaped in RFC 4514
        x509.NameAttribute(NameOID.COMMON_NAME, "Hosted Intermediate CA Ü1"),
    ])
    exts = [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.SubjectAlternativeName([x509.DNSName("ca.example.net")]), False),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        (x509.UnrecognizedExtension(x509.ObjectIdentifier(UNKNOWN_OID), b"\x01\x02hello"), False),
    ]
    return f.make_csr(f.key(kind), subject=subject, extensions=exts)


def _line_with(out: str, *parts: str) -> str:
    lines = [ln for ln in out.splitlines() if all(p in ln for p in parts)]
    assert lines, (parts, out)
    return lines[0]


@pytest.mark.parametrize("kind", f.KEY_KINDS)
def test_inspect_text_shows_everything(kind: str, tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    csr = _rich_csr(kind)
    path = tmp_path / "req.pem"
    path.write_bytes(f.pem(csr))
    r = cli("inspect", path)
    assert r.rc == 0, (r.out, r.err)
    out = r.out
    assert r.err == ""
    # fingerprint of the DER, computed independently
    assert _line_with(out, "SHA-256 (DER):").split()[-1] == hashlib.sha256(f.der(csr)).hexdigest()
    # subject as RFC 4514 and field by field
    assert _line_with(out, "RFC 4514:").split("RFC 4514:", 1)[1].strip() == csr.subject.rfc4514_string()
    assert "Hosted Intermediate CA Ü1" in _line_with(out, "commonName:")
    assert "Hosted CA, Inc." in _line_with(out, "organizationName:")
    assert "CH" in _line_with(out, "countryName:")
    # key and signature
    assert KEY_DISPLAY[kind] in _line_with(out, "Algorithm:", KEY_DISPLAY[kind].split()[0])
    assert _sig_name(kind) in out
    assert "verifies" in _line_with(out, "Self-signature:")
    # every requested extension: name, criticality, value, treatment
    assert "Requested extensions (4)" in out
    bc = _line_with(out, "basicConstraints:")
    assert "[critical;" in bc and "overridden" in bc and "CA:FALSE" in bc
    san = _line_with(out, "subjectAltName:")
    assert "[not critical;" in san and "ignored" in san and "DNS:ca.example.net" in san
    eku = _line_with(out, "extendedKeyUsage:")
    assert "serverAuth" in eku and "[not critical;" in eku
    unk = _line_with(out, UNKNOWN_OID + ":")
    assert "[not critical;" in unk and "ignored" in unk
    assert b"\x01\x02hello".hex(":") in unk
    # findings: the CA:FALSE request is overridden, the SAN and EKU ignored
    assert "WARN" in out and "CA:FALSE" in _line_with(out, "WARN", "basicConstraints")
    assert "Verdict: ACCEPTABLE" in out
    assert f.unsafe_chars(out) == []


@pytest.mark.parametrize("kind", ["rsa2048", "p521", "ed25519"])
def test_inspect_json(kind: str, tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    csr = _rich_csr(kind)
    path = tmp_path / "req.der"
    path.write_bytes(f.der(csr))
    r = cli("inspect", path, "--json")
    assert r.rc == 0, r.err
    data = json.loads(r.out)
    assert data["sha256"] == hashlib.sha256(f.der(csr)).hexdigest()
    assert data["subject"] == csr.subject.rfc4514_string()
    assert [(d["oid"], d["value"]) for d in data["subject_fields"]] == [
        (a.oid.dotted_string, a.value) for a in csr.subject
    ]
    algo, size = KEY_DISPLAY[kind].replace(")", "").split(" (") if "(" in KEY_DISPLAY[kind] else ("Ed25519", None)
    assert data["public_key"]["algorithm"] == algo
    if size:
        assert data["public_key"]["size"] == size
    assert data["signature"] == {"algorithm": _sig_name(kind), "valid": True}
    got = {e["oid"]: e for e in data["extensions"]}
    assert set(got) == {e.oid.dotted_string for e in csr.extensions}
    for ext in csr.extensions:
        assert got[ext.oid.dotted_string]["critical"] == ext.critical
    assert got[UNKNOWN_OID]["name"] == UNKNOWN_OID
    assert got["2.5.29.17"]["value"] == "DNS:ca.example.net"
    assert got["2.5.29.19"]["value"] == "CA:FALSE"
    assert data["verdict"] == "acceptable" and data["profile"] == "intermediate-ca"
    codes = [x["code"] for x in data["findings"]]
    assert "request.ignored" in codes and "request.overridden" in codes
    assert all(x["severity"] in ("refuse", "warn", "info") for x in data["findings"])


def test_inspect_attributes_are_shown(tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    csr = f.make_csr(f.key("p256"), attributes=[(AttributeOID.CHALLENGE_PASSWORD, b"s3cr3t-challenge")])
    path = tmp_path / "req.pem"
    path.write_bytes(f.pem(csr))
    r = cli("inspect", path)
    assert r.rc == 0, r.err
    assert "s3cr3t-challenge" in _line_with(r.out, "challengePassword")


def test_inspect_no_extensions_no_cn(tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    csr = f.make_csr(f.key("p256"), subject=x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Only Org")]))
    path = tmp_path / "req.pem"
    path.write_bytes(f.pem(csr))
    r = cli("inspect", path)
    assert r.rc == 0, r.err
    assert "Requested extensions (0)" in r.out and "(none)" in r.out
    assert "commonName" in _line_with(r.out, "WARN")


# ----------------------------------------------------------------------------- exit codes agree with sign

ACCEPTABLE = {
    "plain": lambda: f.make_csr(f.key("p256")),
    "requests-ca-false": lambda: f.make_csr(f.key("p256"), extensions=[(x509.BasicConstraints(False, None), True)]),
    "requests-pathlen-0": lambda: f.make_csr(f.key("rsa2048"), extensions=[(x509.BasicConstraints(True, 0), True)]),
    "no-common-name": lambda: f.make_csr(f.key("ed25519"), subject=f.name(None)),
    "unknown-non-critical": lambda: f.make_csr(f.key("p384"), extensions=[
        (x509.UnrecognizedExtension(x509.ObjectIdentifier(UNKNOWN_OID), b"\x05\x00"), False)]),
    "sha512-signed": lambda: f.make_csr(f.key("rsa3072"), hash_alg=hashes.SHA512()),
}
REFUSED = {
    "rsa1024": lambda: f.make_csr(f.key("rsa1024")),
    "dsa": lambda: f.make_csr(f.key("dsa2048")),
    "secp256k1": lambda: f.make_csr(f.key("k256")),
    "empty-subject": lambda: f.make_csr(f.key("p256"), subject=x509.Name([])),
    "control-chars": lambda: f.make_csr(f.key("p256"), subject=f.name("a\x07b")),
    "bad-signature": lambda: x509.load_der_x509_csr(f.flip_last_byte(f.der(f.make_csr(f.key("rsa2048"))))),
    "unknown-critical": lambda: f.make_csr(f.key("p256"), extensions=[
        (x509.UnrecognizedExtension(x509.ObjectIdentifier(UNKNOWN_OID), b"\x05\x00"), True)]),
}


@pytest.mark.parametrize("case", sorted(ACCEPTABLE) + sorted(REFUSED))
def test_inspect_exit_code_matches_sign(case: str, ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    acceptable = case in ACCEPTABLE
    csr = (ACCEPTABLE if acceptable else REFUSED)[case]()
    c = ceremony(csr=csr)
    ri = cli("inspect", c.csr)
    rj = cli("inspect", c.csr, "--json")
    rs = cli(*c.sign_argv())
    expected = 0 if acceptable else 1
    assert (ri.rc, rj.rc, rs.rc) == (expected, expected, expected), (ri.out, rs.err)
    assert ("Verdict: ACCEPTABLE" if acceptable else "Verdict: REFUSED") in ri.out
    assert json.loads(rj.out)["verdict"] == ("acceptable" if acceptable else "refused")
    if not acceptable:
        refuse_msgs = [x["message"] for x in json.loads(rj.out)["findings"] if x["severity"] == "refuse"]
        assert refuse_msgs and any(m in rs.err for m in refuse_msgs)
        assert not c.cert_path.exists()


def test_inspect_unparseable_exits_1_with_json_error(tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "junk.csr"
    p.write_bytes(b"junk")
    r = cli("inspect", p, "--json")
    f.assert_refusal(r, "not a certificate request")
    assert json.loads(r.out) == {"ok": False, "error": r.err.strip().removeprefix("byoroot: ")}


# ----------------------------------------------------------------------------- hostile text

HOSTILE_CN = "Evil\x1b[31mRed\x07Bell\rCR\u202eRLO\x9b2J"
HOSTILE_BYTES = b"\x1b[2J\x1b]0;pwned\x07\r\n\x00\xc2\x9b\xe2\x80\xae"
HOSTILE_NAME = "req\x1b[31m\u202e\x07.csr"


def _hostile_csr(with_subject: bool) -> x509.CertificateSigningRequest:
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Org\u2066isolate\u2069"),
        x509.NameAttribute(NameOID.COMMON_NAME, HOSTILE_CN),
    ]) if with_subject else f.name("Clean Intermediate")
    exts = [
        (x509.UnrecognizedExtension(x509.ObjectIdentifier(UNKNOWN_OID), HOSTILE_BYTES), False),
        (x509.SubjectAlternativeName([
            x509.DNSName("evil\x1b[31m.example"),
            x509.UniformResourceIdentifier("http://x/\x1b]8;;http://evil\x07"),
            x509.DirectoryName(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dir\x1b[0m\u202e")])),
        ]), False),
        (x509.BasicConstraints(ca=True, path_length=7), True),
    ]
    attrs = [(AttributeOID.CHALLENGE_PASSWORD, b"pw\x1b[8m\x07\r")]
    return f.make_csr(f.key("p256"), subject=subject, extensions=exts, attributes=attrs)


@pytest.mark.parametrize("with_subject", [True, False], ids=["hostile-subject", "clean-subject"])
def test_hostile_text_never_reaches_the_terminal(with_subject: bool, ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony(csr=_hostile_csr(with_subject), csr_name=HOSTILE_NAME)
    expected = 1 if with_subject else 0
    runs = {
        "inspect": cli("inspect", c.csr),
        "inspect-json": cli("inspect", c.csr, "--json"),
        "sign-json": cli(*c.sign_argv("--json", "--out", c.station)),
        "sign": cli(*c.sign_argv()),
    }
    for label, r in runs.items():
        assert r.rc == expected, (label, r.out, r.err)
        assert f.unsafe_chars(r.out) == [], (label, r.out)
        assert f.unsafe_chars(r.err) == [], (label, r.err)
        assert "Traceback" not in r.text
    assert json.loads(runs["inspect-json"].out)["verdict"] == ("refused" if with_subject else "acceptable")
    if with_subject:
        assert "control characters" in runs["inspect"].out
        assert "\\x1b" in runs["inspect"].out  # shown escaped, not dropped
        f.assert_refusal(runs["sign"], "control characters")
    else:
        assert c.cert_path.exists()


def test_hostile_text_through_the_console_script(ceremony) -> None:  # type: ignore[no-untyped-def]
    """Real stdout/stderr bytes of the installed `byoroot` command."""
    c = ceremony(csr=_hostile_csr(True), csr_name=HOSTILE_NAME)
    for argv in (["inspect", c.csr], ["inspect", c.csr, "--json"], c.sign_argv()):
        p = f.run_proc([f.byoroot_exe(), *argv])
        assert p.returncode == 1
        assert f.unsafe_bytes(p.stdout) == [] and f.unsafe_bytes(p.stderr) == []
        assert f.unsafe_chars(p.stdout.decode("utf-8")) == []
        assert f.unsafe_chars(p.stderr.decode("utf-8")) == []
        assert b"Traceback" not in p.stderr
    assert not c.cert_path.exists()


def test_hostile_file_name_in_error_messages(tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    for content in (b"", b"garbage", b"-----BEGIN X-----\nAAAA\n-----END X-----\n"):
        p = tmp_path / HOSTILE_NAME
        p.write_bytes(content)
        r = cli("inspect", p)
        f.assert_refusal(r)
        assert f.unsafe_chars(r.text) == []
    r = cli("inspect", tmp_path / ("missing\x1b[31m\u202e.csr"))
    f.assert_refusal(r, "no such file")
    assert f.unsafe_chars(r.text) == []


def test_inspect_through_the_console_script(tmp_path) -> None:  # type: ignore[no-untyped-def]
    csr = _rich_csr("p384")
    path = tmp_path / "req.pem"
    path.write_bytes(f.pem(csr))
    p = f.run_proc([f.byoroot_exe(), "inspect", path])
    assert p.returncode == 0, p.stderr
    assert hashlib.sha256(f.der(csr)).hexdigest().encode() in p.stdout
    assert b"Verdict: ACCEPTABLE" in p.stdout
    p = f.run_proc([f.byoroot_exe(), "inspect", path, "--json"])
    assert p.returncode == 0
    assert json.loads(p.stdout)["sha256"] == hashlib.sha256(f.der(csr)).hexdigest()


# ----------------------------------------------------------------------------- property: any subject text

_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cn=_TEXT, org=_TEXT, blob=st.binary(max_size=40), challenge=_TEXT)
@example(cn=" ", org="\u3164", blob=b"", challenge="x")  # no visible text: refused
@example(cn="\u2800", org="Example Org", blob=b"", challenge="x")  # one blank value: accepted
def test_inspect_any_subject_text(cn: str, org: str, blob: bytes, challenge: str) -> None:
    """Whatever the subject and extension contents: the output is clean, and the verdict is
    'refused' exactly when the subject holds a control or bidi character, or has no visible text
    at all (every value blank or invisible: core.names.is_blank, checked in test_names.py)."""
    from byoroot_tui import cli
    from byoroot_tui.core.names import is_blank

    try:
        csr = f.make_csr(
            f.key("ed25519"),
            subject=x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                               x509.NameAttribute(NameOID.COMMON_NAME, cn)]),
            extensions=[(x509.UnrecognizedExtension(x509.ObjectIdentifier(UNKNOWN_OID), blob), False)],
            attributes=[(AttributeOID.CHALLENGE_PASSWORD, challenge.encode("utf-8"))],
        )
    except ValueError:  # cryptography refuses some values (e.g. too long once encoded)
        assume(False)
        raise
    hostile = any(unicodedata.category(ch) == "Cc" or ord(ch) in f.BIDI_CONTROLS for ch in cn + org)
    hostile = hostile or (is_blank(cn) and is_blank(org))
    with tempfile.TemporaryDirectory() as d:
        path = f"{d}/req.csr"
        with open(path, "wb") as fh:
            fh.write(f.pem(csr))
        for extra in ([], ["--json"]):
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                rc = cli.main(["inspect", path, *extra])
            assert f.unsafe_chars(out.getvalue()) == [] and f.unsafe_chars(err.getvalue()) == []
            assert rc == (1 if hostile else 0), (cn, org, out.getvalue(), err.getvalue())
