#!/usr/bin/env python3
"""Benchmark `byoroot sign` against `openssl x509 -req` (and openssl + pkilint).

One run does everything, in a throwaway temp folder:

  setup   a root CA (P-384 by default) and a P-256 intermediate CSR, made with openssl,
          plus an openssl extfile with exactly the extensions byoroot's default profile issues;
  timed   N iterations, round-robin, each command a fresh process (wall clock; CPU time too):
            a. byoroot sign CSR --root-cert R --root-key K --out DIR_i
            b. openssl x509 -req ... -extfile ext -extensions v3_ca
            c. the same openssl command, then pkilint `lint_pkix_cert lint -s WARNING`
            d. (in this process) the core pipeline alone: load_csr + load_root + make_plan
               + load_root_key + sign_plan, without writing
  import  `python -c "import byoroot_tui.cli"` (and everything `sign` imports) vs `python -c pass`.

Every run is checked (exit codes, `openssl verify` of every certificate, pkilint clean at WARNING
for byoroot's and openssl's certificates, same extensions, signature algorithm and validity in both);
any failure aborts with a clear message and no figures.

    .venv/bin/python bench/sign_bench.py [--iterations 15] [--root-key-type p384|rsa4096|ed25519] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GOAL = "byoroot sign (all checks) no slower than openssl + pkilint"
BIN = Path(sys.executable).parent  # the venv's bin/ when run as .venv/bin/python
KEY_TYPES = ("p384", "rsa4096", "ed25519")
VALIDITY_DAYS = 3650  # byoroot's default profile
HASH = "sha512"  # byoroot's default profile (Ed25519 roots sign without a separate hash)

# Extensions byoroot's default profile (intermediate-ca) issues, in the same order.
EXTFILE = """\
[v3_ca]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,digitalSignature,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""

# Minimal config for making the root and the CSR (no requested extensions in the CSR).
REQ_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
"""

CPU_KEYS = ("cpu.byoroot", "cpu.openssl", "cpu.openssl+pkilint")

# What `byoroot sign` imports (cli.cmd_sign imports these lazily); its lint helper loads pkilint.
SIGN_IMPORTS = (
    "byoroot_tui.cli, byoroot_tui.core.csr, byoroot_tui.core.export, byoroot_tui.core.fingerprint, "
    "byoroot_tui.core.issue, byoroot_tui.core.profiles, byoroot_tui.core.root, byoroot_tui.core.signer"
)


class BenchFailure(Exception):
    """A run failed: the benchmark is void."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def tool(name: str) -> str:
    here = BIN / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if not found:
        raise BenchFailure(f"cannot find {name!r} (looked in {BIN} and on PATH)")
    return found


# Environment of every child process; see child_env().
CHILD_ENV: dict[str, str] | None = None


def child_env(base: Path, bytecode_cache: bool) -> dict[str, str] | None:
    """With bytecode_cache (the default), children cache .pyc files under the temp folder, so after the
    warm-up no process compiles Python source: like a wheel install, where pip writes the .pyc files.
    (An editable install run with PYTHONDONTWRITEBYTECODE=1 would otherwise recompile byoroot_tui in
    every process, while cryptography and pkilint load the .pyc files pip made.) Nothing is written
    to the repository either way."""
    if not bytecode_cache:
        return None
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(base / "pycache")
    return env


