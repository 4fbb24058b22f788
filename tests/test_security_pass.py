"""Security pass: no secret ever leaves the station's memory.

A ceremony is run with an encrypted root key file (passphrase from --passphrase-file) and with a
key in a SoftHSM2 token (PIN), together with the refusals around them (wrong passphrase or PIN,
no passphrase, a key that does not match the root, the key file given where a CSR or a
certificate belongs, PINs in malformed or pointless URIs). Then every output (stdout, stderr),
every file written anywhere under the test's folder (certificate, QR PNG, ceremony sheet,
station log) and every exception message is searched for:

- the passphrase and the PIN (right and wrong ones), as text, hex and base64;
- the private key's PEM and DER encodings (and the encrypted key file), and every 16-character
  base64 window of its secret bytes at any alignment: the chunks of the PEM body that carry the
  private integers or the ciphertext (chunks of ASN.1 headers, OIDs and the public modulus or
  point are not secret: every certificate holds them);
- the private scalar / prime factors / private exponents, as hex (plain and colon-separated,
  32-digit windows), decimal (30-digit windows) and raw bytes (16-byte windows).

None may be found. Plus: file modes (certificate, PNG, sheet 0644; log 0600) whatever the umask,
the key is dropped by close(), and the passphrase and PIN buffers are wiped after use.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import factories as f
from test_pkcs11_softhsm import (  # shared helpers (no tests are imported)
    PIN,
    SoftHsm,
    hsm,  # noqa: F401 - the fixture
    make_hsm_root,
    make_stick,
    pin_file,
    run_sign,
)

PASSPHRASE = "Tr0ub4dor&3 ceremony-9f27c1"
WRONG_PASSPHRASE = "wrong-passphrase-5b2a8f41"
WRONG_PIN = "wrong-pin-77c3e9a0"


# ----------------------------------------------------------------------------- what counts as a leak


def _windows(text: str, width: int) -> set[str]:
    return {text[i : i + width] for i in range(len(text) - width + 1)}


def _pem_body(pem: bytes) -> str:
    return "".join(line for line in pem.decode("ascii").splitlines() if line and "-----" not in line and ":" not in line)


def _b64_all_shifts(blob: bytes) -> list[str]:
    return [base64.b64encode(b"\0" * shift + blob).decode() for shift in range(3)]


def _int_bytes(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


class Secrets:
    """Everything that must never appear in an output, a written file or an exception message."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}  # label -> exact text (searched as is)
        self.blobs: dict[str, bytes] = {}  # label -> exact bytes
        self.b64: set[str] = set()  # 16-char windows of private-key base64
        self.hex: set[str] = set()  # 32-digit lowercase hex windows of secret integers
        self.colon_hex: set[str] = set()  # 12-byte windows as aa:bb:... (how byoroot shows raw bytes)
        self.dec: set[str] = set()  # 30-digit decimal windows of secret integers
        self.raw: set[bytes] = set()  # 16-byte windows of secret integers

    def add_text(self, label: str, secret: str) -> None:
        raw = secret.encode("utf-8")
        self.texts[label] = secret
        self.texts[f"{label} (hex)"] = raw.hex()
        self.texts[f"{label} (base64)"] = base64.b64encode(raw).decode()
        self.blobs[label] = raw

    def add_key(self, key: object, *encrypted_files: bytes) -> None:
        """The key's encodings, and base64 windows of its secret bytes only: the private integers
        (and an encrypted file's ciphertext) encoded at every alignment. Windows over ASN.1
        headers, OIDs and the public modulus or point are not secret: certificates hold them too."""
        if isinstance(key, rsa.RSAPrivateKey):
            n = key.private_numbers()
            secrets = [n.d, n.p, n.q, n.dmp1, n.dmq1, n.iqmp]
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            secrets = [key.private_numbers().private_value]
        else:
            raise ValueError(type(key))
        for i, blob in enumerate([f.key_bytes(key, "PEM", "pkcs8"), f.key_bytes(key, "PEM", "traditional"),
                                  f.key_bytes(key, "DER", "pkcs8"), f.key_bytes(key, "DER", "traditional")]):
            self.blobs[f"private key encoding #{i}"] = blob
        secret_bytes = [_int_bytes(v) for v in secrets]
        for i, pem in enumerate(encrypted_files):
            self.blobs[f"encrypted key file #{i}"] = pem
            der = base64.b64decode(_pem_body(pem))
            secret_bytes.append(f.der_items(der)[1][4:])  # EncryptedPrivateKeyInfo.encryptedData's content
        for b in secret_bytes:
            for text in _b64_all_shifts(b):
                self.b64 |= _windows(text[4:-4], 16)  # leave out the edges, which mix in other bytes
        for value in secrets:
            h = f"{value:x}"
            self.hex |= _windows(h, 32)
            self.hex |= _windows(h.rjust(len(h) + len(h) % 2, "0"), 32)
            b = _int_bytes(value)
            for i in range(len(b) - 11):
                self.colon_hex.add(b[i : i + 12].hex(":"))
            self.dec |= _windows(str(value), 30)
            self.raw |= {b[i : i + 16] for i in range(len(b) - 15)}

    def leaks(self, data: bytes | str) -> list[str]:
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        text = raw.decode("latin-1")
        lower = text.lower()
        found = [label for label, secret in self.texts.items() if secret in text]
        found += [label for label, blob in self.blobs.items() if blob in raw]
        if self.b64 & _windows(text, 16):
            found.append("a base64 chunk of the private key")
        if self.hex & _windows(lower, 32):
            found.append("a secret integer in hex")
        if any(c in lower for c in self.colon_hex):
            found.append("a secret integer as colon-separated hex")
        if self.dec & _windows(text, 30):
            found.append("a secret integer in decimal")
        if self.raw & {raw[i : i + 16] for i in range(len(raw) - 15)}:
            found.append("a secret integer's raw bytes")
        return found


