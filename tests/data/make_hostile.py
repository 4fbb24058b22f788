#!/usr/bin/env python3
"""Generate the hostile-CSR corpus in tests/data/hostile/ (run: python tests/data/make_hostile.py).

Every file is built here byte by byte: the DER is assembled by hand (so it can hold what no
well-behaved encoder would write) and the requests are signed with a fixed Ed25519 test key, so
their self-signatures verify and the output is byte-for-byte reproducible (Ed25519 signatures are
deterministic). tests/test_hostile_corpus.py checks that the files on disk are exactly what this
script builds, and what `byoroot` must do with each one (`CASES[name].expect`):

- "refused": not a usable request at all; `byoroot inspect` exits 1 with one `byoroot: ...` line
  on stderr (an `InputRefused`), and nothing on stdout;
- "shown":   parsed and shown (escaped) by `byoroot inspect`; exit 0 or 1 (1 = sign would refuse).

The test key below is public test material, not a secret: it signs nothing but this corpus.
The > 1 MiB cases and the ~1 MiB subject are not stored; the test makes them (`oversized()`,
`huge_subject()`).
"""

from __future__ import annotations

import base64
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

HERE = Path(__file__).resolve().parent
OUT = HERE / "hostile"

# --------------------------------------------------------------------------- DER by hand


def der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + der_len(len(value)) + value


