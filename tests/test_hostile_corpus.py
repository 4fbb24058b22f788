"""The hostile-CSR corpus (tests/data/hostile, made by tests/data/make_hostile.py).

Each file is either refused (exit 1, one `byoroot: …` line, nothing on stdout) or shown safely
by `byoroot inspect` (exit 0 or 1): in every case the real bytes the installed command writes
hold no control character but newline and no bidi control, there is no traceback, and the
command ends within a bounded time, enforced by running it in a subprocess with a timeout.
Nothing here asserts wall-clock speed beyond that bound.

The CLI runs concurrently (a few processes at a time) to keep the suite quick; the timeout is
per process, generous enough for a loaded CI machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

import factories as f

DATA = Path(__file__).resolve().parent / "data"
HOSTILE = DATA / "hostile"
sys.path.insert(0, str(DATA))
import make_hostile  # noqa: E402

TIMEOUT = 20.0  # seconds per CLI process: the bound, not a speed goal
NAMES = sorted(make_hostile.CASES)
SHOWN = [n for n in NAMES if make_hostile.CASES[n].expect == "shown"]


# ----------------------------------------------------------------------------- running the CLI


@dataclass
class Proc:
    argv: list[str]
    rc: int | None  # None: killed at the timeout
    out: bytes
    err: bytes
    seconds: float

    def describe(self) -> str:
        return (f"{' '.join(self.argv[1:])}: rc={self.rc} after {self.seconds:.1f}s\n"
                f"stderr: {self.err[:600]!r}\nstdout: {self.out[:600]!r}")


def _run(argv: list[object], cwd: Path | None = None, env: dict[str, str] | None = None) -> Proc:
    argv = [str(a) for a in argv]
    t0 = time.monotonic()
    try:
        r = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL, timeout=TIMEOUT,
                           cwd=cwd or f.REPO, env=env)
        return Proc(argv, r.returncode, r.stdout, r.stderr, time.monotonic() - t0)
    except subprocess.TimeoutExpired as exc:
        return Proc(argv, None, exc.stdout or b"", exc.stderr or b"", time.monotonic() - t0)


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["XDG_DATA_HOME"] = str(home / "data")  # never the real station log or profiles
    env["XDG_CONFIG_HOME"] = str(home / "config")
    return env


@pytest.fixture(scope="module")
def inspected(tmp_path_factory) -> dict[tuple[str, str], Proc]:  # type: ignore[no-untyped-def]
    """`byoroot inspect` on every corpus file, a few processes at a time."""
    exe = f.byoroot_exe()
    env = _env(tmp_path_factory.mktemp("home"))
    jobs = {(n, "text"): [exe, "inspect", HOSTILE / n] for n in NAMES}
    with ThreadPoolExecutor(max_workers=max(2, min(4, (os.cpu_count() or 2) * 2))) as pool:
        futures = {key: pool.submit(_run, argv, None, env) for key, argv in jobs.items()}
        return {key: fut.result() for key, fut in futures.items()}


def _in_process(cli, *argv: object) -> Proc:  # type: ignore[no-untyped-def]
    r = cli(*argv)
    return Proc(["byoroot", *map(str, argv)], r.rc, r.out.encode("utf-8"), r.err.encode("utf-8"), 0.0)


@lru_cache(maxsize=None)
def _json_inspect(name: str) -> Proc:
    """`byoroot inspect --json` in process, once per file."""
    import contextlib
    import io

    from byoroot_tui import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(["inspect", str(HOSTILE / name), "--json"])
    return Proc(["byoroot", "inspect", str(HOSTILE / name), "--json"], rc, out.getvalue().encode("utf-8"),
                err.getvalue().encode("utf-8"), 0.0)


def assert_clean_bytes(p: Proc) -> None:
    """No raw control byte (but newline), valid UTF-8, no control/format/bidi character."""
    for stream in (p.out, p.err):
        assert f.unsafe_bytes(stream) == [], p.describe()
        text = stream.decode("utf-8")  # raises if the output is not UTF-8
        assert f.unsafe_chars(text) == [], p.describe()
    assert b"Traceback" not in p.err and b"Traceback" not in p.out, p.describe()
    assert b"internal error" not in p.err, p.describe()


# ----------------------------------------------------------------------------- the corpus itself


def test_corpus_on_disk_is_what_the_script_makes() -> None:
    """The stored files are byte-for-byte what make_hostile.py builds (Ed25519 is deterministic)."""
    on_disk = sorted(p.name for p in HOSTILE.iterdir())
    assert on_disk == NAMES, "re-run: python tests/data/make_hostile.py"
    for name in NAMES:
        assert (HOSTILE / name).read_bytes() == make_hostile.CASES[name].data, name
    total = sum((HOSTILE / n).stat().st_size for n in NAMES)
    assert total < 2 * 1024 * 1024
    assert all((HOSTILE / n).stat().st_size <= 1024 * 1024 for n in NAMES), "over-cap cases are made in the test"


def test_corpus_covers_the_issue() -> None:
    """The shapes the issue names are really in the files (guards against a silently weakened script)."""
    from cryptography import x509

    cases = make_hostile.CASES
    cn = x509.load_pem_x509_csr(cases["subject-control-chars.csr"].data).subject.rfc4514_string()
    assert "\x1b[2J" in cn and "\u202e" in cn and "\u2066" in cn
    assert len(cases["cn-64k.csr"].data) > 64 * 1024 * 4 // 3
    assert cases["extensions-3000.csr"].description.startswith("3000")
    lines = cases["long-base64-line.csr"].data.split(b"\n")
    assert max(len(line) for line in lines) >= 100_000
    assert cases["leading-ansi.csr"].data.startswith(b"\x1b[")
    assert cases["leading-binary.csr"].data.startswith(b"\x01\x02")
    assert b"Proc-Type:" in cases["pem-headers.csr"].data
    assert cases["nested-20000.der"].data.count(b"\x30") >= 20000


# ----------------------------------------------------------------------------- every file through the real command


@pytest.mark.parametrize("name", NAMES)
def test_inspect_refuses_or_shows_safely(name: str, inspected) -> None:  # type: ignore[no-untyped-def]
    case = make_hostile.CASES[name]
    p = inspected[(name, "text")]
    assert p.rc is not None, f"byoroot inspect did not finish within {TIMEOUT}s: {p.describe()}"
    assert p.rc in (0, 1), p.describe()
    assert_clean_bytes(p)
    if case.expect == "refused":
        assert p.rc == 1 and p.out == b"", p.describe()
        lines = p.err.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"byoroot: {name}: "), p.describe()
    else:
        out = p.out.decode()
        assert out.startswith(f"CSR {name}\n"), p.describe()
        assert ("\nVerdict: REFUSED" in out) == (p.rc == 1), p.describe()
        assert "\nVerdict: ACCEPTABLE" in out or "\nVerdict: REFUSED" in out


@pytest.mark.parametrize("name", NAMES)
def test_inspect_json_refuses_or_shows_safely(name: str) -> None:  # type: ignore[no-untyped-def]
    """--json, in process (the time bound of this code path is proved by the process runs above)."""
    case = make_hostile.CASES[name]
    p = _json_inspect(name)
    assert p.rc in (0, 1), p.describe()
    assert_clean_bytes(p)
    data = json.loads(p.out)  # stdout is always one JSON object, even for a refusal
    if case.expect == "refused":
        assert p.rc == 1 and data == {"ok": False, "error": data["error"]}, p.describe()
        assert data["error"].startswith(f"{name}: ") and "\n" not in data["error"]
        assert f.unsafe_chars(data["error"]) == []
    else:
        assert data["verdict"] == ("refused" if p.rc == 1 else "acceptable"), p.describe()
        _assert_all_strings_safe(data)


def _assert_all_strings_safe(obj: object, where: str = "$") -> None:
    """Every string in a decoded JSON document (after json's own escaping is undone) is displayable."""
    if isinstance(obj, str):
        assert f.unsafe_chars(obj) == [], (where, obj[:200])
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _assert_all_strings_safe(k, where)
            _assert_all_strings_safe(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _assert_all_strings_safe(v, f"{where}[{i}]")


def _expected_verdicts() -> dict[str, str]:
    """What each shown case must get: the hostile-subject ones are refused, the others are not."""
    refused = {"subject-control-chars.csr", "subject-bidi-only.csr", "subject-bmpstring-bidi.csr",
               "subject-teletex-escape.csr", "extensions-3000-critical.csr", "cn-64k.csr",
               "extensions-3000.csr", "subject-3000-rdns.csr"}  # over the size bounds of a real request
    return {n: ("refused" if n in refused else "acceptable") for n in SHOWN}


@pytest.mark.parametrize("name", SHOWN)
def test_shown_cases_get_the_right_verdict(name: str) -> None:
    data = json.loads(_json_inspect(name).out)
    assert data["verdict"] == _expected_verdicts()[name], [x["message"][:120] for x in data["findings"]]
    codes = {x["code"] for x in data["findings"]}
    if name.startswith("subject-") and name != "subject-3000-rdns.csr":
        assert "csr.subject_control_chars" in codes
    if name == "extensions-3000-critical.csr":
        assert sum(1 for x in data["findings"] if x["code"] == "csr.unknown_critical_extension") == 3000
    if name == "extensions-3000.csr":
        assert "csr.too_many_extensions" in codes
    if name == "subject-3000-rdns.csr":
        assert "csr.subject_too_large" in codes
    if name.startswith(("leading-", "trailing-")):
        assert "csr.text_outside_pem" in codes


def test_hostile_text_is_escaped_not_dropped(inspected) -> None:  # type: ignore[no-untyped-def]
    """The officer sees that something hostile is there: escaped, never silently removed."""
    out = inspected[("subject-control-chars.csr", "text")].out.decode()
    assert "\\x1b[2J" in out and "\\u202e" in out and "\\u2066" in out and "\\x00" in out
    out = inspected[("san-and-extension-values.csr", "text")].out.decode()
    assert "DNS:evil\\x1b[2J" in out and "\\x1b]8;;https://evil.example/\\x07" in out
    assert "challengePassword:" in out and "\\x0d\\x0aVerdict: ACCEPTABLE" in out
    # the fake verdict planted in an attribute never starts a line of its own
    assert [line for line in out.splitlines() if line.startswith("Verdict:")] == ["Verdict: ACCEPTABLE"]
    out = inspected[("cn-64k.csr", "text")].out.decode()
    assert "more characters)" in out, "a 64 KiB name is truncated for display, and says so"
    assert max(len(line) for line in out.splitlines()) < 4 * 1024




@pytest.mark.parametrize("name", SHOWN)
def test_shown_cases_print_nothing_stray_on_stderr(name: str, inspected) -> None:  # type: ignore[no-untyped-def]
    """Inspect writes its report to stdout and nothing to stderr: no Python warning or other stray
    text reaches stderr (on the station it lands in the officer's terminal, or on top of the TUI)."""
    p = inspected[(name, "text")]
    assert p.err == b"", p.describe()


# ----------------------------------------------------------------------------- in process: only ByorootError escapes


@lru_cache(maxsize=None)
def _default_profile():  # type: ignore[no-untyped-def]
    from byoroot_tui.core.profiles import get_profile

    return get_profile("intermediate-ca")


@pytest.mark.parametrize("name", NAMES)
def test_core_raises_only_byoroot_error(name: str) -> None:
    """load_csr + assess (what inspect and the TUI's preview call): a one-line, displayable
    ByorootError, or a CsrInfo whose every shown string is displayable."""
    from byoroot_tui.core.csr import load_csr
    from byoroot_tui.core.errors import ByorootError
    from byoroot_tui.core.issue import assess

    case = make_hostile.CASES[name]
    try:
        info = load_csr(HOSTILE / name)
    except ByorootError as exc:
        assert case.expect == "refused", f"{name} was refused: {exc}"
        message = str(exc)
        assert message and "\n" not in message and "\r" not in message
        assert f.unsafe_chars(message) == [], message
        return
    assert case.expect == "shown", f"{name} was accepted by the parser"
    _assert_all_strings_safe(info.as_dict())
    assessment = assess(info, _default_profile())
    for finding in assessment.findings:
        assert f.unsafe_chars(finding.message) == [] and "\n" not in finding.message
    if assessment.plan is not None:
        _assert_all_strings_safe(assessment.plan.as_dict())


# ----------------------------------------------------------------------------- signing what is shown


@pytest.fixture(scope="module")
def station(tmp_path_factory) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    base = tmp_path_factory.mktemp("station")
    rkey = f.key("p384", 1)
    root = base / "root.pem"
    root.write_bytes(f.pem(f.make_root(rkey)))
    key_path = base / "root.key"
    key_path.write_bytes(f.key_bytes(rkey))
    return root, key_path


@pytest.mark.parametrize("name", SHOWN)
def test_sign_on_shown_cases_is_safe(name: str, station, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Whatever sign decides, its output, the sheet and the log hold nothing a terminal or a
    printer would interpret; a refusal leaves the folder empty and is logged. (In process: the
    parse/plan/lint path is bounded by the process runs above.)"""
    root, key_path = station
    out, log = tmp_path / "out", tmp_path / "station.log"
    out.mkdir()
    p = _in_process(cli, "sign", HOSTILE / name, "--root-cert", root, "--root-key", key_path, "--out", out,
                    "--log", log, "--officer", "Officer One", "--officer", "Officer Two")
    assert p.rc in (0, 1), p.describe()
    assert_clean_bytes(p)
    verdict = _expected_verdicts()[name]
    entries = [json.loads(line) for line in log.read_bytes().splitlines()]
    assert log.read_bytes().isascii()
    if p.rc == 0:
        assert verdict == "acceptable", p.describe()
        assert sorted(os.listdir(out)) == sorted(["intermediate.crt", "intermediate-fingerprint.png",
                                                  "ceremony-record.txt", "ceremony-record.pdf"])
        sheet = (out / "ceremony-record.txt").read_text("utf-8")
        assert f.sheet_unsafe_chars(sheet) == [], name
        assert max(f_width(line) for line in sheet.splitlines()) <= 80
        assert [e["event"] for e in entries] == ["signing", "issued", "exported"]
        assert entries[1]["certificate"].encode("ascii") == (out / "intermediate.crt").read_bytes()
    else:
        assert verdict == "refused", p.describe()
        lines = p.err.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith("byoroot: refused: "), p.describe()
        assert os.listdir(out) == []
        assert [e["event"] for e in entries] == ["refused"]  # refused before the signing entry: no key opened


def f_width(line: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in line)


# ----------------------------------------------------------------------------- over the input cap (not stored)


@pytest.mark.parametrize("kind", ["pem", "der"])
def test_request_over_one_mib_is_refused_before_reading(kind: str, tmp_path: Path) -> None:
    data = make_hostile.oversized(kind)
    assert len(data) > 1024 * 1024
    path = tmp_path / f"big.{kind}"
    path.write_bytes(data)
    p = _run([f.byoroot_exe(), "inspect", path], env=_env(tmp_path))
    assert p.rc == 1, p.describe()
    assert_clean_bytes(p)
    assert p.err.decode().strip() == f"byoroot: CSR 'big.{kind}' is {len(data)} bytes, over the 1048576-byte limit"


def test_sparse_one_tib_file_and_devices_are_refused_without_reading(tmp_path: Path) -> None:
    """Size and type are checked before the first read: a 1 TiB sparse file, /dev/zero and a FIFO
    with no writer all end at once (a read of any of them would never finish in time)."""
    sparse = tmp_path / "huge.csr"
    with open(sparse, "wb") as fh:
        fh.truncate(1 << 40)
    fifo = tmp_path / "pipe.csr"
    os.mkfifo(fifo)
    for path, reason in ((sparse, "over the 1048576-byte limit"), (Path("/dev/zero"), "is a device"),
                         (fifo, "is a FIFO")):
        for argv in (["inspect", path], ["inspect", path, "--json"]):
            p = _run([f.byoroot_exe(), *argv], env=_env(tmp_path))
            assert p.rc == 1, p.describe()
            assert_clean_bytes(p)
            assert reason in p.err.decode(), p.describe()


def test_subject_of_66000_rdns_is_handled_within_the_bound(tmp_path: Path) -> None:
    """Inspect and sign (run concurrently, each with the timeout) end in bounded time. The margin
    is wide: sign takes over three times the bound on the machine this was measured on."""
    data = make_hostile.huge_subject()
    path = tmp_path / "huge-subject.der"
    path.write_bytes(data)
    rkey = f.key("p384", 1)
    root, key_path = tmp_path / "root.pem", tmp_path / "root.key"
    root.write_bytes(f.pem(f.make_root(rkey)))
    key_path.write_bytes(f.key_bytes(rkey))
    out = tmp_path / "out"
    out.mkdir()
    env = _env(tmp_path)
    jobs = [[f.byoroot_exe(), "inspect", path],
            [f.byoroot_exe(), "sign", path, "--root-cert", root, "--root-key", key_path, "--out", out,
             "--log", tmp_path / "log", *f.OFFICERS]]
    with ThreadPoolExecutor(max_workers=2) as pool:
        procs = list(pool.map(lambda argv: _run(argv, env=env), jobs))
    for p in procs:
        assert p.rc is not None, f"did not finish within {TIMEOUT}s: {p.describe()}"
        assert p.rc in (0, 1), p.describe()
        assert_clean_bytes(p)
