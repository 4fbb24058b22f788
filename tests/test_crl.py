"""Revocation and the root CRL ceremony (`byoroot revoke`, `byoroot crl`, `byoroot export-crl`),
checked with tools that are not byoroot: OpenSSL, GnuTLS' certtool and pkilint's own `lint_crl`
command line. A missing tool fails the test, never skips it."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

import factories as f
from byoroot_tui.core.issue import serial_hex  # the serial as the log and byoroot write it: even-length hex
from test_pkcs11_softhsm import PIN, SoftHsm, hsm, make_hsm_root, make_stick, pin_file, run_sign  # noqa: F401

OFFICERS = ("--officer", "Alice Martin", "--officer", "Bob Okafor")
CRL_FILES = ["crl-ceremony-record.pdf", "crl-ceremony-record.txt", "root-crl-fingerprint.png", "root.crl",
             "root.crl.pem"]


def tool(name: str, package: str) -> str:
    found = shutil.which(name) or (str(f.VENV_BIN / name) if (f.VENV_BIN / name).exists() else None)
    if not found:
        pytest.fail(f"{name} (package {package}) is required for the CRL tests and is not installed; tests never skip it")
    return found


def run(*argv: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=120)


def events(log: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in log.read_text().splitlines()]


class Station:
    """A ceremony on disk with an issued intermediate, and a station log of its own."""

    def __init__(self, tmp_path: Path, cli, root_kind: str = "p384") -> None:  # type: ignore[no-untyped-def]
        self.c = f.make_ceremony(tmp_path, root_kind)
        self.cli = cli
        self.log = tmp_path / "station-log.jsonl"
        self.out = tmp_path / "out"
        self.out.mkdir()
        r = cli(*self.c.sign_argv("--log", self.log))
        assert r.rc == 0, r.err
        self.cert = self.c.issued()
        self.serial = serial_hex(self.cert.serial_number)

    def revoke(self, *extra: object, serial: str | None = None, reason: str = "keyCompromise") -> f.Run:
        return self.cli("revoke", serial or self.serial, "--reason", reason, *OFFICERS, "--log", self.log, *extra)

    def crl(self, *extra: object, out: Path | None = None, key: Path | None = None) -> f.Run:
        return self.cli("crl", "--root-cert", self.c.root_cert, "--root-key", key or self.c.root_key, *OFFICERS,
                        "--log", self.log, "--out", out or self.out, *extra)

    def load_crl(self, out: Path | None = None) -> x509.CertificateRevocationList:
        return x509.load_der_x509_crl(((out or self.out) / "root.crl").read_bytes())


@pytest.fixture
def station(tmp_path, cli):  # type: ignore[no-untyped-def]
    return Station(tmp_path, cli)


# ----------------------------------------------------------------------------- the whole ceremony


def test_revoke_then_crl_checked_by_openssl_certtool_and_pkilint(station: Station) -> None:
    openssl = tool("openssl", "openssl")
    certtool = tool("certtool", "gnutls-bin")
    lint_crl = tool("lint_crl", "pkilint (in .venv)")
    root, out = station.c.root_cert, station.out

    r = station.revoke()
    assert r.rc == 0, r.err
    assert f"Revoked serial {station.serial}" in r.out
    before = f.utcnow().replace(microsecond=0)
    r = station.crl()
    after = f.utcnow()
    assert r.rc == 0, r.err
    assert "Issued root CRL number 1" in r.out
    assert sorted(p.name for p in out.iterdir()) == CRL_FILES

    # OpenSSL: the signature verifies with the root; the intermediate is now refused as revoked
    v = run(openssl, "crl", "-in", out / "root.crl", "-inform", "DER", "-CAfile", root, "-noout")
    assert v.returncode == 0 and "verify OK" in v.stderr + v.stdout, v.stderr
    v = run(openssl, "verify", "-crl_check", "-CAfile", root, "-CRLfile", out / "root.crl.pem", station.c.cert_path)
    assert v.returncode != 0 and "certificate revoked" in v.stdout + v.stderr, v.stdout + v.stderr
    # ... and the same intermediate verifies without the CRL check
    v = run(openssl, "verify", "-CAfile", root, station.c.cert_path)
    assert v.returncode == 0, v.stdout + v.stderr

    # GnuTLS
    v = run(certtool, "--crl-info", "--infile", out / "root.crl.pem")
    assert v.returncode == 0, v.stderr
    assert station.serial.lower() in v.stdout.lower().replace(":", "")
    assert "CRL Number (not critical): 01" in v.stdout
    v = run(certtool, "--verify-crl", "--load-ca-certificate", root, "--infile", out / "root.crl.pem")
    assert v.returncode == 0 and "Verified" in v.stdout, v.stdout + v.stderr

    # pkilint's own command line, both profiles: nothing at all (not even NOTICE)
    for kind, profile in (("ARL", "BR"), ("CRL", "PKIX")):
        v = run(lint_crl, "lint", "-t", kind, "-p", profile, "-s", "NOTICE", out / "root.crl")
        assert v.returncode == 0 and v.stdout.strip() == "", (kind, profile, v.stdout, v.stderr)

    # the content
    crl = station.load_crl()
    assert (out / "root.crl.pem").read_bytes() == f.pem(crl)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = station.c.root_cert_obj.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest and aki.authority_cert_issuer is None
    assert crl.issuer == station.c.root_cert_obj.subject
    assert before <= crl.last_update_utc <= after
    assert crl.next_update_utc - crl.last_update_utc == timedelta(days=365)
    assert isinstance(crl.signature_hash_algorithm, hashes.SHA384)  # P-384 root: the curve's hash
    (entry,) = list(crl)
    assert entry.serial_number == station.cert.serial_number
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise

    # the record came first: crl_signing, crl_issued (with the CRL itself), then exported
    kinds = [e["event"] for e in events(station.log)]
    assert kinds[-4:] == ["revoked", "crl_signing", "crl_issued", "exported"], kinds
    issued = events(station.log)[-2]
    assert x509.load_pem_x509_crl(issued["crl"].encode()) == crl
    assert f.run_proc([f.byoroot_exe(), "log", "verify", station.log]).returncode == 0

    # the sheet names the CRL's number, dates, entry, fingerprint and the officers
    sheet = (out / "crl-ceremony-record.txt").read_text()
    for text in ("CRL number:           1", station.serial, "keyCompromise", "Alice Martin", "Bob Okafor",
                 f.der(crl) and __import__("hashlib").sha256(f.der(crl)).hexdigest()[:4].upper()):
        assert text in sheet, text
    assert f.unsafe_chars(sheet.replace("\f", "")) == []
    zbar = tool("zbarimg", "zbar-tools")
    v = run(zbar, "--raw", "-q", out / "root-crl-fingerprint.png")
    assert v.stdout.strip() == __import__("hashlib").sha256(f.der(crl)).hexdigest()


def test_crl_number_increases_and_unspecified_has_no_reason_code(station: Station, tmp_path: Path) -> None:
    assert station.crl().rc == 0  # no revocation yet: an empty CRL, number 1
    first = station.load_crl()
    assert len(list(first)) == 0
    assert station.revoke(reason="unspecified").rc == 0
    second_out = tmp_path / "second"
    second_out.mkdir()
    r = station.crl(out=second_out)
    assert r.rc == 0, r.err
    second = station.load_crl(second_out)
    assert second.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    (entry,) = list(second)
    assert len(entry.extensions) == 0  # unspecified: no reasonCode extension (BRs 7.2.2)
    # a third run replaces the files only with --force, and the number goes on
    r = station.crl()
    f.assert_refusal(r, "already exists", "--force")
    r = station.crl("--force", "--next-update-days", "30", "--json")
    assert r.rc == 0, r.err
    data = json.loads(r.out)
    assert data["crl_number"] == 3 and data["ok"] is True
    third = station.load_crl()
    assert third.next_update_utc - third.last_update_utc == timedelta(days=30)
    for kind, profile in (("ARL", "BR"), ("CRL", "PKIX")):
        v = run(tool("lint_crl", "pkilint"), "lint", "-t", kind, "-p", profile, station.out / "root.crl")
        assert v.returncode == 0 and v.stdout.strip() == "", v.stdout


@pytest.mark.parametrize("days", ["366", "0", "-1", "3650"])
def test_next_update_over_a_year_or_under_a_day_is_refused(station: Station, days: str) -> None:
    before = events(station.log)
    r = station.crl("--next-update-days", days)
    f.assert_refusal(r, "nextupdate must be 1 to 365 days", "nothing was signed or written")
    assert list(station.out.iterdir()) == []
    after = events(station.log)
    assert [e["event"] for e in after[len(before):]] == ["refused"]


def test_a_key_that_is_not_the_roots_is_refused_and_nothing_is_written(station: Station, tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    other.write_bytes(f.key_bytes(f.key("p384", 5)))
    r = station.crl(key=other)
    f.assert_refusal(r, "does not match the root certificate", "no crl was issued or written")
    assert list(station.out.iterdir()) == []
    kinds = [e["event"] for e in events(station.log)]
    assert "crl_issued" not in kinds and kinds[-2:] == ["crl_signing", "refused"]


def test_a_signature_that_does_not_verify_with_the_root_is_never_recorded(station: Station) -> None:
    """A signer that claims the root's public key but signs with another key: the signature check
    against the root certificate refuses it before the `crl_issued` entry."""
    from byoroot_tui.core.crl import plan_crl, sign_crl
    from byoroot_tui.core.errors import ByorootError
    from byoroot_tui.core.root import load_root
    from byoroot_tui.core.signer import FileSigner

    root = load_root(station.c.root_cert)

    class Impostor(FileSigner):
        def public_key(self) -> object:
            return station.c.root_key_obj.public_key()  # type: ignore[attr-defined]

    plan = plan_crl(root, station.log)
    with pytest.raises(ByorootError, match="does not verify with the root certificate's key"):
        sign_crl(plan, lambda: Impostor(f.key("p384", 6)), ["Alice Martin", "Bob Okafor"], station.log)
    assert "crl_issued" not in [e["event"] for e in events(station.log)]


def test_the_crl_is_in_the_log_before_any_byte_reaches_the_medium(station: Station, tmp_path: Path, tmpfs,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The medium turns read-only after the signature: the CRL is in the station log (crl_issued),
    nothing is on the medium, the message says exactly that, and `export-crl` writes it later."""
    from byoroot_tui.core import crl as crl_module

    stick = tmpfs.mount("crl-stick", "1m")
    real = crl_module.sign_crl

    def sign_then_readonly(*args, **kwargs):  # type: ignore[no-untyped-def]
        issued = real(*args, **kwargs)
        tmpfs.remount_readonly(stick)
        return issued

    monkeypatch.setattr(crl_module, "sign_crl", sign_then_readonly)
    assert station.revoke().rc == 0
    r = station.crl(out=stick)
    f.assert_refusal(r, "read-only", "the crl is signed and in the station log but not written",
                     "byoroot export-crl 1 --out dir")
    assert list(stick.iterdir()) == []
    log = events(station.log)
    assert [e["event"] for e in log[-3:]] == ["crl_signing", "crl_issued", "export_failed"]
    recorded = x509.load_pem_x509_crl(log[-2]["crl"].encode())
    assert recorded.is_signature_valid(station.c.root_cert_obj.public_key())  # type: ignore[arg-type]

    r = station.cli("export-crl", "1", "--out", station.out, "--log", station.log)
    assert r.rc == 0, r.err
    assert station.load_crl() == recorded
    assert events(station.log)[-1]["event"] == "exported"


