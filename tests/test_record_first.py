"""Issue 14, parts 1-4: the record comes first, checks before the key, no torn log, `byoroot export`.

Real files, real tmpfs mounts, the real `byoroot` process where order or hanging matters; the
order of system calls is read from `strace`, the certificates checked with `openssl`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

import factories as f

EXPORTED = ("intermediate.crt", "intermediate-fingerprint.png", "ceremony-record.txt", "ceremony-record.pdf")


def entries(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_bytes().splitlines()] if log.exists() else []


def events(log: Path) -> list[str]:
    return [e["event"] for e in entries(log)]


def ours(folder: Path) -> list[str]:
    """Every file in the folder that byoroot could have made (final names, temp and moved-aside files)."""
    return sorted(p.name for p in folder.iterdir() if p.name in EXPORTED or p.name.startswith("."))


def openssl_fingerprint(pem_bytes: bytes) -> str:
    r = subprocess.run([f.openssl(), "x509", "-noout", "-fingerprint", "-sha256"], input=pem_bytes,
                       capture_output=True, check=True)
    return r.stdout.decode().split("=", 1)[1].strip().replace(":", "").lower()


# ----------------------------------------------------------------------------- 1. the record first


def test_sign_logs_signing_then_issued_with_the_certificate_then_exported(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    log = tmp_path / "log.jsonl"
    r = cli(*c.sign_argv("--log", log))
    assert r.rc == 0, r.err
    assert events(log) == ["signing", "issued", "exported"]
    signing, issued, exported = entries(log)
    cert_file = c.cert_path.read_bytes()
    # the issued entry holds the certificate itself: the same bytes as intermediate.crt
    assert issued["certificate"].encode() == cert_file
    assert openssl_fingerprint(issued["certificate"].encode()) == issued["sha256"] == openssl_fingerprint(cert_file)
    cert = x509.load_pem_x509_certificate(cert_file)
    # the signing entry, made before the key was opened, named exactly the TBS that was signed
    assert signing["tbs_sha256"] == hashlib.sha256(cert.tbs_certificate_bytes).hexdigest() == issued["tbs_sha256"]
    assert signing["serial"] == issued["serial"] == f"{cert.serial_number:x}".rjust(len(issued["serial"]), "0")
    assert signing["csr_sha256"] == hashlib.sha256(f.der(c.csr_obj)).hexdigest()
    assert signing["officers"] == issued["officers"] == [f.OFFICERS[1], f.OFFICERS[3]]
    assert signing["profile"] == "intermediate-ca"
    # exported: each file's name and SHA-256, as they are on the stick
    assert exported["serial"] == issued["serial"]
    assert {x["name"]: x["sha256"] for x in exported["files"]} == {
        n: hashlib.sha256((c.stick / n).read_bytes()).hexdigest() for n in EXPORTED}
    assert cli("log", "verify", log).rc == 0


def test_the_issued_entry_is_on_disk_before_any_byte_reaches_the_medium(ceremony, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Read from the system calls of the real process (strace): the write of the `issued` line
    and its fsync come before the first file is created in the output folder."""
    if shutil.which("strace") is None:
        pytest.fail("strace is needed (apt-get install strace)")
    c = ceremony()
    log = tmp_path / "log.jsonl"
    trace = tmp_path / "trace"
    argv = [str(f.byoroot_exe()), *c.sign_argv("--log", log)]
    r = subprocess.run(["strace", "-f", "-qq", "-s", "40", "-e", "trace=openat,write,fsync", "-o", str(trace), *argv],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = trace.read_text().splitlines()
    issued_write = next(i for i, line in enumerate(lines) if re.search(r'write\(\d+, "\{\\"certificate\\":', line))
    stick = str(c.stick)
    # (the checks before the key create and remove an empty probe file: not a byte of the certificate)
    first_on_stick = next(i for i, line in enumerate(lines) if "openat(" in line and f'"{stick}/' in line
                          and "O_CREAT" in line and ".byoroot-probe." not in line)
    assert issued_write < first_on_stick, (lines[issued_write], lines[first_on_stick])
    pid = lines[issued_write].split()[0]
    assert any(line.startswith(pid) and "fsync(" in line for line in lines[issued_write:first_on_stick])
    # and the signing entry came before the key file was opened
    signing_write = next(i for i, line in enumerate(lines) if re.search(r'write\(\d+, "\{\\"csr_file\\":', line))
    key_open = next(i for i, line in enumerate(lines) if "openat(" in line and str(c.root_key) in line)
    assert signing_write < key_open


def fill_leaving_one_page(mp: Path) -> None:
    """Fill the tmpfs so that no page is free."""
    f_ = mp / "filler"
    fd = os.open(f_, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        while True:
            try:
                os.write(fd, b"\0" * 4096)
            except OSError:
                break
    finally:
        os.close(fd)


def test_when_the_issued_entry_cannot_be_written_nothing_reaches_the_medium(ceremony, cli, tmpfs) -> None:  # type: ignore[no-untyped-def]
    """The log's medium fills up between the `signing` entry and the `issued` one: the officers
    are told the key signed, that the log could not record it, and that nothing was written.
    The log is cut back to its last whole entry."""
    c = ceremony()
    mp = tmpfs.mount("logfs", size="64k")
    log = mp / "log.jsonl"
    # ~3 KiB of earlier entries: the signing entry still fits in the log's last page, the
    # issued entry (with its certificate) needs a new page, and the medium has none left.
    from byoroot_tui.core.stationlog import append_event

    while log.exists() is False or log.stat().st_size < 3000:
        append_event(log, "refused", {"reason": "an earlier refusal, to fill the page"})
    fill_leaving_one_page(mp)
    before = log.read_bytes()
    r = cli(*c.sign_argv("--log", log))
    f.assert_refusal(r, "signed serial", "could not record it", "nothing was written")
    assert ours(c.stick) == []  # not one byte on the stick
    assert events(log) == [e["event"] for e in entries(log)[:-1]] + ["signing"]
    assert log.read_bytes().startswith(before) and log.read_bytes().endswith(b"\n")
    (mp / "filler").unlink()
    assert cli("log", "verify", log).rc == 0  # no torn line: later ceremonies are not blocked


def test_a_full_log_medium_is_cut_back_to_the_last_whole_entry(tmpfs) -> None:  # type: ignore[no-untyped-def]
    from byoroot_tui.core.errors import ByorootError
    from byoroot_tui.core.stationlog import append_event, verify_log

    mp = tmpfs.mount("logfs", size="64k")
    log = mp / "log.jsonl"
    append_event(log, "refused", {"reason": "first"})
    fill_leaving_one_page(mp)
    before = log.read_bytes()
    with pytest.raises(ByorootError, match="left as it was"):
        append_event(log, "refused", {"reason": "x" * 20000})  # needs pages the medium does not have
    assert log.read_bytes() == before
    assert verify_log(log).ok
    append_event(log, "refused", {"reason": "small enough"})  # the log still takes entries
    assert verify_log(log).ok and verify_log(log).entries == 2


def test_two_failed_exports_and_a_copy_give_one_issued_entry(ceremony, tmpfs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from byoroot_tui.core.errors import ExportFailed
    from byoroot_tui.core.issue import make_plan, sign_plan
    from byoroot_tui.core.csr import load_csr
    from byoroot_tui.core.ledger import IssuedRecord, find_issued, record_issued
    from byoroot_tui.core.profiles import get_profile
    from byoroot_tui.core.record import export_record
    from byoroot_tui.core.root import load_root
    from byoroot_tui.core.signer import load_root_key

    c = ceremony()
    log = tmp_path / "log.jsonl"
    plan = make_plan(load_csr(c.csr), get_profile("intermediate-ca"), load_root(c.root_cert))
    with load_root_key(c.root_key, lambda: None) as signer:
        issued = sign_plan(plan, signer)
    record_issued(log, IssuedRecord.from_signed(issued, ["Alice", "Bob"], "request.csr"))
    record = find_issued(log, issued.plan.serial_hex)
    ro = tmpfs.mount("ro")
    tmpfs.remount_readonly(ro)
    for _ in range(2):
        with pytest.raises(ExportFailed, match="read-only"):
            export_record(record, ro, log_path=log)
    first = export_record(record, c.stick, log_path=log)
    copy_dir = tmp_path / "copy"
    copy_dir.mkdir()
    export_record(record, copy_dir, log_path=log)
    assert events(log) == ["issued", "export_failed", "export_failed", "exported", "exported"]
    assert (copy_dir / "intermediate.crt").read_bytes() == first.certificate.read_bytes() == issued.pem
    from byoroot_tui.core.ledger import NotRecorded

    with pytest.raises(NotRecorded, match="already holds an issued entry"):  # never a second one
        record_issued(log, IssuedRecord.from_signed(issued, ["Alice", "Bob"], "request.csr"))


# ----------------------------------------------------------------------------- 2. checks before the key


@pytest.fixture
def locked_ceremony(ceremony):  # type: ignore[no-untyped-def]
    """A ceremony whose root key is encrypted and no passphrase is given (and no terminal): if
    byoroot ever reached the key, it would say it needs --passphrase-file."""
    key = f.key("p384", 1)
    return ceremony(root_key=key, root_key_bytes=f.key_bytes(key, password=b"correct horse"))


def refused_before_the_key(r: f.Run, *parts: str) -> None:
    f.assert_refusal(r, *parts)
    assert "passphrase" not in r.err.lower()


def test_a_fifo_as_log_is_refused_at_once_not_hung(locked_ceremony, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = locked_ceremony
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    r = f.run_proc([f.byoroot_exe(), *c.sign_argv("--log", fifo)], timeout=60)  # hung forever before
    run = f.Run(r.returncode, r.stdout.decode(), r.stderr.decode())
    refused_before_the_key(run, "FIFO", "not a regular file")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert ours(c.stick) == []


@pytest.mark.parametrize("kind", ["symlink", "folder", "device"])
def test_a_log_that_is_not_a_regular_file_is_refused_before_the_key(locked_ceremony, cli, tmp_path, kind) -> None:  # type: ignore[no-untyped-def]
    c = locked_ceremony
    real = tmp_path / "real-log.jsonl"
    if kind == "symlink":
        log = tmp_path / "log-link"
        log.symlink_to(real)
    elif kind == "folder":
        log = tmp_path / "log-folder"
        log.mkdir()
    else:
        log = Path("/dev/null")
    r = cli(*c.sign_argv("--log", log))
    refused_before_the_key(r, {"symlink": "symbolic link", "folder": "folder", "device": "device"}[kind])
    assert not real.exists()
    assert ours(c.stick) == []


def test_the_root_certificate_given_as_log_is_refused_and_left_untouched(locked_ceremony, cli) -> None:  # type: ignore[no-untyped-def]
    c = locked_ceremony
    os.chmod(c.root_cert, 0o644)
    before, mode = c.root_cert.read_bytes(), stat.S_IMODE(os.stat(c.root_cert).st_mode)
    r = cli(*c.sign_argv("--log", c.root_cert))
    refused_before_the_key(r, "not a station log")
    assert c.root_cert.read_bytes() == before
    assert stat.S_IMODE(os.stat(c.root_cert).st_mode) == mode == 0o644
    assert ours(c.stick) == []


def test_a_damaged_log_is_refused_before_the_key_and_not_appended_to(locked_ceremony, cli, ceremony, tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = ceremony()
    log = tmp_path / "log.jsonl"
    assert cli(*good.sign_argv("--log", log, "--out", tmp_path)).rc == 0
    data = log.read_bytes().replace(b'"signing"', b'"signinG"', 1)
    log.write_bytes(data)
    c = locked_ceremony
    r = cli(*c.sign_argv("--log", log))
    refused_before_the_key(r, "damaged", "line 1")
    assert log.read_bytes() == data


def test_a_read_only_log_is_refused_before_the_key(locked_ceremony, cli, tmpfs) -> None:  # type: ignore[no-untyped-def]
    c = locked_ceremony
    mp = tmpfs.mount("logro")
    from byoroot_tui.core.stationlog import append_event

    append_event(mp / "log.jsonl", "refused", {"reason": "earlier"})
    tmpfs.remount_readonly(mp)
    r = cli(*c.sign_argv("--log", mp / "log.jsonl"))
    refused_before_the_key(r, "cannot be appended to", "read-only")
    assert ours(c.stick) == []


def test_a_read_only_output_folder_is_refused_before_the_key(locked_ceremony, cli, tmpfs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = locked_ceremony
    out = tmpfs.mount("outro")
    tmpfs.remount_readonly(out)
    log = tmp_path / "log.jsonl"
    r = cli(*c.sign_argv("--log", log, "--out", out))
    refused_before_the_key(r, "read-only")
    assert events(log) == ["refused"]  # the refusal itself is on the record


@pytest.mark.parametrize("name", EXPORTED)
def test_a_target_in_the_way_is_refused_before_the_key(locked_ceremony, cli, tmp_path, name) -> None:  # type: ignore[no-untyped-def]
    c = locked_ceremony
    (c.stick / name).write_bytes(b"earlier ceremony\n")
    r = cli(*c.sign_argv("--log", tmp_path / "log.jsonl"))
    refused_before_the_key(r, name, "already exists", "--force")
    assert (c.stick / name).read_bytes() == b"earlier ceremony\n"


# ----------------------------------------------------------------------------- 4. byoroot export


def test_export_writes_the_same_certificate_again_without_the_key(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    log = tmp_path / "log.jsonl"
    assert cli(*c.sign_argv("--log", log)).rc == 0
    serial = entries(log)[1]["serial"]
    c.root_key.unlink()  # no key anywhere
    out = tmp_path / "again"
    out.mkdir()
    r = cli("export", serial.upper(), "--out", out, "--log", log)
    assert r.rc == 0, r.err
    assert (out / "intermediate.crt").read_bytes() == c.cert_path.read_bytes()
    f.assert_openssl_ok(c.root_cert, out / "intermediate.crt")
    sheet = (out / "ceremony-record.txt").read_text()
    assert f.OFFICERS[1] in sheet and f.OFFICERS[3] in sheet and serial in sheet

    def same_sheet(text: str) -> list[str]:  # what differs is only when, where to, and the log's head then
        lines = text.splitlines()
        head = next(i for i, line in enumerate(lines) if line.startswith("Station log head:"))
        del lines[head : head + 2]
        kept: list[str] = []
        skipping = False
        for line in lines:  # a long path wraps onto indented lines
            if line.startswith(("Date (", "Certificate file:")):
                skipping = True
            elif not (skipping and line.startswith(" " * 22)):
                skipping = False
                kept.append(line)
        return kept

    first_sheet = (c.stick / "ceremony-record.txt").read_text()
    assert "Signed (UTC):" in first_sheet
    assert same_sheet(sheet) == same_sheet(first_sheet)
    r = subprocess.run(["zbarimg", "-q", "--raw", str(out / "intermediate-fingerprint.png")], capture_output=True, text=True)
    assert r.stdout.strip() == entries(log)[1]["sha256"]
    assert events(log) == ["signing", "issued", "exported", "exported"]
    assert entries(log)[-1]["out"] == str(out)
    # again into the same folder: refused without --force, replaced with it
    r = cli("export", serial, "--out", out, "--log", log)
    f.assert_refusal(r, "already exists", "--force")
    assert cli("export", serial, "--out", out, "--log", log, "--force").rc == 0
    assert cli("log", "verify", log).rc == 0


def test_export_refuses_an_unknown_serial_and_writes_nothing(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    log = tmp_path / "log.jsonl"
    assert cli(*c.sign_argv("--log", log)).rc == 0
    out = tmp_path / "out"
    out.mkdir()
    before = log.read_bytes()
    f.assert_refusal(cli("export", "0badc0de", "--out", out, "--log", log), "no certificate with serial 0badc0de")
    f.assert_refusal(cli("export", "not-hex", "--out", out, "--log", log), "not a serial number")
    assert list(out.iterdir()) == [] and log.read_bytes() == before


def test_export_refuses_a_certificate_that_does_not_match_its_entry(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A log rewritten consistently (a forged chain) with another certificate in the entry: the
    entry's own SHA-256 no longer matches it, and export refuses."""
    from byoroot_tui.core.ledger import IssuedRecord
    from byoroot_tui.core.stationlog import append_event

    c = ceremony()
    log = tmp_path / "log.jsonl"
    fields = {"serial": "01", "sha256": "00" * 32, "certificate": f.pem(c.root_cert_obj).decode()}
    append_event(log, "issued", fields)
    out = tmp_path / "out"
    out.mkdir()
    f.assert_refusal(cli("export", "01", "--out", out, "--log", log), "does not match its SHA-256")
    assert list(out.iterdir()) == []
    with pytest.raises(Exception, match="holds no certificate"):
        IssuedRecord.from_entry({"serial": "02", "sha256": "00" * 32})


# ----------------------------------------------------------------------------- paths that are not what they seem


@pytest.mark.parametrize("name", EXPORTED)
def test_the_log_cannot_be_one_of_the_files_the_export_writes(locked_ceremony, cli, name) -> None:  # type: ignore[no-untyped-def]
    c = locked_ceremony
    r = cli(*c.sign_argv("--log", c.stick / name))
    refused_before_the_key(r, "one of the files the export writes")
    assert ours(c.stick) == []


@pytest.mark.parametrize("kind", ["folder", "symlink", "fifo"])
def test_force_never_replaces_what_is_not_a_regular_file(locked_ceremony, cli, tmp_path, kind) -> None:  # type: ignore[no-untyped-def]
    c = locked_ceremony
    target = c.stick / "intermediate.crt"
    if kind == "folder":
        target.mkdir()
    elif kind == "symlink":
        (tmp_path / "elsewhere.crt").write_text("not ours\n")
        target.symlink_to(tmp_path / "elsewhere.crt")
    else:
        os.mkfifo(target)
    r = cli(*c.sign_argv("--log", tmp_path / "log.jsonl", "--force"))
    refused_before_the_key(r, "not a regular file", "not replaced")
    assert os.path.lexists(target)
    if kind == "symlink":
        assert (tmp_path / "elsewhere.crt").read_text() == "not ours\n"


def test_a_probe_file_left_by_a_kill_is_removed(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    probe = c.stick / ".byoroot-probe.0123456789ab"
    probe.write_bytes(b"")
    assert cli(*c.sign_argv("--log", tmp_path / "log.jsonl")).rc == 0
    assert not probe.exists()


def test_the_key_is_closed_before_the_lint_after_signing(ceremony, cli, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`byoroot sign` drops the root key (FileSigner.close) before pkilint runs on the signed
    certificate, and the `issued` entry is on the log by then too."""
    from byoroot_tui.core import issue, signer

    order: list[str] = []
    log = tmp_path / "log.jsonl"
    real_close, real_lint = signer.FileSigner.close, issue.lint_signed

    def close(self):  # type: ignore[no-untyped-def]
        order.append("key closed")
        real_close(self)

    def lint_signed(signed):  # type: ignore[no-untyped-def]
        order.append("lint after signing" + (" (issued logged)" if "issued" in events(log) else ""))
        return real_lint(signed)

    monkeypatch.setattr(signer.FileSigner, "close", close)
    monkeypatch.setattr(issue, "lint_signed", lint_signed)
    c = ceremony()
    assert cli(*c.sign_argv("--log", log)).rc == 0
    assert order.index("key closed") < order.index("lint after signing (issued logged)")


def test_a_certificate_refused_after_signing_is_on_the_log_and_never_exported(ceremony, cli, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The lint after signing refuses (forced here by a linter that finds a problem): the signed
    certificate is on the record (issued, then refused), nothing reaches the stick, and `byoroot
    export` will not write it."""
    from byoroot_tui.core import issue
    from byoroot_tui.core.lint import LintReport

    real_lint = issue.run_lint

    def lint_finding_a_problem(cert_der, issuer_der, *, check_signature, cabf_type=None):  # type: ignore[no-untyped-def]
        report = real_lint(cert_der, issuer_der, check_signature=check_signature, cabf_type=cabf_type)
        if not check_signature:
            return report
        bad = report.as_dict()
        bad["findings"] = [*bad.get("findings", []), {"severity": "ERROR", "code": "test.after_signing",
                                                       "message": "found after signing", "where": ""}]
        return LintReport.from_dict(bad)

    monkeypatch.setattr(issue, "run_lint", lint_finding_a_problem)
    c = ceremony()
    log = tmp_path / "log.jsonl"
    r = cli(*c.sign_argv("--log", log))
    f.assert_refusal(r, "failed the linter", "is in the station log but was not exported")
    assert events(log) == ["signing", "issued", "refused"]
    assert ours(c.stick) == []
    issued = entries(log)[1]
    assert entries(log)[2]["sha256"] == issued["sha256"]
    monkeypatch.undo()
    out = tmp_path / "out"
    out.mkdir()
    f.assert_refusal(cli("export", issued["serial"], "--out", out, "--log", log), "refused after signing", "not exported")
    assert list(out.iterdir()) == []
