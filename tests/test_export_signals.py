"""Issue 14, part 5: signals, kills and media that change under an export.

The real `byoroot sign` runs under strace, which delivers the signal to byoroot on entering a
chosen system call (``inject=fsync:signal=SIGTERM:when=3``: the third fsync is the first temp
file's, after the `signing` and `issued` entries' own), so it lands at a known stage whatever the
machine's load (a signal sent from outside while the fsyncs were slowed with delay_enter missed
its stage on a loaded machine). Faults on the medium are strace's too
(``inject=SYSCALL:error=...``): the medium refuses a system call exactly as a read-only or
pulled stick does.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

import factories as f

EXPORTED = ("intermediate.crt", "intermediate-fingerprint.png", "ceremony-record.txt", "ceremony-record.pdf")


def entries(log: Path) -> list[dict]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_bytes().splitlines() if line.endswith(b"}")]


def events(log: Path) -> list[str]:
    return [e["event"] for e in entries(log)]


def ours(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name in EXPORTED or p.name.startswith("."))


def strace() -> str:
    exe = shutil.which("strace")
    if exe is None:
        pytest.fail("strace is needed (apt-get install strace)")
    return exe


# fsyncs of `byoroot sign`: 1 the signing entry, 2 the issued entry, 3-5 the three temp files
FIRST_TEMP_FSYNC = 3


def run_signalled(argv: list[str], sig: signal.Signals, at_fsync: int) -> f.Run:
    """``argv`` under strace, which sends ``sig`` to it on entering its ``at_fsync``-th fsync."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    r = subprocess.run([strace(), "-qq", "-o", "/dev/null", "-e", "trace=fsync",
                        "-e", f"inject=fsync:signal={sig.name}:when={at_fsync}", *argv],
                       capture_output=True, text=True, timeout=120, env=env)
    return f.Run(r.returncode, r.stdout, r.stderr)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_during_the_export_removes_every_file_and_logs_export_failed(ceremony, cli, tmp_path, sig) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    log = tmp_path / "log.jsonl"
    # The issued entry is on the log; the export's first temp file is being fsynced.
    r = run_signalled([str(f.byoroot_exe()), *c.sign_argv("--log", log)], sig, FIRST_TEMP_FSYNC)
    f.assert_refusal(r, f"interrupted by {sig.name}", "nothing of this export is left on the medium",
                     "is in the station log", "byoroot export")
    assert ours(c.stick) == []  # no temp file, no final file
    assert events(log) == ["signing", "issued", "export_failed"]
    failed = entries(log)[-1]
    assert failed["interrupted"] == sig.name and failed["left"] == [] and failed["serial"] == entries(log)[1]["serial"]
    assert cli("log", "verify", log).rc == 0
    # the certificate comes back from the log, without the key
    c.root_key.unlink()
    assert cli("export", failed["serial"], "--out", c.stick, "--log", log).rc == 0
    assert c.cert_path.read_text() == entries(log)[1]["certificate"]
    f.assert_openssl_ok(c.root_cert, c.cert_path)