def run(cmd: list[str], what: str, ok_codes: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=CHILD_ENV)
    if proc.returncode not in ok_codes:
        out = (proc.stdout + proc.stderr).decode("utf-8", "replace").strip()
        tail = "\n".join(out.splitlines()[-15:])
        raise BenchFailure(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return proc


def timed(cmd: list[str], what: str) -> tuple[float, float]:
    """Wall time, and CPU time (user + sys) of the command and every process it waited for."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    run(cmd, what)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


# ---------------------------------------------------------------------------- setup


def make_material(base: Path, key_type: str, openssl: str) -> dict[str, Path]:
    cfg = base / "req.cnf"
    cfg.write_text(REQ_CONFIG)
    ext = base / "ext.cnf"
    ext.write_text(EXTFILE)
    root_key, root_crt = base / "root.key", base / "root.crt"
    int_key, csr = base / "intermediate.key", base / "intermediate.csr"
    genpkey = {
        "p384": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        "rsa4096": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"],
        "ed25519": ["-algorithm", "ED25519"],
    }[key_type]
    run([openssl, "genpkey", *genpkey, "-out", str(root_key)], "root key generation")
    digest = [] if key_type == "ed25519" else [f"-{HASH}"]
    # The root outlives the intermediate's 10 years so byoroot does not cap (and warn).
    run([openssl, "req", "-x509", "-new", "-key", str(root_key), "-config", str(cfg), "-extensions", "v3_root",
         "-subj", "/C=XX/O=byoroot bench/CN=Bench Root CA", "-days", "7300", *digest, "-out", str(root_crt)],
        "root certificate")
    run([openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(int_key)],
        "intermediate key generation")
    run([openssl, "req", "-new", "-key", str(int_key), "-config", str(cfg),
         "-subj", "/C=XX/O=byoroot bench/CN=Bench Intermediate CA", "-sha256", "-out", str(csr)], "intermediate CSR")
    return {"root_key": root_key, "root_crt": root_crt, "csr": csr, "ext": ext}


def random_serial() -> str:
    # 159 random bits, positive, like cryptography's x509.random_serial_number()
    return hex(int.from_bytes(secrets.token_bytes(20), "big") >> 1 | 1)


# ---------------------------------------------------------------------------- commands


class Bench:
    def __init__(self, m: dict[str, Path], key_type: str, base: Path) -> None:
        self.m = m
        self.key_type = key_type
        self.base = base
        self.openssl = tool("openssl")
        self.byoroot = tool("byoroot")
        self.pkilint = tool("lint_pkix_cert")

    def byoroot_cmd(self, out: Path) -> list[str]:
        return [self.byoroot, "sign", str(self.m["csr"]), "--root-cert", str(self.m["root_crt"]),
                "--root-key", str(self.m["root_key"]), "--out", str(out),
                "--officer", "Bench Officer One", "--officer", "Bench Officer Two"]

    def openssl_cmd(self, out: Path) -> list[str]:
        digest = [] if self.key_type == "ed25519" else [f"-{HASH}"]
        return [self.openssl, "x509", "-req", "-in", str(self.m["csr"]), "-CA", str(self.m["root_crt"]),
                "-CAkey", str(self.m["root_key"]), "-set_serial", random_serial(), "-days", str(VALIDITY_DAYS),
                *digest, "-extfile", str(self.m["ext"]), "-extensions", "v3_ca", "-out", str(out)]

    def lint_cmd(self, cert: Path) -> list[str]:
        # exit code = number of findings at or above WARNING; 0 means clean
        return [self.pkilint, "lint", "-s", "WARNING", str(cert)]

    # one iteration's worth of each measurement -------------------------------------------

    def run_byoroot(self, d: Path) -> tuple[float, float]:
        cmd = self.byoroot_cmd(d)
        t = timed(cmd, "byoroot sign")
        cert = d / "intermediate.crt"
        if not cert.is_file():
            raise BenchFailure(f"byoroot sign exited 0 but wrote no {cert}")
        return t

    def run_openssl(self, d: Path) -> tuple[float, float]:
        cmd = self.openssl_cmd(d / "openssl.crt")
        return timed(cmd, "openssl x509 -req")

    def run_openssl_lint(self, d: Path) -> tuple[float, float, float]:
        """Wall time of both, wall time of pkilint alone, CPU time of both."""
        cert = d / "openssl-linted.crt"
        sign, lint = self.openssl_cmd(cert), self.lint_cmd(cert)
        w1, c1 = timed(sign, "openssl x509 -req (for openssl + pkilint)")
        w2, c2 = timed(lint, "pkilint on the openssl certificate (exit code = findings at WARNING or above)")
        return w1 + w2, w2, c1 + c2

    def check(self, d: Path, deep: bool = False) -> None:
        """Untimed: byoroot's certificate verifies and lints clean; both openssl certificates verify."""
        for name in ("intermediate.crt", "openssl.crt", "openssl-linted.crt"):
            run([self.openssl, "verify", "-CAfile", str(self.m["root_crt"]), str(d / name)],
                f"openssl verify of {name}")
        run(self.lint_cmd(d / "intermediate.crt"),
            "pkilint on byoroot's certificate (exit code = findings at WARNING or above)")
        if deep:
            same_shape(d / "intermediate.crt", d / "openssl.crt")


def same_shape(byoroot_crt: Path, openssl_crt: Path) -> None:
    """byoroot and openssl must issue the same kind of certificate, or the comparison is unfair."""
    from cryptography import x509

    a = x509.load_pem_x509_certificate(byoroot_crt.read_bytes())
    b = x509.load_pem_x509_certificate(openssl_crt.read_bytes())
    ea = [(e.oid.dotted_string, e.critical, e.value) for e in a.extensions]
    eb = [(e.oid.dotted_string, e.critical, e.value) for e in b.extensions]
    if ea != eb:
        raise BenchFailure(f"byoroot and openssl issue different extensions:\n  byoroot {ea}\n  openssl {eb}")
    if a.signature_algorithm_oid != b.signature_algorithm_oid:
        raise BenchFailure(f"signature algorithms differ: {a.signature_algorithm_oid} vs {b.signature_algorithm_oid}")
    if a.subject != b.subject or a.issuer != b.issuer or a.public_key() != b.public_key():
        raise BenchFailure("subject, issuer or public key differ between byoroot's and openssl's certificates")
    days_a = (a.not_valid_after_utc - a.not_valid_before_utc).days
    days_b = (b.not_valid_after_utc - b.not_valid_before_utc).days
    if abs(days_a - days_b) > 1:
        raise BenchFailure(f"validity differs: byoroot {days_a} days, openssl {days_b} days")


# ---------------------------------------------------------------------------- in-process core pipeline

STAGES = ("load_csr", "load_root", "make_plan", "load_root_key", "sign_plan")


def core_pipeline(m: dict[str, Path], out: Path) -> dict[str, float]:
    """The core alone, in this process (imports already paid), with the throwaway-key cache
    emptied so make_plan does what it does in a fresh `byoroot sign` process."""
    from byoroot_tui.core import issue
    from byoroot_tui.core.csr import load_csr
    from byoroot_tui.core.export import write_new_file
    from byoroot_tui.core.profiles import DEFAULT_PROFILE
    from byoroot_tui.core.root import load_root
    from byoroot_tui.core.signer import load_root_key

    issue._throwaway.clear()  # a fresh process has no cached throwaway key
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    csr = load_csr(m["csr"])
    t1 = time.perf_counter()
    root = load_root(m["root_crt"])
    t2 = time.perf_counter()
    plan = issue.make_plan(csr, DEFAULT_PROFILE, root)
    t3 = time.perf_counter()
    with load_root_key(m["root_key"]) as signer:
        t4 = time.perf_counter()
        issued = issue.sign_plan(plan, signer)
        t5 = time.perf_counter()
    if not issued.der:
        raise BenchFailure("the in-process pipeline produced no certificate")
    t.update(load_csr=t1 - t0, load_root=t2 - t1, make_plan=t3 - t2, load_root_key=t4 - t3, sign_plan=t5 - t4)
    t["total"] = t5 - t0
    # Not part of the pipeline figure: the safe write byoroot does (temp file, fsync, link, dir fsync, read-back).
    out.mkdir()
    t6 = time.perf_counter()
    write_new_file(out, "intermediate.crt", issued.pem)
    t["write_new_file"] = time.perf_counter() - t6
    return t


# ---------------------------------------------------------------------------- import time


def import_commands() -> dict[str, list[str]]:
    py = sys.executable
    return {
        "python -c pass": [py, "-c", "pass"],
        "import byoroot_tui.cli": [py, "-c", "import byoroot_tui.cli"],
        "import everything sign uses": [py, "-c", f"import {SIGN_IMPORTS}"],
        "load the linter (the helper's part)": [py, "-c", "from byoroot_tui.core import lint; lint.warm_up()"],
    }


def _importtime(code: str) -> dict[str, int]:
    proc = run([sys.executable, "-X", "importtime", "-c", code], "python -X importtime")
    self_us: dict[str, int] = {}
    for line in proc.stderr.decode().splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        us, _cum, name = (x.strip() for x in line[len("import time:"):].split("|", 2))
        self_us[name.strip()] = int(us)
    return self_us


def importtime_by_package(n: int = 8) -> list[dict[str, Any]]:
    """Modules `sign` imports beyond a bare interpreter's start-up, self time summed per top-level
    package (one `python -X importtime` run after the warm-ups; indicative, not a median)."""
    baseline = set(_importtime("pass"))
    extra = {k: v for k, v in _importtime(f"import {SIGN_IMPORTS}").items() if k not in baseline}
    groups: dict[str, list[int]] = {}
    for name, us in extra.items():
        g = groups.setdefault(name.split(".")[0], [0, 0])
        g[0] += us
        g[1] += 1
    rows = [{"package": k, "self_s": v[0] / 1e6, "modules": v[1]} for k, v in groups.items()]
    rows.sort(key=lambda r: r["self_s"], reverse=True)
    total = sum(r["self_s"] for r in rows)
    rest = rows[n:]
    rows = rows[:n]
    if rest:
        rows.append({"package": f"({len(rest)} others)", "self_s": sum(r["self_s"] for r in rest),
                     "modules": sum(r["modules"] for r in rest)})
    rows.append({"package": "total", "self_s": total, "modules": len(extra)})
    return rows


# ---------------------------------------------------------------------------- machine info


def cpu_model(default: str = "unknown") -> str:
    """The CPU's model name from /proc/cpuinfo (shared with tui_bench.py)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return default


def machine_info(openssl: str) -> dict[str, Any]:
    import cryptography
    from cryptography.hazmat.backends.openssl.backend import backend

    cpu = cpu_model()
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count() or 0
    ossl = subprocess.run([openssl, "version"], capture_output=True, text=True).stdout.strip()
    try:
        from importlib.metadata import version

        pkilint_version = version("pkilint")
        byoroot_version = version("byoroot-tui")
    except Exception:
        pkilint_version = byoroot_version = "unknown"
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    return {
        "cpu": cpu,
        "nproc": nproc,
        "loadavg_1min_at_start": round(load, 2),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "openssl": ossl,
        "cryptography": cryptography.__version__,
        "cryptography_openssl": backend.openssl_version_text(),
        "pkilint": pkilint_version,
        "byoroot": byoroot_version,
    }


# ---------------------------------------------------------------------------- report


def ms(x: float) -> str:
    return f"{x * 1000:8.1f}"


def summary(samples: list[float]) -> dict[str, float]:
    return {"median_s": statistics.median(samples), "min_s": min(samples), "max_s": max(samples)}


def print_report(r: dict[str, Any]) -> None:
    info, res = r["machine"], r["results"]
    print(f"byoroot sign benchmark — goal: {GOAL}")
    print()
    print(f"  CPU           {info['cpu']} (nproc {info['nproc']}, 1-min load at start {info['loadavg_1min_at_start']})")
    print(f"  Python        {info['python']}   ({info['platform']})")
    print(f"  openssl CLI   {info['openssl']}")
    print(f"  cryptography  {info['cryptography']} (linked {info['cryptography_openssl']})")
    print(f"  pkilint       {info['pkilint']}   byoroot {info['byoroot']}")
    print(f"  root key      {r['root_key_type']}, intermediate P-256 CSR, {VALIDITY_DAYS} days, "
          f"{'Ed25519 (no hash)' if r['root_key_type'] == 'ed25519' else HASH}")
    print(f"  iterations    {r['iterations']} (round-robin, fresh process each, after one warm-up; "
          f"temp dir on {r['tmp_fs']})")
    print(f"  .pyc          {r['bytecode']} (children)")
    print()
    print(f"  {'wall time per run (ms)':<46}{'median':>8} {'min':>8} {'max':>8}")
    rows = [
        ("a  byoroot sign (process)", "byoroot"),
        ("b  openssl x509 -req", "openssl"),
        ("c  openssl x509 -req + pkilint lint", "openssl+pkilint"),
        ("     of which pkilint alone", "pkilint_only"),
        ("d  core pipeline in-process (no write)", "core_pipeline"),
    ]
    rows += [(f"     {s}", f"core.{s}") for s in STAGES]
    rows += [("   write_new_file in-process (not in d)", "write_new_file")]
    for label, key in rows:
        s = res[key]
        print(f"  {label:<46}{ms(s['median_s'])} {ms(s['min_s'])} {ms(s['max_s'])}")
    print()
    print(f"  {'CPU time per run (user + sys, ms)':<46}{'median':>8} {'min':>8} {'max':>8}")
    for label, key in (("a  byoroot sign (with its lint helper)", "cpu.byoroot"), ("b  openssl x509 -req", "cpu.openssl"),
                       ("c  openssl x509 -req + pkilint lint", "cpu.openssl+pkilint")):
        s = res[key]
        print(f"  {label:<46}{ms(s['median_s'])} {ms(s['min_s'])} {ms(s['max_s'])}")
    print()
    imp = r["imports"]
    print(f"  {'import cost, fresh process (ms)':<46}{'median':>8} {'min':>8}")
    for key, s in imp["runs"].items():
        print(f"  {key:<46}{ms(s['median_s'])} {ms(s['min_s'])}")
    print(f"  {'=> import byoroot_tui.cli over bare python':<46}{ms(imp['cli_over_python_s'])}")
    print(f"  {'=> sign imports over bare python':<46}{ms(imp['sign_over_python_s'])}")
    print(f"  {'=> loading the linter over bare python':<46}{ms(imp['linter_over_python_s'])}"
          "   (in byoroot sign a helper process does this")
    print(f"  {'':<46}{'':>8}    while the command does the rest: core/lintproc.py)")
    print()
    print("  what sign imports beyond bare python (one python -X importtime run, self ms by package):")
    for row in imp["importtime_by_package"]:
        print(f"    {row['package']:<44}{ms(row['self_s'])}   ({row['modules']} modules)")
    print()
    ratios = r["ratios"]
    print(f"  median ratio byoroot / openssl              {ratios['byoroot_over_openssl']:6.2f}x")
    print(f"  median ratio byoroot / (openssl + pkilint)  {ratios['byoroot_over_openssl_pkilint']:6.2f}x   (wall time: the goal)")
    print(f"  CPU time ratio, the same                    {ratios['cpu_byoroot_over_openssl_pkilint']:6.2f}x   "
          "(all processes, byoroot's helper included)")
    print(f"  (ratios are medians of the per-iteration paired ratios)")
    print()
    verdict = "MET" if r["goal_met"] else "NOT MET"
    print(f"Goal: {GOAL}: {verdict} "
          f"(byoroot {res['byoroot']['median_s'] * 1000:.1f} ms vs openssl + pkilint "
          f"{res['openssl+pkilint']['median_s'] * 1000:.1f} ms, median)")
    print("All runs checked: exit codes, openssl verify of every certificate, pkilint clean at WARNING for "
          "byoroot's and openssl's certificates, same extensions/signature algorithm/validity in both.")


# ---------------------------------------------------------------------------- main


def bench(args: argparse.Namespace) -> dict[str, Any]:
    global CHILD_ENV
    base = Path(tempfile.mkdtemp(prefix="byoroot-bench-", dir=args.tmpdir))
    CHILD_ENV = child_env(base, not args.no_bytecode_cache)
    try:
        fs = subprocess.run(["stat", "-f", "-c", "%T", str(base)], capture_output=True, text=True).stdout.strip()
        log(f"sign_bench: setting up a {args.root_key_type} root and a P-256 CSR in {base}")
        m = make_material(base, args.root_key_type, tool("openssl"))
        b = Bench(m, args.root_key_type, base)
        info = machine_info(b.openssl)

        log("sign_bench: warm-up")
        warm = base / "warmup"
        warm.mkdir()
        b.run_byoroot(warm)
        b.run_openssl(warm)
        b.run_openssl_lint(warm)
        b.check(warm, deep=True)
        core_pipeline(m, warm / "inprocess")
        imports = import_commands()
        for name, cmd in imports.items():
            run(cmd, name)
        imp_runs: dict[str, list[float]] = {k: [] for k in imports}

        samples: dict[str, list[float]] = {k: [] for k in ("byoroot", "openssl", "openssl+pkilint", "pkilint_only",
                                                           *CPU_KEYS)}
        core: dict[str, list[float]] = {k: [] for k in (*STAGES, "total", "write_new_file")}
        ratio_o: list[float] = []
        ratio_ol: list[float] = []
        ratio_cpu: list[float] = []
        for i in range(args.iterations):
            d = base / f"run{i:03d}"
            d.mkdir()
            got: dict[str, float] = {}

            def a() -> None:
                got["byoroot"], got["cpu.byoroot"] = b.run_byoroot(d)

            def o() -> None:
                got["openssl"], got["cpu.openssl"] = b.run_openssl(d)

            def ol() -> None:
                got["openssl+pkilint"], got["pkilint_only"], got["cpu.openssl+pkilint"] = b.run_openssl_lint(d)

            def c() -> None:
                for k, v in core_pipeline(m, d / "inprocess").items():
                    core[k].append(v)

            def imp() -> None:
                for name, cmd in imports.items():
                    imp_runs[name].append(timed(cmd, name)[0])

            order = [a, o, ol, c, imp]
            rot = i % len(order)  # rotate the start so no command always runs first/last
            for step in order[rot:] + order[:rot]:
                step()
            b.check(d, deep=True)
            for k, v in got.items():
                samples[k].append(v)
            ratio_o.append(got["byoroot"] / got["openssl"])
            ratio_ol.append(got["byoroot"] / got["openssl+pkilint"])
            ratio_cpu.append(got["cpu.byoroot"] / got["cpu.openssl+pkilint"])
            log(f"sign_bench: {i + 1}/{args.iterations}  byoroot {got['byoroot'] * 1000:.0f} ms  "
                f"openssl {got['openssl'] * 1000:.0f} ms  openssl+pkilint {got['openssl+pkilint'] * 1000:.0f} ms")

        top = importtime_by_package()
    finally:
        if args.keep:
            log(f"sign_bench: kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)

    results = {k: summary(v) for k, v in samples.items()}
    results["core_pipeline"] = summary(core["total"])
    for s in STAGES:
        results[f"core.{s}"] = summary(core[s])
    results["write_new_file"] = summary(core["write_new_file"])
    imp_sum = {k: summary(v) for k, v in imp_runs.items()}
    py0 = imp_sum["python -c pass"]["median_s"]
    cli_over = imp_sum["import byoroot_tui.cli"]["median_s"] - py0
    sign_over = imp_sum["import everything sign uses"]["median_s"] - py0
    lint_over = imp_sum["load the linter (the helper's part)"]["median_s"] - py0
    ratios = {"byoroot_over_openssl": statistics.median(ratio_o),
              "byoroot_over_openssl_pkilint": statistics.median(ratio_ol),
              "cpu_byoroot_over_openssl_pkilint": statistics.median(ratio_cpu)}
    return {
        "goal": GOAL,
        "goal_met": ratios["byoroot_over_openssl_pkilint"] <= 1.0,
        "root_key_type": args.root_key_type,
        "iterations": args.iterations,
        "tmp_fs": fs or "unknown",
        "bytecode": "cached under the temp folder" if CHILD_ENV is not None else "inherited environment",
        "machine": info,
        "results": results,
        "ratios": ratios,
        "imports": {
            "runs": imp_sum,
            "cli_over_python_s": cli_over,
            "sign_over_python_s": sign_over,
            "linter_over_python_s": lint_over,
            "importtime_by_package": top,
        },
        "samples_s": {**samples, "core_pipeline": core["total"]},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=f"Benchmark byoroot sign. Goal: {GOAL}.")
    p.add_argument("--iterations", type=int, default=15, help="timed iterations (default 15)")
    p.add_argument("--root-key-type", choices=KEY_TYPES, default="p384", help="root CA key (default p384)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--tmpdir", help="where to make the temp folder (default: system temp)")
    p.add_argument("--no-bytecode-cache", action="store_true",
                   help="run children with the inherited environment (e.g. PYTHONDONTWRITEBYTECODE=1 recompiles "
                        "byoroot_tui in every process)")
    p.add_argument("--keep", action="store_true", help="keep the temp folder (certificates, keys) afterwards")
    args = p.parse_args(argv)
    if args.iterations < 1:
        p.error("--iterations must be at least 1")
    try:
        import byoroot_tui  # noqa: F401  (the in-process figure needs the package)
    except ImportError:
        print(f"sign_bench: cannot import byoroot_tui with {sys.executable}; run it with .venv/bin/python "
              "(or `make bench`)", file=sys.stderr)
        return 1
    try:
        report = bench(args)
    except BenchFailure as exc:
        print(f"sign_bench: ABORTED, a run failed; no figures are reported.\n{exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
