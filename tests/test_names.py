"""Names (issue 14, section 7): the root's subject under RFC 5280 comparison, blank subjects,
mixed scripts and invisible characters in what an officer reads, officers' names, profile text.

Real CSRs, roots and files throughout; OpenSSL says independently why a subject that differs
from the root's only in case, spacing or string type must be refused: it hashes both names to
the same value, so the issued intermediate would look self-issued.
"""

from __future__ import annotations

import json
import subprocess
import unicodedata
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

import factories as f
from byoroot_tui.core.ceremony import Ceremony, check_officer_name, same_person
from byoroot_tui.core.csr import parse_csr
from byoroot_tui.core.errors import InputRefused, PolicyRefused
from byoroot_tui.core.issue import assess, make_plan
from byoroot_tui.core.profiles import DEFAULT_PROFILE, load_profile_file
from byoroot_tui.core.root import parse_root

UTF8, PRINTABLE = _ASN1Type.UTF8String, _ASN1Type.PrintableString
PASSWORD = b"never typed: the key must not be reached"


def dn(*attrs: tuple[x509.ObjectIdentifier, str, _ASN1Type | None]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value, _type=t) if t else x509.NameAttribute(oid, value)
                      for oid, value, t in attrs])


ROOT_NAME = dn((NameOID.COUNTRY_NAME, "DE", None), (NameOID.ORGANIZATION_NAME, "Example Root Org", UTF8),
               (NameOID.COMMON_NAME, "Test Offline Root CA", UTF8))

# Subjects that are the root's own under RFC 5280 §7.1 and that OpenSSL hashes as the root's.
SAME_FOR_OPENSSL = {
    "case": dn((NameOID.COUNTRY_NAME, "de", None), (NameOID.ORGANIZATION_NAME, "EXAMPLE ROOT ORG", UTF8),
               (NameOID.COMMON_NAME, "test offline root ca", UTF8)),
    "case-of-one-letter": dn((NameOID.COUNTRY_NAME, "DE", None), (NameOID.ORGANIZATION_NAME, "Example Root Org", UTF8),
                             (NameOID.COMMON_NAME, "Test offline Root CA", UTF8)),
    "spacing": dn((NameOID.COUNTRY_NAME, "DE", None), (NameOID.ORGANIZATION_NAME, "  Example   Root Org", UTF8),
                  (NameOID.COMMON_NAME, "Test Offline  Root CA ", UTF8)),
    "case-spacing-and-string-type": dn((NameOID.COUNTRY_NAME, "de", None),
                                       (NameOID.ORGANIZATION_NAME, "example root  ORG", PRINTABLE),
                                       (NameOID.COMMON_NAME, " TEST OFFLINE ROOT CA", PRINTABLE)),
}
# The same under RFC 4518's preparation (NFKC, invisible characters mapped to nothing), beyond OpenSSL's.
SAME_UNDER_RFC4518 = {
    "full-width": dn((NameOID.COUNTRY_NAME, "DE", None), (NameOID.ORGANIZATION_NAME, "Example Root Org", UTF8),
                     (NameOID.COMMON_NAME, "Ｔest Ｏffline Root CA", UTF8)),
    "zero-width-space": dn((NameOID.COUNTRY_NAME, "DE", None), (NameOID.ORGANIZATION_NAME, "Example Root Org", UTF8),
                           (NameOID.COMMON_NAME, "Test Offline Root\u200b CA", UTF8)),
    "no-break-space": dn((NameOID.COUNTRY_NAME, "DE", None), (NameOID.ORGANIZATION_NAME, "Example\u00a0Root Org", UTF8),
                         (NameOID.COMMON_NAME, "Test Offline Root CA", UTF8)),
}


def _self_signed(name: x509.Name, issuer: x509.Name | None = None, signer: Any = None) -> x509.Certificate:
    k = f.key("p256", 9)
    now = f.utcnow()
    return (x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name).public_key(k.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30)).sign(signer or k, hashes.SHA256()))


