"""A tiny DER reader/writer: just enough to split and assemble a certificate.

We need raw bytes (not re-encodings) to prove that the issuer is the root's subject byte
for byte, and to assemble a certificate from a TBS signed by any signer (file or HSM).
"""

from __future__ import annotations

from dataclasses import dataclass

from byoroot_tui.core.errors import ByorootError


@dataclass(frozen=True)
class Tlv:
    tag: int
    start: int  # offset of the tag byte
    value_start: int
    end: int  # offset just past the value

    def raw(self, data: bytes) -> bytes:
        return data[self.start : self.end]

    def value(self, data: bytes) -> bytes:
        return data[self.value_start : self.end]


def read_tlv(data: bytes, offset: int = 0, limit: int | None = None) -> Tlv:
    """Read one DER TLV at ``offset`` (single-byte tags only, definite lengths only)."""
    end_limit = len(data) if limit is None else limit
    if offset + 2 > end_limit:
        raise ByorootError("malformed DER: truncated header")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise ByorootError("malformed DER: multi-byte tags are not expected here")
    first = data[offset + 1]
    pos = offset + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > end_limit:
            raise ByorootError("malformed DER: bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > end_limit:
        raise ByorootError("malformed DER: truncated value")
    return Tlv(tag, offset, pos, pos + length)


def children(data: bytes, parent: Tlv) -> list[Tlv]:
    """The TLVs directly inside a constructed ``parent``."""
    out = []
    pos = parent.value_start
    while pos < parent.end:
        tlv = read_tlv(data, pos, parent.end)
        out.append(tlv)
        pos = tlv.end
    return out


def encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def encode_tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + encode_length(len(value)) + value


SEQUENCE = 0x30
BIT_STRING = 0x03


def assemble_certificate(tbs: bytes, signature_algorithm: bytes, signature: bytes) -> bytes:
    """Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }."""
    return encode_tlv(SEQUENCE, tbs + signature_algorithm + encode_tlv(BIT_STRING, b"\x00" + signature))


@dataclass(frozen=True)
class CertificateParts:
    tbs: bytes
    signature_algorithm: bytes
    issuer: bytes
    subject: bytes
    spki: bytes


def split_certificate(der: bytes) -> CertificateParts:
    """Raw TLVs of a certificate's TBS, signature algorithm, issuer, subject and key."""
    outer = read_tlv(der)
    top = children(der, outer)
    if len(top) != 3:
        raise ByorootError("malformed certificate: expected three top-level fields")
    tbs_tlv = top[0]
    fields = children(der, tbs_tlv)
    i = 1 if fields and fields[0].tag == 0xA0 else 0  # optional [0] version
    # serial, signature, issuer, validity, subject, subjectPublicKeyInfo
    if len(fields) < i + 6:
        raise ByorootError("malformed certificate: TBS too short")
    return CertificateParts(
        tbs=tbs_tlv.raw(der),
        signature_algorithm=top[1].raw(der),
        issuer=fields[i + 2].raw(der),
        subject=fields[i + 4].raw(der),
        spki=fields[i + 5].raw(der),
    )


def split_csr(der: bytes) -> tuple[bytes, bytes]:
    """Raw (subject, subjectPublicKeyInfo) TLVs of a PKCS#10 request."""
    outer = read_tlv(der)
    info = children(der, outer)[0]
    fields = children(der, info)
    if len(fields) < 3:
        raise ByorootError("malformed CSR: CertificationRequestInfo too short")
    return fields[1].raw(der), fields[2].raw(der)
