"""`byoroot`: the headless front end. Parse arguments → call the core → print.

Exit codes: 0 done, 1 refused or failed, 2 usage error. No traceback ever reaches the officer.
Nothing here imports Textual; the TUI is imported only when it is started.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path
from typing import Any

CERT_NAME = "intermediate.crt"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors: one line, exit 2
        self.print_usage(sys.stderr)
        print(f"byoroot: usage error: {message}", file=sys.stderr)
        raise SystemExit(2)


class _Version(argparse.Action):
    """`--version`: byoroot's version and, when installed from a station bundle, the SHA-256 of
    its manifest as hex and PGP words (core/software.py); otherwise "development install"."""

    def __init__(self, option_strings: list[str], dest: str, **kw: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kw)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        from byoroot_tui.core.software import version_text

        sys.stdout.write(version_text())
        parser.exit(0)


TUI_OPTIONS = ("tui_media_root", "tui_csr", "tui_root_cert", "tui_root_key", "tui_pkcs11_module", "tui_out",
               "tui_profiles", "tui_console", "tui_paper")


def _add_tui_options(p: argparse.ArgumentParser, suppress: bool) -> None:
    """The ceremony app's options: on `byoroot` itself and on `byoroot tui`."""
    extra = {"default": argparse.SUPPRESS} if suppress else {}
    p.add_argument("--media-root", dest="tui_media_root", action="append", metavar="DIR",
                   help="a folder treated as removable media (repeatable), besides the system's sticks", **extra)
    p.add_argument("--csr", dest="tui_csr", metavar="FILE", help="preselect this CSR", **extra)
    p.add_argument("--root-cert", dest="tui_root_cert", metavar="FILE", help="the root certificate", **extra)
    p.add_argument("--root-key", dest="tui_root_key", metavar="FILE", help="the root private key file", **extra)
    p.add_argument("--pkcs11-module", dest="tui_pkcs11_module", metavar="PATH",
                   help="the root key is in an HSM: start with this PKCS#11 module on the root screen", **extra)
    p.add_argument("--out", dest="tui_out", metavar="DIR",
                   help="folder for intermediate.crt (default: the CSR's folder on its medium)", **extra)
    p.add_argument("--profiles", dest="tui_profiles", action="append", metavar="DIR",
                   help="also offer the *.toml profiles in DIR (repeatable)", **extra)
    p.add_argument("--console", dest="tui_console", action="store_const", const=True,
                   help="draw only glyphs the Linux console's fonts have (the default when TERM=linux)", **extra)
    p.add_argument("--paper", dest="tui_paper", choices=("a4", "letter"), type=str.lower,
                   help="paper size of the PDF ceremony sheet that `p` prints (default a4)", **extra)


def _add_profile_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--profile", default="intermediate-ca", metavar="NAME|FILE.toml",
                   help="signing profile: a name, or a path to a .toml profile (default: intermediate-ca)")
    s.add_argument("--profiles", metavar="DIR", action="append",
                   help="also read *.toml profiles from DIR (repeatable; the user's ~/.config/byoroot/profiles is always read)")
    s.add_argument("--strict-cabf", metavar="TYPE",
                   help="also lint with pkilint's CA/B Forum TLS BR validators for this CA type, "
                   "e.g. EXTERNAL-UNCONSTRAINED-TLS-CA")


TUI_FLAGS = ("--media-root", "--csr", "--root-cert", "--root-key", "--pkcs11-module", "--out", "--profiles", "--paper")


def app_options_only(argv: list[str]) -> bool:
    """True when argv is nothing but the app's own options, each with its value (`byoroot
    --media-root /media/stick`): the app starts, and no command's parser is needed."""
    i = 0
    while i < len(argv):
        flag, eq, _ = argv[i].partition("=")
        if flag not in TUI_FLAGS:
            return False
        i += 1 if eq else 2
    return i == len(argv)  # a last flag without its value: the full parser says so


