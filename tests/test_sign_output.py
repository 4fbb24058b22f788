"""`byoroot sign` outputs: where and how intermediate.crt is written, --json, validity capping,
full and read-only media, usage errors, and the console-script / module entry points."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from datetime import timedelta

import pytest
from cryptography import x509

import factories as f

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _iso(dt) -> str:  # type: ignore[no-untyped-def]
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


# ----------------------------------------------------------------------------- validity capping


def test_validity_capped_to_a_root_expiring_in_two_years(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    rkey = f.key("p384", 1)
    root = f.make_root(rkey, not_after=f.utcnow().replace(microsecond=0) + timedelta(days=730))
    c = ceremony(root_key=rkey, root_cert=root)
    t0 = f.utcnow()
    r = cli(*c.sign_argv())
    assert r.rc == 0, r.err
    cert = f.assert_good_intermediate(c, t0, f.utcnow())
    assert cert.not_valid_after_utc == root.not_valid_after_utc
    assert "capped" in r.out
    assert _iso(root.not_valid_after_utc) in r.out


def test_validity_capping_in_json(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rkey = f.key("p384", 1)
    root = f.make_root(rkey, not_after=f.utcnow().replace(microsecond=0) + timedelta(days=730))
    c = ceremony(root_key=rkey, root_cert=root)
    r = cli(*c.sign_argv("--json"))
    assert r.rc == 0, r.err
    data = json.loads(r.out)
    assert any("capped" in w for w in data["warnings"])
    assert data["not_after"] == _iso(root.not_valid_after_utc)


def test_no_capping_warning_for_a_long_lived_root(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    r = cli(*c.sign_argv("--json"))
    assert r.rc == 0, r.err
    assert not any("capped" in w for w in json.loads(r.out)["warnings"])


def test_not_before_never_precedes_a_fresh_root(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    """A root made a minute ago: the 5-minute backdate stops at the root's notBefore."""
    rkey = f.key("p384", 1)
    nb = f.utcnow().replace(microsecond=0) - timedelta(minutes=1)
    root = f.make_root(rkey, not_before=nb)
    c = ceremony(root_key=rkey, root_cert=root)
    r = cli(*c.sign_argv())
    assert r.rc == 0, r.err
    assert c.issued().not_valid_before_utc == nb


# ----------------------------------------------------------------------------- where it is written