# ----------------------------------------------------------------------------- revoke: what is refused


def test_revoke_refusals(station: Station) -> None:
    r = station.revoke(serial="0badc0de")
    f.assert_refusal(r, "no certificate with serial 0badc0de")
    for reason in ("certificateHold", "remove-from-crl", "privilege_withdrawn", "aACompromise"):
        r = station.revoke(reason=reason)
        f.assert_refusal(r, "not allowed for a CA certificate", "allowed: unspecified, keyCompromise, cACompromise, "
                         "affiliationChanged, superseded, cessationOfOperation")
    f.assert_refusal(station.revoke(reason="stolen"), "unknown revocation reason 'stolen'")
    r = station.cli("revoke", station.serial, "--reason", "superseded", "--officer", "Alice", "--officer", "ALICE",
                    "--log", station.log)
    f.assert_refusal(r, "named twice")
    r = station.cli("revoke", station.serial, "--reason", "superseded", "--officer", "Alice", "--log", station.log)
    f.assert_refusal(r, "revoke needs exactly two officers")
    assert "revoked" not in [e["event"] for e in events(station.log)]
    assert all(e["event"] == "refused" for e in events(station.log)[-8:])

    r = station.revoke(reason="ca-compromise", serial=":".join(station.serial[i:i + 2].upper()
                                                                for i in range(0, len(station.serial), 2)))
    assert r.rc == 0, r.err
    assert events(station.log)[-1]["reason"] == "cACompromise"
    f.assert_refusal(station.revoke(reason="superseded"), "already revoked")


