"""`byoroot`: the headless front end. Parse arguments → call the core → print.

Exit codes: 0 done, 1 refused or failed, 2 usage error. No traceback ever reaches the officer.
Nothing here imports Textual; the TUI is imported only when it is started.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from byoroot_tui import __version__

CERT_NAME = "intermediate.crt"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors: one line, exit 2
        self.print_usage(sys.stderr)
        print(f"byoroot: usage error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="byoroot", description="Sign a hosted CA's intermediate CSR with an offline root CA.")
    p.add_argument("--version", action="version", version=f"byoroot {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    s = sub.add_parser("inspect", help="show what a CSR asks for and whether it would be signed")
    s.add_argument("csr", metavar="CSR")
    s.add_argument("--profile", default="intermediate-ca", help="profile to review the request against")
    s.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("sign", help="issue intermediate.crt from a CSR with the root key")
    s.add_argument("csr", metavar="CSR")
    s.add_argument("--root-cert", required=True, metavar="FILE")
    s.add_argument("--root-key", required=True, metavar="FILE")
    s.add_argument("--passphrase-file", metavar="FILE", help="first line is the root key's passphrase")
    s.add_argument("--profile", default="intermediate-ca", metavar="NAME")
    s.add_argument("--out", metavar="DIR", help="folder for intermediate.crt (default: the CSR's folder)")
    s.add_argument("--force", action="store_true", help="replace an existing intermediate.crt")
    s.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("verify", help="check an issued certificate against the root, CSR and fingerprint")
    s.add_argument("cert", metavar="CERT")
    s.add_argument("--root-cert", required=True, metavar="FILE")
    s.add_argument("--csr", metavar="FILE")
    s.add_argument("--fingerprint", metavar="HEX", help="expected SHA-256 (any case; colons or spaces allowed)")
    s.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("profiles", help="list signing profiles and their settings")
    s.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("demo", help="a demo signing with throwaway keys (never for real use)")
    s.add_argument("--dir", metavar="DIR", help="where to put the demo stick (default: a new temp folder)")
    return p


def _emit_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=True))


def _line(label: str, value: object) -> str:
    return f"  {label:<20} {value}"


# ---------------------------------------------------------------------------- inspect


def cmd_inspect(args: argparse.Namespace) -> int:
    from byoroot_tui.core.csr import load_csr
    from byoroot_tui.core.findings import refusals
    from byoroot_tui.core.issue import review_request
    from byoroot_tui.core.profiles import get_profile

    profile = get_profile(args.profile)
    info = load_csr(args.csr)
    findings = list(info.findings)
    if not info.refused:
        findings += review_request(info, profile)
    verdict = "refused" if refusals(findings) else "acceptable"
    if args.json:
        data = info.as_dict()
        data["findings"] = [f.as_dict() for f in findings]
        data["profile"] = profile.name
        data["verdict"] = verdict
        _emit_json(data)
        return 1 if verdict == "refused" else 0
    out = [f"CSR {info.name}", _line("SHA-256 (DER):", info.sha256), "", "Subject", _line("RFC 4514:", info.subject_text)]
    out += [_line(f["name"] + ":", f["value"]) for f in info.subject_fields]
    out += ["", "Public key", _line("Algorithm:", f"{info.key_algorithm} ({info.key_size})")]
    sig = "verifies" if info.signature_valid else "DOES NOT VERIFY"
    out += ["", "Signature", _line("Algorithm:", info.signature_algorithm), _line("Self-signature:", sig)]
    out += ["", f"Requested extensions ({len(info.extensions)})"]
    if not info.extensions:
        out.append("  (none)")
    for ext in info.extensions:
        crit = "critical" if ext.critical else "not critical"
        out.append(_line(f"{ext.name}:", f"[{crit}; {profile.treatment(_oid(ext.oid))} by {profile.name}] {ext.value}"))
    if info.attributes:
        out += ["", "Attributes"] + [_line(a["name"] + ":", a["value"]) for a in info.attributes]
    out += ["", f"Findings against profile {profile.name}"]
    if not findings:
        out.append("  none")
    for f in findings:
        out.append(f"  {f.severity.upper():<7} {f.message}")
    out += ["", f"Verdict: {verdict.upper()}" + ("" if verdict == "acceptable" else " (sign would refuse this CSR)")]
    print("\n".join(out))
    return 1 if verdict == "refused" else 0


def _oid(dotted: str) -> Any:
    from cryptography.x509 import ObjectIdentifier

    return ObjectIdentifier(dotted)


# ---------------------------------------------------------------------------- sign


def _passphrase_source(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from byoroot_tui.core.errors import InputRefused
    from byoroot_tui.core.signer import read_passphrase_file

    def source() -> bytearray | None:
        if args.passphrase_file:
            return read_passphrase_file(args.passphrase_file)
        if sys.stdin is not None and sys.stdin.isatty():
            import getpass

            try:
                typed = getpass.getpass("Root key passphrase: ")
            except (EOFError, KeyboardInterrupt):
                raise InputRefused("no passphrase entered") from None
            return bytearray(typed.encode("utf-8"))
        raise InputRefused("the root key is encrypted: give --passphrase-file (no terminal to prompt on)")

    return source


def cmd_sign(args: argparse.Namespace) -> int:
    from byoroot_tui.core.csr import load_csr
    from byoroot_tui.core.export import check_writable_target, write_new_file
    from byoroot_tui.core.fingerprint import grouped_hex
    from byoroot_tui.core.issue import make_plan, sign_plan
    from byoroot_tui.core.profiles import get_profile
    from byoroot_tui.core.root import iso, load_root
    from byoroot_tui.core.signer import load_root_key
    from byoroot_tui.core.text import safe_text

    profile = get_profile(args.profile)
    csr = load_csr(args.csr)
    root = load_root(args.root_cert)
    out_dir = Path(args.out) if args.out else Path(args.csr).resolve().parent
    check_writable_target(out_dir, CERT_NAME, overwrite=args.force)  # fail before the key is touched
    plan = make_plan(csr, profile, root)
    with load_root_key(args.root_key, _passphrase_source(args)) as signer:
        issued = sign_plan(plan, signer)
    path = write_new_file(out_dir, CERT_NAME, issued.pem, overwrite=args.force)

    if args.json:
        data = issued.as_dict()
        data["certificate"] = str(path)
        _emit_json(data)
        return 0
    out = [f"Issued {CERT_NAME} with profile {profile.name}"]
    out += [_line("Subject:", plan.subject_text), _line("Issuer:", plan.issuer_text)]
    out += [_line("Serial:", plan.serial_hex), _line("Not before:", iso(plan.not_before)), _line("Not after:", iso(plan.not_after))]
    out += [_line("Signature:", plan.signature_algorithm), _line("CSR SHA-256:", csr.sha256), _line("Written to:", safe_text(str(path)))]
    for w in plan.warnings:
        out.append(f"WARNING: {w}")
    out += ["", "SHA-256 fingerprint of the certificate (DER):", "", grouped_hex(issued.sha256, per_line=8), ""]
    print("\n".join(out))
    return 0


# ---------------------------------------------------------------------------- verify


def cmd_verify(args: argparse.Namespace) -> int:
    from byoroot_tui.core.csr import load_csr
    from byoroot_tui.core.files import read_input_file
    from byoroot_tui.core.fingerprint import parse_fingerprint
    from byoroot_tui.core.root import load_certificate_bytes, load_root
    from byoroot_tui.core.text import safe_text
    from byoroot_tui.core.verify import verify_certificate

    expected = parse_fingerprint(args.fingerprint) if args.fingerprint is not None else None
    label = f"certificate {safe_text(Path(args.cert).name)!r}"
    cert = load_certificate_bytes(read_input_file(args.cert, "certificate"), label)
    root = load_root(args.root_cert)
    csr = load_csr(args.csr) if args.csr else None
    checks = verify_certificate(cert, root, csr, expected)
    ok = all(c.ok for c in checks)
    if args.json:
        _emit_json({"ok": ok, "checks": [c.as_dict() for c in checks]})
    else:
        for c in checks:
            print(f"  {'ok    ' if c.ok else 'FAILED'}  {c.name}: {c.detail}")
        print("Verified." if ok else "NOT verified: " + ", ".join(c.name for c in checks if not c.ok) + " failed.")
    return 0 if ok else 1


# ---------------------------------------------------------------------------- profiles


def cmd_profiles(args: argparse.Namespace) -> int:
    from byoroot_tui.core.profiles import list_profiles

    profiles = list_profiles()
    if args.json:
        _emit_json({"profiles": [p.settings() for p in profiles]})
        return 0
    for p in profiles:
        s = p.settings()
        path_len = "no limit" if p.path_length is None else p.path_length
        print(f"{p.name} ({p.source})\n  {p.description}")
        print(_line("path length:", path_len))
        print(_line("validity:", f"{p.validity_days} days"))
        print(_line("signature hash:", f"{p.signature_hash} (Ed25519 roots sign as Ed25519)"))
        print(_line("key usage:", ", ".join(s["key_usage"])))  # type: ignore[arg-type]
        print(_line("cap to issuer:", "yes" if p.cap_to_issuer else "no (refuse instead)"))
        print(_line("backdate:", f"{p.backdate_minutes} minutes"))
    return 0


# ---------------------------------------------------------------------------- demo


def cmd_demo(args: argparse.Namespace) -> int:
    from byoroot_tui.core.demo import DEMO_WARNING, make_demo

    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="byoroot-demo-"))
    print(f"*** {DEMO_WARNING} ***\n")
    material = make_demo(base)
    print(f"Demo stick: {material.stick}\nDemo root:  {material.root_cert}\n")
    print(f"$ byoroot inspect {material.csr}\n")
    cmd_inspect(argparse.Namespace(csr=str(material.csr), profile="intermediate-ca", json=False))
    print(f"\n$ byoroot sign {material.csr} --root-cert {material.root_cert} --root-key {material.root_key}\n")
    sign_args = argparse.Namespace(
        csr=str(material.csr), root_cert=str(material.root_cert), root_key=str(material.root_key),
        passphrase_file=None, profile="intermediate-ca", out=None, force=False, json=False,
    )
    rc = cmd_sign(sign_args)
    cert = material.stick / CERT_NAME
    print(f"$ byoroot verify {cert} --root-cert {material.root_cert} --csr {material.csr}\n")
    rc = rc or cmd_verify(argparse.Namespace(cert=str(cert), root_cert=str(material.root_cert), csr=str(material.csr), fingerprint=None, json=False))
    print(f"\n*** {DEMO_WARNING} ***")
    return rc


COMMANDS = {"inspect": cmd_inspect, "sign": cmd_sign, "verify": cmd_verify, "profiles": cmd_profiles, "demo": cmd_demo}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    as_json = getattr(args, "json", False)
    try:
        from byoroot_tui.core.errors import ByorootError

        try:
            return COMMANDS[args.command](args)
        except ByorootError as exc:
            if as_json:
                _emit_json({"ok": False, "error": str(exc)})
            print(f"byoroot: {exc}", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        print("byoroot: interrupted; nothing was written", file=sys.stderr)
        return 1
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:  # the last line of defence: never a traceback
        print(f"byoroot: internal error ({type(exc).__name__}); nothing was written", file=sys.stderr)
        return 1