def seq(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def set_of(*items: bytes) -> bytes:
    return tlv(0x31, b"".join(items))


def oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return tlv(0x06, bytes(body))


def utf8(text: str) -> bytes:
    return tlv(0x0C, text.encode("utf-8"))


def printable(text: str) -> bytes:
    return tlv(0x13, text.encode("ascii"))


def ia5(text: str) -> bytes:
    return tlv(0x16, text.encode("latin-1"))


def octets(data: bytes) -> bytes:
    return tlv(0x04, data)


def nested_sequences(depth: int, core: bytes = b"\x05\x00") -> bytes:
    """``depth`` SEQUENCEs, each holding only the next; a NULL at the bottom."""
    headers, length = [], len(core)
    for _ in range(depth):
        header = b"\x30" + der_len(length)
        headers.append(header)
        length += len(header)
    return b"".join(reversed(headers)) + core


CN, O, OU, C = "2.5.4.3", "2.5.4.10", "2.5.4.11", "2.5.4.6"
EXTENSION_REQUEST = "1.2.840.113549.1.9.14"
CHALLENGE_PASSWORD = "1.2.840.113549.1.9.7"
SAN = "2.5.29.17"
BASIC_CONSTRAINTS = "2.5.29.19"
PRIVATE_ARC = "1.3.6.1.4.1.55555"  # an unassigned private enterprise arc, used only in tests
ED25519 = "1.3.101.112"


def name(*attrs: tuple[str, bytes]) -> bytes:
    """A Name with one attribute per RDN; values are ready-made DER (utf8(...), printable(...))."""
    return seq(*(set_of(seq(oid(t), v)) for t, v in attrs))


def clean_name(cn: str = "Hostile Corpus Intermediate CA") -> bytes:
    return name((C, printable("DE")), (O, utf8("Example Org")), (CN, utf8(cn)))


def extension(oid_dotted: str, value: bytes, critical: bool = False) -> bytes:
    return seq(oid(oid_dotted), *([b"\x01\x01\xff"] if critical else []), octets(value))


def ext_request(*extensions: bytes) -> bytes:
    return seq(oid(EXTENSION_REQUEST), set_of(seq(*extensions)))


def attribute(oid_dotted: str, *values: bytes) -> bytes:
    return seq(oid(oid_dotted), set_of(*values))


# --------------------------------------------------------------------------- signing

# Fixed, public test key: deterministic signatures make the corpus reproducible.
_SEED = hashlib.sha256(b"byoroot hostile corpus test key (public, not a secret)").digest()
KEY = Ed25519PrivateKey.from_private_bytes(_SEED)


def _spki() -> bytes:
    from cryptography.hazmat.primitives import serialization

    return KEY.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def csr(subject: bytes | None = None, attributes: list[bytes] | tuple[bytes, ...] = ()) -> bytes:
    """A PKCS#10 request with these raw parts, really signed by the corpus key."""
    cri = seq(b"\x02\x01\x00", subject if subject is not None else clean_name(), _spki(),
              tlv(0xA0, b"".join(sorted(attributes))))  # DER: a SET OF is sorted
    return seq(cri, seq(oid(ED25519)), tlv(0x03, b"\x00" + KEY.sign(cri)))


def pem(der: bytes, label: str = "CERTIFICATE REQUEST", width: int = 64, headers: bytes = b"") -> bytes:
    body = base64.b64encode(der)
    lines = [body[i : i + width] for i in range(0, len(body), width)] if width else [body]
    return (f"-----BEGIN {label}-----\n".encode() + headers + b"\n".join(lines)
            + f"\n-----END {label}-----\n".encode())


# --------------------------------------------------------------------------- the corpus

ANSI = "\x1b[2J\x1b[H\x1b[31;1m"  # clear screen, home, bold red
OSC8 = "\x1b]8;;https://evil.example/\x07click here\x1b]8;;\x07"  # a terminal hyperlink
TITLE = "\x1b]0;byoroot: all checks passed\x07"  # sets the window title
RLO, LRI, PDI, PDF = "\u202e", "\u2066", "\u2069", "\u202c"


@dataclass(frozen=True)
class Case:
    description: str
    expect: str  # "refused" | "shown"
    data: bytes


def _cases() -> dict[str, Case]:
    cases: dict[str, Case] = {}

    def add(file_name: str, expect: str, description: str, data: bytes) -> None:
        assert expect in ("refused", "shown") and file_name not in cases
        cases[file_name] = Case(description, expect, data)

    good = csr()

    # -- control and bidi characters in names, SANs, extension values and attributes
    add("subject-control-chars.csr", "shown",
        "CN with ANSI clear-screen/colour, CR, BEL, NUL; O with RLO; OU with LRI...PDI; title-setting OSC",
        pem(csr(name((C, printable("DE")),
                     (O, utf8(f"Example {RLO}gro.elpmaxe")),
                     (OU, utf8(f"{LRI}isolated{PDI} {TITLE}")),
                     (CN, utf8(f"Intermediate{ANSI}CA\r\x07\x00\x7f\x9b31m"))))))
    add("subject-bidi-only.csr", "shown",
        "CN whose only hostile characters are bidi controls (RLO ... PDF, LRI ... PDI)",
        pem(csr(name((O, utf8("Example Org")), (CN, utf8(f"Example {RLO}AC etaidemretnI{PDF} {LRI}x{PDI}"))))))
    add("subject-bmpstring-bidi.csr", "shown",
        "CN as a BMPString holding U+202E and U+2066",
        pem(csr(name((CN, tlv(0x1E, f"Intermediate {RLO}AC{LRI}".encode("utf-16-be")))))))
    add("subject-teletex-escape.csr", "shown",
        "O as a TeletexString holding ESC [ 2 J",
        pem(csr(name((O, tlv(0x14, b"Org\x1b[2J\x1b[31m")), (CN, utf8("Teletex Intermediate"))))))
    add("subject-teletex-c1.csr", "refused",
        "O as a TeletexString holding a C1 CSI byte (0x9b)",
        pem(csr(name((O, tlv(0x14, b"Org\x9b1m")), (CN, utf8("Teletex Intermediate"))))))
    add("subject-invalid-utf8.csr", "refused",
        "CN as a UTF8String that is not valid UTF-8",
        pem(csr(name((CN, tlv(0x0C, b"Intermediate \xff\xfe\xc0\xaf CA"))))))
    hostile_san = seq(
        tlv(0x82, f"evil{ANSI}.example".encode()),  # dNSName
        tlv(0x82, f"www.{RLO}elgoog.example".encode()),
        tlv(0x86, OSC8.encode()),  # URI
        tlv(0x81, f"officer{LRI}@example.org{PDI}".encode()),  # rfc822Name
        tlv(0xA4, name((CN, utf8(f"dir{ANSI}{RLO}name\r\n")))),  # directoryName
        tlv(0xA0, oid(PRIVATE_ARC + ".9") + tlv(0xA0, utf8(f"other{TITLE}{RLO}"))),  # otherName
    )
    add("san-and-extension-values.csr", "shown",
        "SAN (DNS, URI, email, dirName, otherName) and an unknown extension's UTF8String, all with "
        "ANSI/OSC/bidi; challengePassword and an unknown attribute with control characters",
        pem(csr(attributes=[
            ext_request(
                extension(SAN, hostile_san),
                extension(PRIVATE_ARC + ".1", utf8(f"{ANSI}{OSC8}{RLO}{LRI}\r\nFAKE: Verdict: ACCEPTABLE")),
                extension("2.5.29.32", seq(seq(oid("2.5.29.32.0"), seq(seq(oid("1.3.6.1.5.5.7.2.1"),
                                                                            ia5(f"http://cps{ANSI}/")))))),
            ),
            attribute(CHALLENGE_PASSWORD, utf8(f"pw{ANSI}\x07\r\nVerdict: ACCEPTABLE{RLO}")),
            attribute(PRIVATE_ARC + ".2", utf8(f"attr{TITLE}{LRI}")),
        ])))

    # -- sizes
    add("cn-64k.csr", "shown",
        "a 64 KiB commonName (UTF8String), with a bidi control every 4 KiB",
        pem(csr(name((CN, utf8("".join(("A" * 4095 + RLO) for _ in range(16)))))), ))
    add("subject-3000-rdns.csr", "shown",
        "a subject of 3000 RDNs",
        pem(csr(name(*[(OU, utf8(f"unit {i}")) for i in range(3000)], (CN, utf8("Many RDNs CA"))))))
    add("extensions-3000.csr", "shown",
        "3000 unknown non-critical extensions",
        pem(csr(attributes=[ext_request(*[extension(f"{PRIVATE_ARC}.3.{i}", octets(b"x")) for i in range(3000)])])))
    add("extensions-3000-critical.csr", "shown",
        "3000 unknown critical extensions (each is a refusal finding)",
        pem(csr(attributes=[ext_request(*[extension(f"{PRIVATE_ARC}.4.{i}", b"\x05\x00", critical=True)
                                          for i in range(3000)])])))
    add("extensions-duplicate-3000.csr", "refused",
        "the same extension 3000 times",
        pem(csr(attributes=[ext_request(*[extension(f"{PRIVATE_ARC}.5", b"\x05\x00") for _ in range(3000)])])))
    add("san-5000-names.csr", "shown",
        "a SAN with 5000 DNS names",
        pem(csr(attributes=[ext_request(extension(SAN, seq(*[tlv(0x82, f"h{i}.example".encode())
                                                            for i in range(5000)])))])))
    add("attributes-2000.csr", "shown",
        "2000 unknown attributes with UTF8String values",
        pem(csr(attributes=[attribute(f"{PRIVATE_ARC}.6.{i}", utf8(f"v{i}\x1b[0m")) for i in range(2000)])))

    # -- deeply nested ASN.1
    add("nested-unknown-extension.csr", "shown",
        "an unknown extension whose value is 5000 nested SEQUENCEs",
        pem(csr(attributes=[ext_request(extension(PRIVATE_ARC + ".7", nested_sequences(5000)))])))
    add("nested-san.csr", "refused",
        "a SAN extension whose value is 5000 nested SEQUENCEs",
        pem(csr(attributes=[ext_request(extension(SAN, nested_sequences(5000)))])))
    add("nested-othername.csr", "shown",
        "a SAN otherName whose value is 4000 nested SEQUENCEs",
        pem(csr(attributes=[ext_request(extension(SAN, seq(
            tlv(0xA0, oid(PRIVATE_ARC + ".8") + tlv(0xA0, nested_sequences(4000))))))])))
    add("nested-attribute.csr", "shown",
        "an unknown attribute whose value is 5000 nested SEQUENCEs",
        pem(csr(attributes=[attribute(PRIVATE_ARC + ".10", nested_sequences(5000))])))
    add("nested-subject-value.csr", "refused",
        "a subject attribute whose value is 5000 nested SEQUENCEs",
        pem(csr(name((O, nested_sequences(5000)), (CN, utf8("Nested CA"))))))
    add("nested-extension-request.csr", "refused",
        "the extensionRequest attribute holding 5000 nested SEQUENCEs instead of Extensions",
        pem(csr(attributes=[attribute(EXTENSION_REQUEST, nested_sequences(5000))])))
    add("nested-20000.der", "refused",
        "no request at all: 20000 nested SEQUENCEs",
        nested_sequences(20000))
    add("oid-long.csr", "refused",
        "an extension OID of 400 arcs",
        pem(csr(attributes=[ext_request(extension(".".join(["1", "3"] + ["2147483647"] * 398), b"\x05\x00"))])))

    # -- PEM framing
    big = csr(attributes=[ext_request(extension(PRIVATE_ARC + ".11", octets(b"\xa5" * 75000)))])
    add("long-base64-line.csr", "shown",
        "the PEM body on a single line of 100 KB",
        pem(big, width=0))
    add("leading-text.csr", "shown",
        "a covering note before the PEM block",
        b"Hello root CA team,\nhere is our intermediate request. Thanks!\n\n" + pem(good))
    add("leading-binary.csr", "shown",
        "binary garbage (NUL, 0xff, C1 bytes, a stray 0x30) before the PEM block",
        bytes(range(1, 256)).replace(b"-", b"") + b"\x00\xff\xfe\x9b\x30\x82\xff\xff\n" + pem(good))
    add("leading-ansi.csr", "shown",
        "ANSI escape sequences (clear screen, colours, OSC title) before the PEM block",
        f"{ANSI}{TITLE}Verdict: ACCEPTABLE\x1b[0m\n".encode() + pem(good))
    add("trailing-ansi.csr", "shown",
        "ANSI escape sequences after the PEM block",
        pem(good) + f"{ANSI}{OSC8}\n".encode())
    add("trailing-data.der", "refused",
        "DER followed by 16 bytes of garbage",
        good + b"\x00\x1b[2J" + b"\xff" * 12)
    add("trailing-second-request.der", "refused",
        "two DER requests back to back",
        good + good)
    add("trailing-data-in-pem.csr", "refused",
        "PEM whose decoded DER has trailing bytes",
        pem(good + b"\x05\x00\x1b[2J"))
    add("pem-headers.csr", "refused",
        "a PEM block with RFC 1421 encryption headers",
        pem(good, headers=b"Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n"))
    add("pem-headers-hostile.csr", "refused",
        "a PEM block with headers holding escape sequences",
        pem(good, headers=f"X-Note: {ANSI}{OSC8}{RLO}\n\n".encode()))
    add("pem-label-hostile.csr", "refused",
        "a PEM label with ESC and RLO",
        pem(good, label=f"CERTIFICATE REQUEST{RLO}\x1b[31m"))
    add("pem-bad-base64.csr", "refused",
        "a PEM body with non-base64 bytes (ESC, NUL) in the middle",
        pem(good).replace(b"\n", b"\n\x1b[2J\x00", 2))
    add("length-overflow.der", "refused",
        "an outer SEQUENCE claiming 4 GiB",
        b"\x30\x84\xff\xff\xff\xff" + good[4:])
    add("indefinite-length.der", "refused",
        "BER indefinite length (not DER)",
        b"\x30\x80" + good[4:] + b"\x00\x00")
    return cases


CASES = _cases()


def oversized(kind: str) -> bytes:
    """Not stored (over 1 MiB): a real request just over the input cap, PEM or DER."""
    big = csr(attributes=[ext_request(extension(PRIVATE_ARC + ".12", octets(b"\x5a" * (1024 * 1024))))])
    return pem(big) if kind == "pem" else big


def huge_subject() -> bytes:
    """Not stored (~1 MiB): DER just under the input cap whose subject has 66 000 RDNs."""
    data = csr(name(*[(OU, utf8(f"{i:x}")) for i in range(66_000)], (CN, utf8("Huge Subject CA"))))
    assert len(data) < 1024 * 1024
    return data


def main() -> int:
    OUT.mkdir(exist_ok=True)
    for old in OUT.iterdir():
        if old.name not in CASES:
            old.unlink()
    total = 0
    for file_name, case in CASES.items():
        (OUT / file_name).write_bytes(case.data)
        total += len(case.data)
    print(f"wrote {len(CASES)} files, {total} bytes, to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
