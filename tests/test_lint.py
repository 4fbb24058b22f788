"""Lint before the root key is touched, and again after signing (issue 6).

The root key is a real key loaded with `core.signer.load_root_key`; to prove it was never used
it is wrapped in a small class that counts calls and delegates to it (no cryptography is faked).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

import factories as f
from byoroot_tui.core import der as core_der
from byoroot_tui.core import signer as core_signer
from byoroot_tui.core.csr import load_csr
from byoroot_tui.core.errors import ByorootError, PolicyRefused
from byoroot_tui.core.issue import Plan, assess, make_plan, sign_plan
from byoroot_tui.core.lint import LintFinding, LintReport, cabf_types, lint
from byoroot_tui.core.profiles import DEFAULT_PROFILE, load_profile_file, parse_profile
from byoroot_tui.core.root import load_root

SHIPPED = f.REPO / "profiles"


@pytest.fixture(autouse=True)
def _isolated_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    xdg = tmp_path / "xdg-config"
    xdg.mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))


class CountingSigner:
    """Delegates to a real root signer and counts what is asked of it."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.signs = 0
        self.public_key_calls = 0
        self.signed: list[bytes] = []

    def public_key(self) -> object:
        self.public_key_calls += 1
        return self.inner.public_key()

    def sign(self, tbs: bytes, hash_algorithm):  # type: ignore[no-untyped-def]
        self.signs += 1
        self.signed.append(tbs)
        return self.inner.sign(tbs, hash_algorithm)

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> CountingSigner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class OtherBytesSigner(CountingSigner):
    """The real root key, but signing other bytes than the TBS it is given."""

    def sign(self, tbs: bytes, hash_algorithm):  # type: ignore[no-untyped-def]
        self.signs += 1
        return self.inner.sign(b"not the tbs: " + tbs[:-1], hash_algorithm)


class WrongHashSigner(CountingSigner):
    """The real root key signing the right TBS with another hash than the planned one."""

    def sign(self, tbs: bytes, hash_algorithm):  # type: ignore[no-untyped-def]
        self.signs += 1
        return self.inner.sign(tbs, hashes.SHA256() if not isinstance(hash_algorithm, hashes.SHA256) else hashes.SHA384())


