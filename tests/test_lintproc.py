"""The lint helper process (core/lintproc.py): same reports, no secrets, never in the way.

Each case runs in a fresh interpreter (a script written to the test's folder), as the CLI runs:
the helper forks only in a process with one thread, and a test must see where pkilint is loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import factories as f
from byoroot_tui.core import lint as core_lint
from byoroot_tui.core.lint import LintFinding, LintReport


def run_script(tmp_path: Path, code: str, *args: object) -> dict:  # type: ignore[type-arg]
    script = tmp_path / "probe.py"
    script.write_text(code, encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True, timeout=120,
                          cwd=f.REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


SAME_REPORTS = r"""
import json, sys
from byoroot_tui.core import lint, lintproc

cases = json.load(open(sys.argv[1]))
answered = []
real_ask = lint._ask_helper
def ask(*a):
    try:
        r = real_ask(*a)
    except Exception:  # the helper's refusal, raised here
        answered.append(True)
        raise
    answered.append(r is not None)
    return r
lint._ask_helper = ask

def run(c):
    try:
        r = lint.lint(bytes.fromhex(c["cert"]), bytes.fromhex(c["issuer"]), check_signature=c["sig"],
                      cabf_type=c["cabf"])
        return {"report": r.as_dict()}
    except Exception as e:
        return {"raised": type(e).__name__, "message": str(e)}

with lintproc.helper() as h:
    started = h is not None
    helped = [run(c) for c in cases]
    broken = h.broken if h else None
pkilint_in_parent = "pkilint" in sys.modules
answered_by_helper = list(answered)
inproc = [run(c) for c in cases]
print(json.dumps({"started": started, "helped": helped, "inproc": inproc, "broken": broken,
                  "answered": answered_by_helper, "pkilint_in_parent": pkilint_in_parent}))
"""


def test_the_helper_gives_the_reports_and_refusals_lint_gives_in_process(tmp_path: Path) -> None:
    rkey = f.key("p384", 1)
    root = f.make_root(rkey)
    no_ski = f.make_root(f.key("p256", 2), ski=None)  # a CA certificate without its SKI: findings
    leaf = f.make_leaf(root, rkey)
    cases = [
        {"cert": f.der(leaf).hex(), "issuer": f.der(root).hex(), "sig": True, "cabf": None},
        {"cert": f.der(leaf).hex(), "issuer": f.der(root).hex(), "sig": False, "cabf": None},
        {"cert": f.der(no_ski).hex(), "issuer": f.der(no_ski).hex(), "sig": True, "cabf": None},
        {"cert": f.der(leaf).hex(), "issuer": f.der(no_ski).hex(), "sig": True, "cabf": None},  # wrong issuer
        {"cert": "300302010a", "issuer": f.der(root).hex(), "sig": True, "cabf": None},  # not a certificate
        {"cert": f.der(leaf).hex(), "issuer": f.der(root).hex(), "sig": True, "cabf": "NOT-A-TYPE"},
        {"cert": f.der(leaf).hex(), "issuer": f.der(root).hex(), "sig": True, "cabf": "EXTERNAL-CONSTRAINED-TLS-CA"},
    ]
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    got = run_script(tmp_path, SAME_REPORTS, tmp_path / "cases.json")

    assert got["started"] and got["broken"] is False
    assert got["answered"] == [True] * len(cases)  # every lint was the helper's, none a fallback
    assert got["pkilint_in_parent"] is False  # the parent never loaded pkilint
    assert got["helped"] == got["inproc"]
    # the cases cover clean reports, blocking findings, and both refusals
    reports = [r["report"] for r in got["inproc"] if "report" in r]
    assert any(r["clean"] for r in reports) and any(not r["clean"] for r in reports)
    raised = {r["raised"] for r in got["inproc"] if "raised" in r}
    assert raised == {"PolicyRefused", "ByorootError"}


FALLBACKS = r"""
import json, os, signal, sys, threading, time
from byoroot_tui.core import lint, lintproc

cert, issuer = bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2])
out = {}
with lintproc.helper() as h:
    os.kill(h.pid, signal.SIGKILL)  # the helper dies before it is asked
    os.waitpid(h.pid, 0)
    out["after_death"] = lint.lint(cert, issuer, check_signature=True).as_dict()
    out["broken"] = h.broken
    out["not_asked_again"] = h.ask({}) is None
out["current_after"] = lintproc.current() is None

stop = threading.Event()
t = threading.Thread(target=stop.wait)
t.start()
with lintproc.helper() as h:
    out["with_a_thread"] = h
stop.set()
t.join()
for _ in range(1000):  # join returns a moment before the kernel's task ends
    if len(os.listdir("/proc/self/task")) == 1:
        break
    time.sleep(0.01)

with lintproc.helper() as h:
    pid = h.pid
    with lintproc.helper() as inner:
        out["nested"] = inner
        out["nested_keeps_outer"] = lintproc.current() is h
try:
    os.kill(pid, 0)
    out["reaped"] = False
except ProcessLookupError:
    out["reaped"] = True
