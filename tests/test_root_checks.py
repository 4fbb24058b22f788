"""The root certificate's own problems (core/root.py) and the hash against its curve (core/issue.py).

- a critical extension the tool does not understand: refused, the OID named;
- a root signed with SHA-1 or MD5: refused with that reason, not "damaged or edited?";
- a serial number of zero or below: a WARNING the officer sees (inspect, sign, the app), never a
  Python warning on stderr;
- a P-256/P-384/P-521 root with a profile whose hash does not match the curve: a WARN naming the
  built-in intermediate-ca-curve-matched, which signs with the matching hash (checked with openssl).

Real roots: made with cryptography, by hand where cryptography will not (a serial that is not
positive: the TBS is re-encoded and really signed again), or by openssl (SHA-1 and MD5).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

import factories as f

OFFICERS = ("--officer", "Alice Example", "--officer", "Bob Example")
CURVE_MATCHED = "intermediate-ca-curve-matched"


def _sign(c: f.Ceremony, *extra: object) -> list[str]:
    return c.sign_argv(*extra, *OFFICERS)


def _int_der(value: int) -> bytes:
    length = max(1, (value.bit_length() + 8) // 8 if value >= 0 else ((-value - 1).bit_length() + 8) // 8)
    return f.tlv(0x02, value.to_bytes(length, "big", signed=True))


def root_with_serial(private_key: Any, serial: int) -> bytes:  # type: ignore[misc]
    """DER of a good root whose serial is ``serial`` (any sign), really signed by ``private_key``.

    cryptography's builder refuses a serial that is not positive, so a normal root is built and
    its TBS re-encoded with the other serial and signed again (core.der is not used)."""
    algorithm = None if isinstance(private_key, ed25519.Ed25519PrivateKey) else hashes.SHA384()
    root = f.make_root(private_key, hash_alg=algorithm)
    tbs, sig_alg, _sig = f.der_items(f.der(root))
    fields = f.der_items(tbs)  # [0] version, serial, signature, issuer, validity, subject, spki, [3] extensions
    assert fields[1][0] == 0x02
    new_tbs = f.tlv(0x30, fields[0] + _int_der(serial) + b"".join(fields[2:]))
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        signature = private_key.sign(new_tbs, ec.ECDSA(hashes.SHA384()))
    elif isinstance(private_key, rsa.RSAPrivateKey):
        signature = private_key.sign(new_tbs, padding.PKCS1v15(), hashes.SHA384())
    else:
        signature = private_key.sign(new_tbs)
    return f.tlv(0x30, new_tbs + sig_alg + f.tlv(0x03, b"\x00" + signature))


def _root_with_extension(private_key: Any, extension: x509.ExtensionType, critical: bool) -> x509.Certificate:  # type: ignore[misc]
    now = f.utcnow()
    subject = f.name("Test Offline Root CA", org="Example Root Org")
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * 20))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(f.key_usage(*f.ROOT_KU), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(private_key.public_key()), critical=False)
        .add_extension(extension, critical=critical)
        .sign(private_key, hashes.SHA384())
    )


def _console(*argv: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real console script: stderr is exactly what the officer's terminal would get."""
    r = f.run_proc([f.byoroot_exe(), *argv], cwd=cwd)
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode(), r.stderr.decode())


# ----------------------------------------------------------------------------- unknown critical extensions


UNKNOWN_CRITICAL = {
    "private-oid": x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.7.1"), b"\x05\x00"),
    "ct-precert-poison": x509.PrecertPoison(),  # a precertificate is no root
    "ocsp-nocheck": x509.OCSPNoCheck(),  # known to cryptography, not a root's extension
}


@pytest.mark.parametrize("case", sorted(UNKNOWN_CRITICAL))
def test_root_with_an_unknown_critical_extension_is_refused(case: str, ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    rkey = f.key("p384", 1)
    ext = UNKNOWN_CRITICAL[case]
    c = ceremony(root_key=rkey, root_cert=_root_with_extension(rkey, ext, critical=True))
    before = f.listing(c.stick)
    r = cli(*_sign(c))
    f.assert_refusal(r, "critical extension", "does not understand", ext.oid.dotted_string)
    assert f.listing(c.stick) == before, "nothing is written"
    f.assert_refusal(cli("inspect", c.csr, "--root-cert", c.root_cert), ext.oid.dotted_string)
    f.assert_refusal(cli("verify", c.root_cert, "--root-cert", c.root_cert), ext.oid.dotted_string)


UNDERSTOOD_CRITICAL = {
    "name-constraints": x509.NameConstraints(permitted_subtrees=[x509.DNSName("example.com")], excluded_subtrees=None),
    "policy-constraints": x509.PolicyConstraints(require_explicit_policy=None, inhibit_policy_mapping=0),
    "inhibit-any-policy": x509.InhibitAnyPolicy(0),
    "certificate-policies": x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier("2.5.29.32.0"), None)]),
    "extended-key-usage": x509.ExtendedKeyUsage([x509.ObjectIdentifier("1.3.6.1.5.5.7.3.1")]),
    "subject-alt-name": x509.SubjectAlternativeName([x509.DNSName("root.example.com")]),
}