class KeyLoads:
    """Patches `core.signer.load_root_key` (as the CLI calls it) to hand out counting signers."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, cls: type[CountingSigner] = CountingSigner) -> None:
        self.loads = 0
        self.signers: list[CountingSigner] = []
        real = core_signer.load_root_key

        def load(path, passphrase=None):  # type: ignore[no-untyped-def]
            self.loads += 1
            s = cls(real(path, passphrase))
            self.signers.append(s)
            return s

        monkeypatch.setattr(core_signer, "load_root_key", load)

    @property
    def signs(self) -> int:
        return sum(s.signs for s in self.signers)


def core_inputs(c: f.Ceremony):  # type: ignore[no-untyped-def]
    return load_csr(c.csr), load_root(c.root_cert), CountingSigner(core_signer.load_root_key(c.root_key))


def write_profile(folder: Path, text: str, fname: str = "p.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / fname).write_text(text, encoding="utf-8")
    return folder / fname


def no_country_csr(kind: str = "p256") -> x509.CertificateSigningRequest:
    return f.make_csr(f.key(kind), subject=f.name("Example Issuing CA", country=None))


PUBLIC_TLS_BODY = (
    'path_length = 0\nsignature_hash = "sha384"\nextended_key_usage = ["server_auth"]\n'
    'crl_distribution_points = ["http://crl.example.com/root.crl"]\nca_issuers = ["http://repo.example.com/root.crt"]\n'
    'certificate_policies = ["2.23.140.1.2.2"]\n'
)

# Profiles (and CSRs) that would produce a non-conformant certificate, found by experiment, with the
# pkilint finding each one must be refused for. The first four are RFC 5280-level problems the
# profile format allows; the last two come from strict CA/B Forum mode.
NONCONFORMANT = [
    pytest.param('name = "ke"\nkey_usage = ["key_cert_sign", "key_encipherment"]\n', "p256", None,
                 "pkix.key_usage_value_prohibited_for_ec", id="keyEncipherment-for-an-EC-key"),
    pytest.param('name = "de"\nkey_usage = ["key_cert_sign", "crl_sign", "data_encipherment"]\n', "p384", None,
                 "pkix.key_usage_value_prohibited_for_ec", id="dataEncipherment-for-an-EC-key"),
    pytest.param('name = "lh"\n[name_constraints]\npermitted_dns = ["localhost"]\n', "p256", None,
                 "pkix.invalid_domain_name_syntax", id="single-label-dns-constraint"),
    pytest.param('name = "pub"\nstrict_cabf = "EXTERNAL-UNCONSTRAINED-TLS-CA"\n' + PUBLIC_TLS_BODY, "p256",
                 "no-country", "cabf.serverauth.ca.country_attribute_absent", id="strict-cabf-without-countryName"),
    pytest.param('name = "tc"\nstrict_cabf = "INTERNAL-CONSTRAINED-TLS-CA"\n' + PUBLIC_TLS_BODY
                 + '[name_constraints]\npermitted_dns = ["example.com"]\npermitted_ip = ["10.0.0.0/8"]\n', "p256", None,
                 "cabf.serverauth.ca.incomplete_name_constraints", id="strict-constrained-tls-without-directoryName"),
]


# ----------------------------------------------------------------------------- 5. lint before sign


@pytest.mark.parametrize(("toml", "csr_kind", "csr_variant", "code"), NONCONFORMANT)
def test_nonconformant_profile_is_refused_before_the_root_key_signs(toml, csr_kind, csr_variant, code, ceremony) -> None:  # type: ignore[no-untyped-def]
    c = ceremony(csr_kind=csr_kind, csr=no_country_csr(csr_kind) if csr_variant == "no-country" else None)
    profile = load_profile_file(write_profile(c.base / "profiles", toml))
    csr, root, signer = core_inputs(c)
    with signer:
        with pytest.raises(PolicyRefused) as exc:
            plan = make_plan(csr, profile, root)  # the ceremony's order: plan (and lint), then sign
            sign_plan(plan, signer)
        assert signer.signs == 0, "the root key was used"
    msg = str(exc.value)
    assert "refused by the linter before signing" in msg and code in msg, msg
    assert "\n" not in msg


def test_the_counting_signer_really_counts(ceremony) -> None:  # type: ignore[no-untyped-def]
    """Control for the test above: the same wrapper around the same key counts a real signature."""
    c = ceremony()
    csr, root, signer = core_inputs(c)
    with signer:
        issued = sign_plan(make_plan(csr, DEFAULT_PROFILE, root), signer)
    assert signer.signs == 1 and signer.signed == [issued.plan.tbs]
    issued.certificate.verify_directly_issued_by(c.root_cert_obj)


@pytest.mark.parametrize(("toml", "csr_kind", "csr_variant", "code"), NONCONFORMANT)
def test_nonconformant_profile_is_refused_by_the_cli(toml, csr_kind, csr_variant, code, ceremony, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    c = ceremony(csr_kind=csr_kind, csr=no_country_csr(csr_kind) if csr_variant == "no-country" else None)
    path = write_profile(c.base / "profiles", toml)
    keys = KeyLoads(monkeypatch)
    before = f.listing(c.stick)
    r = cli(*c.sign_argv("--profile", path))
    f.assert_refusal(r, "before signing", code)
    assert r.out == ""
    assert keys.loads == 0 and keys.signs == 0, "the root key was not even loaded"
    assert f.listing(c.stick) == before and not c.cert_path.exists()
    assert f.temp_leftovers(c.base) == []


def test_the_cli_key_counter_really_counts(ceremony, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    keys = KeyLoads(monkeypatch)
    assert cli(*c.sign_argv()).rc == 0
    assert keys.loads == 1 and keys.signs == 1


def test_strict_cabf_option_refuses_the_built_in_profile(ceremony, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    keys = KeyLoads(monkeypatch)
    before = f.listing(c.stick)
    r = cli(*c.sign_argv("--strict-cabf", "EXTERNAL-UNCONSTRAINED-TLS-CA"))
    f.assert_refusal(r, "before signing", "cabf.serverauth.ca.crl_distribution_points_extension_absent",
                     "cabf.serverauth.ca.certificate_policies_extension_absent")
    assert keys.loads == 0 and keys.signs == 0
    assert f.listing(c.stick) == before


def test_strict_cabf_option_passes_a_br_shaped_profile(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    path = write_profile(c.base / "profiles", 'name = "pub"\n' + PUBLIC_TLS_BODY)
    r = cli(*c.sign_argv("--profile", path, "--strict-cabf", "EXTERNAL-UNCONSTRAINED-TLS-CA"))
    assert r.rc == 0, r.err
    assert "CA/B Forum TLS BRs as EXTERNAL-UNCONSTRAINED-TLS-CA" in r.out
    f.assert_openssl_ok(c.root_cert, c.cert_path)


@pytest.mark.parametrize(("value", "words"), [("bogus", "unknown CA/B Forum CA type"),
                                              ("DV-FINAL-CERTIFICATE", "not a CA type")])
def test_strict_cabf_option_bad_type(value: str, words: str, ceremony, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    keys = KeyLoads(monkeypatch)
    before = f.listing(c.stick)
    f.assert_refusal(cli(*c.sign_argv("--strict-cabf", value)), words)
    f.assert_refusal(cli("inspect", c.csr, "--strict-cabf", value), words)
    assert keys.loads == 0 and f.listing(c.stick) == before


def test_a_plan_that_was_not_linted_is_never_signed(ceremony) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    csr, root, signer = core_inputs(c)
    plan = make_plan(csr, DEFAULT_PROFILE, root, lint=False)
    assert plan.lint is None
    with signer, pytest.raises(PolicyRefused, match="not linted clean"):
        sign_plan(plan, signer)
    assert signer.signs == 0


def test_a_plan_with_a_blocking_finding_is_never_signed(ceremony) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    csr, root, signer = core_inputs(c)
    plan = make_plan(csr, DEFAULT_PROFILE, root)
    dirty = LintReport((LintFinding("WARNING", "pkix.something", "made up", "certificate"),), plan.lint.checks)  # type: ignore[union-attr]
    with signer, pytest.raises(PolicyRefused, match="not linted clean"):
        sign_plan(dataclasses.replace(plan, lint=dirty), signer)
    assert signer.signs == 0


def test_sign_plan_refuses_a_tbs_that_is_not_the_linted_one(ceremony, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    csr, root, signer = core_inputs(c)
    linted = make_plan(csr, DEFAULT_PROFILE, root)
    bad_profile = parse_profile('name = "ke"\nkey_usage = ["key_cert_sign", "key_encipherment"]\n', "'ke.toml'")
    unlinted = make_plan(csr, bad_profile, root, lint=False)
    forged = dataclasses.replace(linted, tbs=unlinted.tbs)
    with signer:
        with pytest.raises(ByorootError):
            sign_plan(forged, signer)
        assert signer.signs == 0, "the root key signed bytes that were never linted"


# ----------------------------------------------------------------------------- 6. after signing


def test_issued_tbs_is_the_linted_tbs_byte_for_byte(ceremony) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    profile = load_profile_file(SHIPPED / "internal-constrained.toml")
    csr, root, signer = core_inputs(c)
    plan = make_plan(csr, profile, root)
    with signer:
        issued = sign_plan(plan, signer)
    issued_parts = core_der.split_certificate(issued.der)
    lint_parts = core_der.split_certificate(plan.lint_certificate)
    assert issued_parts.tbs == plan.tbs == lint_parts.tbs
    assert issued_parts.signature_algorithm == lint_parts.signature_algorithm == plan.signature_algorithm_der
    assert signer.signed == [plan.tbs]
    # Independent of core.der: the TBS cryptography sees in both certificates.
    lint_cert = x509.load_der_x509_certificate(plan.lint_certificate)
    assert issued.certificate.tbs_certificate_bytes == lint_cert.tbs_certificate_bytes == plan.tbs
    # The lint certificate was signed by a throwaway key, never the root's.
    with pytest.raises(Exception):
        lint_cert.verify_directly_issued_by(c.root_cert_obj)
    issued.certificate.verify_directly_issued_by(c.root_cert_obj)
    # Both lints ran; the second one with the chain's signature check.
    assert plan.lint is not None and plan.lint.clean and issued.lint is not None and issued.lint.clean
    assert "issuer/subject chain (signature checked after signing)" in plan.lint.checks
    assert "issuer/subject chain" in issued.lint.checks
    assert issued.as_dict()["post_sign_lint"]["clean"] is True


def test_issued_tbs_equals_linted_tbs_with_strict_cabf(ceremony) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    csr, root, signer = core_inputs(c)
    plan = make_plan(csr, load_profile_file(SHIPPED / "public-tls-issuing.toml"), root)
    with signer:
        issued = sign_plan(plan, signer)
    assert core_der.split_certificate(issued.der).tbs == core_der.split_certificate(plan.lint_certificate).tbs
    assert any(ch.startswith("CA/B Forum") for ch in issued.lint.checks)  # type: ignore[union-attr]


@pytest.mark.parametrize("cls", [OtherBytesSigner, WrongHashSigner], ids=["other-bytes", "other-hash"])
def test_a_signature_over_other_bytes_is_caught_after_signing(cls, ceremony) -> None:  # type: ignore[no-untyped-def]
    c = ceremony(root_kind="p384")
    csr, root, _ = core_inputs(c)
    plan = make_plan(csr, DEFAULT_PROFILE, root)
    signer = cls(core_signer.load_root_key(c.root_key))
    with signer, pytest.raises(ByorootError, match="does not verify"):
        sign_plan(plan, signer)
    assert signer.signs == 1


@pytest.mark.parametrize("cls", [OtherBytesSigner, WrongHashSigner], ids=["other-bytes", "other-hash"])
def test_a_signature_over_other_bytes_writes_nothing(cls, ceremony, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    c = ceremony(root_kind="rsa2048")
    keys = KeyLoads(monkeypatch, cls)
    before = f.listing(c.stick)
    r = cli(*c.sign_argv())
    f.assert_refusal(r, "does not verify")
    assert keys.signs == 1
    assert f.listing(c.stick) == before and not c.cert_path.exists()
    assert f.temp_leftovers(c.base) == []


def test_a_signer_for_another_key_is_refused_before_signing(ceremony) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    csr, root, _ = core_inputs(c)
    plan = make_plan(csr, DEFAULT_PROFILE, root)
    other = CountingSigner(core_signer.FileSigner(f.key("p384", 5)))
    with pytest.raises(ByorootError, match="does not match"):
        sign_plan(plan, other)
    assert other.signs == 0


# ----------------------------------------------------------------------------- lint() itself


def test_lint_checks_the_chain_and_the_signature(ceremony) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    csr, root, signer = core_inputs(c)
    plan = make_plan(csr, DEFAULT_PROFILE, root)
    with signer:
        issued = sign_plan(plan, signer)
    root_der = f.der(c.root_cert_obj)
    good = lint(issued.der, root_der, check_signature=True)
    assert good.clean and good.checks == ("RFC 5280", "issuer/subject chain")
    assert good.summary().startswith("clean (")
    assert good.as_dict()["clean"] is True

    # The throwaway-signed lint certificate: clean without the signature check, not with it.
    assert lint(plan.lint_certificate, root_der, check_signature=False).clean
    with_sig = lint(plan.lint_certificate, root_der, check_signature=True)
    assert not with_sig.clean
    assert any("signature" in fd.code for fd in with_sig.blocking), with_sig.findings

    # Against another root: the names and key identifiers do not chain.
    other_root = f.make_root(f.key("p384", 6), subject=f.name("Another Root", org="Other"))
    wrong = lint(issued.der, f.der(other_root), check_signature=False)
    assert not wrong.clean
    assert {fd.code for fd in wrong.blocking} == {"pkix.issuer_and_subject_key_identifier_not_equal"}
    # pkilint reports the name mismatch only as a NOTICE; make_plan checks the names byte for byte itself.
    assert ("NOTICE", "pkix.issuer_and_subject_dn_not_binary_equal") in {(fd.severity, fd.code) for fd in wrong.findings}
    assert wrong.summary() == "; ".join(fd.line() for fd in wrong.blocking)


def test_lint_refuses_what_it_cannot_parse() -> None:
    with pytest.raises(PolicyRefused, match="linter could not process"):
        lint(b"\x30\x03\x02\x01\x00", f.der(f.make_root(f.key("p384", 1))), check_signature=False)


def test_cabf_types_are_exactly_pkilints_ca_types() -> None:
    from pkilint.cabf.serverauth import serverauth_constants

    theirs = [t.to_option_str for t in serverauth_constants.CertificateType if t.name.endswith("_CA")]
    assert cabf_types() == theirs


def test_a_strict_cabf_profile_is_read_without_importing_pkilint(tmp_path: Path) -> None:
    # the app reads profiles on its profile step; pkilint's CA/B modules take 0.5-1 s to import
    code = (
        "import sys, pathlib\n"
        "from byoroot_tui.core.profiles import load_profile_file\n"
        "p = load_profile_file(pathlib.Path(sys.argv[1]))\n"
        "assert p.strict_cabf == 'EXTERNAL-UNCONSTRAINED-TLS-CA', p.strict_cabf\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pkilint', 'iso639')))\n"
    )
    prof = tmp_path / "strict.toml"
    prof.write_text('name = "strict"\nstrict_cabf = "external_unconstrained_tls_ca"\n')
    out = subprocess.run([sys.executable, "-c", code, str(prof)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_lint_with_cabf_types() -> None:
    types = cabf_types()
    assert "EXTERNAL-UNCONSTRAINED-TLS-CA" in types and "INTERNAL-CONSTRAINED-TLS-CA" in types
    assert all(t.endswith("-CA") for t in types)
    root = f.make_root(f.key("p384", 1))
    with pytest.raises(ByorootError, match="unknown CA/B Forum CA type"):
        lint(f.der(root), f.der(root), check_signature=False, cabf_type="nope")
    with pytest.raises(ByorootError, match="not a CA type"):
        lint(f.der(root), f.der(root), check_signature=False, cabf_type="OV-FINAL-CERTIFICATE")


def test_lint_findings_below_warning_do_not_block(ceremony) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    profile = parse_profile('name = "ldap"\nca_issuers = ["ldap://ldap.example.com/cn=root"]\n', "'l.toml'")
    csr, root, _ = core_inputs(c)
    plan = make_plan(csr, profile, root)
    assert plan.lint is not None and plan.lint.clean
    notices = [fd for fd in plan.lint.findings if fd.severity == "NOTICE"]
    assert any(fd.code == "pkix.ldap_uri_not_validated" for fd in notices)
    assert not any(fd.blocking for fd in plan.lint.findings)


# ----------------------------------------------------------------------------- 7. inspect shows the lint


def test_inspect_shows_the_lint_against_a_stand_in_issuer(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    r = cli("inspect", c.csr)
    assert r.rc == 0, r.err
    line = next(ln for ln in r.out.splitlines() if "pkilint" in ln)
    assert line.split()[0] == "INFO" and "against a stand-in issuer" in line and "clean" in line

    data = json.loads(cli("inspect", c.csr, "--json").out)
    assert data["verdict"] == "acceptable" and data["linted_against_stand_in_issuer"] is True
    lint_json = data["would_issue"]["lint"]
    assert lint_json["clean"] is True and "RFC 5280" in lint_json["checks"]
    assert any(fd["code"] == "lint.clean" and "pkilint" in fd["message"] for fd in data["findings"])


def test_inspect_shows_the_lint_against_the_root(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    r = cli("inspect", c.csr, "--root-cert", c.root_cert)
    assert r.rc == 0, r.err
    line = next(ln for ln in r.out.splitlines() if "pkilint" in ln)
    assert "stand-in" not in line and "clean" in line

    data = json.loads(cli("inspect", c.csr, "--root-cert", c.root_cert, "--json").out)
    assert data["linted_against_stand_in_issuer"] is False
    wi = data["would_issue"]
    assert wi["lint"]["clean"] is True
    assert any(ch.startswith("issuer/subject chain") for ch in wi["lint"]["checks"])
    assert wi["root_sha256"] == hashlib.sha256(f.der(c.root_cert_obj)).hexdigest()
    assert wi["issuer"] == "CN=Test Offline Root CA,O=Example Root Org,C=DE"


def test_inspect_shows_cabf_lint_of_a_strict_profile(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    prof = SHIPPED / "public-tls-issuing.toml"
    for extra in ([], ["--root-cert", c.root_cert]):
        r = cli("inspect", c.csr, "--profile", prof, *extra)
        assert r.rc == 0, r.err
        assert "CA/B Forum TLS BRs as EXTERNAL-UNCONSTRAINED-TLS-CA" in r.out
        data = json.loads(cli("inspect", c.csr, "--profile", prof, *extra, "--json").out)
        assert any(ch.startswith("CA/B Forum") for ch in data["would_issue"]["lint"]["checks"])


def test_inspect_shows_lint_notices(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    path = write_profile(c.base / "profiles", 'name = "ldap"\nca_issuers = ["ldap://ldap.example.com/cn=root"]\n')
    r = cli("inspect", c.csr, "--profile", path)
    assert r.rc == 0, r.err
    assert "pkilint: NOTICE pkix.ldap_uri_not_validated" in r.out


@pytest.mark.parametrize("with_root", [False, True], ids=["stand-in", "root"])
def test_inspect_shows_strict_cabf_refusals(with_root: bool, ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony(csr=no_country_csr())
    extra = ["--root-cert", c.root_cert] if with_root else []
    before = f.listing(c.stick)
    r = cli("inspect", c.csr, "--strict-cabf", "EXTERNAL-UNCONSTRAINED-TLS-CA", *extra)
    assert r.rc == 1
    refuse = [ln for ln in r.out.splitlines() if ln.strip().startswith("REFUSE")]
    assert len(refuse) == 1, r.out
    assert "before signing" in refuse[0] and "cabf.serverauth.ca.country_attribute_absent" in refuse[0]
    assert "Verdict: REFUSED" in r.out

    r = cli("inspect", c.csr, "--strict-cabf", "EXTERNAL-UNCONSTRAINED-TLS-CA", *extra, "--json")
    assert r.rc == 1
    data = json.loads(r.out)
    assert data["verdict"] == "refused" and data["would_issue"] is None
    refusals = [fd for fd in data["findings"] if fd["severity"] == "refuse"]
    assert [fd["code"] for fd in refusals] == ["plan.refused"]
    assert "cabf.serverauth.ca.country_attribute_absent" in refusals[0]["message"]
    assert f.listing(c.stick) == before, "inspect writes nothing"


@pytest.mark.parametrize(("toml", "csr_kind", "csr_variant", "code"), NONCONFORMANT)
def test_inspect_shows_lint_refusals_of_a_profile(toml, csr_kind, csr_variant, code, ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony(csr_kind=csr_kind, csr=no_country_csr(csr_kind) if csr_variant == "no-country" else None)
    path = write_profile(c.base / "profiles", toml)
    data = json.loads(cli("inspect", c.csr, "--profile", path, "--root-cert", c.root_cert, "--json").out)
    assert data["verdict"] == "refused" and data["would_issue"] is None
    assert any(fd["severity"] == "refuse" and code in fd["message"] for fd in data["findings"]), data["findings"]


def test_assess_never_touches_a_key_and_reports_the_lint(ceremony) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    csr, root, _ = core_inputs(c)
    a = assess(csr, DEFAULT_PROFILE, root)
    assert not a.refused and not a.stand_in_root and isinstance(a.plan, Plan)
    assert a.plan.lint is not None and a.plan.lint.clean
    b = assess(csr, DEFAULT_PROFILE, None, strict_cabf="EXTERNAL-UNCONSTRAINED-TLS-CA")
    assert b.refused and b.plan is None and b.stand_in_root
    assert any(fd.code == "plan.refused" and "cabf.serverauth" in fd.message for fd in b.findings)


def test_the_lint_certificate_uses_the_roots_signature_algorithm(ceremony) -> None:  # type: ignore[no-untyped-def]
    c = ceremony(root_kind="p521")
    csr, root, _ = core_inputs(c)
    plan = make_plan(csr, DEFAULT_PROFILE, root)
    lint_cert = x509.load_der_x509_certificate(plan.lint_certificate)
    assert lint_cert.signature_algorithm_oid == x509.SignatureAlgorithmOID.ECDSA_WITH_SHA512
    assert isinstance(root.public_key, ec.EllipticCurvePublicKey)
    assert lint_cert.issuer.public_bytes() == c.root_cert_obj.subject.public_bytes()
