"""Property tests: mutated CSRs never make the parser or the CLI raise anything but ByorootError."""

from __future__ import annotations

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
