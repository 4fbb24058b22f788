"""Real keys, certificates, CSRs and files for the tests, plus independent checkers.

Nothing here fakes cryptography: keys are generated with `cryptography` (once per kind per
session, because RSA-4096 is slow), certificates are really signed, and issued certificates
are checked with tools that share no code with byoroot_tui (`openssl verify`, pkilint).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent

# The key matrix of the issue: every root kind x every CSR kind.
KEY_KINDS = ("rsa2048", "rsa3072", "rsa4096", "p256", "p384", "p521", "ed25519")

_CURVES = {
    "p192": ec.SECP192R1,
    "p256": ec.SECP256R1,
    "p384": ec.SECP384R1,
    "p521": ec.SECP521R1,
    "k256": ec.SECP256K1,
}

CERT_NAME = "intermediate.crt"


# ----------------------------------------------------------------------------- keys


@functools.lru_cache(maxsize=None)
def key(kind: str, slot: int = 0):  # type: ignore[no-untyped-def]
    """One private key per (kind, slot) for the whole test session.

    kinds: rsa<bits>, rsa2048e3 (public exponent 3), p192/p256/p384/p521/k256, ed25519, dsa2048.
    A different ``slot`` gives an independent key of the same kind.
    """
    if kind == "rsa2048e3":
        return rsa.generate_private_key(public_exponent=3, key_size=2048)
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    if kind in _CURVES:
        return ec.generate_private_key(_CURVES[kind]())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "dsa2048":
        return dsa.generate_private_key(2048)
    raise ValueError(kind)


def sig_hash(private_key, algorithm: hashes.HashAlgorithm | None = None):  # type: ignore[no-untyped-def]
    """The hash argument `cryptography` wants for signing with this key (None for Ed25519)."""
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return None
    return algorithm or hashes.SHA256()


def spki(public_key) -> bytes:  # type: ignore[no-untyped-def]
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_bytes(
    private_key,  # type: ignore[no-untyped-def]
    encoding: str = "PEM",
    fmt: str = "pkcs8",
    password: bytes | None = None,
) -> bytes:
    enc = serialization.Encoding.PEM if encoding == "PEM" else serialization.Encoding.DER
    form = serialization.PrivateFormat.PKCS8 if fmt == "pkcs8" else serialization.PrivateFormat.TraditionalOpenSSL
    crypt = (
        serialization.BestAvailableEncryption(password) if password is not None else serialization.NoEncryption()
    )
    return private_key.private_bytes(enc, form, crypt)


# ----------------------------------------------------------------------------- names, certs, CSRs


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def name(cn: str | None, org: str | None = "Example Org", country: str | None = "DE") -> x509.Name:
    attrs = []
    if country is not None:
        attrs.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country))
    if org is not None:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    if cn is not None:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


ROOT_KU = ("digital_signature", "key_cert_sign", "crl_sign")


def key_usage(*flags: str) -> x509.KeyUsage:
    names = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
    )
    return x509.KeyUsage(**{n: n in flags for n in names}, encipher_only=False, decipher_only=False)


_UNSET = object()


def make_root(
    private_key,  # type: ignore[no-untyped-def]
    *,
    subject: x509.Name | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    ca: bool | None = True,
    path_length: int | None = None,
    ku: tuple[str, ...] | None = ROOT_KU,
    ski: object = _UNSET,
    hash_alg: hashes.HashAlgorithm | None = None,
) -> x509.Certificate:
    """A self-signed root. ``ca=None`` leaves basicConstraints out; ``ku=None`` leaves keyUsage out;
    ``ski`` None leaves the SKI out, bytes set a custom SKI value."""
    now = utcnow()
    subject = subject or name("Test Offline Root CA", org="Example Root Org")
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(days=1))
        .not_valid_after(not_after or now + timedelta(days=365 * 20))
    )
    if ca is not None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True
        )
    if ku is not None:
        builder = builder.add_extension(key_usage(*ku), critical=True)
    if ski is _UNSET:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(private_key.public_key()), critical=False
        )
    elif ski is not None:
        builder = builder.add_extension(x509.SubjectKeyIdentifier(ski), critical=False)  # type: ignore[arg-type]
    return builder.sign(private_key, sig_hash(private_key, hash_alg))


def make_csr(
    private_key,  # type: ignore[no-untyped-def]
    *,
    subject: x509.Name | None = None,
    extensions: list[tuple[x509.ExtensionType, bool]] | tuple = (),
    attributes: list[tuple[x509.ObjectIdentifier, bytes]] | tuple = (),
    hash_alg: hashes.HashAlgorithm | None = None,
) -> x509.CertificateSigningRequest:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        subject if subject is not None else name("Example Intermediate CA")
    )
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    for oid, value in attributes:
        builder = builder.add_attribute(oid, value)
    return builder.sign(private_key, sig_hash(private_key, hash_alg))


def make_leaf(
    issuer_cert: x509.Certificate,
    issuer_key,  # type: ignore[no-untyped-def]
    leaf_key=None,  # type: ignore[no-untyped-def]
    *,
    dns: str = "leaf.example.com",
    ca: bool = False,
) -> x509.Certificate:
    """An end-entity certificate under ``issuer_cert``, with the extensions a strict verifier wants."""
    leaf_key = leaf_key or key("p256", 7)
    issuer_ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    nb = issuer_cert.not_valid_before_utc + timedelta(minutes=1)
    na = min(issuer_cert.not_valid_after_utc - timedelta(minutes=1), utcnow() + timedelta(days=30))
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns)]))
        .issuer_name(issuer_cert.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(nb)
        .not_valid_after(na)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier(issuer_ski, None, None), critical=False)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            key_usage("digital_signature", "key_cert_sign") if ca else key_usage("digital_signature"), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
        .sign(issuer_key, sig_hash(issuer_key))
    )


def pem(obj) -> bytes:  # type: ignore[no-untyped-def]
    return obj.public_bytes(serialization.Encoding.PEM)


def der(obj) -> bytes:  # type: ignore[no-untyped-def]
    return obj.public_bytes(serialization.Encoding.DER)


def flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


# ----------------------------------------------------------------------------- a ceremony on disk


# `byoroot sign` wants exactly two officers, two different people.
OFFICERS = ("--officer", "Officer One", "--officer", "Officer Two")


def with_officers(argv: list) -> list:  # type: ignore[type-arg]
    """``argv`` with the two default officers added, unless it already gives any --officer."""
    if any(str(a) == "--officer" or str(a).startswith("--officer=") for a in argv):
        return list(argv)
    return [*argv, *OFFICERS]


@dataclass
class Ceremony:
    """A stick folder holding a CSR and a station folder holding the root cert and key."""

    base: Path
    stick: Path
    station: Path
    csr: Path
    root_cert: Path
    root_key: Path
    root_key_obj: object
    root_cert_obj: x509.Certificate
    csr_key_obj: object
    csr_obj: x509.CertificateSigningRequest | None
    extra: dict = field(default_factory=dict)

    def sign_argv(self, *extra: object) -> list[str]:
        """`byoroot sign` for this ceremony; two officers (OFFICERS) unless ``extra`` names them."""
        return with_officers(["sign", str(self.csr), "--root-cert", str(self.root_cert), "--root-key",
                              str(self.root_key), *map(str, extra)])

    @property
    def cert_path(self) -> Path:
        return self.stick / CERT_NAME

    def write_root_cert(self, cert: x509.Certificate) -> None:
        self.root_cert_obj = cert
        self.root_cert.write_bytes(pem(cert))

    def issued(self, folder: Path | None = None) -> x509.Certificate:
        return x509.load_pem_x509_certificate(((folder or self.stick) / CERT_NAME).read_bytes())


def make_ceremony(
    base: Path,
    root_kind: str = "p384",
    csr_kind: str = "p256",
    *,
    csr: x509.CertificateSigningRequest | None = None,
    csr_bytes: bytes | None = None,
    csr_encoding: str = "PEM",
    csr_name: str = "request.csr",
    root_cert: x509.Certificate | None = None,
    root_key_bytes: bytes | None = None,
    root_key=None,  # type: ignore[no-untyped-def]
    csr_key=None,  # type: ignore[no-untyped-def]
    stick_name: str = "stick",
) -> Ceremony:
    stick = base / stick_name
    station = base / "station"
    stick.mkdir(parents=True, exist_ok=True)
    station.mkdir(parents=True, exist_ok=True)
    rkey = root_key if root_key is not None else key(root_kind, 1)  # slot 1: never the CSR's key
    rcert = root_cert if root_cert is not None else make_root(rkey)
    ckey = csr_key if csr_key is not None else key(csr_kind)
    if csr_bytes is None:
        csr = csr if csr is not None else make_csr(ckey)
        csr_bytes = pem(csr) if csr_encoding == "PEM" else der(csr)
    csr_path = stick / csr_name
    csr_path.write_bytes(csr_bytes)
    cert_path = station / "root.crt"
    cert_path.write_bytes(pem(rcert))
    key_path = station / "root.key"
    key_path.write_bytes(root_key_bytes if root_key_bytes is not None else key_bytes(rkey))
    return Ceremony(base, stick, station, csr_path, cert_path, key_path, rkey, rcert, ckey, csr)


def listing(folder: Path) -> dict[str, object]:
    """Every entry under ``folder`` (hidden ones too) with the bytes of regular files."""
    out: dict[str, object] = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        if p.is_symlink():
            out[rel] = ("symlink", os.readlink(p))
        elif p.is_file():
            out[rel] = p.read_bytes()
        else:
            out[rel] = "dir" if p.is_dir() else "other"
    return out


def temp_leftovers(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob(".*.tmp")] + [str(p) for p in folder.rglob(f".{CERT_NAME}.*")]


# ----------------------------------------------------------------------------- output hygiene

BIDI_CONTROLS = {0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}


def unsafe_chars(text: str) -> list[str]:
    """Control characters (except newline), format characters and bidi controls in ``text``."""
    bad = []
    for ch in text:
        cat = unicodedata.category(ch)
        if (cat == "Cc" and ch != "\n") or cat in ("Cf", "Zl", "Zp") or ord(ch) in BIDI_CONTROLS:
            bad.append(repr(ch))
    return bad


def unsafe_bytes(data: bytes) -> list[int]:
    """Raw C0 control bytes (except newline) and DEL in terminal output."""
    return [b for b in data if (b < 0x20 and b != 0x0A) or b == 0x7F]


# ----------------------------------------------------------------------------- external tools


def openssl() -> str:
    path = shutil.which("openssl")
    if not path:
        pytest.fail("openssl is required for these tests and is not on PATH (install it; tests never skip this)")
    return path


def openssl_verify(ca: Path, cert: Path, untrusted: Path | None = None) -> subprocess.CompletedProcess[str]:
    argv = [openssl(), "verify", "-x509_strict", "-CAfile", str(ca)]
    if untrusted is not None:
        argv += ["-untrusted", str(untrusted)]
    argv.append(str(cert))
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def assert_openssl_ok(ca: Path, cert: Path, untrusted: Path | None = None) -> None:
    r = openssl_verify(ca, cert, untrusted)
    assert r.returncode == 0 and r.stdout.strip().endswith(": OK"), (r.stdout, r.stderr)


@functools.lru_cache(maxsize=None)
def _pkilint_validator():  # type: ignore[no-untyped-def]
    from pkilint.pkix import certificate, extension
    from pkilint.pkix import name as pkix_name

    return certificate.create_pkix_certificate_validator_container(
        certificate.create_decoding_validators(pkix_name.ATTRIBUTE_TYPE_MAPPINGS, extension.EXTENSION_MAPPINGS),
        [
            certificate.create_issuer_validator_container([]),
            certificate.create_validity_validator_container(),
            certificate.create_subject_validator_container([]),
            certificate.create_extensions_validator_container([]),
            certificate.create_spki_validator_container([]),
        ],
    )


def pkilint_findings(cert_der: bytes) -> list[tuple[str, str]]:
    """All pkilint (RFC 5280) findings as (severity name, code)."""
    from pkilint import loader

    doc = loader.RFC5280CertificateDocumentLoader().load_der_document(cert_der, "certificate")
    results = _pkilint_validator().validate(doc.root)
    return [(fd.finding.severity.name, fd.finding.code) for r in results for fd in r.finding_descriptions]


def pkilint_problems(cert_der: bytes) -> list[tuple[str, str]]:
    """pkilint findings at WARNING or above (FATAL, ERROR, WARNING)."""
    from pkilint.validation import ValidationFindingSeverity as Sev

    return [f for f in pkilint_findings(cert_der) if Sev[f[0]] <= Sev.WARNING]


# ----------------------------------------------------------------------------- CLI results


@dataclass
class Run:
    rc: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def assert_refusal(run: Run, *reason_parts: str) -> None:
    """Exit 1, one line on stderr naming the reason, no traceback, no internal error."""
    assert run.rc == 1, (run.rc, run.out, run.err)
    assert "Traceback" not in run.text
    assert "internal error" not in run.err, run.err
    lines = run.err.strip("\n").split("\n")
    assert len(lines) == 1, run.err
    assert lines[0].startswith("byoroot: "), run.err
    for part in reason_parts:
        assert part.lower() in lines[0].lower(), (part, run.err)



# ----------------------------------------------------------------------------- processes


def byoroot_exe() -> Path:
    exe = VENV_BIN / "byoroot"
    if not exe.exists():
        pytest.fail(f"the console script {exe} is missing (pip install -e .)")
    return exe


def run_proc(argv: list[object], *, timeout: float = 60, stdin=subprocess.DEVNULL, cwd: Path | None = None):  # type: ignore[no-untyped-def]
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, stdin=stdin, timeout=timeout, cwd=cwd or REPO, env=env
    )


# ----------------------------------------------------------------------------- what an issued intermediate must be


def assert_profile_content(
    cert: x509.Certificate,
    csr: x509.CertificateSigningRequest,
    root_cert: x509.Certificate,
    root_key,  # type: ignore[no-untyped-def]
    t0: datetime,
    t1: datetime,
) -> None:
    """The default profile (intermediate-ca), checked field by field against the CSR and root."""
    from cryptography.x509.oid import ExtensionOID, SignatureAlgorithmOID

    assert cert.version == x509.Version.v3
    exts = cert.extensions
    assert sorted(e.oid.dotted_string for e in exts) == sorted(
        o.dotted_string
        for o in (
            ExtensionOID.BASIC_CONSTRAINTS,
            ExtensionOID.KEY_USAGE,
            ExtensionOID.SUBJECT_KEY_IDENTIFIER,
            ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        )
    ), "exactly the profile's four extensions, nothing from the CSR"
    bc = exts.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca is True and bc.value.path_length == 0
    ku = exts.get_extension_for_class(x509.KeyUsage)
    assert ku.critical
    assert ku.value == key_usage("digital_signature", "key_cert_sign", "crl_sign")
    ski = exts.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert not ski.critical
    assert ski.value.digest == x509.SubjectKeyIdentifier.from_public_key(csr.public_key()).digest
    aki = exts.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert not aki.critical
    root_ski = root_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert aki.value.key_identifier == root_ski
    assert aki.value.authority_cert_issuer is None and aki.value.authority_cert_serial_number is None

    assert 0 < cert.serial_number < 2**159

    nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
    assert t0 - timedelta(minutes=10) <= nb <= t1, (nb, t0, t1)
    root_na = root_cert.not_valid_after_utc
    wanted = t0 + timedelta(days=3650)
    if root_na > wanted + timedelta(minutes=10):
        assert wanted - timedelta(minutes=3) <= na <= t1 + timedelta(days=3650, minutes=3), (na, wanted)

    if isinstance(root_key, ed25519.Ed25519PrivateKey):
        assert cert.signature_algorithm_oid == SignatureAlgorithmOID.ED25519
        assert cert.signature_hash_algorithm is None
    else:
        assert isinstance(cert.signature_hash_algorithm, hashes.SHA512)

    assert cert.issuer.public_bytes() == root_cert.subject.public_bytes()
    assert cert.subject.public_bytes() == csr.subject.public_bytes()
    assert spki(cert.public_key()) == spki(csr.public_key())
    cert.verify_directly_issued_by(root_cert)


def assert_good_intermediate(
    c: Ceremony,
    t0: datetime,
    t1: datetime,
    folder: Path | None = None,
    csr: x509.CertificateSigningRequest | None = None,
    lint: bool = True,
) -> x509.Certificate:
    """Everything about intermediate.crt in ``folder``: openssl chains, pkilint, profile content."""
    folder = folder or c.stick
    path = folder / CERT_NAME
    data = path.read_bytes()
    cert = x509.load_pem_x509_certificate(data)
    assert data.count(b"-----BEGIN") == 1 and data == pem(cert), "one PEM certificate, nothing else"
    root_pem = c.base / "root-for-openssl.pem"
    root_pem.write_bytes(pem(c.root_cert_obj))
    assert_openssl_ok(root_pem, path)
    leaf = make_leaf(cert, c.csr_key_obj)
    leaf_path = c.base / f"leaf-{cert.serial_number:x}.pem"
    leaf_path.write_bytes(pem(leaf))
    assert_openssl_ok(root_pem, leaf_path, untrusted=path)
    if lint:
        assert pkilint_problems(der(cert)) == []
    csr = csr or c.csr_obj
    assert csr is not None
    assert_profile_content(cert, csr, c.root_cert_obj, c.root_key_obj, t0, t1)
    return cert


# ----------------------------------------------------------------------------- hand-made DER (independent of core.der)


def der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + der_len(len(value)) + value


def der_items(data: bytes) -> list[bytes]:
    """The complete TLVs directly inside one constructed DER value ``data``."""

    def header(buf: bytes, pos: int) -> tuple[int, int]:
        first = buf[pos + 1]
        if first < 0x80:
            return pos + 2, first
        count = first & 0x7F
        return pos + 2 + count, int.from_bytes(buf[pos + 2 : pos + 2 + count], "big")

    start, length = header(data, 0)
    out, pos, end = [], start, start + length
    while pos < end:
        vstart, vlen = header(data, pos)
        out.append(data[pos : vstart + vlen])
        pos = vstart + vlen
    return out


def resign_csr(csr_der: bytes, private_key, new_cri: bytes) -> bytes:  # type: ignore[no-untyped-def]
    """A CSR with ``new_cri`` as CertificationRequestInfo, really signed by ``private_key``."""
    from cryptography.hazmat.primitives.asymmetric import padding

    _, alg, _ = der_items(csr_der)
    if isinstance(private_key, rsa.RSAPrivateKey):
        sig = private_key.sign(new_cri, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(private_key, ec.EllipticCurvePrivateKey):
        sig = private_key.sign(new_cri, ec.ECDSA(hashes.SHA256()))
    else:
        sig = private_key.sign(new_cri)
    return tlv(0x30, new_cri + alg + tlv(0x03, b"\x00" + sig))


def export_again_serial(err: str, log: Path | None = None) -> str:
    """The serial a failed export names in "`byoroot export S --out DIR [--log LOG]` writes it
    again, without the key" (``--log`` is named when the log is not the default one)."""
    import re

    m = re.search(r"the certificate \(serial ([0-9a-f]+)\) is in the station log: `byoroot export \1 --out DIR"
                  r"(?: --log ([^`]+))?` writes it again, without the key", err)
    assert m, err
    if log is not None and m.group(2) is not None:
        assert m.group(2) == str(log.resolve()), (m.group(2), log)
    return m.group(1)


def sheet_unsafe_chars(text: str) -> list[str]:
    """`unsafe_chars` of a ceremony sheet, which holds exactly one form feed of its own: a line
    by itself before the fingerprint, so a printer starts the QR on a fresh page."""
    lines = text.split("\n")
    assert lines.count("\f") == 1 and text.count("\f") == 1, "the sheet's one page break"
    assert lines[lines.index("\f") + 1].startswith("SHA-256 FINGERPRINT"), "the break comes right before the fingerprint"
    return unsafe_chars(text.replace("\f", ""))