def build_parser(commands: bool = True) -> argparse.ArgumentParser:
    """The whole command line; with ``commands=False`` only what starts the app (building every
    command's parser costs ~5 ms of the app's cold start, bench-tui)."""
    p = _Parser(
        prog="byoroot",
        description="Sign a hosted CA's intermediate CSR with an offline root CA. "
        "Without a command, the ceremony app starts.",
    )
    p.add_argument("--version", action=_Version, help="print the version and the station bundle's manifest hash")
    _add_tui_options(p, suppress=False)
    if not commands:
        p.set_defaults(command=None)
        return p
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    s = sub.add_parser("tui", help="start the ceremony app (the default without a command)")
    _add_tui_options(s, suppress=True)

    s = sub.add_parser("inspect", help="show what a CSR asks for and whether it would be signed")
    s.add_argument("csr", metavar="CSR")
    _add_profile_options(s)
    s.add_argument("--root-cert", metavar="FILE", help="lint against this root (default: a stand-in issuer)")
    s.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("sign", help="issue intermediate.crt from a CSR with the root key")
    s.add_argument("csr", metavar="CSR")
    s.add_argument("--root-cert", required=True, metavar="FILE")
    key = s.add_mutually_exclusive_group(required=True)
    key.add_argument("--root-key", metavar="FILE", help="the root private key file")
    key.add_argument("--pkcs11-uri", metavar="URI",
                     help="the root key in a PKCS#11 token (RFC 7512), e.g. 'pkcs11:token=root;object=root-key'")
    s.add_argument("--passphrase-file", metavar="FILE", help="first line is the root key's passphrase")
    s.add_argument("--pin-file", metavar="FILE", help="first line is the token's user PIN (with --pkcs11-uri)")
    s.add_argument("--pkcs11-module", metavar="PATH",
                   help="the PKCS#11 module (.so); overrides the URI's module-path")
    _add_profile_options(s)
    s.add_argument("--out", metavar="DIR", help="folder for intermediate.crt (default: the CSR's folder)")
    s.add_argument("--force", action="store_true",
                   help="replace existing intermediate.crt, intermediate-fingerprint.png, ceremony-record.txt and "
                   "ceremony-record.pdf (all or none)")
    s.add_argument("--paper", choices=("a4", "letter"), default="a4", type=str.lower,
                   help="paper size of ceremony-record.pdf (default a4)")
    s.add_argument("--officer", metavar="NAME", action="append",
                   help="a ceremony officer, recorded on the sheet and in the log (required twice: two different people)")
    s.add_argument("--log", metavar="FILE", help="station log (default: ~/.local/share/byoroot/station-log.jsonl)")
    s.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("ledger", help="every certificate the root issued, its status, and what the CRL lacks")
    s.add_argument("--log", metavar="FILE", help="station log (default: ~/.local/share/byoroot/station-log.jsonl)")
    s.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("revoke", help="record a certificate's revocation in the station log (no key; "
                       "the next `byoroot crl` lists it)")
    s.add_argument("serial", metavar="SERIAL", help="the certificate's serial number in hex (as on the sheet)")
    s.add_argument("--reason", required=True, metavar="REASON",
                   help="RFC 5280 reason: unspecified, keyCompromise, cACompromise, affiliationChanged, superseded or "
                   "cessationOfOperation (key-compromise and key_compromise work too)")
    s.add_argument("--officer", metavar="NAME", action="append",
                   help="a ceremony officer (required twice: two different people)")
    s.add_argument("--log", metavar="FILE", help="station log (default: ~/.local/share/byoroot/station-log.jsonl)")
    s.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("crl", help="the root CRL ceremony: sign root.crl listing every revoked certificate")
    s.add_argument("--root-cert", required=True, metavar="FILE")
    key = s.add_mutually_exclusive_group(required=True)
    key.add_argument("--root-key", metavar="FILE", help="the root private key file")
    key.add_argument("--pkcs11-uri", metavar="URI",
                     help="the root key in a PKCS#11 token (RFC 7512), e.g. 'pkcs11:token=root;object=root-key'")
    s.add_argument("--passphrase-file", metavar="FILE", help="first line is the root key's passphrase")
    s.add_argument("--pin-file", metavar="FILE", help="first line is the token's user PIN (with --pkcs11-uri)")
    s.add_argument("--pkcs11-module", metavar="PATH", help="the PKCS#11 module (.so); overrides the URI's module-path")
    s.add_argument("--officer", metavar="NAME", action="append",
                   help="a ceremony officer (required twice: two different people)")
    s.add_argument("--log", metavar="FILE", help="station log (default: ~/.local/share/byoroot/station-log.jsonl)")
    s.add_argument("--out", metavar="DIR", default=".", help="folder for root.crl and its files (default: the current folder)")
    s.add_argument("--next-update-days", metavar="N", type=int, default=365,
                   help="nextUpdate = thisUpdate + N days, 1 to 365 (default 365)")
    s.add_argument("--force", action="store_true", help="replace existing root.crl and its files (all or none)")
    s.add_argument("--paper", choices=("a4", "letter"), default="a4", type=str.lower,
                   help="paper size of crl-ceremony-record.pdf (default a4)")
    s.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("export-crl", help="write a signed CRL's files again from the station log (no key)")
    s.add_argument("number", metavar="NUMBER", type=int, help="the CRL number (as on the CRL sheet)")
    s.add_argument("--out", required=True, metavar="DIR", help="folder for root.crl and its files")
    s.add_argument("--log", metavar="FILE", help="station log (default: ~/.local/share/byoroot/station-log.jsonl)")
    s.add_argument("--force", action="store_true", help="replace the files if they are there (all or none)")
    s.add_argument("--paper", choices=("a4", "letter"), default="a4", type=str.lower,
                   help="paper size of crl-ceremony-record.pdf (default a4)")
    s.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("verify", help="check an issued certificate against the root, CSR and fingerprint")
    s.add_argument("cert", metavar="CERT")
    s.add_argument("--root-cert", required=True, metavar="FILE")
    s.add_argument("--csr", metavar="FILE")
    s.add_argument("--fingerprint", metavar="HEX|WORDS",
                   help="expected SHA-256: hex (any case; colons or spaces allowed) or the 32 PGP words")
    s.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("export", help="write an issued certificate's files again from the station log (no key)")
    s.add_argument("serial", metavar="SERIAL", help="the certificate's serial number in hex (as on the sheet)")
    s.add_argument("--out", required=True, metavar="DIR", help="folder for intermediate.crt, its QR PNG and the sheet")
    s.add_argument("--log", metavar="FILE", help="station log (default: ~/.local/share/byoroot/station-log.jsonl)")
    s.add_argument("--force", action="store_true",
                   help="replace the files if they are there (all are replaced, or none)")
    s.add_argument("--paper", choices=("a4", "letter"), default="a4", type=str.lower,
                   help="paper size of ceremony-record.pdf (default a4)")
    s.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("log", help="check the station log's hash chain")
    log_sub = s.add_subparsers(dest="log_command", parser_class=_Parser, metavar="ACTION", required=True)
    v = log_sub.add_parser("verify", help="check the chain from genesis to the end")
    v.add_argument("file", metavar="FILE", nargs="?", help="the log (default: the station log)")
    which = v.add_mutually_exclusive_group()
    which.add_argument("--head", metavar="HASH", help="the head hash `byoroot sign`, `export` or `log verify` "
                       "printed last: the log must end there")
    which.add_argument("--includes", metavar="HASH", help="the head hash printed on a ceremony sheet (the log as it "
                       "was when the sheet was made): the log must hold that entry unchanged (later entries may follow)")
    v.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("profiles", help="list signing profiles and their settings")
    s.add_argument("--profiles", metavar="DIR", action="append", help="also read *.toml profiles from DIR (repeatable)")
    s.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("self-check", help="check every installed file of byoroot and its dependencies "
                       "against the station bundle's manifest")
    s.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("demo", help="a demo ceremony in the app with throwaway keys (never for real use)")
    s.add_argument("--dir", metavar="DIR", help="where to put the demo stick (default: a new temp folder)")
    s.add_argument("--headless", action="store_true", help="run the demo signing in the terminal, without the app")
    s.add_argument("--console", action="store_const", const=True,
                   help="draw only glyphs the Linux console's fonts have (the default when TERM=linux)")
    return p