@pytest.mark.parametrize("typed,name", [("keyCompromise", "keyCompromise"), ("KEY_COMPROMISE", "keyCompromise"),
                                        ("cessation-of-operation", "cessationOfOperation"),
                                        ("affiliation_changed", "affiliationChanged"), ("Superseded", "superseded")])
def test_reason_spellings(typed: str, name: str) -> None:
    from byoroot_tui.core.crl import parse_reason

    assert parse_reason(typed) == name


def test_reasons_agree_with_pkilint_br_arl_allowlist() -> None:
    """A CRL entry with each RFC 5280 reason, linted by pkilint (BR ARL and PKIX CRL, as `crl` lints):
    every reason byoroot allows passes; of those it refuses, pkilint takes only privilegeWithdrawn
    (the BRs keep it for subscriber certificates, so byoroot is stricter)."""
    from byoroot_tui.core.crl import ALLOWED_REASONS, REASON_CODES
    from byoroot_tui.core.lint import lint_crl

    issuer_key = f.key("p384", 3)
    root = f.make_root(issuer_key)
    ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    now = f.utcnow().replace(microsecond=0)
    passes = {}
    for name, code in REASON_CODES.items():
        if name == "unspecified":
            continue
        flag = x509.ReasonFlags[{"cACompromise": "ca_compromise", "aACompromise": "aa_compromise",
                                 "removeFromCRL": "remove_from_crl"}.get(name) or
                                "".join("_" + c.lower() if c.isupper() else c for c in name)]
        entry = (x509.RevokedCertificateBuilder().serial_number(1234).revocation_date(now)
                 .add_extension(x509.CRLReason(flag), critical=False).build())
        crl = (x509.CertificateRevocationListBuilder().issuer_name(root.subject).last_update(now)
               .next_update(now + timedelta(days=365))
               .add_extension(x509.AuthorityKeyIdentifier(ski, None, None), critical=False)
               .add_extension(x509.CRLNumber(1), critical=False).add_revoked_certificate(entry)
               .sign(issuer_key, hashes.SHA384()))
        passes[name] = lint_crl(f.der(crl)).clean
    assert {n for n, ok in passes.items() if ok} == (set(ALLOWED_REASONS) - {"unspecified"}) | {"privilegeWithdrawn"}


