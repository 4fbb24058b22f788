"""The ceremony's rules (core/ceremony.py) and the QR/fingerprint drawing, without running the app."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from byoroot_tui.core import ceremony as cer
from byoroot_tui.core.ceremony import Ceremony, check_officer_name, extension_rows, same_person
from byoroot_tui.core.validity import validity_window
from byoroot_tui.core.csr import load_csr
from byoroot_tui.core.demo import make_demo
from byoroot_tui.core.errors import ByorootError, InputRefused
from byoroot_tui.core.issue import assess, make_plan
from byoroot_tui.core.profiles import DEFAULT_PROFILE, Profile
from byoroot_tui.core.root import load_root
from byoroot_tui.ui.widgets.fingerprint import grouped
from byoroot_tui.ui.widgets.qr import half_block_lines, lines_to_matrix, qr_matrix


def test_default_profile_name_matches_core() -> None:
    assert cer.DEFAULT_PROFILE_NAME == DEFAULT_PROFILE.name


@pytest.mark.parametrize(("a", "b"), [("Alice", "alice"), (" Alice ", "ALICE"), ("Alice  Martin", "alice martin"),
                                      ("Émile", "émile")])
def test_same_person_ignores_case_and_blanks(a: str, b: str) -> None:
    assert same_person(a, b)


def test_different_people() -> None:
    assert not same_person("Alice", "Alicia")


@pytest.mark.parametrize("bad", ["", "   ", "Al\x1bice", "Bob\u202e", "x" * 65, "SIGN", " sign "])
def test_officer_name_refusals(bad: str) -> None:
    with pytest.raises(InputRefused):
        check_officer_name(bad)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return make_demo(tmp_path_factory.mktemp("demo"))


def planned(demo) -> Ceremony:  # type: ignore[no-untyped-def]
    c = Ceremony(media_roots=[demo.stick])
    info = load_csr(demo.csr)
    root = load_root(demo.root_cert)
    c.set_csr(demo.csr, info)
    c.set_root(demo.root_cert, root)
    c.set_root_key_path(demo.root_key)
    c.set_key_check(True)
    assert c.blocker("preview") == "the CSR is still being checked against the profile"
    c.set_assessment(c.assessment_token(), assess(info, c.profile, root))
    assert c.blocker("preview") is None
    c.set_plan(make_plan(info, c.profile, root))
    return c


def test_two_officers_then_sign(demo) -> None:  # type: ignore[no-untyped-def]
    c = planned(demo)
    assert c.sign_blocker() == "officer 1 has not confirmed"
    with pytest.raises(ByorootError):
        c.confirm_officer(2, "Bob")  # officer 1 first
    c.confirm_officer(1, "  Alice  ")
    assert c.officer1 == "Alice"
    with pytest.raises(InputRefused, match="different person"):
        c.confirm_officer(2, "ALICE")
    assert c.officer2 is None and c.sign_blocker() == "officer 2 has not confirmed"
    c.confirm_officer(2, "Bob")
    assert c.sign_blocker() is None
    with pytest.raises(InputRefused):
        c.check_sign_word("sign")
    c.check_sign_word("SIGN")


def test_changes_invalidate_the_reviewed_plan(demo) -> None:  # type: ignore[no-untyped-def]
    c = planned(demo)
    c.confirm_officer(1, "Alice")
    c.confirm_officer(2, "Bob")
    c.set_profile("intermediate-ca")  # same profile: nothing changes
    assert c.sign_blocker() is None
    c.passphrase_changed()
    assert c.sign_blocker() == "the root key has not been checked yet"
    c.set_key_check(True)
    other = demo.stick / "other.csr"
    shutil.copy(demo.csr, other)
    c.set_csr(other, load_csr(other))  # another file: review again
    assert c.plan is None and c.officer1 is None and c.officer2 is None
    assert c.assessment_is_current()  # the same bytes: the same assessment holds


def test_nothing_changes_after_signing(demo) -> None:  # type: ignore[no-untyped-def]
    from byoroot_tui.core.issue import sign_plan
    from byoroot_tui.core.signer import load_root_key

    c = planned(demo)
    with load_root_key(demo.root_key) as signer:
        c.record_issued(sign_plan(c.plan, signer))
    assert c.sign_blocker() == "the certificate is already signed"
    with pytest.raises(ByorootError):
        c.set_csr(demo.csr)
    with pytest.raises(ByorootError):
        c.record_issued(c.issued)
    assert c.sign_count == 1


def test_extension_rows_kept_overridden_ignored(tmp_path: Path) -> None:
    from cryptography import x509

    from byoroot_tui.ui.drive import write_csr

    path = tmp_path / "r.csr"
    write_csr(path, extensions=(
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (x509.KeyUsage(True, False, False, False, False, True, True, False, False), True),
        (x509.SubjectAlternativeName([x509.DNSName("[bold]x[/bold].example")]), False),
    ))
    rows = {r.name: r for r in extension_rows(load_csr(path), DEFAULT_PROFILE)}
    assert rows["basicConstraints"].action == "kept"
    assert rows["keyUsage"].action == "kept"
    assert rows["subjectAltName"].action == "ignored"
    assert "[bold]x[/bold]" in rows["subjectAltName"].requested
    wide = Profile(name="wide", description="", path_length=None)
    assert {r.name: r for r in extension_rows(load_csr(path), wide)}["basicConstraints"].action == "overridden"

    # a hosted CA's plain CA:TRUE (Smallstep) gets the profile's path length: narrowed, not a problem,
    # and inspect says the same word as the app
    plain = tmp_path / "plain.csr"
    write_csr(plain, extensions=((x509.BasicConstraints(ca=True, path_length=None), True),))
    row = {r.name: r for r in extension_rows(load_csr(plain), DEFAULT_PROFILE)}["basicConstraints"]
    assert row.action == "narrowed" and row.issued == "CA:TRUE, pathlen:0"
    from byoroot_tui.core.issue import review_request

    findings = {f.code: f for f in review_request(load_csr(plain), DEFAULT_PROFILE)}
    assert findings["request.narrowed"].severity == "info" and "narrowed" in findings["request.narrowed"].message
    kept = {f.code: f for f in review_request(load_csr(path), DEFAULT_PROFILE)}
    assert kept["request.kept"].severity == "info" and "kept" in kept["request.kept"].message
    assert "request.overridden" not in kept  # what the app calls kept, inspect does not call overridden


def test_validity_window_caps_to_root() -> None:
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)

    class Root:  # only the dates matter here
        not_before = now - timedelta(days=10)
        not_after = now + timedelta(days=100)

    w = validity_window(DEFAULT_PROFILE, now, Root())  # type: ignore[arg-type]
    assert w.capped and w.not_after == Root.not_after and w.refusal is None
    strict = Profile(name="strict", description="", cap_to_issuer=False)
    assert validity_window(strict, now, Root()).refusal  # type: ignore[arg-type]
    assert not validity_window(DEFAULT_PROFILE, now).capped


def test_qr_half_blocks_are_exactly_the_matrix() -> None:
    fp = hashlib.sha256(b"x").hexdigest()
    matrix = qr_matrix(fp)
    n = len(matrix)
    assert n == len(matrix[0]) == 45  # version 5 at error correction M, 4-module quiet zone each side
    lines = half_block_lines(matrix)
    assert len(lines) == 23 and all(len(line) == n for line in lines)
    assert set("".join(lines)) <= set(" ▀▄█")
    assert lines[0] == " " * n and lines[1] == " " * n  # quiet zone: 4 module rows
    assert all(line.startswith("    ") and line.endswith("    ") for line in lines)
    back = lines_to_matrix(lines)
    assert back[:n] == matrix and back[n:] == [[False] * n]


def test_qr_is_the_same_code_as_the_png_the_core_writes() -> None:
    from byoroot_tui.core.fingerprint import qr_matrix as core_matrix

    fp = hashlib.sha256(b"y").hexdigest()
    assert qr_matrix(fp) == core_matrix(fp)


def test_grouped_fingerprint() -> None:
    fp = "ab" * 32
    assert grouped(fp, 4, 8) == ["ABAB " * 7 + "ABAB", "ABAB " * 7 + "ABAB"]
    assert len(grouped(fp, 4, 4)) == 4


def test_qr_as_drawn_scans_back_to_the_fingerprint(tmp_path: Path) -> None:
    fp = hashlib.sha256(b"intermediate").hexdigest()
    m = lines_to_matrix(half_block_lines(qr_matrix(fp)))
    scale = 6
    rows = [" ".join(("1" if v else "0") for v in row for _ in range(scale)) for row in m for _ in range(scale)]
    pbm = tmp_path / "qr.pbm"
    pbm.write_text(f"P1\n{len(m[0]) * scale} {len(rows)}\n" + "\n".join(rows) + "\n")
    out = subprocess.run(["zbarimg", "-q", "--raw", str(pbm)], capture_output=True, text=True)
    assert out.stdout.strip() == fp