def _emit_json(obj: Any) -> None:
    import json  # only the --json paths need it; the app's start-up does not

    print(json.dumps(obj, indent=2, ensure_ascii=True))


def _line(label: str, value: object) -> str:
    return f"  {label:<20} {value}"


# ---------------------------------------------------------------------------- inspect


def cmd_inspect(args: argparse.Namespace) -> int:
    from byoroot_tui.core import lintproc

    with lintproc.helper():  # pkilint loads in a helper process meanwhile (core/lintproc.py)
        return _inspect(args)


def _inspect(args: argparse.Namespace) -> int:
    from byoroot_tui.core.csr import load_csr
    from byoroot_tui.core.issue import assess
    from byoroot_tui.core.profiles import get_profile
    from byoroot_tui.core.root import load_root

    profile = get_profile(args.profile, args.profiles)
    info = load_csr(args.csr)
    root = load_root(args.root_cert) if args.root_cert else None
    assessment = assess(info, profile, root, strict_cabf=args.strict_cabf)
    findings = assessment.findings
    verdict = "refused" if assessment.refused else "acceptable"
    if args.json:
        data = info.as_dict()
        data["findings"] = [f.as_dict() for f in findings]
        data["profile"] = profile.name
        data["verdict"] = verdict
        plan = assessment.plan
        data["would_issue"] = plan.as_dict() if plan else None
        data["linted_against_stand_in_issuer"] = assessment.stand_in_root
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
    from byoroot_tui.core.issue import extension_rows

    # the app's words: kept / narrowed / overridden / ignored (core.issue.extension_rows, one rule)
    actions = {row.oid: row.action for row in extension_rows(info, profile)}
    for ext in info.extensions:
        crit = "critical" if ext.critical else "not critical"
        action = actions.get(ext.oid) or profile.treatment(_oid(ext.oid))
        out.append(_line(f"{ext.name}:", f"[{crit}; {action} by {profile.name}] {ext.value}"))
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
            except EOFError:
                raise InputRefused("no passphrase entered") from None
            return bytearray(typed.encode("utf-8"))
        raise InputRefused("the root key is encrypted: give --passphrase-file (no terminal to prompt on)")

    return source


