"""Render X.509 extensions and names as safe, human-readable text."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from byoroot_tui.core.text import safe_bytes_hex, safe_text

VALUE_LIMIT = 2000  # characters of one rendered value


def oid_name(oid: ObjectIdentifier) -> str:
    """Short name of an OID, or its dotted form when unknown."""
    from byoroot_tui.core.oidnames import OID_NAMES

    return OID_NAMES.get(oid.dotted_string, oid.dotted_string)


def _general_name(gn: x509.GeneralName) -> str:
    if isinstance(gn, x509.DNSName):
        return f"DNS:{gn.value}"
    if isinstance(gn, x509.RFC822Name):
        return f"email:{gn.value}"
    if isinstance(gn, x509.UniformResourceIdentifier):
        return f"URI:{gn.value}"
    if isinstance(gn, x509.IPAddress):
        return f"IP:{gn.value}"
    if isinstance(gn, x509.DirectoryName):
        return f"DirName:{gn.value.rfc4514_string()}"
    if isinstance(gn, x509.RegisteredID):
        return f"RID:{gn.value.dotted_string}"
    if isinstance(gn, x509.OtherName):
        return f"othername:{gn.type_id.dotted_string}:{gn.value.hex()}"
    return repr(gn)


_KU_FIELDS = (
    ("digital_signature", "digitalSignature"),
    ("content_commitment", "nonRepudiation"),
    ("key_encipherment", "keyEncipherment"),
    ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"),
    ("key_cert_sign", "keyCertSign"),
    ("crl_sign", "cRLSign"),
)


def key_usage_names(ku: x509.KeyUsage) -> list[str]:
    names = [label for attr, label in _KU_FIELDS if getattr(ku, attr)]
    if ku.key_agreement:
        if ku.encipher_only:
            names.append("encipherOnly")
        if ku.decipher_only:
            names.append("decipherOnly")
    return names


_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}


def _subtrees(trees: list[x509.GeneralName] | None) -> str:
    return ", ".join(_general_name(g) for g in trees) if trees else "none"


def render_value(value: x509.ExtensionType) -> str:
    """Unescaped text of an extension value; callers pass it through ``safe_text``."""
    if isinstance(value, x509.BasicConstraints):
        text = f"CA:{'TRUE' if value.ca else 'FALSE'}"
        if value.path_length is not None:
            text += f", pathlen:{value.path_length}"
        return text
    if isinstance(value, x509.KeyUsage):
        return ", ".join(key_usage_names(value)) or "(none)"
    if isinstance(value, x509.ExtendedKeyUsage):
        return ", ".join(_EKU_NAMES.get(o, o.dotted_string) for o in value)
    if isinstance(value, (x509.SubjectAlternativeName, x509.IssuerAlternativeName)):
        return ", ".join(_general_name(g) for g in value)
    if isinstance(value, x509.SubjectKeyIdentifier):
        return value.digest.hex(":")
    if isinstance(value, x509.AuthorityKeyIdentifier):
        parts = []
        if value.key_identifier is not None:
            parts.append(f"keyid:{value.key_identifier.hex(':')}")
        if value.authority_cert_issuer:
            parts.append("issuer:" + ", ".join(_general_name(g) for g in value.authority_cert_issuer))
        if value.authority_cert_serial_number is not None:
            parts.append(f"serial:{value.authority_cert_serial_number:x}")
        return ", ".join(parts) or "(empty)"
    if isinstance(value, x509.NameConstraints):
        return (
            f"permitted: {_subtrees(value.permitted_subtrees)}; "
            f"excluded: {_subtrees(value.excluded_subtrees)}"
        )
    if isinstance(value, x509.CRLDistributionPoints):
        uris = []
        for dp in value:
            uris.extend(_general_name(g) for g in dp.full_name or [])
        return ", ".join(uris) or "(no full names)"
    if isinstance(value, x509.AuthorityInformationAccess):
        return ", ".join(
            f"{oid_name(d.access_method)}={_general_name(d.access_location)}" for d in value
        )
    if isinstance(value, x509.CertificatePolicies):
        return ", ".join(p.policy_identifier.dotted_string for p in value)
    if isinstance(value, x509.UnrecognizedExtension):
        return safe_bytes_hex(value.value)
    return repr(value)


@dataclass(frozen=True)
class ExtensionInfo:
    oid: str  # dotted
    name: str  # short name or dotted OID; safe
    critical: bool
    value: str  # safe text

    def as_dict(self) -> dict[str, object]:
        return {"oid": self.oid, "name": self.name, "critical": self.critical, "value": self.value}


def describe_extensions(exts: x509.Extensions) -> list[ExtensionInfo]:
    return [
        ExtensionInfo(
            oid=ext.oid.dotted_string,
            name=safe_text(oid_name(ext.oid)),
            critical=ext.critical,
            value=safe_text(render_value(ext.value), VALUE_LIMIT),
        )
        for ext in exts
    ]


def name_fields(name: x509.Name) -> list[dict[str, str]]:
    """Each attribute of a Name, in order, with its value escaped."""
    out = []
    for rdn in name.rdns:
        for attr in rdn:
            value = attr.value
            shown = safe_text(value, VALUE_LIMIT) if isinstance(value, str) else safe_bytes_hex(value)
            out.append({"oid": attr.oid.dotted_string, "name": safe_text(oid_name(attr.oid)), "value": shown})
    return out


def name_text(name: x509.Name) -> str:
    """RFC 4514 string, escaped for the terminal."""
    return safe_text(name.rfc4514_string(), VALUE_LIMIT)