def openssl_hashes(tmp_path: Path, cert: x509.Certificate) -> tuple[str, str]:
    """(subject hash, issuer hash) as OpenSSL computes them (its canonical name encoding)."""
    path = tmp_path / f"hash-{cert.serial_number:x}.pem"
    path.write_bytes(f.pem(cert))
    r = subprocess.run([f.openssl(), "x509", "-noout", "-subject_hash", "-issuer_hash", "-in", str(path)],
                       capture_output=True, text=True, check=True)
    subject_hash, issuer_hash = r.stdout.split()
    return subject_hash, issuer_hash


def _root_ceremony(ceremony, subject: x509.Name, *, encrypted: bool = True) -> f.Ceremony:  # type: ignore[no-untyped-def]
    rkey = f.key("p384", 1)
    root = f.make_root(rkey, subject=ROOT_NAME)
    kb = f.key_bytes(rkey, password=PASSWORD) if encrypted else f.key_bytes(rkey)
    return ceremony(root_key=rkey, root_cert=root, root_key_bytes=kb, csr=f.make_csr(f.key("p256"), subject=subject))


# ----------------------------------------------------------------------------- the root's own subject


@pytest.mark.parametrize("variant", sorted(SAME_FOR_OPENSSL))
def test_subject_equal_to_the_roots_under_rfc5280_is_refused_before_the_key(variant: str, ceremony, cli,
                                                                            tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    subject = SAME_FOR_OPENSSL[variant]
    assert subject.public_bytes() != ROOT_NAME.public_bytes()  # other bytes …
    # … but OpenSSL takes them for one name: a certificate issued with this subject under the
    # root has the same subject and issuer hash, i.e. it looks self-issued.
    rkey = f.key("p384", 1)
    would_be = _self_signed(subject, issuer=ROOT_NAME, signer=rkey)
    subject_hash, issuer_hash = openssl_hashes(tmp_path, would_be)
    assert subject_hash == issuer_hash, variant
    assert openssl_hashes(tmp_path, f.make_root(rkey, subject=ROOT_NAME))[0] == subject_hash

    c = _root_ceremony(ceremony, subject)  # the root key is encrypted and no passphrase is given
    log = tmp_path / "log.jsonl"
    before = f.listing(c.stick)
    r = cli(*c.sign_argv("--log", log))
    # The refusal is the name's, not "the root key is encrypted": the key was never reached.
    f.assert_refusal(r, "root's own subject")
    assert "passphrase" not in r.err and "encrypted" not in r.err
    assert f.listing(c.stick) == before
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert entries[-1]["event"] == "refused" and "root's own subject" in entries[-1]["reason"]

    r = cli("inspect", c.csr, "--root-cert", c.root_cert)
    assert r.rc == 1 and "Verdict: REFUSED" in r.out
    assert any(line.startswith("  REFUSE") and "root's own subject" in line for line in r.out.splitlines()), r.out
    r = cli("inspect", c.csr, "--root-cert", c.root_cert, "--json")
    data = json.loads(r.out)
    assert r.rc == 1 and data["verdict"] == "refused" and data["would_issue"] is None
    assert [x["code"] for x in data["findings"] if x["severity"] == "refuse"] == ["root.same_subject"]


def test_subject_equal_to_the_roots_under_rfc4518_is_refused_and_a_distinct_one_is_not(ceremony) -> None:  # type: ignore[no-untyped-def]
    for variant, subject in SAME_UNDER_RFC4518.items():
        c = _root_ceremony(ceremony, subject)
        csr, root = parse_csr(c.csr.read_bytes()), parse_root(c.root_cert.read_bytes())
        with pytest.raises(PolicyRefused, match="root's own subject"):
            make_plan(csr, DEFAULT_PROFILE, root, lint=False)
        a = assess(csr, DEFAULT_PROFILE, root)
        assert a.refused and a.plan is None, variant
        assert [x.code for x in a.findings if x.severity == "refuse"] == ["root.same_subject"], variant
    for distinct in ("Test Offline Root CA 2", "Test Offline Intermediate CA", "Test Offline Root"):
        subject = dn((NameOID.COUNTRY_NAME, "DE", None), (NameOID.ORGANIZATION_NAME, "Example Root Org", UTF8),
                     (NameOID.COMMON_NAME, distinct, UTF8))
        c = _root_ceremony(ceremony, subject)
        a = assess(parse_csr(c.csr.read_bytes()), DEFAULT_PROFILE, parse_root(c.root_cert.read_bytes()))
        assert not a.refused, (distinct, a.findings)


def test_a_case_only_variant_of_the_roots_subject_is_refused_in_the_app(tmp_path: Path) -> None:
    from byoroot_tui.core.demo import make_demo
    from byoroot_tui.ui import drive
    from byoroot_tui.ui.app import make_app
    from test_ui_ceremony import run, services

    m = make_demo(tmp_path / "demo")
    root = x509.load_pem_x509_certificate(m.root_cert.read_bytes())
    shouting = x509.Name([x509.NameAttribute(a.oid, str(a.value).upper()) for a in root.subject])
    m.csr.write_bytes(f.pem(f.make_csr(f.key("p256"), subject=shouting)))
    app = make_app(media_roots=[m.stick], root_cert=m.root_cert, root_key=m.root_key, csr=m.csr, services=services())

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.wait_for(pilot, lambda: c.root is not None, "the root")
        await drive.to_preview(pilot, app)
        await drive.wait_for(pilot, lambda: drive.shows(app, "REFUSED"), "the refusal")
        assert drive.shows(app, "is the root's own subject")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert drive.step_of(app) == "preview"  # blocked: no way to the review, nothing signed
        assert c.plan is None and c.sign_count == 0

    run(app, (120, 40), script)


# ----------------------------------------------------------------------------- blank subjects

BLANKS = [" ", "   ", "\u00a0", "\u200b", "\u3164", "\u2800", "\u115f\u1160", "\uffa0", "\u00ad", "\ufeff",
          "\u2060", " \u200b \u3164 ", "\u3000"]


@pytest.mark.parametrize("blank", BLANKS, ids=[f"U+{ord(b[0]):04X}x{len(b)}" for b in BLANKS])
def test_subject_with_no_visible_text_is_refused(blank: str, ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony(csr=f.make_csr(f.key("p256"), subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, blank)])))
    before = f.listing(c.stick)
    r = cli("inspect", c.csr, "--json")
    data = json.loads(r.out)
    assert r.rc == 1 and data["verdict"] == "refused"
    assert [x["code"] for x in data["findings"] if x["severity"] == "refuse"] == ["csr.subject_blank"]
    r = cli("inspect", c.csr)
    assert r.rc == 1 and "no visible text" in r.out
    line = next(line for line in r.out.splitlines() if "no visible text" in line)
    assert not any(ch != " " and (ch.isspace() or unicodedata.category(ch) in ("Cf", "Lo", "So")) for ch in line), line
    f.assert_refusal(cli(*c.sign_argv()), "no visible text")
    assert f.listing(c.stick) == before