def _pin_prompt(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """Asked only when the token wants a typed PIN and neither --pin-file nor the URI gives one."""
    from byoroot_tui.core.errors import InputRefused

    def prompt() -> bytearray | None:
        if sys.stdin is not None and sys.stdin.isatty():
            import getpass

            try:
                typed = getpass.getpass("Token user PIN: ")  # no echo
            except EOFError:
                raise InputRefused("no PIN entered") from None
            return bytearray(typed.encode("utf-8"))
        raise InputRefused("the token needs a PIN: give --pin-file (no terminal to prompt on)")

    return prompt


def _open_signer(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The root signer: a key file (--root-key) or a key in a PKCS#11 token (--pkcs11-uri)."""
    from byoroot_tui.core.errors import InputRefused

    uri = getattr(args, "pkcs11_uri", None)
    pin_file, module = getattr(args, "pin_file", None), getattr(args, "pkcs11_module", None)
    if uri is None:
        if pin_file or module:
            raise InputRefused("--pin-file and --pkcs11-module go with --pkcs11-uri")
        from byoroot_tui.core.signer import load_root_key

        return load_root_key(args.root_key, _passphrase_source(args))
    if args.passphrase_file:
        raise InputRefused("--passphrase-file goes with --root-key; a token's PIN comes from --pin-file")
    from byoroot_tui.core.pkcs11 import Pkcs11Signer  # python-pkcs11 is loaded only here

    return Pkcs11Signer(uri, module_path=module, pin_file=pin_file, pin_prompt=_pin_prompt(args),
                        notice=lambda text: print(text, file=sys.stderr))


def _officers(names: list[str] | None, command: str = "sign") -> list[str]:
    """Exactly two officers, two different people (core.ceremony.check_two_officers)."""
    from byoroot_tui.core.officers import check_two_officers

    return check_two_officers(names, command)


def cmd_sign(args: argparse.Namespace) -> int:
    from byoroot_tui.core import lintproc

    # Forked first, so it holds nothing secret: the helper loads pkilint while this process reads
    # the CSR and the root and builds the certificate (see core/lintproc.py).
    with lintproc.helper():
        from byoroot_tui.core.preload import in_background

        in_background()  # the PDF sheet's library, while this process waits for the helper's lint
        return _cmd_sign(args)


class _SignState:
    """How far `byoroot sign` got: what a refusal, failure or interrupt must say and log."""

    def __init__(self) -> None:
        self.signing_logged = False  # the `signing` entry is on the log: the key may open next
        self.key_open = False  # the key file or token is open (the passphrase or PIN was taken)
        self.record: Any = None  # the `issued` entry is on the log (core.ledger.IssuedRecord)
        self.exporting = False  # export_record logs its own outcome


def _cmd_sign(args: argparse.Namespace) -> int:
    from byoroot_tui.core.errors import ByorootError, LogRefused
    from byoroot_tui.core.interrupts import Interrupted
    from byoroot_tui.core.ledger import NotRecorded
    from byoroot_tui.core.text import safe_text

    log_path = _log_path(args)
    facts: dict[str, object] = {"csr_file": safe_text(Path(args.csr).name)}
    state = _SignState()
    try:
        return _sign(args, log_path, facts, state)
    except Interrupted as exc:
        raise _interrupted(exc, log_path, facts, state) from None
    except (NotRecorded, LogRefused):
        raise  # about the log itself: it cannot take a refusal either
    except ByorootError as exc:
        if state.exporting:
            raise  # export_record logged it as export_failed and says what is where
        if state.record is not None:  # signed and recorded, then refused (the lint after signing)
            rec = state.record
            raise _logged_refusal(
                ByorootError(f"{exc}; the certificate (serial {rec.serial}) is in the station log but was not "
                             "exported"), log_path, {**facts, "serial": rec.serial, "sha256": rec.sha256}) from None
        raise _logged_refusal(exc, log_path, facts) from None


def _interrupted(exc: Any, log_path: Path, facts: dict[str, object], state: _SignState) -> Exception:
    """One line saying exactly what is where after a signal, and the log entry that records it."""
    from byoroot_tui.core.errors import ByorootError
    from byoroot_tui.core.record import append_quietly, how_to_export_again

    if state.exporting:  # export_record removed what it made and logged export_failed
        return ByorootError(getattr(exc, "message", f"interrupted by {exc.name} during the export"))
    rec = state.record
    if rec is not None:
        reason = f"interrupted by {exc.name} after signing, before anything was written"
        append_quietly(log_path, "export_failed", {"serial": rec.serial, "sha256": rec.sha256,
                                                 "out": facts.get("out", ""), "reason": reason,
                                                 "interrupted": exc.name, "left": [], "restored": []})
        return ByorootError(f"{reason}: nothing was written to the medium; {how_to_export_again(rec, log_path)}")
    if sys.stderr.isatty():
        print(file=sys.stderr)  # a passphrase or PIN prompt leaves the cursor on its line
    if state.key_open:
        reason = f"interrupted by {exc.name} while the root key was open: no certificate was issued or written"
    else:
        reason = f"interrupted by {exc.name} before the root key was used: nothing was signed or written"
    return _logged_refusal(ByorootError(reason), log_path, facts)


def _logged_refusal(exc: Exception, log_path: Path, facts: dict[str, object]) -> Exception:
    """Log a refusal; return the error to raise (saying so if the log could not be written)."""
    from byoroot_tui.core.errors import ByorootError
    from byoroot_tui.core.stationlog import log_refusal

    reason = log_refusal(log_path, facts, str(exc))
    return exc if reason == str(exc) else ByorootError(reason)


def _sign(args: argparse.Namespace, log_path: Path, facts: dict[str, object], state: _SignState) -> int:
    from byoroot_tui.core.csr import load_csr
    from byoroot_tui.core.fingerprint import grouped_hex, pgp_words
    from byoroot_tui.core.interrupts import deferred
    from byoroot_tui.core.issue import lint_signed, make_plan, sign_tbs
    from byoroot_tui.core.ledger import IssuedRecord, record_issued, record_signing
    from byoroot_tui.core.profiles import get_profile
    from byoroot_tui.core.record import export_record, preflight
    from byoroot_tui.core.root import iso, load_root
    from byoroot_tui.core.text import safe_text

    officers = _officers(args.officer)
    facts["officers"] = officers
    profile = get_profile(args.profile, args.profiles)
    csr = load_csr(args.csr)
    facts.update(csr_file=csr.name, csr_sha256=csr.sha256, subject=csr.subject_text, profile=profile.name)
    root = load_root(args.root_cert)
    facts["root_sha256"] = root.sha256
    out_dir = Path(args.out) if args.out else Path(os.path.abspath(args.csr)).parent  # the stick, not a link target
    facts["out"] = safe_text(str(out_dir))
    for note in preflight(out_dir, log_path, overwrite=args.force):  # before the key is touched
        print(f"byoroot: {note}", file=sys.stderr)
    plan = make_plan(csr, profile, root, strict_cabf=args.strict_cabf)
    facts["serial"] = plan.serial_hex
    record_signing(log_path, plan, officers, csr.name)  # the record comes first
    state.signing_logged = True
    signer = _open_signer(args)  # asks for the passphrase or PIN (interruptible)
    state.key_open = True
    try:
        with deferred():  # from the signature to its `issued` entry, no signal cuts in
            try:
                signed = sign_tbs(plan, signer)
            finally:
                signer.close()  # the key is closed before anything else happens
            record = IssuedRecord.from_signed(signed, officers, csr.name)
            record = record_issued(log_path, record)  # before any byte reaches the medium
            state.record = record
    finally:
        signer.close()
    issued = lint_signed(signed)  # with the key closed
    state.exporting = True
    exported = export_record(record, out_dir, log_path=log_path, overwrite=args.force, paper=args.paper)
    words = pgp_words(issued.sha256)
    for note in exported.notes:
        print(f"byoroot: {note}", file=sys.stderr)

    if args.json:
        data = issued.as_dict()
        data["certificate"] = str(exported.certificate)
        data["qr_png"] = str(exported.qr_png)
        data["ceremony_record"] = str(exported.sheet)
        data["ceremony_record_pdf"] = str(exported.pdf)
        data["log"] = str(log_path)
        data["log_head"] = exported.log_head
        data["sheet_log_head"] = exported.sheet_head
        data["officers"] = officers
        data["pgp_words"] = words
        _emit_json(data)
        return 0
    out = [f"Issued {CERT_NAME} with profile {profile.name}"]
    out += [_line("Subject:", plan.subject_text), _line("Issuer:", plan.issuer_text)]
    out += [_line("Serial:", plan.serial_hex), _line("Not before:", iso(plan.not_before)), _line("Not after:", iso(plan.not_after))]
    out += [_line("Signature:", plan.signature_algorithm), _line("CSR SHA-256:", csr.sha256)]
    out.append(_line("Lint before signing:", plan.lint.summary() if plan.lint else "not run"))
    out.append(_line("Lint after signing:", issued.lint.summary() if issued.lint else "not run"))
    if officers:
        out.append(_line("Officers:", ", ".join(officers)))
    for w in plan.warnings:
        out.append(f"WARNING: {w}")
    out += ["", "Written:"]
    out += [f"  {safe_text(str(p))}" for p in (exported.certificate, exported.qr_png, exported.sheet, exported.pdf)]
    out.append(_line("Station log:", f"{safe_text(str(log_path))} (head {exported.log_head})"))
    out += ["", "SHA-256 fingerprint of the certificate (DER):", "", grouped_hex(issued.sha256, per_line=8), ""]
    out += ["PGP words (read aloud in order):"] + ["  " + " ".join(words[i : i + 8]) for i in range(0, 32, 8)] + [""]
    print("\n".join(out))
    return 0


# ---------------------------------------------------------------------------- export


def _export_again(export: Any, record: Any, args: argparse.Namespace, log_path: Path) -> Any:
    """`export` (record.export_record or crl.export_crl) of a record from the station log into
    --out, as `byoroot export` and `byoroot export-crl` run it: a signal says what is where in
    one line; the export's notes go to stderr."""
    from byoroot_tui.core.errors import ByorootError
    from byoroot_tui.core.interrupts import Interrupted

    try:
        exported = export(record, Path(args.out), log_path=log_path, overwrite=args.force, paper=args.paper)
    except Interrupted as exc:
        raise ByorootError(getattr(exc, "message", f"interrupted by {exc.name}")) from None
    for note in exported.notes:
        print(f"byoroot: {note}", file=sys.stderr)
    return exported


def cmd_export(args: argparse.Namespace) -> int:
    """Write a certificate's three files again from its `issued` entry: no key, no new signature."""
    from byoroot_tui.core.ledger import find_issued
    from byoroot_tui.core.record import export_record
    from byoroot_tui.core.text import safe_text

    log_path = _log_path(args)
    record = find_issued(log_path, args.serial)
    exported = _export_again(export_record, record, args, log_path)
    if args.json:
        _emit_json({"ok": True, "serial": record.serial, "sha256": record.sha256,
                    "certificate": str(exported.certificate), "qr_png": str(exported.qr_png),
                    "ceremony_record": str(exported.sheet), "ceremony_record_pdf": str(exported.pdf),
                    "log": os.path.abspath(log_path),
                    "log_head": exported.log_head, "sheet_log_head": exported.sheet_head})
        return 0
    print(f"Exported serial {record.serial} again (no key used, no new signature)")
    print(_line("Subject:", record.subject))
    print("Written:")
    for p in (exported.certificate, exported.qr_png, exported.sheet, exported.pdf):
        print(f"  {safe_text(str(p))}")
    print(_line("Station log:", f"{safe_text(os.path.abspath(log_path))} (head {exported.log_head})"))
    from byoroot_tui.core.fingerprint import grouped_hex

    print(f"\nSHA-256 fingerprint of the certificate (DER):\n\n{grouped_hex(record.sha256, per_line=8)}\n")
    return 0


# ---------------------------------------------------------------------------- ledger, revoke, crl


def _log_path(args: argparse.Namespace) -> Path:
    from byoroot_tui.core.stationlog import default_log_path

    return Path(args.log) if args.log else default_log_path()


def cmd_ledger(args: argparse.Namespace) -> int:
    """Every certificate the root issued (from the station log), its status, and the warnings."""
    from byoroot_tui.core.ledger import read_ledger
    from byoroot_tui.core.text import safe_text

    ledger = read_ledger(_log_path(args))
    if args.json:
        _emit_json({"ok": True, **ledger.as_dict()})
        return 0
    if not ledger.rows:
        print("No certificates issued (the station log holds no issued entry).")
    else:
        print(f"{'SERIAL':<42} {'STATUS':<8} {'NOT BEFORE':<20} {'NOT AFTER':<20} SUBJECT")
        for r in ledger.rows:
            print(f"{safe_text(r.serial):<42} {r.status:<8} {safe_text(r.not_before):<20} {safe_text(r.not_after):<20} "
                  f"{safe_text(r.subject)}")
            print(f"  {'SHA-256':<40} {safe_text(r.sha256)}")
            if r.status == "revoked":
                crl = f"on CRL number {r.on_crl}" if r.on_crl else "on no CRL yet"
                expired = "; expired" if r.expired else ""
                print(f"  {'revoked':<40} {safe_text(str(r.revoked_at))} ({safe_text(str(r.reason))}), {crl}{expired}")
            elif r.status == "refused":
                print(f"  {'refused':<40} signed, then refused by the checks after signing: never exported")
    last = ledger.last_crl
    if last is not None:
        print(f"\nLast CRL: number {last.number}, thisUpdate {safe_text(last.this_update)}, nextUpdate "
              f"{safe_text(last.next_update)}, {len(last.serials)} revoked, SHA-256 {safe_text(last.sha256)}")
    if ledger.warnings:
        print()
        for w in ledger.warnings:
            print(f"WARNING: {safe_text(w)}")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    """A `revoked` entry in the station log: no key; the next CRL ceremony lists it."""
    from byoroot_tui.core.crl import revoke
    from byoroot_tui.core.errors import ByorootError, LogRefused
    from byoroot_tui.core.text import safe_text

    log_path = _log_path(args)
    try:
        rec = revoke(log_path, args.serial, args.reason, args.officer or [])
    except LogRefused:
        raise
    except ByorootError as exc:
        raise _logged_refusal(exc, log_path, {"action": "revoke", "serial": safe_text(args.serial, 80),
                                              "reason_given": safe_text(args.reason, 60)}) from None
    if args.json:
        _emit_json({"ok": True, **rec.as_dict(), "log": os.path.abspath(log_path)})
        return 0
    print(f"Revoked serial {rec.serial} (recorded in the station log; no key used)")
    print(_line("Subject:", rec.subject))
    print(_line("Reason:", rec.reason))
    print(_line("Revocation date:", rec.revocation_date))
    print(_line("Officers:", ", ".join(rec.officers)))
    print(_line("Station log:", safe_text(os.path.abspath(log_path))))
    print("Next: hold the CRL ceremony (`byoroot crl`) within 24 hours and publish the new root.crl.")
    return 0


def cmd_crl(args: argparse.Namespace) -> int:
    from byoroot_tui.core import lintproc

    # Forked first, so it holds nothing secret: the helper loads pkilint while this process reads
    # the root and the log and builds the CRL (core/lintproc.py).
    with lintproc.helper():
        from byoroot_tui.core.preload import in_background

        in_background()  # the PDF sheet's library, while this process waits for the helper's lint
        return _cmd_crl(args)


def _cmd_crl(args: argparse.Namespace) -> int:
    from byoroot_tui.core.crl import CrlNotRecorded, CrlProgress, export_crl, plan_crl, sign_crl
    from byoroot_tui.core.errors import ByorootError, LogRefused
    from byoroot_tui.core.fingerprint import grouped_hex, pgp_words
    from byoroot_tui.core.interrupts import Interrupted
    from byoroot_tui.core.record import preflight
    from byoroot_tui.core.crl import CRL_EXPORT_NAMES
    from byoroot_tui.core.root import iso, load_root
    from byoroot_tui.core.text import safe_text

    log_path = _log_path(args)
    out_dir = Path(args.out)
    facts: dict[str, object] = {"action": "crl", "out": safe_text(str(out_dir))}
    state = CrlProgress()
    exporting = False
    try:
        officers = _officers(args.officer, "crl")
        facts["officers"] = officers
        root = load_root(args.root_cert)
        facts["root_sha256"] = root.sha256
        for note in preflight(out_dir, log_path, overwrite=args.force, names=CRL_EXPORT_NAMES):  # before the key
            print(f"byoroot: {note}", file=sys.stderr)
        plan = plan_crl(root, log_path, next_update_days=args.next_update_days)
        facts["crl_number"] = plan.number
        issued = sign_crl(plan, lambda: _open_signer(args), officers, log_path, state=state)
        exporting = True
        exported = export_crl(issued.record, out_dir, log_path=log_path, overwrite=args.force, paper=args.paper)
    except Interrupted as exc:
        if exporting:
            raise ByorootError(getattr(exc, "message", f"interrupted by {exc.name} during the export")) from None
        if sys.stderr.isatty():
            print(file=sys.stderr)
        rec = state.record
        if rec is not None:
            from byoroot_tui.core.crl import how_to_export_crl_again
            from byoroot_tui.core.record import append_quietly

            reason = f"interrupted by {exc.name} after signing, before anything was written"
            append_quietly(log_path, "export_failed", {"crl_number": rec.number, "sha256": rec.sha256,
                                                       "out": facts["out"], "reason": reason, "interrupted": exc.name,
                                                       "left": [], "restored": []})
            raise ByorootError(f"{reason}: the CRL is signed and in the station log but not written; "
                               f"{how_to_export_crl_again(rec, log_path)}") from None
        what = ("while the root key was open: no CRL was issued or written" if state.key_open
                else "before the root key was used: nothing was signed or written")
        raise _logged_refusal(ByorootError(f"interrupted by {exc.name} {what}"), log_path, facts) from None
    except (CrlNotRecorded, LogRefused):
        raise
    except ByorootError as exc:
        if exporting:
            raise  # export_crl logged export_failed and says what is where
        rec = state.record
        if rec is not None:  # signed and recorded, then refused by the lint after signing
            raise _logged_refusal(exc, log_path, {**facts, "sha256": rec.sha256}) from None
        if "nothing" not in str(exc):  # the same kind of error (TargetExists: main adds "use --force")
            exc = type(exc)(f"{exc}; " + ("no CRL was issued or written" if state.signing_logged
                                         else "nothing was signed or written"))
        raise _logged_refusal(exc, log_path, facts) from None

    for note in exported.notes:
        print(f"byoroot: {note}", file=sys.stderr)
    plan = issued.plan
    if args.json:
        data = issued.as_dict()
        data.update(ok=True, files=[str(p) for p in exported.files], crl=str(exported.crl),
                    log=os.path.abspath(log_path), log_head=exported.log_head, sheet_log_head=exported.sheet_head,
                    officers=officers, pgp_words=pgp_words(issued.sha256))
        _emit_json(data)
        return 0
    out = [f"Issued root CRL number {plan.number}"]
    out += [_line("Issuer:", plan.root.subject_text), _line("This update:", iso(plan.this_update)),
            _line("Next update:", iso(plan.next_update)), _line("Signature:", plan.signature_algorithm)]
    out.append(_line("Revoked:", f"{len(plan.entries)} certificate{'' if len(plan.entries) == 1 else 's'}"))
    for e in plan.entries:
        out.append(f"    {e.serial}  {e.reason}  {iso(e.revocation_date)}  {e.subject}")
    out.append(_line("Lint before signing:", plan.lint.summary()))
    out.append(_line("Lint after signing:", issued.lint.summary()))
    out.append(_line("Officers:", ", ".join(officers)))
    for note in plan.notes:
        out.append(f"NOTE: {note}")
    out += ["", "Written:"] + [f"  {safe_text(str(p))}" for p in exported.files]
    out.append(_line("Station log:", f"{safe_text(str(log_path))} (head {exported.log_head})"))
    out += ["", "SHA-256 fingerprint of root.crl (DER):", "", grouped_hex(issued.sha256, per_line=8), ""]
    words = pgp_words(issued.sha256)
    out += ["PGP words (read aloud in order):"] + ["  " + " ".join(words[i : i + 8]) for i in range(0, 32, 8)] + [""]
    out.append("Publish root.crl (DER) at the URL the intermediates' CRL distribution point names "
               "(HTTP, Content-Type application/pkix-crl).")
    print("\n".join(out))
    return 0


def cmd_export_crl(args: argparse.Namespace) -> int:
    """Write a CRL's files again from its `crl_issued` entry: no key, no new signature."""
    from byoroot_tui.core.crl import export_crl, find_crl
    from byoroot_tui.core.text import safe_text

    log_path = _log_path(args)
    record = find_crl(log_path, args.number)
    exported = _export_again(export_crl, record, args, log_path)
    if args.json:
        _emit_json({"ok": True, "crl_number": record.number, "sha256": record.sha256,
                    "files": [str(p) for p in exported.files], "log": os.path.abspath(log_path),
                    "log_head": exported.log_head, "sheet_log_head": exported.sheet_head})
        return 0
    print(f"Exported CRL number {record.number} again (no key used, no new signature)")
    print("Written:")
    for p in exported.files:
        print(f"  {safe_text(str(p))}")
    print(_line("Station log:", f"{safe_text(os.path.abspath(log_path))} (head {exported.log_head})"))
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
    root = load_root(args.root_cert, for_issuing=False)
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
    from byoroot_tui.core.profiles import find_profiles

    listing = find_profiles(args.profiles)
    if args.json:
        _emit_json({"profiles": [p.settings() for p in listing.profiles], "errors": listing.errors})
        return 1 if listing.errors else 0
    for p in listing.profiles:
        print(f"{p.name} ({p.source})\n  {p.description}")
        for label, value in p.describe():
            print(_line(f"{label}:", value))
        print()
    for error in listing.errors:
        print(f"byoroot: {error}", file=sys.stderr)
    return 1 if listing.errors else 0


# ---------------------------------------------------------------------------- demo


# ---------------------------------------------------------------------------- tui


# Textual settings from the environment that would write files, press keys, or talk to a devtools
# console unasked (TEXTUAL_SCREENSHOT saves an SVG, TEXTUAL_LOG writes a log, TEXTUAL_PRESS types
# keys). They are dropped before Textual is imported, which is when it reads them.
UNSAFE_TEXTUAL_ENV = ("TEXTUAL", "TEXTUAL_DEBUG", "TEXTUAL_DRIVER", "TEXTUAL_LOG", "TEXTUAL_PRESS",
                      "TEXTUAL_SCREENSHOT", "TEXTUAL_SCREENSHOT_LOCATION", "TEXTUAL_SCREENSHOT_FILENAME",
                      "TEXTUAL_DEVTOOLS_HOST", "TEXTUAL_DEVTOOLS_PORT")


def _run_tui(**kwargs: Any) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("byoroot: the ceremony app needs a terminal; use a command (see byoroot --help)", file=sys.stderr)
        return 2
    for name in UNSAFE_TEXTUAL_ENV:
        os.environ.pop(name, None)
    gc.enable()  # the app runs for as long as the ceremony, with the interpreter's own collection (see main)
    from byoroot_tui.ui.app import make_app  # Textual is imported only here

    app = make_app(**kwargs)
    rc = app.run()
    if isinstance(rc, int):
        return rc
    return app.return_code or 0  # e.g. 1 after a stop signal (ByorootApp._exit_when_idle)


def cmd_tui(args: argparse.Namespace) -> int:
    return _run_tui(
        media_roots=getattr(args, "tui_media_root", None) or [],
        csr=getattr(args, "tui_csr", None),
        root_cert=getattr(args, "tui_root_cert", None),
        root_key=getattr(args, "tui_root_key", None),
        pkcs11_module=getattr(args, "tui_pkcs11_module", None),
        out=getattr(args, "tui_out", None),
        profile_dirs=getattr(args, "tui_profiles", None) or [],
        console=getattr(args, "tui_console", None),
        paper=getattr(args, "tui_paper", None) or "a4",
    )


# ---------------------------------------------------------------------------- demo


def demo_is_headless(args: argparse.Namespace) -> bool:
    return bool(args.headless) or not (sys.stdin.isatty() and sys.stdout.isatty())


def cmd_demo(args: argparse.Namespace) -> int:
    if demo_is_headless(args):
        return cmd_demo_headless(args)  # no terminal for the app: the headless demo
    from byoroot_tui.core.demo import DEMO_WARNING, make_demo

    import tempfile  # only for the demo: not on the app's start-up path

    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="byoroot-demo-"))
    print(f"*** {DEMO_WARNING} ***")
    material = make_demo(base)
    print(f"Demo stick: {material.stick}\nDemo root:  {material.root_cert}\n")
    rc = _run_tui(
        media_roots=[material.stick],
        csr=material.csr,
        root_cert=material.root_cert,
        root_key=material.root_key,
        demo=True,
        log_path=base / "station-log.jsonl",  # a demo never writes to the station's real log
        console=args.console,
    )
    print(f"*** {DEMO_WARNING} ***")
    print(f"Demo files are in {base}")
    return rc