def exception_texts(exc: BaseException) -> list[str]:
    """The message and repr of an exception and of every exception chained to it."""
    out: list[str] = []
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        out += [str(e), repr(e), *map(str, e.args)]
        todo += [e.__cause__, e.__context__]
    return out


def written_files(root: Path, inputs: Iterable[Path]) -> dict[str, bytes]:
    """Every regular file under ``root`` (hidden ones too) except the ones we gave as input."""
    skip = {p.resolve() for p in inputs}
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink() and p.resolve() not in skip:
            out[str(p.relative_to(root))] = p.read_bytes()
    return out


def assert_nothing_leaks(secrets: Secrets, haystacks: dict[str, bytes | str]) -> None:
    problems = {where: found for where, data in haystacks.items() if (found := secrets.leaks(data))}
    assert problems == {}, f"secrets found: {problems}"


# ----------------------------------------------------------------------------- the detector finds what it must


def test_the_leak_detector_finds_planted_secrets() -> None:
    """A positive control: each kind of leak, planted in otherwise clean text, is found."""
    key = f.key("rsa2048", 1)
    enc = f.key_bytes(key, password=PASSPHRASE.encode())
    s = Secrets()
    s.add_text("passphrase", PASSPHRASE)
    s.add_key(key, enc)
    assert s.leaks(b"nothing to see here\n" * 50) == []
    body = _pem_body(f.key_bytes(key))
    n = key.private_numbers()
    plants = {
        "passphrase": f"reason: wrong {PASSPHRASE}!",
        "passphrase (hex)": PASSPHRASE.encode().hex(),
        "a base64 chunk of the private key": f"x {body[600:616]} y",  # inside the private exponent
        "a secret integer in hex": f"d={n.d:X}"[:40],
        "a secret integer in decimal": f"p={n.p}"[:35],
        "a secret integer as colon-separated hex": _int_bytes(n.q)[5:17].hex(":"),
    }
    for label, planted in plants.items():
        assert label in s.leaks(planted), label
    assert "a secret integer's raw bytes" in s.leaks(b"\x00PNG" + _int_bytes(n.p)[20:40] + b"\x00")
    assert "a base64 chunk of the private key" in s.leaks(_pem_body(enc)[-200:-184])  # ciphertext
    # public material is not a leak: the root certificate and the public key may be shown (the
    # modulus is inside the private key's PEM too: its chunks are not counted as secret)
    assert s.leaks(body[100:116]) == []
    root = f.make_root(key)
    assert s.leaks(f.pem(root)) == [] and s.leaks(f.der(root)) == []
    assert s.leaks(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)) == []


