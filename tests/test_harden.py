"""Process hardening (core/harden.py): no core file, not dumpable, from the start of `byoroot`.

Real processes and real signals. `byoroot sign` is started under `ulimit -c unlimited` in an
empty working folder on a pseudo-terminal, and aborted (SIGABRT) while it waits for the root
key's passphrase, with its lint helper forked beside it. A control process started the same way
shows that this machine does write core files there: without the hardening, `byoroot` would
leave one holding its memory.

The processes are started by a small launcher made when this module is imported, before any
test runs: other tests call `byoroot_tui.cli.main` in this very process, which hardens it too,
and without CAP_SYS_RESOURCE (a container's root lacks it) its hard core limit of 0 can never be
raised again, so `ulimit -c unlimited` would fail in its children.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import factories as f

PASSWORD = b"correct horse battery staple"
ULIMIT = 'ulimit -c unlimited || exit 97; exec "$@"'  # exit 97: the core limit cannot be raised here

LAUNCHER = r"""
import fcntl, json, os, socket, subprocess, sys, termios

def controlling_tty():
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # the pty is the terminal getpass asks on

sock = socket.socket(fileno=int(sys.argv[1]))
procs = {}
while True:
    msg, fds, _flags, _addr = socket.recv_fds(sock, 1 << 20, 1)
    if not msg:
        break
    req = json.loads(msg)
    try:
        if req["op"] == "spawn":
            tty = fds[0] if fds else None
            p = subprocess.Popen(req["argv"], cwd=req["cwd"], env=req["env"],
                                 stdin=tty if tty is not None else subprocess.DEVNULL,
                                 stdout=tty if tty is not None else subprocess.DEVNULL,
                                 stderr=tty if tty is not None else subprocess.DEVNULL,
                                 start_new_session=True, preexec_fn=controlling_tty if tty is not None else None)
            procs[p.pid] = p
            reply = {"pid": p.pid}
        elif req["op"] == "poll":
            reply = {"rc": procs[req["pid"]].poll()}
        else:
            reply = {"rc": procs.pop(req["pid"]).wait(req["timeout"])}
    except Exception as exc:
        reply = {"error": repr(exc)}
    for fd in fds:
        os.close(fd)
    sock.send(json.dumps(reply).encode())
"""


class Launcher:
    """Starts processes with the core limits this test session began with."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(theirs.fileno())], pass_fds=[theirs.fileno()])
        theirs.close()
        self.sock = ours  # the launcher ends when this closes (with this process at the latest)

    def _ask(self, request: dict, fds: list[int] = ()) -> dict:  # type: ignore[type-arg, assignment]
        socket.send_fds(self.sock, [json.dumps(request).encode()], list(fds))
        reply = json.loads(self.sock.recv(1 << 20))
        assert "error" not in reply, reply
        return reply

    def spawn(self, argv: list[str], cwd: Path, env: dict[str, str], tty: int | None = None) -> int:
        return self._ask({"op": "spawn", "argv": argv, "cwd": str(cwd), "env": env}, [tty] if tty is not None else [])["pid"]

    def poll(self, pid: int) -> int | None:
        return self._ask({"op": "poll", "pid": pid})["rc"]

    def wait(self, pid: int, timeout: float = 60) -> int:
        return self._ask({"op": "wait", "pid": pid, "timeout": timeout})["rc"]


LAUNCHER_PROCESS = Launcher()  # now, at collection: nothing has hardened this process yet


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


def _core_pattern() -> str:
    try:
        return Path("/proc/sys/kernel/core_pattern").read_text().strip()
    except OSError:
        return ""


def _cores(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("core"))


@pytest.fixture(scope="module")
def cores_are_written(tmp_path_factory) -> bool:  # type: ignore[no-untyped-def]
    """Control: a plain Python aborted under `ulimit -c unlimited` leaves a core file in its
    working folder (False where core_pattern hands cores to a handler or puts them elsewhere)."""
    if _core_pattern().startswith("|"):
        return False
    cwd = tmp_path_factory.mktemp("control-cwd")
    pid = LAUNCHER_PROCESS.spawn(["bash", "-c", ULIMIT, "bash", sys.executable, "-c",
                                  "import os, signal; os.kill(os.getpid(), signal.SIGABRT)"], cwd, _env())
    rc = LAUNCHER_PROCESS.wait(pid)
    if rc == 97:
        return False  # the session started with a hard core limit of 0
    assert rc == -signal.SIGABRT, rc
    return bool(_cores(cwd))


