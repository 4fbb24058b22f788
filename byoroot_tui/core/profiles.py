"""Signing profiles: what the issued certificate will be, whatever the CSR asks for."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtensionOID

from byoroot_tui.core.errors import ByorootError

HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
KEY_USAGES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    validity_days: int = 3650
    path_length: int | None = 0  # None: no limit
    signature_hash: str = "sha512"
    key_usage: tuple[str, ...] = ("digital_signature", "key_cert_sign", "crl_sign")
    backdate_minutes: int = 5  # offline clocks drift
    cap_to_issuer: bool = True  # False: refuse instead of capping to the root's notAfter
    source: str = "built-in"

    def hash_for(self, root_public_key: object) -> hashes.HashAlgorithm | None:
        """The hash to sign with; None for Ed25519 roots, which sign as Ed25519."""
        if isinstance(root_public_key, ed25519.Ed25519PublicKey):
            return None
        return HASHES[self.signature_hash]()

    def basic_constraints(self) -> x509.BasicConstraints:
        return x509.BasicConstraints(ca=True, path_length=self.path_length)

    def key_usage_extension(self) -> x509.KeyUsage:
        flags = {name: name in self.key_usage for name in KEY_USAGES}
        return x509.KeyUsage(**flags, encipher_only=False, decipher_only=False)

    def treatment(self, oid: x509.ObjectIdentifier) -> str:
        """What issuing does with an extension the CSR requests: overridden or ignored."""
        if oid in _PROFILE_DECIDES:
            return "overridden"
        return "ignored"

    def settings(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "validity_days": self.validity_days,
            "path_length": self.path_length,
            "signature_hash": self.signature_hash,
            "key_usage": list(self.key_usage),
            "backdate_minutes": self.backdate_minutes,
            "cap_to_issuer": self.cap_to_issuer,
        }


_PROFILE_DECIDES = {
    ExtensionOID.BASIC_CONSTRAINTS,
    ExtensionOID.KEY_USAGE,
    ExtensionOID.SUBJECT_KEY_IDENTIFIER,
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
}

DEFAULT_PROFILE = Profile(
    name="intermediate-ca",
    description="Intermediate CA for a hosted CA (Smallstep bring-your-own-root): pathlen 0, 10 years, SHA-512",
)

BUILTIN_PROFILES: dict[str, Profile] = {DEFAULT_PROFILE.name: DEFAULT_PROFILE}


def list_profiles() -> list[Profile]:
    return list(BUILTIN_PROFILES.values())


def get_profile(name: str) -> Profile:
    try:
        return BUILTIN_PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(BUILTIN_PROFILES))
        raise ByorootError(f"no profile named {name!r} (known: {known})") from None
