#!/usr/bin/env python3
"""Benchmark `byoroot crl` against `openssl ca -gencrl` (and openssl + pkilint's `lint_crl` by hand).

One run, in a throwaway temp folder:

  setup   a root CA (P-384) made with openssl; an intermediate issued by `byoroot sign` and revoked
          with `byoroot revoke` (keyCompromise); for openssl, a minimal `openssl ca` configuration
          whose index holds the same certificate as revoked (keyCompromise), a crlnumber file and
          the same CRL extensions (authorityKeyIdentifier keyid, cRLNumber; nextUpdate 365 days;
          SHA-384, the hash byoroot signs a P-384 root's CRL with);
  timed   N iterations, round-robin, each command a fresh process (wall clock and CPU time):
            a. byoroot crl --root-cert R --root-key K --officer A --officer B --log L --out DIR_i
               (both pkilint passes before and after signing, the signature check, the station
               log, five fsync'd files read back)
            b. openssl ca -gencrl
            c. b, then `lint_crl lint -t ARL -p BR` and `lint_crl lint -t CRL -p PKIX` on its output

Every output is checked before a figure counts: `openssl crl -CAfile` verifies each CRL, both
lint passes are clean on openssl's, and both CRLs list the revoked serial. Any failure aborts.

    .venv/bin/python bench/crl_bench.py [--iterations 11] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
OFFICERS = ["--officer", "Bench Officer One", "--officer", "Bench Officer Two"]

ROOT_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_root
[dn]
O = Bench Org
CN = Bench Offline Root CA
[v3_root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
"""