def cmd_demo_headless(args: argparse.Namespace) -> int:
    from byoroot_tui.core.demo import DEMO_WARNING, make_demo

    import tempfile  # only for the demo: not on the app's start-up path

    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="byoroot-demo-"))
    print(f"*** {DEMO_WARNING} ***\n")
    material = make_demo(base)
    print(f"Demo stick: {material.stick}\nDemo root:  {material.root_cert}\n")
    print(f"$ byoroot inspect {material.csr}\n")
    parser = build_parser()  # the real defaults of every option, whatever options the commands gain
    cmd_inspect(parser.parse_args(["inspect", str(material.csr)]))
    log = base / "demo-station-log.jsonl"  # a demo never writes to the station's real log
    sign_argv = ["sign", str(material.csr), "--root-cert", str(material.root_cert), "--root-key",
                 str(material.root_key), "--officer", "Demo Officer One", "--officer", "Demo Officer Two",
                 "--log", str(log)]
    print("\n$ byoroot " + " ".join(repr(a) if " " in a else a for a in sign_argv) + "\n")
    rc = cmd_sign(parser.parse_args(sign_argv))
    cert = material.stick / CERT_NAME
    print(f"$ byoroot verify {cert} --root-cert {material.root_cert} --csr {material.csr}\n")
    rc = rc or cmd_verify(parser.parse_args(["verify", str(cert), "--root-cert", str(material.root_cert),
                                             "--csr", str(material.csr)]))
    print(f"\n$ byoroot log verify {log}\n")
    rc = rc or cmd_log(parser.parse_args(["log", "verify", str(log)]))
    print(f"\n*** {DEMO_WARNING} ***")
    return rc