def test_a_certificate_refused_after_signing_cannot_be_revoked(station: Station) -> None:
    from byoroot_tui.core.stationlog import append_event

    sha = events(station.log)[1]["sha256"]
    append_event(station.log, "refused", {"serial": station.serial, "sha256": sha, "reason": "lint after signing"})
    f.assert_refusal(station.revoke(), "refused after signing")


# ----------------------------------------------------------------------------- the same with a key in an HSM


def test_crl_signed_by_a_root_key_in_softhsm(hsm: SoftHsm, tmp_path: Path) -> None:
    openssl = tool("openssl", "openssl")
    hsm.init_token("crl-token", PIN)
    key = hsm.generate("crl-token", PIN, "p384", "root-key", b"\x05")
    root_pem = tmp_path / "root.pem"
    make_hsm_root(hsm, "crl-token", PIN, key, root_pem, hashes.SHA384())
    stick = make_stick(tmp_path, "p256")
    log = tmp_path / "log.jsonl"
    uri = "pkcs11:token=crl-token;object=root-key"
    pins = pin_file(tmp_path, PIN)
    r = run_sign(stick.csr, "--root-cert", root_pem, "--pkcs11-uri", uri, "--pin-file", pins,
                 "--pkcs11-module", hsm.module, "--log", log)
    assert r.rc == 0, r.err
    cert = x509.load_pem_x509_certificate((stick.folder / f.CERT_NAME).read_bytes())

    def byoroot(*argv: object) -> subprocess.CompletedProcess[bytes]:
        return f.run_proc([f.byoroot_exe(), *argv], timeout=120)

    p = byoroot("revoke", serial_hex(cert.serial_number), "--reason", "superseded", *OFFICERS, "--log", log)
    assert p.returncode == 0, p.stderr
    out = tmp_path / "out"
    out.mkdir()
    p = byoroot("crl", "--root-cert", root_pem, "--pkcs11-uri", uri, "--pin-file", pins, "--pkcs11-module",
                hsm.module, *OFFICERS, "--log", log, "--out", out)
    assert p.returncode == 0, p.stderr
    assert PIN.encode() not in p.stdout + p.stderr
    v = run(openssl, "crl", "-in", out / "root.crl", "-inform", "DER", "-CAfile", root_pem, "-noout")
    assert v.returncode == 0, v.stderr
    v = run(openssl, "verify", "-crl_check", "-CAfile", root_pem, "-CRLfile", out / "root.crl.pem",
            stick.folder / f.CERT_NAME)
    assert "certificate revoked" in v.stdout + v.stderr
    v = run(tool("certtool", "gnutls-bin"), "--verify-crl", "--load-ca-certificate", root_pem, "--infile",
            out / "root.crl.pem")
    assert v.returncode == 0, v.stdout + v.stderr

    # the wrong key on the token: refused, nothing written
    other = hsm.generate("crl-token", PIN, "p384", "other-key", b"\x06")
    assert other
    out2 = tmp_path / "out2"
    out2.mkdir()
    p = byoroot("crl", "--root-cert", root_pem, "--pkcs11-uri", "pkcs11:token=crl-token;object=other-key",
                "--pin-file", pins, "--pkcs11-module", hsm.module, *OFFICERS, "--log", log, "--out", out2)
    assert p.returncode == 1 and b"does not match" in p.stderr, p.stderr
    assert list(out2.iterdir()) == []