CSR_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
O = Bench Org
CN = Bench Intermediate CA
"""

CA_CONFIG = """\
[ca]
default_ca = root
[root]
dir = {dir}
database = $dir/index.txt
crlnumber = $dir/crlnumber
certificate = $dir/root.crt
private_key = $dir/root.key
default_md = sha384
default_crl_days = 365
crl_extensions = crl_ext
new_certs_dir = $dir
serial = $dir/serial
policy = any
[any]
commonName = supplied
[crl_ext]
authorityKeyIdentifier = keyid:always
"""


def fail(msg: str) -> None:
    print(f"crl_bench: {msg}", file=sys.stderr)
    raise SystemExit(1)


def tool(name: str) -> str:
    found = shutil.which(name) or (str(BIN / name) if (BIN / name).exists() else None)
    if not found:
        fail(f"{name} is not installed")
    return found  # type: ignore[return-value]


def run(cmd: list[Any], what: str) -> subprocess.CompletedProcess[bytes]:
    r = subprocess.run([str(c) for c in cmd], capture_output=True)
    if r.returncode != 0:
        fail(f"{what} failed ({r.returncode}): {r.stderr.decode(errors='replace').strip()[:400]}")
    return r


def timed(cmd: list[Any], what: str) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = run(cmd, what)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    del r
    return wall, cpu


def setup(base: Path, openssl: str, byoroot: str) -> dict[str, Path]:
    (base / "root.cnf").write_text(ROOT_CONFIG)
    (base / "csr.cnf").write_text(CSR_CONFIG)
    run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes", "-keyout",
         base / "root.key", "-out", base / "root.crt", "-days", "7300", "-sha384", "-config", base / "root.cnf"],
        "openssl req (root)")
    stick = base / "stick"
    stick.mkdir()
    run([openssl, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
         base / "int.key", "-out", stick / "int.csr", "-config", base / "csr.cnf"], "openssl req (CSR)")
    log = base / "station-log.jsonl"
    run([byoroot, "sign", stick / "int.csr", "--root-cert", base / "root.crt", "--root-key", base / "root.key",
         *OFFICERS, "--log", log, "--out", stick], "byoroot sign")
    cert = stick / "intermediate.crt"
    serial = run([openssl, "x509", "-in", cert, "-noout", "-serial"], "openssl x509").stdout.decode().split("=")[1].strip()
    run([byoroot, "revoke", serial, "--reason", "keyCompromise", *OFFICERS, "--log", log], "byoroot revoke")
    enddate = run([openssl, "x509", "-in", cert, "-noout", "-enddate", "-dateopt", "iso_8601"], "openssl x509").stdout
    end = enddate.decode().split("=")[1].strip()  # 2036-11-29 10:37:19Z
    expiry = end[2:4] + end[5:7] + end[8:10] + end[11:13] + end[14:16] + end[17:19] + "Z"
    revoked_at = time.strftime("%y%m%d%H%M%SZ", time.gmtime())
    subject = run([openssl, "x509", "-in", cert, "-noout", "-subject", "-nameopt", "compat"], "openssl x509").stdout
    subject = subject.decode().split("=", 1)[1].strip()
    ca = base / "ca"
    ca.mkdir()
    shutil.copy(base / "root.crt", ca / "root.crt")
    shutil.copy(base / "root.key", ca / "root.key")
    (ca / "index.txt").write_text(f"R\t{expiry}\t{revoked_at},keyCompromise\t{serial.upper()}\tunknown\t{subject}\n")
    (ca / "crlnumber").write_text("01\n")
    (ca / "serial").write_text("01\n")
    (ca / "ca.cnf").write_text(CA_CONFIG.format(dir=ca))
    return {"log": log, "serial": Path(serial.lower()), "ca": ca}


def summary(samples: list[float]) -> dict[str, float]:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--iterations", type=int, default=11)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    openssl, byoroot, lint_crl = tool("openssl"), tool("byoroot"), tool("lint_crl")
    base = Path(tempfile.mkdtemp(prefix="byoroot-crl-bench-"))
    try:
        m = setup(base, openssl, byoroot)
        ca, log = m["ca"], m["log"]
        serial = str(m["serial"]).lstrip("0")
        times: dict[str, list[float]] = {k: [] for k in ("byoroot", "openssl", "openssl+lint", "byoroot_cpu",
                                                           "openssl+lint_cpu")}
        for i in range(args.iterations):
            out = base / f"out{i}"
            out.mkdir()
            wall, cpu = timed([byoroot, "crl", "--root-cert", base / "root.crt", "--root-key", base / "root.key",
                               *OFFICERS, "--log", log, "--out", out], "byoroot crl")
            times["byoroot"].append(wall)
            times["byoroot_cpu"].append(cpu)
            crl = base / f"openssl{i}.crl"
            wall_o, cpu_o = timed([openssl, "ca", "-gencrl", "-config", ca / "ca.cnf", "-out", crl], "openssl ca -gencrl")
            times["openssl"].append(wall_o)
            wall_l1, cpu_l1 = timed([lint_crl, "lint", "-t", "ARL", "-p", "BR", "-s", "WARNING", crl], "lint_crl ARL BR")
            wall_l2, cpu_l2 = timed([lint_crl, "lint", "-t", "CRL", "-p", "PKIX", "-s", "WARNING", crl], "lint_crl CRL PKIX")
            times["openssl+lint"].append(wall_o + wall_l1 + wall_l2)
            times["openssl+lint_cpu"].append(cpu_o + cpu_l1 + cpu_l2)
            # every output checked before its figure counts
            for path, form in ((out / "root.crl", "DER"), (crl, "PEM")):
                v = run([openssl, "crl", "-in", path, "-inform", form, "-CAfile", base / "root.crt", "-noout", "-text"],
                        f"openssl crl -CAfile on {path.name}")
                if serial.upper() not in v.stdout.decode().replace(":", "").upper():
                    fail(f"{path} does not list the revoked serial")
        result = {
            "iterations": args.iterations,
            "byoroot_crl_ms": {k: v * 1000 for k, v in summary(times["byoroot"]).items()},
            "openssl_ca_gencrl_ms": {k: v * 1000 for k, v in summary(times["openssl"]).items()},
            "openssl_plus_lint_crl_ms": {k: v * 1000 for k, v in summary(times["openssl+lint"]).items()},
            "ratio_byoroot_vs_openssl": statistics.median(a / b for a, b in zip(times["byoroot"], times["openssl"])),
            "ratio_byoroot_vs_openssl_plus_lint": statistics.median(
                a / b for a, b in zip(times["byoroot"], times["openssl+lint"])),
            "ratio_cpu_byoroot_vs_openssl_plus_lint": statistics.median(
                a / b for a, b in zip(times["byoroot_cpu"], times["openssl+lint_cpu"])),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg()[0],
        }
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"CRL ceremony benchmark, {args.iterations} round-robin runs (P-384 root, one revoked intermediate)")
    for label, key in (("byoroot crl (all checks)", "byoroot_crl_ms"), ("openssl ca -gencrl", "openssl_ca_gencrl_ms"),
                       ("openssl + lint_crl x2 by hand", "openssl_plus_lint_crl_ms")):
        s = result[key]
        print(f"  {label:<32} median {s['median']:7.1f} ms  (min {s['min']:.1f}, max {s['max']:.1f})")
    print(f"  byoroot / openssl ca -gencrl:            {result['ratio_byoroot_vs_openssl']:.2f}x")
    print(f"  byoroot / (openssl + lint_crl by hand):  {result['ratio_byoroot_vs_openssl_plus_lint']:.2f}x wall, "
          f"{result['ratio_cpu_byoroot_vs_openssl_plus_lint']:.2f}x CPU")
    print(f"  ({result['cpus']} CPUs, load average {result['load_average']:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