def cmd_log(args: argparse.Namespace) -> int:
    from byoroot_tui.core.stationlog import default_log_path, verify_log

    path = Path(args.file) if args.file else default_log_path()
    def clean(value: str | None) -> str | None:
        return value.replace(" ", "").replace(":", "") if value is not None else None

    check = verify_log(path, clean(args.head), includes=clean(getattr(args, "includes", None)))
    if args.json:
        _emit_json({"ok": check.ok, "entries": check.entries, "head": check.head,
                    "bad_line": check.bad_line, "reason": check.reason})
    elif check.ok:
        print(f"Station log intact: {check.reason}; head {check.head}")
    else:
        print(f"byoroot: station log NOT intact: {check.reason}", file=sys.stderr)
    return 0 if check.ok else 1


def cmd_self_check(args: argparse.Namespace) -> int:
    from byoroot_tui.core.software import manifest_path, manifest_sha256, self_check

    check = self_check()
    digest = manifest_sha256()
    if digest is None and not args.json:
        print(f"byoroot: {check.problems[0]}", file=sys.stderr)
        return 1
    if args.json:
        _emit_json({"ok": check.ok, "manifest": str(manifest_path()), "manifest_sha256": digest,
                    "files_checked": check.checked, "problems": check.problems, "notes": check.notes})
        return 0 if check.ok else 1
    from byoroot_tui.core.text import safe_text

    for problem in check.problems:
        print(f"  {safe_text(problem)}", file=sys.stderr)
    for note in check.notes:
        print(f"  note: {safe_text(note)}")
    if digest is not None:
        print(f"Manifest {manifest_path()}: SHA-256 {digest}")
    print("Not checked: bytecode caches (__pycache__), the bin/ scripts and the dist-info RECORD/INSTALLER "
          "files pip writes itself, and the Python interpreter (Debian's python3).")
    if check.ok:
        print(f"Self-check passed: {check.checked} installed files match the manifest.")
        return 0
    print(f"byoroot: self-check FAILED: {len(check.problems)} problem(s) above "
          f"({check.checked} files checked)", file=sys.stderr)
    return 1