def test_only_the_critical_flag_on_an_extension_outside_rfc5280_refuses(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    """Critical RFC 5280 extensions are understood, and an unknown one that is not critical is
    fine: those roots sign. The same unknown extension marked critical is refused."""
    rkey = f.key("p384", 1)
    for case, ext in UNDERSTOOD_CRITICAL.items():
        c = ceremony(root_key=rkey, root_cert=_root_with_extension(rkey, ext, critical=True))
        r = cli("inspect", c.csr, "--root-cert", c.root_cert, "--json")
        assert "does not understand" not in r.text, case
        assert json.loads(r.out)["verdict"] == "acceptable", (case, r.out)
    unknown = UNKNOWN_CRITICAL["private-oid"]
    c = ceremony(root_key=rkey, root_cert=_root_with_extension(rkey, unknown, critical=False))
    r = cli(*_sign(c))
    assert r.rc == 0, r.err
    f.assert_openssl_ok(c.root_cert, c.cert_path)
    c.write_root_cert(_root_with_extension(rkey, unknown, critical=True))
    f.assert_refusal(cli(*_sign(c, "--force")), "1.3.6.1.4.1.55555.7.1")


# ----------------------------------------------------------------------------- SHA-1 and MD5 signed roots


def _openssl_root(tmp_path: Path, key_kind: str, digest: str, *extra: str) -> tuple[Path, Path]:
    key_path = tmp_path / f"{key_kind}-{digest}.key"
    key_path.write_bytes(f.key_bytes(f.key(key_kind, 1)))
    cert_path = tmp_path / f"{key_kind}-{digest}.crt"
    subprocess.run(
        [f.openssl(), "req", "-x509", "-new", "-key", str(key_path), "-subj", f"/O=Example/CN=Old {digest} Root",
         f"-{digest}", "-days", "3650", *extra,
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
         "-out", str(cert_path)],
        check=True, capture_output=True,
    )
    return cert_path, key_path


WEAK = {
    "rsa-sha1": ("rsa2048", "sha1", (), "sha1WithRSAEncryption", "SHA-1"),
    "rsa-md5": ("rsa2048", "md5", (), "md5WithRSAEncryption", "MD5"),
    "ecdsa-sha1": ("p256", "sha1", (), "ecdsa-with-SHA1", "SHA-1"),
    "rsa-pss-sha1": ("rsa2048", "sha1", ("-sigopt", "rsa_padding_mode:pss"), "rsassaPss", "SHA-1"),
}


@pytest.mark.parametrize("case", sorted(WEAK))
def test_sha1_and_md5_signed_roots_are_refused_for_their_hash(case: str, ceremony, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kind, digest, extra, openssl_name, shown = WEAK[case]
    cert_path, key_path = _openssl_root(tmp_path, kind, digest, *extra)
    text = subprocess.run([f.openssl(), "x509", "-in", str(cert_path), "-noout", "-text"],
                          capture_output=True, text=True, check=True).stdout
    assert f"Signature Algorithm: {openssl_name}" in text  # what the file really is
    c = ceremony(root_key=f.key(kind, 1), root_cert=x509.load_pem_x509_certificate(cert_path.read_bytes()))
    before = f.listing(c.stick)
    r = cli(*_sign(c))
    f.assert_refusal(r, f"signed with {shown}, which is no longer trusted")
    assert "damaged or edited" not in r.err
    assert f.listing(c.stick) == before
    f.assert_refusal(cli("inspect", c.csr, "--root-cert", c.root_cert), f"signed with {shown}")


# ----------------------------------------------------------------------------- serial numbers that are not positive


@pytest.mark.parametrize("serial", [0, -1, -(2**64) - 5], ids=["zero", "minus-one", "big-negative"])
def test_a_root_serial_that_is_not_positive_is_a_warning_not_a_python_warning(serial: int, ceremony, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rkey = f.key("p384", 1)
    der = root_with_serial(rkey, serial)
    with pytest.warns(Warning, match="serial number"):  # what cryptography itself does on parsing
        assert x509.load_der_x509_certificate(der).serial_number == serial
    c = ceremony(root_key=rkey)
    c.root_cert.write_bytes(der)
    word = "zero" if serial == 0 else "negative"

    r = _console("inspect", c.csr, "--root-cert", c.root_cert, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", "no Python warning on the officer's terminal"
    assert any(line.strip().startswith("WARN") and f"serial number is {word}" in line for line in r.stdout.splitlines()), r.stdout

    r = _console("inspect", c.csr, "--root-cert", c.root_cert, "--json", cwd=tmp_path)
    assert r.stderr == ""
    codes = [x["code"] for x in json.loads(r.stdout)["findings"] if x["severity"] == "warn"]
    assert codes.count("root.serial_not_positive") == 1

    r = _console(*_sign(c, "--log", tmp_path / "log.jsonl"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    warnings = [line for line in r.stdout.splitlines() if line.startswith("WARNING:")]
    assert any(f"serial number is {word}" in w for w in warnings), r.stdout
    with pytest.warns(Warning, match="serial number"):
        root_cert = x509.load_der_x509_certificate(der)
    c.issued().verify_directly_issued_by(root_cert)  # the chain holds

    r = _console("verify", c.cert_path, "--root-cert", c.root_cert, "--csr", c.csr, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stderr == ""

    c.root_cert.write_bytes(root_with_serial(rkey, 0x1234))  # control: the same encoding, a positive serial
    r = _console("inspect", c.csr, "--root-cert", c.root_cert, cwd=tmp_path)
    assert r.returncode == 0 and "serial number" not in r.stdout and r.stderr == "", r.stdout + r.stderr


# ----------------------------------------------------------------------------- the hash against the root's curve


CURVES = {"p256": ("sha256", "ecdsa-with-SHA256"), "p384": ("sha384", "ecdsa-with-SHA384"),
          "p521": ("sha512", "ecdsa-with-SHA512"), "rsa3072": ("sha512", "sha512WithRSAEncryption"),
          "ed25519": (None, "ED25519")}


def _openssl_signature_algorithm(cert: Path) -> str:
    text = subprocess.run([f.openssl(), "x509", "-in", str(cert), "-noout", "-text"], capture_output=True,
                          text=True, check=True).stdout
    return text.split("Signature Algorithm:", 1)[1].split("\n", 1)[0].strip()


@pytest.mark.parametrize("kind", sorted(CURVES))
def test_the_curve_matched_profile_signs_with_the_curves_hash(kind: str, ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    want_hash, want_openssl = CURVES[kind]
    c = ceremony(root_kind=kind)
    r = cli(*_sign(c, "--profile", CURVE_MATCHED))
    assert r.rc == 0, r.err
    assert f"with profile {CURVE_MATCHED}" in r.out
    cert = c.issued()
    assert (cert.signature_hash_algorithm.name if cert.signature_hash_algorithm else None) == want_hash
    assert _openssl_signature_algorithm(c.cert_path) == want_openssl  # an independent reader
    f.assert_openssl_ok(c.root_cert, c.cert_path)
    assert f.pkilint_problems(f.der(cert)) == []
    r = cli("inspect", c.csr, "--root-cert", c.root_cert, "--profile", CURVE_MATCHED)
    assert CURVE_MATCHED not in r.out.split("Findings against profile", 1)[1].split("\n", 1)[1], r.out
    if kind in ("p521", "rsa3072", "ed25519"):  # the default profile suits these roots as well
        assert CURVE_MATCHED not in cli("inspect", c.csr, "--root-cert", c.root_cert).out


@pytest.mark.parametrize("kind", ["p256", "p384"])
def test_inspect_warns_when_the_default_hash_does_not_match_the_curve(kind: str, ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony(root_kind=kind)
    curve = {"p256": "P-256", "p384": "P-384"}[kind]
    want = {"p256": "SHA-256", "p384": "SHA-384"}[kind]
    r = cli("inspect", c.csr, "--root-cert", c.root_cert)
    assert r.rc == 0, r.err
    warns = [line for line in r.out.splitlines() if line.strip().startswith("WARN") and CURVE_MATCHED in line]
    assert len(warns) == 1, r.out
    assert f"{curve}" in warns[0] and f"expect {want} with {curve}" in warns[0] and "SHA-512" in warns[0]
    assert "Mozilla" in warns[0]
    data = json.loads(cli("inspect", c.csr, "--root-cert", c.root_cert, "--json").out)
    assert [x["severity"] for x in data["findings"] if x["code"] == "root.hash_curve"] == ["warn"]
    # Without a root (a stand-in issuer whose curve suits the profile) there is nothing to compare.
    assert CURVE_MATCHED not in cli("inspect", c.csr).out


def test_a_p521_root_with_a_sha384_profile_is_warned_by_the_brs(ceremony, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "p.toml").write_text('name = "h384"\nsignature_hash = "sha384"\n')
    c = ceremony(root_kind="p521")
    r = cli("inspect", c.csr, "--root-cert", c.root_cert, "--profiles", folder, "--profile", "h384")
    warn = [line for line in r.out.splitlines() if CURVE_MATCHED in line]
    assert len(warn) == 1 and "expect SHA-512 with P-521" in warn[0] and "BRs" in warn[0], r.out
    assert "Mozilla" not in warn[0]  # Mozilla's policy has no P-521 at all


def test_a_file_profile_with_the_wrong_hash_is_told_about_match_curve(ceremony, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "p.toml").write_text('name = "mine"\nsignature_hash = "sha384"\n')
    (folder / "m.toml").write_text('name = "mine-matched"\nsignature_hash = "match-curve"\n')
    c = ceremony(root_kind="p256")
    r = cli("inspect", c.csr, "--root-cert", c.root_cert, "--profiles", folder, "--profile", "mine")
    warn = [line for line in r.out.splitlines() if CURVE_MATCHED in line]
    assert len(warn) == 1 and 'signature_hash = "match-curve"' in warn[0] and "SHA-384" in warn[0], r.out
    r = cli(*_sign(c, "--profiles", folder, "--profile", "mine-matched"))
    assert r.rc == 0, r.err
    assert _openssl_signature_algorithm(c.cert_path) == "ecdsa-with-SHA256"


def test_the_curve_matched_profile_is_listed(cli) -> None:  # type: ignore[no-untyped-def]
    data = {p["name"]: p for p in json.loads(cli("profiles", "--json").out)["profiles"]}
    assert data[CURVE_MATCHED]["signature_hash"] == "match-curve"
    assert data[CURVE_MATCHED]["source"] == "built-in"
    assert data["intermediate-ca"]["signature_hash"] == "sha512"  # the default stays SHA-512
    text = cli("profiles").out
    assert f"{CURVE_MATCHED} (built-in)" in text and "matches the root's curve" in text


# ----------------------------------------------------------------------------- the app


def _app_on(c: f.Ceremony) -> Any:
    from byoroot_tui.ui.app import make_app
    from test_ui_ceremony import services

    return make_app(media_roots=[c.stick], root_cert=c.root_cert, root_key=c.root_key, csr=c.csr,
                    services=services(log_path=c.base / "station.jsonl"))


def test_the_app_shows_the_root_serial_warning_on_the_root_and_review_screens(ceremony) -> None:  # type: ignore[no-untyped-def]
    from byoroot_tui.ui import drive

    rkey = f.key("p384", 1)
    c = ceremony(root_key=rkey)
    c.root_cert.write_bytes(root_with_serial(rkey, -7))
    app = _app_on(c)

    async def go() -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            await drive.to_root(pilot, app)
            await drive.check_key(pilot, app, None)
            await drive.wait_for(pilot, lambda: drive.shows(app, "serial number is negative"), "the root's warning")
            await pilot.press("ctrl+n")
            await drive.wait_for(pilot, lambda: drive.step_of(app) == "review", "the review")
            await drive.wait_for(pilot, app.ceremony.plan_is_current, "the plan")
            await drive.wait_for(pilot, lambda: drive.shows(app, "serial number is negative"), "the warning in the review")

    asyncio.run(go())


def test_the_app_warns_about_the_hash_and_one_key_on_the_profile_list_fixes_it(ceremony) -> None:  # type: ignore[no-untyped-def]
    from byoroot_tui.ui import drive

    c = ceremony(root_kind="p384")
    app = _app_on(c)

    async def go() -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            cer = app.ceremony
            await drive.to_review(pilot, app)
            assert cer.plan is not None and cer.plan.signature_algorithm == "ecdsa-with-SHA512"
            await drive.wait_for(pilot, lambda: drive.shows(app, f"use profile {CURVE_MATCHED}"), "the hash warning")
            await pilot.press("escape")
            await drive.wait_for(pilot, lambda: drive.step_of(app) == "root", "the root step")
            await pilot.press("escape")
            await drive.wait_for(pilot, lambda: drive.step_of(app) == "profile", "the profile step")
            assert drive.shows(app, f"use profile {CURVE_MATCHED}")  # said where the profile is chosen too
            await pilot.press("down")  # the curve-matched built-in is right below the default
            await drive.wait_for(pilot, lambda: cer.profile_name == CURVE_MATCHED, "the curve-matched profile")
            await drive.wait_for(pilot, lambda: not drive.shows(app, f"use profile {CURVE_MATCHED}"), "no warning")
            await pilot.press("ctrl+n")
            await drive.wait_for(pilot, lambda: drive.step_of(app) == "root", "the root step")
            await pilot.press("ctrl+n")
            await drive.wait_for(pilot, lambda: drive.step_of(app) == "review", "the review")
            await drive.wait_for(pilot, cer.plan_is_current, "the new plan")
            assert cer.plan is not None and cer.plan.signature_algorithm == "ecdsa-with-SHA384"
            assert not drive.shows(app, f"use profile {CURVE_MATCHED}")

    asyncio.run(go())