def test_every_value_blank_is_refused_but_one_blank_value_beside_text_is_a_warning(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    all_blank = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, " "),
                           x509.NameAttribute(NameOID.COMMON_NAME, "\u3164")])
    c = ceremony(csr=f.make_csr(f.key("p256"), subject=all_blank))
    f.assert_refusal(cli(*c.sign_argv()), "no visible text")
    one_blank = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Org"),
                           x509.NameAttribute(NameOID.COMMON_NAME, "\u2800")])
    info = parse_csr(f.pem(f.make_csr(f.key("p256"), subject=one_blank)))
    assert not info.refused
    assert [x.code for x in info.findings if x.code.startswith("csr.subject_blank")] == ["csr.subject_blank_value"]
    assert "\\u2800" in next(x.message for x in info.findings if x.code == "csr.subject_blank_value")


# ----------------------------------------------------------------------------- what inspect flags


def _csr_with(cn: str, san: list[x509.GeneralName] | None = None) -> x509.CertificateSigningRequest:
    exts = [(x509.SubjectAlternativeName(san), False)] if san else []
    return f.make_csr(f.key("p256"), subject=f.name(cn, org="Example Org"), extensions=exts)


CYRILLIC_A = "\u0430"
IDN_SPOOF = ("\u0430pple.example.com").encode("idna").decode("ascii")  # "аpple": a Cyrillic а, as an A-label