def test_existing_certificate_is_not_replaced_without_force(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    c.cert_path.write_bytes(b"the certificate issued last year\n")
    before = f.listing(c.stick)
    log = c.base / "station-log.jsonl"
    r = cli(*c.sign_argv("--log", log))
    f.assert_refusal(r, "already exists", "refusing to overwrite it (use --force)")
    assert f.listing(c.stick) == before
    assert c.cert_path.read_bytes() == b"the certificate issued last year\n"
    # the CLI adds how to replace it; the log keeps the core's reason
    refused = json.loads(log.read_text().splitlines()[-1])
    assert refused["event"] == "refused" and refused["reason"].endswith("refusing to overwrite it"), refused
    r = cli(*c.sign_argv("--log", log, "--json"))
    assert json.loads(r.out)["error"].endswith("refusing to overwrite it (use --force)")


def test_existing_certificate_is_replaced_with_force(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    c.cert_path.write_bytes(b"old\n")
    os.chmod(c.cert_path, 0o600)
    t0 = f.utcnow()
    r = cli(*c.sign_argv("--force"))
    assert r.rc == 0, r.err
    f.assert_good_intermediate(c, t0, f.utcnow())
    assert c.cert_path.stat().st_mode & 0o777 == 0o644
    assert sorted(os.listdir(c.stick)) == [
        "ceremony-record.pdf", "ceremony-record.txt", "intermediate-fingerprint.png", "intermediate.crt", "request.csr"]


def test_dangling_symlink_named_intermediate_crt_is_not_followed(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    target = tmp_path / "elsewhere.crt"
    c.cert_path.symlink_to(target)
    r = cli(*c.sign_argv())
    f.assert_refusal(r, "already exists")
    assert not target.exists()


def test_out_dir(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    out = tmp_path / "out"
    out.mkdir()
    t0 = f.utcnow()
    r = cli(*c.sign_argv("--out", out))
    assert r.rc == 0, r.err
    f.assert_good_intermediate(c, t0, f.utcnow(), folder=out)
    assert sorted(os.listdir(c.stick)) == ["request.csr"]
    assert sorted(os.listdir(out)) == ["ceremony-record.pdf", "ceremony-record.txt", "intermediate-fingerprint.png",
                                       "intermediate.crt"]
    assert (out / "intermediate.crt").stat().st_mode & 0o777 == 0o644


def test_default_out_dir_is_the_csr_folder_not_the_cwd(ceremony, cli, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    rel = os.path.relpath(c.csr, cwd)
    r = cli("sign", rel, "--root-cert", c.root_cert, "--root-key", c.root_key, *f.OFFICERS)
    assert r.rc == 0, r.err
    assert c.cert_path.exists()
    assert os.listdir(cwd) == []


def test_missing_out_dir(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    f.assert_refusal(cli(*c.sign_argv("--out", tmp_path / "nope")), "not an existing folder")
    assert not (tmp_path / "nope").exists()


def test_out_dir_is_a_file(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    (tmp_path / "afile").write_bytes(b"x")
    f.assert_refusal(cli(*c.sign_argv("--out", tmp_path / "afile")), "not an existing folder")


# ----------------------------------------------------------------------------- text and --json output


def test_text_output(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    r = cli(*c.sign_argv())
    assert r.rc == 0, r.err
    cert = c.issued()
    cert_der = f.der(cert)
    fp = hashlib.sha256(cert_der).hexdigest().upper()
    groups = " ".join(fp[i : i + 4] for i in range(0, 64, 4))
    assert groups[:39] in r.out and groups[40:] in r.out  # 8 groups per line
    assert hashlib.sha256(f.der(c.csr_obj)).hexdigest() in r.out
    assert _iso(cert.not_valid_before_utc) in r.out and _iso(cert.not_valid_after_utc) in r.out
    assert str(c.cert_path) in r.out
    assert c.csr_obj.subject.rfc4514_string() in r.out
    assert c.root_cert_obj.subject.rfc4514_string() in r.out
    assert f.unsafe_chars(r.out) == []


def test_json_output(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = ceremony(root_kind="rsa2048")
    r = cli(*c.sign_argv("--json"))
    assert r.rc == 0, r.err
    data = json.loads(r.out)
    for k in ("certificate", "sha256", "serial", "not_before", "not_after", "subject", "issuer", "warnings"):
        assert k in data, k
    assert data["certificate"] == str(c.cert_path)
    cert = x509.load_pem_x509_certificate(c.cert_path.read_bytes())
    assert data["sha256"] == hashlib.sha256(f.der(cert)).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", data["sha256"])
    assert int(data["serial"], 16) == cert.serial_number
    assert re.fullmatch(r"[0-9a-f]+", data["serial"])
    assert ISO_Z.match(data["not_before"]) and ISO_Z.match(data["not_after"])
    assert data["not_before"] == _iso(cert.not_valid_before_utc)
    assert data["not_after"] == _iso(cert.not_valid_after_utc)
    assert data["subject"] == cert.subject.rfc4514_string()
    assert data["issuer"] == c.root_cert_obj.subject.rfc4514_string()
    assert isinstance(data["warnings"], list)


# ----------------------------------------------------------------------------- full and read-only media


def test_full_medium(ceremony, cli, tmpfs) -> None:  # type: ignore[no-untyped-def]
    c = ceremony(root_kind="rsa4096", csr_kind="rsa4096")  # the biggest certificate
    mp = tmpfs.mount("full", size="8k")
    filler = tmpfs.fill(mp)
    filler_bytes = filler.read_bytes()
    r = cli(*c.sign_argv("--out", mp))
    f.assert_refusal(r, "full")
    assert os.listdir(mp) == ["filler"], "no partial or temp file"
    assert filler.read_bytes() == filler_bytes


def test_read_only_medium(ceremony, cli, tmpfs) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    mp = tmpfs.mount("ro", size="64k")
    tmpfs.remount_readonly(mp)
    r = cli(*c.sign_argv("--out", mp))
    f.assert_refusal(r, "read-only")
    assert os.listdir(mp) == []


def test_read_only_medium_is_the_csr_stick(tmp_path, cli, tmpfs) -> None:  # type: ignore[no-untyped-def]
    """The default target (the stick the CSR came from) is read-only."""
    mp = tmpfs.mount("stick", size="64k")
    c = f.make_ceremony(tmp_path, stick_name="stick")
    tmpfs.remount_readonly(mp)
    r = cli(*c.sign_argv())
    f.assert_refusal(r, "read-only")
    assert os.listdir(mp) == ["request.csr"]


# ----------------------------------------------------------------------------- usage errors and entry points


@pytest.mark.parametrize(
    "argv",
    [
        ["sign", "x.csr", "--root-key", "k"],  # missing --root-cert
        ["sign", "x.csr", "--root-cert", "c"],  # missing --root-key
        ["sign", "--root-cert", "c", "--root-key", "k"],  # missing CSR
        ["sign", "x.csr", "--root-cert", "c", "--root-key", "k", "--frobnicate"],
        ["inspect"],
        ["inspect", "x.csr", "--nope"],
        ["verify", "x.crt"],
        ["no-such-command"],
        [],
    ],
)
def test_usage_errors_exit_2(argv, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(*argv)
    assert r.rc == 2, (r.out, r.err)
    assert "Traceback" not in r.text


def test_usage_error_through_the_console_script(ceremony) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    p = f.run_proc([f.byoroot_exe(), "sign", c.csr, "--root-key", c.root_key])
    assert p.returncode == 2
    assert b"--root-cert" in p.stderr and b"Traceback" not in p.stderr
    p = f.run_proc([sys.executable, "-m", "byoroot_tui", "inspect", c.csr, "--unknown-option"])
    assert p.returncode == 2 and b"Traceback" not in p.stderr
    assert not c.cert_path.exists()


def test_sign_through_python_dash_m(ceremony) -> None:  # type: ignore[no-untyped-def]
    c = ceremony(root_kind="ed25519", csr_kind="p384")
    t0 = f.utcnow()
    p = f.run_proc([sys.executable, "-m", "byoroot_tui", *c.sign_argv("--json")])
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert data["certificate"] == str(c.cert_path)
    f.assert_good_intermediate(c, t0, f.utcnow())


def test_sign_through_the_console_script(ceremony) -> None:  # type: ignore[no-untyped-def]
    c = ceremony(root_kind="rsa3072", csr_kind="p256")
    t0 = f.utcnow()
    p = f.run_proc([f.byoroot_exe(), *c.sign_argv()])
    assert p.returncode == 0, p.stderr
    assert p.stderr == b""
    assert b"Issued intermediate.crt" in p.stdout
    f.assert_good_intermediate(c, t0, f.utcnow())
    # pkilint's own command line too: its exit code counts findings at WARNING or above
    lint = f.run_proc([f.VENV_BIN / "lint_pkix_cert", "lint", "-s", "WARNING", c.cert_path])
    assert lint.returncode == 0, lint.stdout


def test_refusal_through_the_console_script_has_no_traceback(ceremony) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    c.csr.write_bytes(b"\x30\x82\xff\xff garbage")
    p = f.run_proc([f.byoroot_exe(), *c.sign_argv()])
    f.assert_refusal(f.Run(p.returncode, p.stdout.decode(), p.stderr.decode()))
    assert not c.cert_path.exists()


def test_version(cli) -> None:  # type: ignore[no-untyped-def]
    from byoroot_tui import __version__

    r = cli("--version")
    assert r.rc == 0 and __version__ in r.out


# ----------------------------------------------------------------------------- roots that cannot usefully issue


def test_root_with_pathlen_0_cannot_issue_an_intermediate(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    """A pathLenConstraint of 0 allows no CA below the root (RFC 5280 4.2.1.9)."""
    rkey = f.key("p384", 1)
    c = ceremony(root_key=rkey, root_cert=f.make_root(rkey, path_length=0))
    r = cli(*c.sign_argv())
    f.assert_refusal(r, "path")
    assert not c.cert_path.exists()


def test_why_pathlen_0_must_be_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The rule above is right: openssl rejects every leaf under an intermediate of a pathlen:0 root."""
    rkey, ikey = f.key("p384", 1), f.key("p256")
    root = f.make_root(rkey, path_length=0)
    inter = f.make_leaf(root, rkey, ikey, ca=True, dns="intermediate.example")
    leaf = f.make_leaf(inter, ikey)
    for n, cert in (("root", root), ("inter", inter), ("leaf", leaf)):
        (tmp_path / f"{n}.pem").write_bytes(f.pem(cert))
    res = f.openssl_verify(tmp_path / "root.pem", tmp_path / "leaf.pem", tmp_path / "inter.pem")
    assert res.returncode != 0 and "path length" in (res.stdout + res.stderr).lower()


def test_root_with_pathlen_1_issues(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    rkey = f.key("p384", 1)
    c = ceremony(root_key=rkey, root_cert=f.make_root(rkey, path_length=1))
    t0 = f.utcnow()
    r = cli(*c.sign_argv())
    assert r.rc == 0, r.err
    f.assert_good_intermediate(c, t0, f.utcnow())


@pytest.mark.parametrize("remaining", [timedelta(minutes=3), timedelta(days=29)], ids=["3min", "29days"])
def test_root_expiring_too_soon_is_refused(remaining, ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    """Capping to a root that expires within weeks would give a useless intermediate: refused."""
    rkey = f.key("p384", 1)
    c = ceremony(root_key=rkey, root_cert=f.make_root(rkey, not_after=f.utcnow() + remaining))
    r = cli(*c.sign_argv())
    f.assert_refusal(r, "root expires")
    assert not c.cert_path.exists()


def test_root_expiring_in_31_days_is_capped(ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    rkey = f.key("p384", 1)
    root = f.make_root(rkey, not_after=f.utcnow().replace(microsecond=0) + timedelta(days=31))
    c = ceremony(root_key=rkey, root_cert=root)
    r = cli(*c.sign_argv())
    assert r.rc == 0, r.err
    assert "capped" in r.out
    assert c.issued().not_valid_after_utc == root.not_valid_after_utc


def test_default_out_dir_is_the_folder_the_csr_was_named_in(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A CSR that is a symlink: intermediate.crt goes next to the name given (the stick), not the target."""
    c = ceremony()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    real = elsewhere / "real.csr"
    c.csr.rename(real)
    c.csr.symlink_to(real)
    r = cli(*c.sign_argv())
    assert r.rc == 0, r.err
    assert c.cert_path.exists()
    assert os.listdir(elsewhere) == ["real.csr"]


def test_hostile_folder_name_is_escaped_in_sign_output(tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    """The stick's mount path (its volume label) is attacker-chosen: "Written to:" must be escaped."""
    c = f.make_ceremony(tmp_path, stick_name="STICK\x1b]0;pwned\x07\u202eX")
    r = cli(*c.sign_argv())
    assert r.rc == 0, r.err
    assert f.unsafe_chars(r.text) == []
    assert c.cert_path.exists()