READ_ONLY_COMMANDS = ("inspect", "verify", "profiles", "log", "self-check", "ledger")  # sign and export say what is where themselves

COMMANDS = {
    "inspect": cmd_inspect,
    "sign": cmd_sign,
    "verify": cmd_verify,
    "profiles": cmd_profiles,
    "demo": cmd_demo,
    "tui": cmd_tui,
    "log": cmd_log,
    "export": cmd_export,
    "ledger": cmd_ledger,
    "revoke": cmd_revoke,
    "crl": cmd_crl,
    "export-crl": cmd_export_crl,
    "self-check": cmd_self_check,
}


def main(argv: list[str] | None = None) -> int:
    """`byoroot`, with automatic garbage collection off. A command is short and its input is
    capped; what it allocates (the crypto stack, pkilint and its ASN.1 objects; for the app,
    Textual and the first screen) mostly lives until it ends, and collections over it were 5-8 %
    of `byoroot sign` (paired runs of the real command). The app, which runs for as long as a
    ceremony, turns it back on before it starts (`_run_tui`). The collector is given back when
    main returns.

    First of all the process is hardened (core/harden.py): no core dump (RLIMIT_CORE 0, soft and
    hard) and, on Linux, not dumpable, before any key, passphrase or PIN is read."""
    from byoroot_tui.core.harden import harden

    harden()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _main(argv)
    finally:
        if was_enabled:
            gc.enable()