# ----------------------------------------------------------------------------- other root keys, signals


@pytest.mark.parametrize("kind,hash_name", [("p256", "sha256"), ("p521", "sha512"), ("rsa3072", "sha512"),
                                            ("ed25519", None)])
def test_other_root_key_types(tmp_path: Path, cli, kind: str, hash_name: str | None) -> None:  # type: ignore[no-untyped-def]
    station = Station(tmp_path, cli, root_kind=kind)
    assert station.revoke(reason="cessationOfOperation").rc == 0
    r = station.crl()
    assert r.rc == 0, r.err
    crl = station.load_crl()
    algorithm = crl.signature_hash_algorithm
    assert (algorithm.name if algorithm else None) == hash_name
    v = run(tool("openssl", "openssl"), "verify", "-crl_check", "-CAfile", station.c.root_cert, "-CRLfile",
            station.out / "root.crl.pem", station.c.cert_path)
    assert "certificate revoked" in v.stdout + v.stderr, v.stdout + v.stderr
    for kind_, profile in (("ARL", "BR"), ("CRL", "PKIX")):
        v = run(tool("lint_crl", "pkilint"), "lint", "-t", kind_, "-p", profile, station.out / "root.crl")
        assert v.returncode == 0 and v.stdout.strip() == "", v.stdout