# ----------------------------------------------------------------------------- an encrypted root key file


def _env(base: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["XDG_DATA_HOME"] = str(base / "xdg-data")
    env["XDG_CONFIG_HOME"] = str(base / "xdg-config")
    return env


def _proc(argv: list[object], env: dict[str, str]) -> f.Run:
    r = subprocess.run([str(f.byoroot_exe()), *map(str, argv)], capture_output=True, stdin=subprocess.DEVNULL,
                       timeout=120, cwd=f.REPO, env=env)
    return f.Run(r.returncode, r.stdout.decode("utf-8", "surrogateescape"), r.stderr.decode("utf-8", "surrogateescape"))


@pytest.mark.parametrize("kind", ["rsa2048", "p384"])
def test_encrypted_key_file_ceremony_leaks_nothing(kind: str, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    from byoroot_tui.core.csr import load_csr
    from byoroot_tui.core.errors import ByorootError
    from byoroot_tui.core.issue import make_plan, sign_plan
    from byoroot_tui.core.profiles import get_profile
    from byoroot_tui.core.root import load_root
    from byoroot_tui.core.signer import check_signer_matches, load_root_key

    key = f.key(kind, 1)
    other = f.key(kind, 2)
    encrypted = f.key_bytes(key, password=PASSPHRASE.encode())
    c = f.make_ceremony(tmp_path, root_kind=kind, root_key_bytes=encrypted)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    good = inputs / "pass.txt"
    good.write_text(PASSPHRASE + "\n")
    wrong = inputs / "wrong.txt"
    wrong.write_text(WRONG_PASSPHRASE + "\n")
    other_key = inputs / "other.key"
    other_key.write_bytes(f.key_bytes(other, password=PASSPHRASE.encode()))
    plain_pem = inputs / "plain-key.pem"
    plain_pem.write_bytes(f.key_bytes(key))
    plain_der = inputs / "plain-key.der"
    plain_der.write_bytes(f.key_bytes(key, "DER"))
    trad_pem = inputs / "traditional.pem"
    trad_pem.write_bytes(f.key_bytes(key, "PEM", "traditional"))
    for p in (good, wrong):
        p.chmod(0o600)
    secrets = Secrets()
    secrets.add_text("passphrase", PASSPHRASE)
    secrets.add_text("wrong passphrase", WRONG_PASSPHRASE)
    secrets.add_key(key, encrypted)
    secrets.add_key(other, other_key.read_bytes())

    log = tmp_path / "station.log"
    out2 = tmp_path / "second-medium"
    out2.mkdir()
    env = _env(tmp_path)
    runs: dict[str, f.Run] = {}
    # real processes: the bytes an officer's terminal gets
    runs["sign"] = _proc([*c.sign_argv("--passphrase-file", good, "--log", log, "--officer", "Officer One",
                                       "--officer", "Officer Two")], env)
    assert runs["sign"].rc == 0, runs["sign"].err
    runs["sign wrong passphrase"] = _proc([*c.sign_argv("--passphrase-file", wrong, "--log", log, "--out", out2)],
                                          env)
    f.assert_refusal(runs["sign wrong passphrase"], "wrong passphrase")
    # in process: the same code, quicker
    runs["sign --json"] = cli(*c.sign_argv("--passphrase-file", good, "--log", log, "--out", out2, "--json"))
    assert runs["sign --json"].rc == 0, runs["sign --json"].err
    runs["sign --json wrong passphrase"] = cli(*c.sign_argv("--passphrase-file", wrong, "--log", log, "--force",
                                                            "--json"))
    f.assert_refusal(runs["sign --json wrong passphrase"], "wrong passphrase")
    runs["sign no passphrase"] = cli(*c.sign_argv("--log", log, "--force"))
    f.assert_refusal(runs["sign no passphrase"], "encrypted")
    argv = ["sign", c.csr, "--root-cert", c.root_cert, "--root-key", other_key, "--passphrase-file", good,
            "--log", log, "--force", *f.OFFICERS]
    runs["sign mismatched key"] = cli(*argv)
    f.assert_refusal(runs["sign mismatched key"], "does not match")
    for label, path in (("PEM", plain_pem), ("DER", plain_der), ("traditional", trad_pem), ("encrypted", c.root_key)):
        runs[f"inspect key {label} as CSR"] = cli("inspect", path)
        f.assert_refusal(runs[f"inspect key {label} as CSR"], "private key")
        runs[f"inspect key {label} as CSR --json"] = cli("inspect", path, "--json")
        runs[f"sign key {label} as CSR"] = cli("sign", path, "--root-cert", c.root_cert, "--root-key", c.root_key,
                                               "--passphrase-file", good, "--log", log, "--out", out2, *f.OFFICERS)
        f.assert_refusal(runs[f"sign key {label} as CSR"])
        runs[f"key {label} as root cert"] = cli(*["sign", c.csr, "--root-cert", path, "--root-key", c.root_key,
                                                  "--passphrase-file", good, "--log", log, "--force", *f.OFFICERS])
        f.assert_refusal(runs[f"key {label} as root cert"])
        runs[f"verify key {label} as cert"] = cli("verify", path, "--root-cert", c.root_cert)
        f.assert_refusal(runs[f"verify key {label} as cert"])
        runs[f"verify key {label} as root"] = cli("verify", c.cert_path, "--root-cert", path)
        f.assert_refusal(runs[f"verify key {label} as root"])
    runs["key as passphrase file"] = cli(*c.sign_argv("--passphrase-file", plain_pem, "--log", log, "--force"))
    f.assert_refusal(runs["key as passphrase file"], "wrong passphrase")
    runs["verify"] = cli("verify", c.cert_path, "--root-cert", c.root_cert, "--csr", c.csr)
    assert runs["verify"].rc == 0
    runs["log verify"] = cli("log", "verify", log)
    assert runs["log verify"].rc == 0, runs["log verify"].err

    # exceptions, in process
    errors: list[BaseException] = []

    def refused(call) -> None:  # type: ignore[no-untyped-def]
        try:
            call()
        except ByorootError as exc:
            errors.append(exc)
        else:
            raise AssertionError("expected a refusal")

    refused(lambda: load_root_key(c.root_key, lambda: bytearray(WRONG_PASSPHRASE.encode())))
    refused(lambda: load_root_key(c.root_key, None))
    refused(lambda: load_root_key(plain_pem.with_suffix(".missing")))
    refused(lambda: load_csr(plain_pem))
    refused(lambda: load_csr(plain_der))
    refused(lambda: load_root(plain_pem))
    refused(lambda: load_root(plain_der))
    root = load_root(c.root_cert)
    with load_root_key(other_key, lambda: bytearray(PASSPHRASE.encode())) as signer:
        refused(lambda: check_signer_matches(signer, root))
    signer = load_root_key(c.root_key, lambda: bytearray(PASSPHRASE.encode()))
    plan = make_plan(load_csr(c.csr), get_profile("intermediate-ca"), root)
    issued = sign_plan(plan, signer)
    signer.close()
    refused(lambda: sign_plan(plan, signer))
    messages = {f"exception {i}: {text[:60]}": text for i, e in enumerate(errors) for text in exception_texts(e)}

    haystacks: dict[str, bytes | str] = {}
    for label, r in runs.items():
        haystacks[f"{label}: stdout"] = r.out
        haystacks[f"{label}: stderr"] = r.err
    files = written_files(tmp_path, [c.root_key, good, wrong, other_key, plain_pem, plain_der, trad_pem])
    assert {"stick/intermediate.crt", "stick/intermediate-fingerprint.png", "stick/ceremony-record.txt",
            "station.log", "second-medium/intermediate.crt"} <= set(files), sorted(files)
    haystacks.update(files)
    haystacks.update(messages)
    haystacks["issued (as_dict)"] = repr(issued.as_dict()) + repr(plan.as_dict())
    assert_nothing_leaks(secrets, haystacks)


# ----------------------------------------------------------------------------- a key in a token (SoftHSM2)


def test_token_ceremony_leaks_no_pin(hsm: SoftHsm, tmp_path: Path, cli) -> None:  # noqa: F811
    from byoroot_tui.core.csr import load_csr
    from byoroot_tui.core.errors import ByorootError
    from byoroot_tui.core.issue import make_plan, sign_plan
    from byoroot_tui.core.pkcs11 import Pkcs11Signer
    from byoroot_tui.core.profiles import get_profile
    from byoroot_tui.core.root import load_root

    hsm.init_token("root", PIN)
    key = hsm.generate("root", PIN, "p384", "root-key", b"\x01")
    root_pem = tmp_path / "root.pem"
    make_hsm_root(hsm, "root", PIN, key, root_pem)
    stick = make_stick(tmp_path, "p256")
    good = pin_file(tmp_path, PIN)
    wrong = pin_file(tmp_path, WRONG_PIN, "wrong.txt")
    log = tmp_path / "station.log"
    uri = "pkcs11:token=root;object=root-key"
    common = ["--root-cert", root_pem, "--pkcs11-module", hsm.module, "--log", log]
    secrets = Secrets()
    secrets.add_text("PIN", PIN)
    secrets.add_text("wrong PIN", WRONG_PIN)

    runs: dict[str, f.Run] = {}
    runs["sign"] = run_sign(stick.csr, "--pkcs11-uri", uri, "--pin-file", good, *common,
                            "--officer", "Officer One", "--officer", "Officer Two")
    assert runs["sign"].rc == 0, runs["sign"].err
    runs["sign wrong PIN"] = run_sign(stick.csr, "--pkcs11-uri", uri, "--pin-file", wrong, *common, "--force")
    f.assert_refusal(runs["sign wrong PIN"], "wrong PIN")
    refusals = {
        "wrong pin-value": [f"{uri}?pin-value={WRONG_PIN}"],
        "pin-value, no such token": [f"pkcs11:token=nope;object=root-key?pin-value={PIN}"],
        "pin-value, no such key": [f"pkcs11:token=root;object=nope?pin-value={PIN}"],
        "pin-value twice": [f"{uri}?pin-value={PIN}&pin-value={PIN}"],
        "pin-value and pin file": [f"{uri}?pin-value={PIN}", "--pin-file", good],
        "pin-value, bad escape": [f"{uri}?pin-value={PIN}%zz"],
        "pin-value, type=public": [f"pkcs11:token=root;object=root-key;type=public?pin-value={PIN}"],
        "pin-value in the path": [f"pkcs11:token=root;object=root-key;pin-value={PIN}"],
        "pin-value, passphrase file too": [f"{uri}?pin-value={PIN}", "--passphrase-file", good],
    }
    for label, extra in refusals.items():
        runs[label] = cli("sign", stick.csr, "--pkcs11-uri", *extra, *common, "--force", *f.OFFICERS)
        f.assert_refusal(runs[label])
        runs[f"{label} --json"] = cli("sign", stick.csr, "--pkcs11-uri", *extra, *common, "--force", "--json",
                                      *f.OFFICERS)
    runs["sign pin-value --json"] = cli("sign", stick.csr, "--pkcs11-uri", f"{uri}?pin-value={PIN}", *common,
                                        "--force", "--json", *f.OFFICERS)
    assert runs["sign pin-value --json"].rc == 0, runs["sign pin-value --json"].err
    runs["log verify"] = cli("log", "verify", log)
    assert runs["log verify"].rc == 0

    errors: list[BaseException] = []
    prompted: list[bytearray] = []

    def prompt(pin: str):  # type: ignore[no-untyped-def]
        def source() -> bytearray:
            buf = bytearray(pin.encode())
            prompted.append(buf)
            return buf
        return source

    with pytest.raises(ByorootError) as err:
        Pkcs11Signer(uri, module_path=hsm.module, pin_prompt=prompt(WRONG_PIN))
    errors.append(err.value)
    with pytest.raises(ByorootError) as err:
        Pkcs11Signer(f"pkcs11:token=nope?pin-value={PIN}", module_path=hsm.module)
    errors.append(err.value)
    signer = Pkcs11Signer(uri, module_path=hsm.module, pin_prompt=prompt(PIN))
    plan = make_plan(load_csr(stick.csr), get_profile("intermediate-ca"), load_root(root_pem))
    sign_plan(plan, signer)
    signer.close()
    with pytest.raises(ByorootError, match="closed") as err:
        sign_plan(plan, signer)
    errors.append(err.value)
    assert len(prompted) == 2 and all(buf == bytearray(len(buf)) for buf in prompted), \
        "the PIN buffers the prompt handed over are wiped after the login"

    haystacks: dict[str, bytes | str] = {}
    for label, r in runs.items():
        haystacks[f"{label}: stdout"] = r.out
        haystacks[f"{label}: stderr"] = r.err
    files = written_files(tmp_path, [good, wrong, hsm.tokens])
    files = {k: v for k, v in files.items() if not k.startswith("softhsm-tokens/")}  # the token's own store
    assert {"stick/intermediate.crt", "stick/intermediate-fingerprint.png", "stick/ceremony-record.txt",
            "station.log"} <= set(files), sorted(files)
    haystacks.update(files)
    haystacks.update({f"exception {i}: {t[:60]}": t for i, e in enumerate(errors) for t in exception_texts(e)})
    assert_nothing_leaks(secrets, haystacks)


# ----------------------------------------------------------------------------- file modes


@pytest.mark.parametrize("umask", [0o077, 0o022, 0o000], ids=["umask-077", "umask-022", "umask-000"])
def test_file_modes_whatever_the_umask(umask: int, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """Certificate, PNG and sheet 0644; the station log 0600 in a 0700 folder it creates itself;
    also when files are replaced with --force."""
    c = f.make_ceremony(tmp_path)
    log_dir = Path(os.environ["XDG_DATA_HOME"]) / "byoroot"  # the default station log (tmp, see conftest)
    old = os.umask(umask)
    try:
        r = cli(*c.sign_argv("--officer", "Officer One", "--officer", "Officer Two"))
        assert r.rc == 0, r.err
        r2 = cli(*c.sign_argv("--force"))
        assert r2.rc == 0, r2.err
    finally:
        os.umask(old)
    for name in ("intermediate.crt", "intermediate-fingerprint.png", "ceremony-record.txt", "ceremony-record.pdf"):
        assert oct((c.stick / name).stat().st_mode & 0o7777) == oct(0o644), name
    log = log_dir / "station-log.jsonl"
    assert oct(log.stat().st_mode & 0o7777) == oct(0o600)
    assert oct(log_dir.stat().st_mode & 0o777) == oct(0o700)


def test_a_too_open_station_log_is_closed_to_0600(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    c = f.make_ceremony(tmp_path)
    log = tmp_path / "station.log"
    log.write_bytes(b"")
    log.chmod(0o644)
    r = cli(*c.sign_argv("--log", log))
    assert r.rc == 0, r.err
    assert oct(log.stat().st_mode & 0o7777) == oct(0o600)
    log.chmod(0o666)
    r = cli(*c.sign_argv("--log", log))  # refused (the files exist): a refusal is logged too
    f.assert_refusal(r)
    assert oct(log.stat().st_mode & 0o7777) == oct(0o600)


# ----------------------------------------------------------------------------- secrets dropped


def test_file_signer_close_drops_the_key(tmp_path: Path) -> None:
    """After close() (also at the end of a with block) signing is refused and no object of the
    signing pipeline still holds the private key."""
    from byoroot_tui.core.csr import load_csr
    from byoroot_tui.core.errors import ByorootError
    from byoroot_tui.core.issue import make_plan, sign_plan
    from byoroot_tui.core.profiles import get_profile
    from byoroot_tui.core.root import load_root
    from byoroot_tui.core.signer import load_root_key

    c = f.make_ceremony(tmp_path)
    plan = make_plan(load_csr(c.csr), get_profile("intermediate-ca"), load_root(c.root_cert))
    signer = load_root_key(c.root_key)
    key = signer._key
    baseline = sys.getrefcount(key)
    issued = sign_plan(plan, signer)
    assert issued.der
    signer.close()
    assert sys.getrefcount(key) == baseline - 1, "only this test still refers to the key object"
    del key
    with pytest.raises(ByorootError, match="dropped"):
        signer.sign(b"tbs", None)
    with pytest.raises(ByorootError, match="dropped"):
        signer.public_key()
    with pytest.raises(ByorootError):
        sign_plan(plan, signer)
    signer.close()  # twice is fine

    with load_root_key(c.root_key) as inner:
        sign_plan(plan, inner)
    with pytest.raises(ByorootError, match="dropped"):
        sign_plan(plan, inner)


@pytest.mark.parametrize("kind", ["p384", "rsa2048"])
def test_passphrase_buffer_is_wiped_after_loading(kind: str, tmp_path: Path) -> None:
    from byoroot_tui.core.errors import InputRefused
    from byoroot_tui.core.signer import load_root_key, read_passphrase_file

    key = f.key(kind, 1)
    path = tmp_path / "root.key"
    path.write_bytes(f.key_bytes(key, password=PASSPHRASE.encode()))

    handed: list[bytearray] = []

    def source(text: str):  # type: ignore[no-untyped-def]
        def give() -> bytearray:
            buf = bytearray(text.encode())
            handed.append(buf)
            return buf
        return give

    with load_root_key(path, source(PASSPHRASE)) as signer:
        assert signer.public_key() is not None
    assert handed[-1] == bytearray(len(PASSPHRASE.encode())), "the right passphrase is zeroed after loading"
    with pytest.raises(InputRefused, match="wrong passphrase"):
        load_root_key(path, source(WRONG_PASSPHRASE))
    assert handed[-1] == bytearray(len(WRONG_PASSPHRASE.encode())), "a wrong one is zeroed too"

    pass_file = tmp_path / "pass.txt"
    pass_file.write_bytes(PASSPHRASE.encode() + b"\r\n")
    from_file: list[bytearray] = []

    def file_source() -> bytearray:
        buf = read_passphrase_file(pass_file)
        assert bytes(buf) == PASSPHRASE.encode()
        from_file.append(buf)
        return buf

    load_root_key(path, file_source).close()
    assert from_file[0] == bytearray(len(PASSPHRASE.encode()))

    plain = tmp_path / "plain.key"
    plain.write_bytes(f.key_bytes(key))
    untouched = bytearray(b"never needed")
    called: list[int] = []

    def not_needed() -> bytearray:
        called.append(1)
        return untouched

    load_root_key(plain, not_needed).close()
    assert called == [], "an unencrypted key never asks for the passphrase"