class Waiting:
    """A `byoroot` process on a pseudo-terminal, waiting for the officer."""

    def __init__(self, argv: list[str], cwd: Path, marker: bytes) -> None:
        master, slave = pty.openpty()
        self.master = master
        env = _env(TERM="xterm-256color", COLUMNS="100", LINES="30")
        self.pid = LAUNCHER_PROCESS.spawn(["bash", "-c", ULIMIT, "bash", *argv], cwd, env, tty=slave)
        os.close(slave)
        self.output = b""
        try:
            deadline = time.monotonic() + 60
            while marker not in self.output:
                rc = self.poll()
                if rc is not None:
                    self._drain()
                    raise AssertionError(f"exited {rc} before waiting: {self.output[-2000:]!r}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"never waited for the officer: {self.output[-2000:]!r}")
                self._drain(0.2)
        except BaseException:
            if self.poll() is None:
                os.kill(self.pid, signal.SIGKILL)
            LAUNCHER_PROCESS.wait(self.pid)
            os.close(self.master)
            raise

    def poll(self) -> int | None:
        return LAUNCHER_PROCESS.poll(self.pid)

    def _drain(self, wait: float = 0.0) -> None:
        ready, _, _ = select.select([self.master], [], [], wait)
        if ready:
            try:
                self.output += os.read(self.master, 65536)
            except OSError:
                pass

    def children(self) -> list[int]:
        return [int(p) for p in Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()]

    def finish(self) -> int:
        """Abort byoroot (its helper goes with it) and return its exit status."""
        if self.poll() is None:
            os.kill(self.pid, signal.SIGABRT)
        deadline = time.monotonic() + 60
        while self.poll() is None and time.monotonic() < deadline:
            self._drain(0.1)
        rc = LAUNCHER_PROCESS.wait(self.pid)
        os.close(self.master)
        return rc


def _sign_argv(base: Path, *, module: bool = False) -> list[str]:
    """`byoroot sign` with an encrypted root key: it stops at the passphrase prompt."""
    rkey = f.key("p384", 1)
    c = f.make_ceremony(base / "ceremony", root_key=rkey, root_key_bytes=f.key_bytes(rkey, password=PASSWORD))
    exe = [sys.executable, "-m", "byoroot_tui"] if module else [str(f.byoroot_exe())]
    return [*exe, *c.sign_argv("--log", base / "log" / "station-log.jsonl",
                               "--officer", "Alice Example", "--officer", "Bob Example")]


def _waiting_sign(tmp_path: Path, *, module: bool = False) -> tuple[Waiting, Path]:
    (tmp_path / "log").mkdir()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    return Waiting(_sign_argv(tmp_path, module=module), cwd, b"passphrase"), cwd


def _limits(pid: int) -> tuple[str, str]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            soft, hard = line.split()[4:6]
            return soft, hard
    raise AssertionError(f"no core limit in /proc/{pid}/limits")


def _helper_pid(w: Waiting) -> int:
    """The lint helper that `sign` forks before it reads anything secret (core/lintproc.py)."""
    kids = w.children()
    assert len(kids) == 1, kids
    return kids[0]


def _gone_or_zombie(pid: int) -> bool:
    try:
        return "State:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True


@pytest.mark.parametrize("module", [False, True], ids=["console-script", "python-m"])
def test_sign_aborted_under_ulimit_unlimited_leaves_no_core(module: bool, tmp_path: Path, cores_are_written: bool) -> None:
    """Today's failure: SIGABRT here wrote an 18 MB core holding the key into the working folder."""
    if not cores_are_written:
        pytest.skip(f"this machine writes no core file into the working folder (core_pattern {_core_pattern()!r}); "
                    "the /proc checks cover the hardening")
    w, cwd = _waiting_sign(tmp_path, module=module)
    rc = _abort_both(w)
    assert rc == -signal.SIGABRT, (rc, w.output[-2000:])
    assert _cores(cwd) == [], "a core file was written: it holds the process's memory"


def test_sign_and_its_lint_helper_run_with_core_limit_zero(tmp_path: Path) -> None:
    w, _cwd = _waiting_sign(tmp_path)
    try:
        assert _limits(w.pid) == ("0", "0")
        assert _limits(_helper_pid(w)) == ("0", "0")
    finally:
        w.finish()


BLOCKED = (
    "import runpy, sys\n"
    "sys.modules[sys.argv[1]] = None  # this import now fails: that step of the hardening is skipped\n"
    "sys.argv = ['byoroot', *sys.argv[2:]]\n"
    "runpy.run_module('byoroot_tui', run_name='__main__', alter_sys=True)\n"
)


def _abort_both(w: Waiting) -> int:
    helper = _helper_pid(w)
    try:
        os.kill(helper, signal.SIGABRT)  # the lint helper first: the parent reaps it only at the end
        deadline = time.monotonic() + 30
        while not _gone_or_zombie(helper) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone_or_zombie(helper)
    finally:
        rc = w.finish()
    return rc


def test_not_being_dumpable_alone_stops_the_core(tmp_path: Path, cores_are_written: bool) -> None:
    """With the `resource` module missing, the core limit stays unlimited and only
    prctl(PR_SET_DUMPABLE, 0) is left: that alone must stop the core file. (The limit alone is
    seen in /proc/<pid>/limits above; blocking ctypes instead would stop `sign` itself.)"""
    blocked = "resource"
    if not cores_are_written:
        pytest.skip(f"this machine writes no core file into the working folder (core_pattern {_core_pattern()!r})")
    (tmp_path / "log").mkdir()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    argv = _sign_argv(tmp_path)
    w = Waiting([sys.executable, "-c", BLOCKED, blocked, *argv[1:]], cwd, b"passphrase")
    try:
        assert _limits(w.pid) == ("unlimited", "unlimited")
        assert _limits(_helper_pid(w)) == ("unlimited", "unlimited")
    finally:
        rc = _abort_both(w)
    assert rc == -signal.SIGABRT, (rc, w.output[-2000:])
    assert _cores(cwd) == [], "a core file was written by a process that was to be not dumpable"


def test_sign_and_its_lint_helper_are_not_dumpable_for_their_user(tmp_path: Path) -> None:
    """Not dumpable: /proc/<pid> of the running `sign` and of its helper belongs to root, not to
    the user running them, and their environ cannot be read by that user's other processes.
    (As root, the owner is root either way: test_not_being_dumpable_alone_stops_the_core shows it.)"""
    if os.geteuid() == 0:
        pytest.skip("as root, /proc/<pid> belongs to root whether or not the process is dumpable")
    w, _cwd = _waiting_sign(tmp_path)
    try:
        for pid in (w.pid, _helper_pid(w)):
            assert os.stat(f"/proc/{pid}").st_uid == 0, "a dumpable process's /proc entry belongs to its user"
            r = subprocess.run(["cat", f"/proc/{pid}/environ"], capture_output=True, timeout=60)
            assert r.returncode != 0 and b"ermission denied" in r.stderr, r.stderr
    finally:
        w.finish()


def test_the_app_is_hardened_too(tmp_path: Path, cores_are_written: bool) -> None:
    media = tmp_path / "stick"
    media.mkdir()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    w = Waiting([str(f.byoroot_exe()), "--media-root", str(media)], cwd, b"Quit")
    try:
        assert _limits(w.pid) == ("0", "0")
    finally:
        rc = w.finish()
    assert rc == -signal.SIGABRT
    if cores_are_written:
        assert _cores(cwd) == []


def test_harden_in_a_fresh_interpreter_sets_both(tmp_path: Path) -> None:
    """The module itself: dumpable before, not after; the core limit 0, soft and hard."""
    script = (
        "import resource\n"
        "from byoroot_tui.core.harden import harden, is_dumpable\n"
        "before = is_dumpable()\n"
        "harden()\n"
        "print(before, is_dumpable(), *resource.getrlimit(resource.RLIMIT_CORE))\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=_env(), timeout=60,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    before, after, soft, hard = r.stdout.split()
    if sys.platform.startswith("linux"):
        assert (before, after) == ("True", "False")
    assert (soft, hard) == ("0", "0")


def test_the_control_shows_that_the_limit_check_can_fail(tmp_path: Path) -> None:
    """Control for the /proc checks: a plain Python started by the same launcher runs with an
    unlimited core limit."""
    pid = LAUNCHER_PROCESS.spawn(["bash", "-c", ULIMIT, "bash", sys.executable, "-c", "import time; time.sleep(60)"],
                                 tmp_path, _env())
    try:
        deadline = time.monotonic() + 30
        while _limits(pid)[0] == "0" and time.monotonic() < deadline:  # until bash has raised it and exec'd
            time.sleep(0.05)
        soft, hard = _limits(pid)
        if hard == "0":
            pytest.skip("this session started with a hard core limit of 0")
        assert soft == "unlimited"
    finally:
        os.kill(pid, signal.SIGKILL)
        LAUNCHER_PROCESS.wait(pid)