# cn, SAN, the name finding codes inspect must give (warnings; inspect still accepts the CSR), text it must show
FLAGGED = [
    (f"Ex{CYRILLIC_A}mple Intermediate CA", None, ["csr.subject.mixed_scripts"], ["U+0430", "Cyrillic"]),
    ("Example\u200bIntermediate CA", None, ["csr.subject.invisible_chars"], ["\\u200b", "U+200B"]),
    ("Example\u3164Intermediate CA", None, ["csr.subject.invisible_chars"], ["\\u3164", "HANGUL FILLER"]),
    ("Example Intermediate CA\u2800", None, ["csr.subject.invisible_chars"], ["\\u2800"]),
    ("Example Intermediate CA", [x509.DNSName(IDN_SPOOF)], ["csr.san.mixed_scripts"], [IDN_SPOOF, "U+0430"]),
    ("Example Intermediate CA", [x509.RFC822Name("pki@" + IDN_SPOOF)], ["csr.san.mixed_scripts"], ["U+0430"]),
    ("Example Intermediate CA", [x509.DirectoryName(f.name(f"Ex{CYRILLIC_A}mple", org="Example\u200bOrg"))],
     ["csr.san.invisible_chars", "csr.san.mixed_scripts"], ["\\u200b", "U+0430"]),
    # not flagged: one script, or scripts written together (Japanese with Latin)
    ("Example Intermediate CA", [x509.DNSName("ca.example.net")], [], []),
    ("Ελληνική Αρχή Πιστοποίησης", [x509.DNSName(("\u03b1\u03c1\u03c7\u03b7.example").encode("idna").decode())], [], []),
    ("株式会社 Example 中間 CA", None, [], []),
    ("Удостоверяющий центр", None, [], []),
]


