"""Property tests: mutated CSRs never make the parser or the CLI raise anything but ByorootError."""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import ipaddress
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import AttributeOID, ExtendedKeyUsageOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import factories as f
from byoroot_tui.core.csr import parse_csr
from byoroot_tui.core.errors import ByorootError
from byoroot_tui.core.issue import review_request
from byoroot_tui.core.profiles import DEFAULT_PROFILE


@functools.lru_cache(maxsize=None)
def _bases() -> tuple[bytes, ...]:
    rich = f.make_csr(
        f.key("p256"),
        extensions=[
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (x509.SubjectAlternativeName([x509.DNSName("a.example"), x509.IPAddress(ipaddress.ip_address("10.0.0.1"))]), False),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            (x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.3"), b"\x04\x02hi"), False),
        ],
        attributes=[(AttributeOID.CHALLENGE_PASSWORD, b"challenge")],
    )
    rsa = f.make_csr(f.key("rsa2048"), hash_alg=hashes.SHA384())
    ed = f.make_csr(f.key("ed25519"))
    return (f.pem(rich), f.der(rich), f.pem(rsa), f.der(rsa), f.der(ed))


@st.composite
def mutated_csr(draw) -> bytes:  # type: ignore[no-untyped-def]
    data = bytearray(draw(st.sampled_from(_bases())))
    for _ in range(draw(st.integers(1, 4))):
        n = len(data)
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "duplicate", "swap"]))
        if n == 0:
            op = "insert"
        if op == "flip":
            i = draw(st.integers(0, n - 1))
            data[i] ^= draw(st.integers(1, 255))
        elif op == "set":
            i = draw(st.integers(0, n - 1))
            data[i] = draw(st.sampled_from([0x00, 0x30, 0x80, 0x81, 0x82, 0x84, 0xFF, 0x0A, 0x2D, 0x3A]))
        elif op == "insert":
            i = draw(st.integers(0, n))
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            i = draw(st.integers(0, n - 1))
            data[i : i + draw(st.integers(1, 32))] = b""
        elif op == "truncate":
            del data[draw(st.integers(0, n - 1)) :]
        elif op == "duplicate":
            i = draw(st.integers(0, n - 1))
            j = draw(st.integers(i, min(n, i + 64)))
            k = draw(st.integers(0, n))
            data[k:k] = data[i:j]
        else:  # swap two bytes
            i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
            data[i], data[j] = data[j], data[i]
    return bytes(data)


def test_bases_parse() -> None:
    for b in _bases():
        info = parse_csr(b, "base")
        assert not info.refused, info.findings


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated_csr())
def test_parse_csr_raises_only_byoroot_errors(data: bytes) -> None:
    try:
        info = parse_csr(data, "fuzz")
    except ByorootError as exc:
        msg = str(exc)
        assert msg and "\n" not in msg
        assert f.unsafe_chars(msg) == []
        return
    # whatever parses is fully describable, safely
    d = info.as_dict()
    assert isinstance(d, dict)
    review_request(info, DEFAULT_PROFILE)
    for text in [info.subject_text, *(e.value for e in info.extensions), *(x.message for x in info.findings)]:
        assert f.unsafe_chars(text) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated_csr(), as_json=st.booleans())
def test_cli_inspect_on_mutated_csr(data: bytes, as_json: bool) -> None:
    from byoroot_tui import cli

    out, err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fuzz.csr"
        path.write_bytes(data)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = cli.main(["inspect", str(path)] + (["--json"] if as_json else []))
    assert rc in (0, 1)
    assert "internal error" not in err.getvalue(), err.getvalue()
    assert "Traceback" not in err.getvalue()
    assert f.unsafe_chars(out.getvalue()) == [] and f.unsafe_chars(err.getvalue()) == []
    if rc == 1 and not out.getvalue():
        assert err.getvalue().count("\n") == 1


# ----------------------------------------------------------------------------- not derived from a CSR at all


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _nested(depth: int, tag: int, inner: bytes = b"") -> bytes:
    """``depth`` TLVs of ``tag``, each holding the next: deeper than any recursive parser should go."""
    for _ in range(depth):
        inner = bytes([tag]) + _der_len(len(inner)) + inner
    return inner


_TAGS = st.sampled_from([0x30, 0x31, 0xA0, 0xA3, 0x04, 0x03, 0x02, 0x06, 0x0C, 0x80, 0x1F, 0xFF])
_NESTED = st.builds(_nested, st.integers(1, 3000), _TAGS, st.binary(max_size=8))
_LABELS = st.sampled_from([b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST", b"CERTIFICATE", b"PRIVATE KEY", b"", b"X"])


@st.composite
def _armoured(draw) -> bytes:  # type: ignore[no-untyped-def]
    """PEM armour around anything: random bytes, nested DER, base64 that is not base64."""
    label = draw(_LABELS)
    body = draw(st.one_of(st.binary(max_size=300), _NESTED))
    text = base64.encodebytes(body) if draw(st.booleans()) else draw(st.binary(max_size=80))
    end = draw(st.sampled_from([label, b"OTHER", b""]))
    return b"-----BEGIN " + label + b"-----\n" + text + b"-----END " + end + b"-----\n" + draw(st.binary(max_size=8))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(st.binary(max_size=2000), _NESTED, _NESTED.map(lambda d: b"\x30" + _der_len(len(d)) + d), _armoured()))
def test_parse_csr_on_arbitrary_bytes_raises_only_byoroot_errors(data: bytes) -> None:
    try:
        info = parse_csr(data, "fuzz")
    except ByorootError as exc:
        assert str(exc) and "\n" not in str(exc) and f.unsafe_chars(str(exc)) == []
        return
    review_request(info, DEFAULT_PROFILE)  # practically never reached: whatever parses is usable
    assert f.unsafe_chars(info.subject_text) == []


_EXT_OIDS = st.sampled_from([
    "2.5.29.17",  # subjectAltName
    "2.5.29.19",  # basicConstraints
    "2.5.29.15",  # keyUsage
    "2.5.29.37",  # extKeyUsage
    "2.5.29.30",  # nameConstraints
    "2.5.29.32",  # certificatePolicies
    "2.5.29.14",  # subjectKeyIdentifier
    "1.3.6.1.5.5.7.1.1",  # authorityInfoAccess
    "1.3.6.1.4.1.55555.3",  # unknown
])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(oid=_EXT_OIDS, value=st.one_of(_NESTED, st.binary(max_size=64)), critical=st.booleans(), as_pem=st.booleans())
def test_signed_csr_with_a_hostile_extension_value(oid: str, value: bytes, critical: bool, as_pem: bool) -> None:
    """A correctly signed request whose extension holds garbage or DER nested thousands deep, under a
    known or unknown OID: refused or described, never anything but a ByorootError."""
    csr = f.make_csr(f.key("p256"), extensions=[
        (x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), value), critical)])
    try:
        info = parse_csr(f.pem(csr) if as_pem else f.der(csr), "fuzz")
    except ByorootError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    info.as_dict()
    review_request(info, DEFAULT_PROFILE)
    for text in [info.subject_text, *(e.value for e in info.extensions), *(x.message for x in info.findings)]:
        assert f.unsafe_chars(text) == []