def run() -> None:
    """The `byoroot` console script: `main`, then exit with its code. The objects the command
    made are moved out of the collector's reach first (`gc.freeze`): the interpreter's last full
    collection would otherwise walk all of them on the way out (some 100 ms once pkilint is
    loaded), only to find nothing. Files are closed and flushed by then, and the interpreter
    still flushes the standard streams."""
    rc = main()
    gc.freeze()
    sys.exit(rc)


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(commands=not app_options_only(argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: return the code instead of raising
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        args.command = "tui"  # no command: the ceremony app
    elif args.command not in ("tui",) and any(getattr(args, o, None) for o in TUI_OPTIONS):
        parser.error("--media-root/--csr/--root-cert/--root-key/--pkcs11-module/--out/--profiles before a command belong to the app; "
                     "put a command's options after it")
    as_json = getattr(args, "json", False)
    try:
        from byoroot_tui.core.errors import ByorootError, TargetExists
        from byoroot_tui.core.interrupts import raising_on_signals

        try:
            if args.command == "tui" or (args.command == "demo" and not demo_is_headless(args)):
                # the app handles its own keys and signals
                return COMMANDS[args.command](args)
            with raising_on_signals():  # SIGINT, SIGTERM, SIGHUP: every cleanup on the way out runs
                return COMMANDS[args.command](args)
        except ByorootError as exc:
            reason = str(exc)
            if isinstance(exc, TargetExists) and getattr(args, "force", None) is False:
                reason += " (use --force)"
            if as_json:
                _emit_json({"ok": False, "error": reason})
            print(f"byoroot: {reason}", file=sys.stderr)
            return 1
    except KeyboardInterrupt as exc:
        by = f" by {exc.name}" if hasattr(exc, "name") else ""
        written = "; nothing was written" if args.command in READ_ONLY_COMMANDS else ""
        print(f"byoroot: interrupted{by}{written}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:  # the last line of defence: never a traceback
        after = ("; nothing was written" if args.command in READ_ONLY_COMMANDS
                 else "; the station log (byoroot log verify) shows what was recorded")
        print(f"byoroot: internal error ({type(exc).__name__}){after}", file=sys.stderr)
        return 1