out["inproc"] = lint.lint(cert, issuer, check_signature=True).as_dict()
print(json.dumps(out))
"""


def test_without_an_answer_from_the_helper_the_parent_lints_itself(tmp_path: Path) -> None:
    rkey = f.key("p384", 1)
    root = f.make_root(rkey)
    leaf = f.make_leaf(root, rkey)
    got = run_script(tmp_path, FALLBACKS, f.der(leaf).hex(), f.der(root).hex())
    assert got["after_death"] == got["inproc"]
    assert got["broken"] is True and got["not_asked_again"] is True
    assert got["current_after"] is True
    assert got["with_a_thread"] is None  # no fork while another thread runs
    assert got["nested"] is None and got["nested_keeps_outer"] is True
    assert got["reaped"] is True  # stopped and reaped when the block ends, even while still loading pkilint


class FakeHelper:
    def __init__(self, reply: object) -> None:
        self.reply = reply
        self.broken = False

    def ask(self, request: dict) -> object:  # type: ignore[type-arg]
        return self.reply


def test_a_reply_that_is_not_a_report_is_not_trusted(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from byoroot_tui.core import lintproc

    for reply in ({"report": {"findings": [{"severity": "ERROR"}], "checks": []}}, {"report": None},
                  {"report": {"findings": ["x"], "checks": []}}, {"something": "else"}):
        helper = FakeHelper(reply)
        monkeypatch.setattr(lintproc, "_current", helper)
        assert core_lint._ask_helper(b"", b"", True, None) is None
        assert helper.broken
    good = {"report": {"findings": [{"severity": "NOTICE", "code": "c", "message": "m", "where": "w"}],
                       "checks": ["RFC 5280"]}}
    monkeypatch.setattr(lintproc, "_current", FakeHelper(good))
    assert core_lint._ask_helper(b"", b"", True, None) == LintReport(
        (LintFinding("NOTICE", "c", "m", "w"),), ("RFC 5280",))


# `byoroot sign` end to end: the helper is forked before any secret is read, answers both lints,
# and its memory holds neither the passphrase nor the key (read from /proc/PID/mem, with a marker
# made before the fork as a positive control and one made after it as a negative control).
SIGN = r"""
import builtins, json, os, re, secrets, sys
from byoroot_tui.core import lint, lintproc

argv = json.loads(sys.argv[4])
BEFORE = b"before-the-fork-" + secrets.token_hex(16).encode()
events = []

real_fork = os.fork
def fork():
    pid = real_fork()
    if pid:
        events.append("fork")
    return pid
os.fork = fork
real_os_open, real_open = os.open, builtins.open
def os_open(path, *a, **k):
    events.append("open " + os.fspath(path) if not isinstance(path, int) else "open fd")
    return real_os_open(path, *a, **k)
def b_open(path, *a, **k):
    if not isinstance(path, int):
        events.append("open " + os.fspath(path))
    return real_open(path, *a, **k)
os.open, builtins.open = os_open, b_open

def child_memory(pid):
    chunks = []
    with real_open(f"/proc/{pid}/maps") as maps, real_open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for line in maps:
            addr, perms = line.split()[:2]
            if not perms.startswith("r"):
                continue
            lo, hi = (int(x, 16) for x in addr.split("-"))
            try:
                mem.seek(lo)
                chunks.append(mem.read(hi - lo))
            except (OSError, OverflowError, ValueError):
                pass
    return b"".join(chunks)

scan = {}
answers = []
real_ask = lint._ask_helper
PARENT = os.getpid()
def ask(*a):
    if os.getpid() != PARENT:  # the helper itself lints in-process through the same function
        return real_ask(*a)
    r = real_ask(*a)
    answers.append(r is not None)
    if len(answers) == 2:  # after signing: the parent has used the key by now
        after = b"after-the-fork-" + secrets.token_hex(16).encode()
        # the secrets are read here, after the fork, so that only a leak can put them in the child
        passphrase = real_open(sys.argv[1], "rb").read().strip()
        key_pem = real_open(sys.argv[2], "rb").read()
        scalar = bytes.fromhex(real_open(sys.argv[3]).read())
        memory = child_memory(lintproc.current().pid)
        scan.update(before=BEFORE in memory, after=after in memory, passphrase=passphrase in memory,
                    key_pem=key_pem in memory, scalar=scalar in memory or scalar[::-1] in memory,
                    size=len(memory))
    return r
lint._ask_helper = ask

from byoroot_tui.cli import main
rc = main(argv)
os.open, builtins.open = real_os_open, real_open
print(json.dumps({"rc": rc, "events": events, "answers": answers, "scan": scan}))
"""


def test_byoroot_sign_forks_the_helper_before_any_secret_and_it_never_holds_one(tmp_path: Path) -> None:
    passphrase = b"correct horse lintproc " + bytes(str(id(tmp_path)), "ascii")
    rkey = f.key("p384", 1)
    c = f.make_ceremony(tmp_path, root_key=rkey, root_key_bytes=f.key_bytes(rkey, password=passphrase))
    (c.station / "pass.txt").write_bytes(passphrase + b"\n")
    scalar = rkey.private_numbers().private_value.to_bytes(48, "big")
    argv = c.sign_argv("--passphrase-file", c.station / "pass.txt", "--log", tmp_path / "log.jsonl")
    (c.station / "scalar.hex").write_text(scalar.hex())
    got = run_script(tmp_path, SIGN, c.station / "pass.txt", c.root_key, c.station / "scalar.hex", json.dumps(argv))

    assert got["rc"] == 0
    events = got["events"]
    assert events.count("fork") == 1
    secrets_read = [i for i, e in enumerate(events) if e.endswith(("root.key", "pass.txt"))]
    assert secrets_read and events.index("fork") < min(secrets_read), events
    assert got["answers"] == [True, True]  # the lint before signing and the one after: both the helper's
    scan = got["scan"]
    assert scan["size"] > 10_000_000  # the whole child was read
    assert scan["before"] is True and scan["after"] is False  # the controls
    assert scan == {**scan, "passphrase": False, "key_pem": False, "scalar": False}
    f.assert_openssl_ok(c.root_cert, c.cert_path)