def test_inspect_flags_mixed_scripts_and_invisible_characters_escaped(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    for i, (cn, san, codes, shown) in enumerate(FLAGGED):
        path = tmp_path / f"req{i}.pem"
        path.write_bytes(f.pem(_csr_with(cn, san)))
        r = cli("inspect", path, "--json")
        assert r.rc == 0, (cn, r.out, r.err)  # warnings, not refusals
        data = json.loads(r.out)
        got = sorted(x["code"] for x in data["findings"]
                     if x["code"].endswith((".mixed_scripts", ".invisible_chars")))
        assert got == sorted(codes), (cn, data["findings"])
        assert all(x["severity"] == "warn" for x in data["findings"] if x["code"] in codes)
        text = cli("inspect", path)
        warned = "\n".join(line for line in text.out.splitlines() if line.startswith("  WARN"))
        for part in shown:
            assert part in warned, (cn, part, warned)
        for line in text.out.splitlines():
            if line.startswith("  WARN"):
                assert not any(unicodedata.category(ch) in ("Cf", "Zs") and ch != " " for ch in line), line
                assert "\u3164" not in line and "\u2800" not in line, line


def test_the_review_plan_carries_the_subject_warnings(ceremony) -> None:  # type: ignore[no-untyped-def]
    c = ceremony(csr=_csr_with(f"Ex{CYRILLIC_A}mple Intermediate CA", [x509.DNSName(IDN_SPOOF)]))
    plan = make_plan(parse_csr(c.csr.read_bytes()), DEFAULT_PROFILE, parse_root(c.root_cert.read_bytes()), lint=False)
    mixed = [w for w in plan.warnings if "mixes scripts" in w]
    assert len(mixed) == 2 and all("U+0430" in w for w in mixed), plan.warnings


# ----------------------------------------------------------------------------- officers

NFC_JOSE, NFD_JOSE = unicodedata.normalize("NFC", "José"), unicodedata.normalize("NFD", "José")


@pytest.mark.parametrize(("a", "b"), [("Ａlice", "Alice"), ("ＡＬＩＣＥ　ＭＡＲＴＩＮ", "alice martin"), (NFC_JOSE, NFD_JOSE),
                                      ("Jos\u00c9", NFD_JOSE), ("Alice\u3164", "Alice")])
def test_officer_names_are_compared_after_nfkc_and_casefold(a: str, b: str) -> None:
    assert a != b and same_person(a, b)
    assert not same_person("Alice", "Alicia") and not same_person(NFC_JOSE, "Jose")


@pytest.mark.parametrize("blank", ["\u3164", "\u2800", "\u115f", "\u1160", "\uffa0", "\u3164 \u2800", "\u00a0\u3164",
                                   "\u200b\u200b", "\u00ad"])
def test_officer_name_of_invisible_characters_only_is_refused(blank: str) -> None:
    with pytest.raises(InputRefused, match="no visible characters"):
        check_officer_name(blank)


def test_the_app_takes_a_full_width_or_nfd_name_for_the_same_officer(tmp_path: Path) -> None:
    from byoroot_tui.core.demo import make_demo

    m = make_demo(tmp_path / "demo")
    c = Ceremony(media_roots=[m.stick])
    info, root = parse_csr(m.csr.read_bytes()), parse_root(m.root_cert.read_bytes())
    c.set_csr(m.csr, info)
    c.set_root(m.root_cert, root)
    c.set_plan(make_plan(info, c.profile, root, lint=False))
    for first, second in (("Alice", "Ａlice"), (NFC_JOSE, NFD_JOSE)):
        c.confirm_officer(1, first)
        with pytest.raises(InputRefused, match="different person"):
            c.confirm_officer(2, second)
        assert c.officer2 is None
    c.confirm_officer(1, f"{CYRILLIC_A.upper()}lice Martin")
    c.confirm_officer(2, "Bob\u3164Okafor")
    warnings = c.officer_warnings()
    assert [w.code for w in warnings] == ["officer.name.mixed_scripts", "officer.name.invisible_chars"]
    assert "officer 1" in warnings[0].message and "U+0410" in warnings[0].message
    assert "officer 2" in warnings[1].message and "Bob\\u3164Okafor" in warnings[1].message


def test_the_review_screen_refuses_the_same_person_and_flags_deceptive_names(tmp_path: Path) -> None:
    from textual.widgets import Input

    from byoroot_tui.core.demo import make_demo
    from byoroot_tui.ui import drive
    from byoroot_tui.ui.app import make_app
    from test_ui_ceremony import run, services

    m = make_demo(tmp_path / "demo")
    m.csr.write_bytes(f.pem(_csr_with(f"Ex{CYRILLIC_A}mple Intermediate\u200bCA")))
    app = make_app(media_roots=[m.stick], root_cert=m.root_cert, root_key=m.root_key, csr=m.csr, services=services())

    async def confirm(pilot: Any, which: int, name: str) -> None:
        field = app.screen.query_one(f"#officer{which}", Input)
        app.screen.set_focus(field)
        field.value = name
        await pilot.press("enter")
        await pilot.pause()

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.to_review(pilot, app)
        assert c.plan_is_current()
        # the CSR's subject, flagged in the certificate pane, escaped
        assert drive.shows(app, "the subject's commonName") and drive.shows(app, "U+0430 CYRILLIC SMALL LETTER A")
        assert drive.shows(app, "holds invisible characters (U+200B ZERO WIDTH SPACE)")
        assert drive.shows(app, "\\u200b") and "\u200b" not in drive.screen_text(app)
        await confirm(pilot, 1, "Alice Martin")
        await confirm(pilot, 2, "ＡＬＩＣＥ ＭＡＲＴＩＮ")
        assert c.officer2 is None and drive.shows(app, "officer 2 must be a different person from officer 1")
        assert not drive.shows(app, "officer 2's name")
        await confirm(pilot, 2, f"B{chr(0x043E)}b Okafor")  # a Cyrillic о
        assert c.officer2 is not None
        assert drive.shows(app, "WARN") and drive.shows(app, "officer 2's name")
        assert drive.shows(app, "mixes scripts") and drive.shows(app, "U+043E")

    run(app, (160, 48), script)


@pytest.mark.parametrize(("officers", "reason"), [
    ((), "exactly two officers"),
    (("Alice",), "exactly two officers"),
    (("Alice", "Bob", "Carol"), "exactly two officers"),
    (("Alice", "Ａlice"), "named twice"),
    ((NFC_JOSE, NFD_JOSE), "named twice"),
    (("Alice", "\u3164"), "no visible characters"),
    (("\u2800", "Bob"), "no visible characters"),
])
def test_sign_needs_two_different_officers(officers: tuple[str, ...], reason: str, ceremony, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rkey = f.key("p384", 1)
    c = ceremony(root_key=rkey, root_key_bytes=f.key_bytes(rkey, password=PASSWORD))
    before = f.listing(c.stick)
    argv = ["sign", c.csr, "--root-cert", c.root_cert, "--root-key", c.root_key, "--log", tmp_path / "log.jsonl"]
    for name in officers:
        argv += ["--officer", name]
    r = cli(*argv)
    f.assert_refusal(r, reason)
    assert "encrypted" not in r.err  # refused before the key
    assert not f.unsafe_chars(r.err) and "\u3164" not in r.err and "\u2800" not in r.err
    assert f.listing(c.stick) == before


# ----------------------------------------------------------------------------- profile text


@pytest.mark.parametrize(("key", "escaped", "code"), [
    ("description", "\\u202e", "U+202E"), ("description", "\\u2066", "U+2066"), ("description", "\\u200f", "U+200F"),
    ("description", "\\u061c", "U+061C"), ("description", "\\u0085", "U+0085"), ("description", "\\u009b", "U+009B"),
    ("name", "\\u202e", "U+202E"), ("name", "\\u0085", "U+0085"),
])
def test_profile_text_with_bidi_or_c1_controls_is_refused(key: str, escaped: str, code: str, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "profiles"
    folder.mkdir()
    body = {"name": "ok-name", "description": "fine"}
    body[key] = f"evil{escaped}txt"
    path = folder / "p.toml"
    path.write_text(f'name = "{body["name"]}"\ndescription = "{body["description"]}"\n', encoding="utf-8")
    with pytest.raises(InputRefused) as exc:
        load_profile_file(path)
    message = str(exc.value)
    assert message.startswith("profile 'p.toml': ") and f": {key}: " in message and code in message
    assert "control characters" in message and not f.unsafe_chars(message)
    r = cli("profiles", "--profiles", folder, "--json")
    data = json.loads(r.out)
    assert r.rc == 1 and "ok-name" not in [p["name"] for p in data["profiles"]]
    assert len(data["errors"]) == 1 and f": {key}: " in data["errors"][0]
    # plain Unicode stays allowed
    path.write_text('name = "ok-name"\ndescription = "Zwischen-CA für 東京 — ünïcödé"\n', encoding="utf-8")
    assert load_profile_file(path).description == "Zwischen-CA für 東京 — ünïcödé"