def test_a_signal_while_the_signing_entry_is_written_is_held_until_it_is_whole(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """SIGTERM lands while the `signing` entry's fsync is under way: the entry is finished, then
    the command stops before the key: nothing signed, the refusal on the record, no torn line."""
    c = ceremony()
    log = tmp_path / "log.jsonl"
    r = run_signalled([str(f.byoroot_exe()), *c.sign_argv("--log", log)], signal.SIGTERM, 1)
    f.assert_refusal(r, "interrupted by SIGTERM", "nothing was signed or written")
    assert events(log) == ["signing", "refused"]
    assert "interrupted by SIGTERM" in entries(log)[-1]["reason"]
    assert ours(c.stick) == []
    assert cli("log", "verify", log).rc == 0


def test_after_sigkill_the_temp_file_is_recognised_and_removed_and_export_brings_the_certificate_back(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    log = tmp_path / "log.jsonl"
    r = run_signalled([str(f.byoroot_exe()), *c.sign_argv("--log", log)], signal.SIGKILL, FIRST_TEMP_FSYNC)
    assert r.rc != 0 and r.out == ""  # killed: it could say nothing
    left = [n for n in ours(c.stick) if n.endswith(".tmp")]
    assert left, ours(c.stick)  # a power cut leaves the temp file
    serial = entries(log)[1]["serial"]
    r = cli("export", serial, "--out", c.stick, "--log", log)
    assert r.rc == 0, r.err
    for name in left:
        assert f"removed the temporary file '{name}'" in r.err
    assert ours(c.stick) == sorted(EXPORTED)
    f.assert_openssl_ok(c.root_cert, c.cert_path)


def test_a_temp_file_left_by_a_kill_is_removed_before_the_next_signing(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = ceremony()
    stale = c.stick / ".intermediate.crt.0123456789ab.tmp"
    stale.write_bytes(b"-----BEGIN CERTIFICATE-----\npartial")
    other = c.stick / ".someone-elses.tmp"
    other.write_bytes(b"not ours")
    r = cli(*c.sign_argv("--log", tmp_path / "log.jsonl"))
    assert r.rc == 0, r.err
    assert "removed the temporary file '.intermediate.crt.0123456789ab.tmp'" in r.err
    assert not stale.exists() and other.read_bytes() == b"not ours"


def earlier_set(c, cli, tmp_path) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    assert cli(*c.sign_argv("--log", tmp_path / "first.jsonl")).rc == 0
    return {n: (c.stick / n).read_bytes() for n in EXPORTED}


@pytest.mark.parametrize("fault", ["link,linkat:error=EIO:when=2", "link,linkat:error=ENOSPC:when=3", "fsync:error=EIO:when=4"])
def test_force_replaces_the_whole_set_or_nothing(ceremony, cli, tmp_path, fault) -> None:  # type: ignore[no-untyped-def]
    """A failed --force export puts the previous files back byte for byte (before: the previous
    certificate and PNG were gone). The fault is the medium's: a system call fails."""
    c = ceremony()
    before = earlier_set(c, cli, tmp_path)
    log = tmp_path / "log.jsonl"
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    r = subprocess.run([strace(), "-qq", "-o", "/dev/null", "-e", f"inject={fault}",
                        str(f.byoroot_exe()), *c.sign_argv("--log", log, "--force")],
                       capture_output=True, text=True, timeout=120, env=env)
    run = f.Run(r.returncode, r.stdout, r.stderr)
    f.assert_refusal(run, "is in the station log")
    assert {n: (c.stick / n).read_bytes() for n in EXPORTED} == before
    assert ours(c.stick) == sorted(EXPORTED)  # no temp or moved-aside file either
    assert events(log)[-1] == "export_failed"


def test_a_medium_that_turns_read_only_mid_export_names_what_it_left(ceremony, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """After the certificate got its name, the medium refuses every change (EROFS): the message
    and the log name the file that could not be removed."""
    c = ceremony()
    log = tmp_path / "log.jsonl"
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    # the 2nd link (the PNG's name) fails, and so does every unlink from the 5th on (1-3 remove
    # the probe files of the checks before the key, 4 the certificate's temp after its link)
    r = subprocess.run([strace(), "-qq", "-o", "/dev/null", "-e", "inject=link,linkat:error=EROFS:when=2+",
                        "-e", "inject=unlink,unlinkat:error=EROFS:when=5+",
                        str(f.byoroot_exe()), *c.sign_argv("--log", log)],
                       capture_output=True, text=True, timeout=120, env=env)
    run = f.Run(r.returncode, r.stdout, r.stderr)
    f.assert_refusal(run, "read-only", "LEFT ON THE MEDIUM", "intermediate.crt", "is in the station log")
    failed = entries(log)[-1]
    assert failed["event"] == "export_failed"
    still = [str(c.stick / n) for n in ours(c.stick)]
    assert still and sorted(failed["left"]) == sorted(still)
    for path in still:
        assert repr(path) in run.err or path in run.err


# ----------------------------------------------------------------------------- on a terminal


class OnATerminal:
    """A real process whose controlling terminal is a fresh pty (so getpass and the app use it)."""

    def __init__(self, argv: list[str], cwd: Path, cols: int = 100, rows: int = 30) -> None:
        import fcntl
        import pty
        import struct
        import termios

        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

        def own_terminal() -> None:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        env = dict(os.environ, TERM="xterm-256color")
        env.pop("PYTHONPATH", None)
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
                                     preexec_fn=own_terminal)  # noqa: PLW1509 (single-threaded test)
        os.close(slave)
        self.seen = b""

    def read_until(self, marker: bytes, timeout: float = 60) -> None:
        import select

        end = time.monotonic() + timeout
        while marker not in self.seen:
            if time.monotonic() > end:
                raise AssertionError(f"{marker!r} never shown: {self.seen[-600:]!r}")
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.seen += os.read(self.master, 65536)
                except OSError:
                    break

    def finish(self, timeout: float = 60) -> int:
        try:
            self.read_until(b"\0never\0", timeout=timeout) if self.proc.poll() is None else None
        except AssertionError:
            pass
        rc = self.proc.wait(timeout=timeout)
        os.close(self.master)
        return rc


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_at_the_passphrase_prompt_says_nothing_was_signed(ceremony, tmp_path, sig) -> None:  # type: ignore[no-untyped-def]
    """Ctrl+C (SIGINT) or SIGTERM while `sign` waits for the passphrase: one line saying it was
    interrupted before the key was used, the refusal on the record, nothing on the stick (it
    used to say only "no passphrase entered")."""
    key = f.key("p384", 1)
    c = ceremony(root_key=key, root_key_bytes=f.key_bytes(key, password=b"correct horse"))
    log = tmp_path / "log.jsonl"
    t = OnATerminal([str(f.byoroot_exe()), *c.sign_argv("--log", log)], tmp_path)
    t.read_until(b"Root key passphrase: ")
    os.kill(t.proc.pid, sig)
    rc = t.finish()
    text = t.seen.decode(errors="replace")
    assert rc == 1, text
    assert f"byoroot: interrupted by {sig.name} before the root key was used: nothing was signed or written" in text
    assert "Traceback" not in text and "no passphrase entered" not in text
    assert events(log) == ["signing", "refused"] and sig.name in entries(log)[-1]["reason"]
    assert ours(c.stick) == []


def test_the_app_stopped_by_sigterm_says_so_and_exits_1(tmp_path) -> None:  # type: ignore[no-untyped-def]
    t = OnATerminal([str(f.byoroot_exe()), "demo", "--dir", str(tmp_path / "demo")], tmp_path)
    t.read_until(b"csr-")  # the media step lists the demo stick's CSR
    time.sleep(1)
    os.kill(t.proc.pid, signal.SIGTERM)
    rc = t.finish()
    text = t.seen.decode(errors="replace")
    assert "byoroot: stopped by SIGTERM: nothing was signed" in text
    assert rc == 1
