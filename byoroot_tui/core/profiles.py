"""Signing profiles: what the issued certificate will be, whatever the CSR asks for.

A profile is a built-in (`intermediate-ca`, `intermediate-ca-curve-matched`) or a TOML file (see
README, "Profiles"). Loading a file checks every key and names the file, the key and what is wrong.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, ExtensionOID

from byoroot_tui.core.errors import ByorootError, InputRefused
from byoroot_tui.core.files import read_input_file
from byoroot_tui.core.text import BIDI_CONTROLS, safe_text

HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
# signature_hash = "match-curve": the hash follows the root's curve, as the CA/B Forum BRs
# (7.1.3.2.2), Mozilla's root store policy (5.1.2) and zlint (e_mp_ecdsa_signature_encoding_correct)
# expect of an ECDSA issuer; RSA roots sign with DEFAULT_HASH (Ed25519 roots sign as Ed25519).
MATCH_CURVE = "match-curve"
CURVE_HASHES = {"secp256r1": "sha256", "secp384r1": "sha384", "secp521r1": "sha512"}
CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
DEFAULT_HASH = "sha512"
KEY_USAGES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)
EKU_NAMES = {
    "server_auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client_auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code_signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email_protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "time_stamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp_signing": ExtendedKeyUsageOID.OCSP_SIGNING,
}
NAME_CONSTRAINT_KEYS = ("permitted_dns", "excluded_dns", "permitted_ip", "excluded_ip", "permitted_email", "excluded_email")
MAX_VALIDITY_DAYS = 36525  # 100 years: anything longer is a typo
MAX_PROFILE_BYTES = 64 * 1024
_OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_DNS_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_MAILBOX = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")  # RFC 5321 dot-atom


@dataclass(frozen=True)
class NameConstraintsSpec:
    permitted_dns: tuple[str, ...] = ()
    excluded_dns: tuple[str, ...] = ()
    permitted_ip: tuple[str, ...] = ()
    excluded_ip: tuple[str, ...] = ()
    permitted_email: tuple[str, ...] = ()
    excluded_email: tuple[str, ...] = ()

    def extension(self) -> x509.NameConstraints:
        def trees(dns: tuple[str, ...], ips: tuple[str, ...], emails: tuple[str, ...]) -> list[x509.GeneralName] | None:
            names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
            names += [x509.IPAddress(ipaddress.ip_network(i)) for i in ips]
            names += [x509.RFC822Name(e) for e in emails]
            return names or None

        return x509.NameConstraints(
            permitted_subtrees=trees(self.permitted_dns, self.permitted_ip, self.permitted_email),
            excluded_subtrees=trees(self.excluded_dns, self.excluded_ip, self.excluded_email),
        )

    def settings(self) -> dict[str, list[str]]:
        return {k: list(getattr(self, k)) for k in NAME_CONSTRAINT_KEYS if getattr(self, k)}


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    validity_days: int = 3650
    path_length: int | None = 0  # None: no limit
    signature_hash: str = DEFAULT_HASH  # a key of HASHES, or MATCH_CURVE
    key_usage: tuple[str, ...] = ("digital_signature", "key_cert_sign", "crl_sign")
    extended_key_usage: tuple[str, ...] = ()  # names from EKU_NAMES or dotted OIDs
    crl_distribution_points: tuple[str, ...] = ()
    ca_issuers: tuple[str, ...] = ()
    ocsp: tuple[str, ...] = ()
    certificate_policies: tuple[str, ...] = ()  # dotted OIDs
    name_constraints: NameConstraintsSpec | None = None
    cap_to_issuer: bool = True  # False: refuse instead of capping to the root's notAfter
    strict_cabf: str | None = None  # a pkilint CA/B Forum CA type, e.g. EXTERNAL-UNCONSTRAINED-TLS-CA
    backdate_minutes: int = 5  # offline clocks drift
    source: str = "built-in"

    def hash_for(self, root_public_key: object) -> hashes.HashAlgorithm | None:
        """The hash to sign with; None for Ed25519 roots, which sign as Ed25519."""
        name = self.hash_name_for(root_public_key)
        return None if name is None else HASHES[name]()

    def hash_name_for(self, root_public_key: object) -> str | None:
        """The name of the hash this profile signs with under this root's key (a key of HASHES);
        None for Ed25519 roots."""
        if isinstance(root_public_key, ed25519.Ed25519PublicKey):
            return None
        if self.signature_hash == MATCH_CURVE:
            if isinstance(root_public_key, ec.EllipticCurvePublicKey):
                return CURVE_HASHES.get(root_public_key.curve.name, DEFAULT_HASH)
            return DEFAULT_HASH
        return self.signature_hash

    def basic_constraints(self) -> x509.BasicConstraints:
        return x509.BasicConstraints(ca=True, path_length=self.path_length)

    def key_usage_extension(self) -> x509.KeyUsage:
        flags = {name: name in self.key_usage for name in KEY_USAGES}
        return x509.KeyUsage(**flags, encipher_only=False, decipher_only=False)

    def extensions(self, subject_key: object, authority_key_id: bytes) -> list[tuple[x509.ExtensionType, bool]]:
        """Every extension of the issued certificate, with its critical flag, in order."""
        exts: list[tuple[x509.ExtensionType, bool]] = [
            (self.basic_constraints(), True),
            (self.key_usage_extension(), True),
            (x509.SubjectKeyIdentifier.from_public_key(subject_key), False),  # type: ignore[arg-type]
            (x509.AuthorityKeyIdentifier(authority_key_id, None, None), False),
        ]
        if self.extended_key_usage:
            exts.append((x509.ExtendedKeyUsage([_eku_oid(e) for e in self.extended_key_usage]), False))
        if self.crl_distribution_points:
            exts.append((x509.CRLDistributionPoints([
                x509.DistributionPoint([x509.UniformResourceIdentifier(u)], None, None, None)
                for u in self.crl_distribution_points
            ]), False))
        access = [
            x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(u))
            for u in self.ocsp
        ] + [
            x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(u))
            for u in self.ca_issuers
        ]
        if access:
            exts.append((x509.AuthorityInformationAccess(access), False))
        if self.certificate_policies:
            exts.append((x509.CertificatePolicies([
                x509.PolicyInformation(x509.ObjectIdentifier(p), None) for p in self.certificate_policies
            ]), False))
        if self.name_constraints is not None:
            exts.append((self.name_constraints.extension(), True))
        return exts

    def treatment(self, oid: x509.ObjectIdentifier) -> str:
        """What issuing does with an extension the CSR requests: overridden or ignored."""
        return "overridden" if oid in self._decided_oids() else "ignored"

    def _decided_oids(self) -> set[x509.ObjectIdentifier]:
        oids = {ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE,
                ExtensionOID.SUBJECT_KEY_IDENTIFIER, ExtensionOID.AUTHORITY_KEY_IDENTIFIER}
        if self.extended_key_usage:
            oids.add(ExtensionOID.EXTENDED_KEY_USAGE)
        if self.crl_distribution_points:
            oids.add(ExtensionOID.CRL_DISTRIBUTION_POINTS)
        if self.ocsp or self.ca_issuers:
            oids.add(ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
        if self.certificate_policies:
            oids.add(ExtensionOID.CERTIFICATE_POLICIES)
        if self.name_constraints is not None:
            oids.add(ExtensionOID.NAME_CONSTRAINTS)
        return oids

    def describe(self) -> list[tuple[str, str]]:
        """(label, value) lines for showing the profile to an officer (CLI and TUI)."""
        lines = [
            ("path length", "no limit" if self.path_length is None else str(self.path_length)),
            ("validity", f"{self.validity_days} days" + (", capped to the root's notAfter" if self.cap_to_issuer
                                                          else "; refused if the root expires first")),
            ("signature hash", _hash_text(self.signature_hash)),
            ("key usage", ", ".join(self.key_usage) + " (critical)"),
        ]
        if self.extended_key_usage:
            lines.append(("extended key usage", ", ".join(self.extended_key_usage)))
        if self.crl_distribution_points:
            lines.append(("CRL distribution", ", ".join(self.crl_distribution_points)))
        if self.ocsp:
            lines.append(("OCSP", ", ".join(self.ocsp)))
        if self.ca_issuers:
            lines.append(("CA issuers", ", ".join(self.ca_issuers)))
        if self.certificate_policies:
            lines.append(("policies", ", ".join(self.certificate_policies)))
        if self.name_constraints is not None:
            for key, values in self.name_constraints.settings().items():
                kind, _, what = key.partition("_")
                lines.append((f"{kind} {what.upper() if what != 'email' else 'e-mail'}", ", ".join(values) + " (critical)"))
        if self.strict_cabf:
            lines.append(("strict CA/B lint", self.strict_cabf))
        lines.append(("backdate", f"{self.backdate_minutes} minutes"))
        return [(label, safe_text(value)) for label, value in lines]

    def settings(self) -> dict[str, object]:
        out: dict[str, object] = {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "validity_days": self.validity_days,
            "path_length": self.path_length,
            "signature_hash": self.signature_hash,
            "key_usage": list(self.key_usage),
            "extended_key_usage": list(self.extended_key_usage),
            "crl_distribution_points": list(self.crl_distribution_points),
            "ca_issuers": list(self.ca_issuers),
            "ocsp": list(self.ocsp),
            "certificate_policies": list(self.certificate_policies),
            "name_constraints": self.name_constraints.settings() if self.name_constraints else None,
            "cap_to_issuer": self.cap_to_issuer,
            "strict_cabf": self.strict_cabf,
            "backdate_minutes": self.backdate_minutes,
        }
        return out


def hash_label(name: str) -> str:
    """sha384 -> SHA-384."""
    return name.upper().replace("SHA", "SHA-")


def _hash_text(signature_hash: str) -> str:
    if signature_hash == MATCH_CURVE:
        return (f"matches the root's curve: SHA-256 for P-256, SHA-384 for P-384, SHA-512 for P-521; "
                f"{hash_label(DEFAULT_HASH)} for RSA (Ed25519 roots sign as Ed25519)")
    return f"{hash_label(signature_hash)} (Ed25519 roots sign as Ed25519)"


def _eku_oid(value: str) -> x509.ObjectIdentifier:
    return EKU_NAMES[value] if value in EKU_NAMES else x509.ObjectIdentifier(value)


DEFAULT_PROFILE = Profile(
    name="intermediate-ca",
    description="Intermediate CA for a hosted CA (Smallstep bring-your-own-root): pathlen 0, 10 years, SHA-512",
)

CURVE_MATCHED_PROFILE = Profile(
    name="intermediate-ca-curve-matched",
    description="As intermediate-ca, but the hash matches the root's curve (P-256: SHA-256, P-384: SHA-384, "
    "P-521: SHA-512; RSA: SHA-512), as the CA/B Forum BRs and Mozilla's root store policy expect",
    signature_hash=MATCH_CURVE,
)

BUILTIN_PROFILES: dict[str, Profile] = {p.name: p for p in (DEFAULT_PROFILE, CURVE_MATCHED_PROFILE)}


# ---------------------------------------------------------------------------- TOML files


class _Checker:
    """Type and value checks that name the file and the key."""

    def __init__(self, label: str) -> None:
        self.label = label

    def fail(self, key: str, problem: str) -> InputRefused:
        return InputRefused(f"profile {self.label}: {key}: {problem}")

    def string(self, key: str, value: object) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {_toml_type(value)}")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise self.fail(key, "contains control characters")
        c1 = next((c for c in value if 0x80 <= ord(c) <= 0x9F), None)
        if c1 is not None:
            raise self.fail(key, f"contains control characters (C1 control U+{ord(c1):04X})")
        bidi = next((c for c in value if ord(c) in BIDI_CONTROLS), None)
        if bidi is not None:  # they reorder what the officer reads on the profile screen and the sheet
            raise self.fail(key, f"contains control characters (bidi control U+{ord(bidi):04X})")
        return value

    def integer(self, key: str, value: object, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be an integer, not {_toml_type(value)}")
        if not low <= value <= high:
            raise self.fail(key, f"must be between {low} and {high}, not {value}")
        return value

    def boolean(self, key: str, value: object) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {_toml_type(value)}")
        return value

    def strings(self, key: str, value: object) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list of strings, not {_toml_type(value)}")
        out = tuple(self.string(f"{key}[{i}]", v) for i, v in enumerate(value))
        if len(set(out)) != len(out):
            raise self.fail(key, "lists the same value twice")
        return out

    def urls(self, key: str, value: object) -> tuple[str, ...]:
        urls = self.strings(key, value)
        for i, url in enumerate(urls):
            if not url.isascii():
                raise self.fail(f"{key}[{i}]", "URLs must be ASCII (IA5String)")
            try:
                parts = urlsplit(url)
                scheme, host, port = parts.scheme, parts.hostname, parts.port  # .port raises on a bad port
                x509.UniformResourceIdentifier(url)
            except ValueError:
                scheme, host, port = "", None, None
            if scheme not in ("http", "https", "ldap") or not host or port == 0 or " " in url:
                raise self.fail(f"{key}[{i}]", f"{safe_text(url, 80)!r} is not an http, https or ldap URL")
        return urls

    def oids(self, key: str, value: object) -> tuple[str, ...]:
        oids = self.strings(key, value)
        for i, oid in enumerate(oids):
            if not _oid_ok(oid):
                raise self.fail(f"{key}[{i}]", f"{safe_text(oid, 80)!r} is not a dotted OID")
        return oids


def _oid_ok(text: str) -> bool:
    """A dotted OID that DER can encode (first arc 0-2; second arc under 40 unless the first is 2)."""
    if not _OID.match(text):
        return False
    try:
        x509.ObjectIdentifier(text)
    except ValueError:
        return False
    return True


def _toml_type(value: object) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a table"}.get(
        type(value), type(value).__name__
    )


def _dns_ok(name: str) -> bool:
    host = name[1:] if name.startswith(".") else name
    return bool(host) and name.isascii() and all(_DNS_LABEL.match(label) for label in host.split("."))


def _name_constraints(check: _Checker, table: object) -> NameConstraintsSpec:
    if not isinstance(table, dict):
        raise check.fail("name_constraints", f"must be a table, not {_toml_type(table)}")
    unknown = sorted(set(table) - set(NAME_CONSTRAINT_KEYS))
    if unknown:
        raise check.fail(f"name_constraints.{safe_text(unknown[0], 40)}", f"unknown key (known: {', '.join(NAME_CONSTRAINT_KEYS)})")
    values: dict[str, tuple[str, ...]] = {}
    for key in NAME_CONSTRAINT_KEYS:
        full = f"name_constraints.{key}"
        items = check.strings(full, table.get(key, []))
        for i, item in enumerate(items):
            where = f"{full}[{i}]"
            if key.endswith("_dns") and item.startswith("."):
                raise check.fail(where, f"write {safe_text(item[1:], 80)!r}: a DNS constraint already covers its subdomains")
            if key.endswith("_dns") and not _dns_ok(item):
                raise check.fail(where, f"{safe_text(item, 80)!r} is not a DNS name")
            if key.endswith("_ip"):
                try:
                    ipaddress.ip_network(item, strict=True)
                except ValueError:
                    raise check.fail(where, f"{safe_text(item, 80)!r} is not a CIDR network (e.g. 10.0.0.0/8)") from None
                if "/" not in item:
                    raise check.fail(where, f"{safe_text(item, 80)!r} needs a prefix length (e.g. 10.0.0.0/8)")
            if key.endswith("_email"):
                mailbox, _, domain = item.rpartition("@")
                ok = item.isascii() and _dns_ok(domain or item) and (mailbox != "" or "@" not in item)
                ok = ok and not (mailbox and domain.startswith("."))  # a mailbox's domain has no leading dot
                ok = ok and (not mailbox or bool(_MAILBOX.match(mailbox)))
                if ok:
                    try:
                        x509.RFC822Name(item)
                    except ValueError:
                        ok = False
                if not ok:
                    raise check.fail(where, f"{safe_text(item, 80)!r} is not a mailbox, domain or .domain")
        values[key] = items
    spec = NameConstraintsSpec(**values)
    if not any(values.values()):
        raise check.fail("name_constraints", "is empty; give at least one permitted or excluded name")
    return spec


PROFILE_KEYS = (
    "name", "description", "validity_days", "path_length", "signature_hash", "key_usage", "extended_key_usage",
    "crl_distribution_points", "ca_issuers", "ocsp", "certificate_policies", "cap_to_issuer", "strict_cabf",
    "name_constraints",
)


def parse_profile(text: str, label: str, source: str = "file") -> Profile:
    check = _Checker(label)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputRefused(f"profile {label}: not valid TOML ({safe_text(str(exc), 120)})") from None
    unknown = sorted(set(data) - set(PROFILE_KEYS))
    if unknown:
        raise check.fail(safe_text(unknown[0], 40), "unknown key")
    if "name" not in data:
        raise check.fail("name", "is missing")
    name = check.string("name", data["name"])
    if not _PROFILE_NAME.match(name):
        raise check.fail("name", "must be 1-64 letters, digits, '.', '_' or '-'")
    kwargs: dict[str, object] = {"name": name, "source": source, "path_length": None}
    kwargs["description"] = check.string("description", data.get("description", ""))
    if "validity_days" in data:
        kwargs["validity_days"] = check.integer("validity_days", data["validity_days"], 1, MAX_VALIDITY_DAYS)
    if "path_length" in data:
        kwargs["path_length"] = check.integer("path_length", data["path_length"], 0, 32)
    if "signature_hash" in data:
        value = check.string("signature_hash", data["signature_hash"])
        if value not in HASHES and value != MATCH_CURVE:
            raise check.fail("signature_hash",
                             f"unknown hash {safe_text(value, 40)!r} (use sha256, sha384, sha512 or {MATCH_CURVE})")
        kwargs["signature_hash"] = value
    if "key_usage" in data:
        usages = check.strings("key_usage", data["key_usage"])
        for i, u in enumerate(usages):
            if u not in KEY_USAGES:
                raise check.fail(f"key_usage[{i}]", f"unknown key usage {safe_text(u, 40)!r} (known: {', '.join(KEY_USAGES)})")
        kwargs["key_usage"] = usages
    if "key_cert_sign" not in kwargs.get("key_usage", Profile.key_usage):  # type: ignore[operator]
        raise check.fail("key_usage", "a CA profile must include key_cert_sign")
    if "extended_key_usage" in data:
        ekus = check.strings("extended_key_usage", data["extended_key_usage"])
        for i, e in enumerate(ekus):
            if e not in EKU_NAMES and not _oid_ok(e):
                raise check.fail(f"extended_key_usage[{i}]",
                                 f"{safe_text(e, 40)!r} is neither a known usage ({', '.join(EKU_NAMES)}) nor a dotted OID")
        kwargs["extended_key_usage"] = ekus
    for key in ("crl_distribution_points", "ca_issuers", "ocsp"):
        if key in data:
            kwargs[key] = check.urls(key, data[key])
    if "certificate_policies" in data:
        kwargs["certificate_policies"] = check.oids("certificate_policies", data["certificate_policies"])
    if "cap_to_issuer" in data:
        kwargs["cap_to_issuer"] = check.boolean("cap_to_issuer", data["cap_to_issuer"])
    if "strict_cabf" in data:
        value = check.string("strict_cabf", data["strict_cabf"]).upper().replace("_", "-")
        from byoroot_tui.core.lint import cabf_types  # a fixed list: pkilint itself is not imported here

        if value not in cabf_types():
            raise check.fail("strict_cabf", f"unknown CA type {safe_text(value, 60)!r} (known: {', '.join(cabf_types())})")
        kwargs["strict_cabf"] = value
    if "name_constraints" in data:
        kwargs["name_constraints"] = _name_constraints(check, data["name_constraints"])
    return Profile(**kwargs)  # type: ignore[arg-type]


def load_profile_file(path: str | os.PathLike[str]) -> Profile:
    p = Path(path)
    label = repr(safe_text(p.name))
    data = read_input_file(p, f"profile {p.name}", cap=MAX_PROFILE_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputRefused(f"profile {label}: not UTF-8 text") from None
    return parse_profile(text, label, source=safe_text(str(p)))


def _missing(folder: Path) -> str:
    return "is not a folder" if folder.exists() else "does not exist"


def user_profiles_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "byoroot" / "profiles"


@dataclass(frozen=True)
class ProfileListing:
    profiles: list[Profile]
    errors: list[str] = field(default_factory=list)  # files that failed to load, one line each
    clashes: dict[str, str] = field(default_factory=dict)  # name claimed twice -> the error saying so


def find_profiles(dirs: list[str | os.PathLike[str]] | None = None, include_user: bool = True) -> ProfileListing:
    """Built-ins, then `*.toml` in each of ``dirs``, then the user's config folder."""
    found: dict[str, Profile] = dict(BUILTIN_PROFILES)
    errors: list[str] = []
    clashes: dict[str, str] = {}
    folders = [Path(d) for d in dirs or []]
    if include_user:
        folders.append(user_profiles_dir())
    for folder in folders:
        if not folder.is_dir():
            if dirs and folder in [Path(d) for d in dirs]:
                errors.append(f"profiles folder {safe_text(str(folder))!r} {_missing(folder)}")
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                profile = load_profile_file(path)
            except ByorootError as exc:
                errors.append(str(exc))
                continue
            if profile.name in found:
                errors.append(f"profile {safe_text(path.name)!r}: name {profile.name!r} is already taken by {found[profile.name].source}")
                clashes.setdefault(profile.name, errors[-1])
                continue
            found[profile.name] = profile
    return ProfileListing(list(found.values()), errors, clashes)


def list_profiles(dirs: list[str | os.PathLike[str]] | None = None) -> list[Profile]:
    return find_profiles(dirs).profiles


def get_profile(name: str, dirs: list[str | os.PathLike[str]] | None = None) -> Profile:
    """A profile by name (built-in or from the profile folders) or by a path ending in .toml."""
    if name.endswith(".toml"):
        return load_profile_file(name)
    if name in BUILTIN_PROFILES:
        return BUILTIN_PROFILES[name]
    for d in dirs or []:
        if not Path(d).is_dir():
            raise ByorootError(f"profiles folder {safe_text(str(d))!r} {_missing(Path(d))}")
    listing = find_profiles(dirs)
    if name in listing.clashes:  # two files claim this name: refuse rather than guess
        raise ByorootError(f"{listing.clashes[name]}; rename one of them")
    for profile in listing.profiles:
        if profile.name == name:
            return profile
    known = ", ".join(p.name for p in listing.profiles)
    raise ByorootError(f"no profile named {safe_text(name, 60)!r} (known: {known})")