def test_a_signal_after_signing_says_what_is_where(station: Station, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM between the `crl_issued` entry and the files: nothing on the medium, the CRL in the
    log, `export_failed` logged, and the line names `export-crl`."""
    import signal

    from byoroot_tui.core import crl as crl_module
    from byoroot_tui.core.interrupts import Interrupted

    real = crl_module.sign_crl

    def sign_then_signal(*args, **kwargs):  # type: ignore[no-untyped-def]
        real(*args, **kwargs)
        raise Interrupted(signal.SIGTERM)

    monkeypatch.setattr(crl_module, "sign_crl", sign_then_signal)
    r = station.crl()
    f.assert_refusal(r, "interrupted by SIGTERM after signing", "signed and in the station log but not written",
                     "byoroot export-crl 1")
    assert list(station.out.iterdir()) == []
    assert [e["event"] for e in events(station.log)[-3:]] == ["crl_signing", "crl_issued", "export_failed"]


def test_a_signal_before_the_key_says_nothing_was_signed(station: Station, monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    from byoroot_tui.core import crl as crl_module
    from byoroot_tui.core.interrupts import Interrupted

    def plan_then_signal(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise Interrupted(signal.SIGINT)

    monkeypatch.setattr(crl_module, "plan_crl", plan_then_signal)
    r = station.crl()
    f.assert_refusal(r, "interrupted by SIGINT before the root key was used: nothing was signed or written")
    assert list(station.out.iterdir()) == []
    assert events(station.log)[-1]["event"] == "refused"


def test_the_core_api_the_app_calls(station: Station, tmp_path: Path) -> None:
    """What the app's worker thread calls: revoke, plan_crl (the review's facts), sign_crl with a
    KeyRef and the typed passphrase (wiped; progress heard), export_crl; and find_crl + export_crl
    again (a retry or a copy) gives the same bytes."""
    from byoroot_tui.core.crl import export_crl, find_crl, plan_crl, revoke, sign_crl
    from byoroot_tui.core.keyref import KeyFile
    from byoroot_tui.core.root import load_root

    rec = revoke(station.log, station.serial, "affiliation-changed", ["Alice Martin", "Bob Okafor"])
    assert (rec.serial, rec.reason) == (station.serial, "affiliationChanged")
    key_file = tmp_path / "root-encrypted.key"
    key_file.write_bytes(f.key_bytes(station.c.root_key_obj, password=b"correct horse"))
    root = load_root(station.c.root_cert)
    plan = plan_crl(root, station.log, next_update_days=90)
    facts = plan.as_dict()
    assert facts["crl_number"] == 1 and facts["entries"][0]["serial"] == station.serial  # type: ignore[index]
    assert facts["lint"]["clean"] is True  # type: ignore[index]
    secret = bytearray(b"correct horse")
    heard: list[str] = []
    issued = sign_crl(plan, KeyFile(key_file), ["Alice Martin", "Bob Okafor"], station.log, secret=secret,
                      progress=heard.append)
    assert secret == bytearray(len(secret)) and heard == ["sign", "drop"]
    exported = export_crl(issued.record, station.out, log_path=station.log)
    assert [p.name for p in exported.files] == ["root.crl", "root.crl.pem", "root-crl-fingerprint.png",
                                                "crl-ceremony-record.txt", "crl-ceremony-record.pdf"]
    copy = tmp_path / "copy"
    copy.mkdir()
    again = export_crl(find_crl(station.log), copy, log_path=station.log)
    assert (copy / "root.crl").read_bytes() == (station.out / "root.crl").read_bytes() == issued.der
    assert again.log_head != exported.log_head
