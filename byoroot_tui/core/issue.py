"""The issuing pipeline: plan → TBS → sign with the root signer → assemble → verify.

The certificate is built from the profile, never from the CSR's wishes: subject and public
key come from the CSR; CA-ness, path length, key usage, validity come from the profile.
The TBS is produced once, by signing with a throwaway key of the root's algorithm; the root
signer (file or HSM) then signs exactly those bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from byoroot_tui.core import der
from byoroot_tui.core.csr import CsrInfo
from byoroot_tui.core.errors import ByorootError, PolicyRefused
from byoroot_tui.core.extensions import ExtensionInfo, describe_extensions, oid_name, render_value
from byoroot_tui.core.findings import Finding, refusals
from byoroot_tui.core.keys import spki_der
from byoroot_tui.core.lint import LintReport
from byoroot_tui.core.lint import lint as run_lint
from byoroot_tui.core.names import same_dn, shown
from byoroot_tui.core.profiles import (
    CURVE_HASHES,
    CURVE_MATCHED_PROFILE,
    CURVE_NAMES,
    MATCH_CURVE,
    Profile,
    hash_label,
)
from byoroot_tui.core.root import RootCA, iso, utcnow
from byoroot_tui.core.signer import RootSigner, sign_as_root
from byoroot_tui.core.text import safe_text
from byoroot_tui.core.validity import validity_window


@dataclass(frozen=True)
class Plan:
    """Exactly what will be issued, before the root key is touched."""

    csr: CsrInfo
    profile: Profile
    root: RootCA
    serial: int
    not_before: datetime
    not_after: datetime
    hash_algorithm: hashes.HashAlgorithm | None
    signature_algorithm: str  # display name, e.g. sha512WithRSAEncryption
    extensions: list[ExtensionInfo]
    tbs: bytes
    signature_algorithm_der: bytes
    subject_text: str
    issuer_text: str
    findings: list[Finding] = field(default_factory=list)
    lint: LintReport | None = None  # pkilint on the lint certificate (same TBS), before the key is touched
    lint_certificate: bytes = b""  # DER of the throwaway-signed certificate that was linted

    @property
    def warnings(self) -> list[str]:
        return [f.message for f in self.findings if f.severity == "warn"]

    @property
    def serial_hex(self) -> str:
        return serial_hex(self.serial)

    def as_dict(self) -> dict[str, object]:
        return {
            "subject": self.subject_text,
            "issuer": self.issuer_text,
            "serial": self.serial_hex,
            "not_before": iso(self.not_before),
            "not_after": iso(self.not_after),
            "signature_algorithm": self.signature_algorithm,
            "extensions": [e.as_dict() for e in self.extensions],
            "profile": self.profile.name,
            "csr_sha256": self.csr.sha256,
            "root_sha256": self.root.sha256,
            "warnings": self.warnings,
            "lint": self.lint.as_dict() if self.lint else None,
        }


@dataclass(frozen=True)
class Issued:
    plan: Plan
    certificate: x509.Certificate
    der: bytes
    pem: bytes
    sha256: str  # lowercase hex of the DER
    lint: LintReport | None = None  # pkilint on the final certificate, signature included

    def as_dict(self) -> dict[str, object]:
        out = self.plan.as_dict()
        out["sha256"] = self.sha256
        out["post_sign_lint"] = self.lint.as_dict() if self.lint else None
        return out


def serial_hex(serial: int) -> str:
    text = f"{serial:x}"
    return text if len(text) % 2 == 0 else "0" + text


@dataclass(frozen=True)
class ExtensionRow:
    """An extension the CSR requests, and what the profile does with it."""

    name: str  # safe
    oid: str
    critical: bool
    requested: str  # safe (cut at 400 characters)
    action: str  # "kept" | "narrowed" | "overridden" | "ignored"
    issued: str | None  # safe text of what is issued instead (overridden), else None
    requested_raw: str = field(repr=False, default="")  # the rendered value before escaping


def extension_rows(csr: CsrInfo, profile: Profile, root_key_id: bytes | None = None) -> list[ExtensionRow]:
    """Each extension the CSR requests, with what the certificate will carry for it: the one rule
    behind `inspect`'s request findings and the app's extension table.

    kept: the profile issues exactly the requested value; narrowed: it issues the requested value
    with a limit added (basicConstraints CA:TRUE gets the profile's path length: what a hosted CA
    such as Smallstep asks for, not a problem); overridden: the profile issues another value;
    ignored: the certificate will not carry it at all. The app's extension table and `inspect`'s
    findings both use these words (`request.<action>`). Without ``root_key_id`` (no root
    chosen yet) the authorityKeyIdentifier is "set from the root's key".
    """
    planned: dict[x509.ObjectIdentifier, str | None] = {
        ext.oid: render_value(ext) for ext, _critical in profile.extensions(csr.public_key, root_key_id or b"")
    }
    if root_key_id is None:
        planned[x509.AuthorityKeyIdentifier.oid] = None  # known once the root is chosen
    rows = []
    for ext in csr.csr.extensions:
        requested = render_value(ext.value)
        issued: str | None = None
        if profile.treatment(ext.oid) == "overridden":
            want = planned.get(ext.oid)
            if want is not None and want == requested:
                action = "kept"
            elif want is not None and _narrows(ext.oid, requested, want):
                action = "narrowed"
                issued = safe_text(want, 200)
            else:
                action = "overridden"
                issued = safe_text(want, 200) if want is not None else "set from the root's key"
        else:
            action = "ignored"
        rows.append(ExtensionRow(name=safe_text(oid_name(ext.oid)), oid=ext.oid.dotted_string, critical=ext.critical,
                                 requested=safe_text(requested, 400), action=action, issued=issued,
                                 requested_raw=requested))
    return rows


_KEY_IDS = {x509.SubjectKeyIdentifier.oid.dotted_string, x509.AuthorityKeyIdentifier.oid.dotted_string}


def _narrows(oid: x509.ObjectIdentifier, requested: str, issued: str) -> bool:
    """basicConstraints CA:TRUE issued as CA:TRUE with a path length: the same CA, limited."""
    return oid == x509.BasicConstraints.oid and requested == "CA:TRUE" and issued.startswith("CA:TRUE, pathlen:")


def review_request(csr: CsrInfo, profile: Profile) -> list[Finding]:
    """What the profile does with each extension the CSR requests, as findings.

    Key identifiers are always the profile's (computed from the keys), so a different requested
    value is only noted; any other requested value the profile replaces is a warning."""
    findings: list[Finding] = []
    for row in extension_rows(csr, profile):
        if row.action == "ignored":
            findings.append(Finding("warn", "request.ignored",
                                    f"the CSR requests {row.name}; it is ignored (the profile decides extensions)"))
        elif row.action == "kept":
            findings.append(Finding("info", "request.kept", f"requested {row.name} is kept: the profile issues the same value"))
        elif row.action == "narrowed":
            findings.append(Finding("info", "request.narrowed", f"requested {row.name} {safe_text(row.requested_raw, 200)} "
                                    f"is narrowed: the profile issues {row.issued}"))
        elif row.oid in _KEY_IDS:
            findings.append(Finding("info", "request.overridden", f"requested {row.name} is overridden: the profile "
                                    "computes it from the keys"))
        else:
            findings.append(Finding("warn", "request.overridden", f"the CSR requests {row.name} "
                                    f"{safe_text(row.requested_raw, 200)}; the profile issues {row.issued}"))
    return findings


_throwaway: dict[str, object] = {}


def _throwaway_key(root_public_key: object) -> object:
    """A key of the root's algorithm, used only to produce the TBS (and a lint certificate)."""
    if isinstance(root_public_key, rsa.RSAPublicKey):
        kind = "rsa"
    elif isinstance(root_public_key, ec.EllipticCurvePublicKey):
        kind = "ec"
    elif isinstance(root_public_key, ed25519.Ed25519PublicKey):
        kind = "ed25519"
    else:
        raise PolicyRefused("the root key type is not supported")
    if kind not in _throwaway:
        if kind == "rsa":
            # The TBS holds only the algorithm OID (e.g. sha512WithRSAEncryption), not the key
            # size, and this key's signature never leaves the process: 1024 bits is enough and
            # generates in ~10 ms instead of ~30-80 ms for 2048.
            _throwaway[kind] = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        elif kind == "ec":
            _throwaway[kind] = ec.generate_private_key(ec.SECP256R1())
        else:
            _throwaway[kind] = ed25519.Ed25519PrivateKey.generate()
    return _throwaway[kind]


_BR_CURVE_HASH = CURVE_HASHES


def _cabf_signature_problem(root_key: object, hash_algorithm: hashes.HashAlgorithm | None) -> str | None:
    """BR 7.1.3.2: the signature algorithm must suit the issuing key (pkilint sees only the certificate)."""
    if isinstance(root_key, ec.EllipticCurvePublicKey):
        want = _BR_CURVE_HASH.get(root_key.curve.name)
        have = hash_algorithm.name if hash_algorithm else None
        if want and have != want:
            curve = {"sha256": "P-256", "sha384": "P-384", "sha512": "P-521"}[want]
            return f"a {curve} root must sign with {want.upper().replace('SHA', 'SHA-')} (BR 7.1.3.2.2), not {str(have).upper()}"
    elif isinstance(root_key, ed25519.Ed25519PublicKey):
        return "the BRs do not allow Ed25519 signatures (BR 7.1.3.2)"
    return None


def hash_curve_finding(profile: Profile, root: RootCA) -> Finding | None:
    """A warning when the profile's hash does not suit the root's curve (P-256: SHA-256, P-384:
    SHA-384, P-521: SHA-512), naming the profile that does. Mozilla's root store policy (5.1.2), the
    CA/B Forum BRs (7.1.3.2.2) and zlint (e_mp_ecdsa_signature_encoding_correct) reject any other
    pairing; RFC 5280 and pkilint do not, so signing goes ahead."""
    key = root.public_key
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in CURVE_HASHES:
        return None
    want, have = CURVE_HASHES[key.curve.name], profile.hash_name_for(key)
    if have == want:
        return None
    curve = CURVE_NAMES[key.curve.name]
    who = "the CA/B Forum BRs" if curve == "P-521" else "Mozilla's root store policy, the BRs and zlint"
    fix = f"use profile {CURVE_MATCHED_PROFILE.name}"
    if profile.source != "built-in":
        fix += f' or signature_hash = "{MATCH_CURVE}" in its file'
    return Finding("warn", "root.hash_curve",
                   f"profile {profile.name} signs with {hash_label(str(have))} for this {curve} root; "
                   f"{who} expect {hash_label(want)} with {curve}: {fix}")


def root_findings(profile: Profile, root: RootCA) -> list[Finding]:
    """What the officer should know about this root with this profile: the root's own warnings
    (e.g. a serial number that is not positive) and whether the profile's hash suits its curve."""
    hash_finding = hash_curve_finding(profile, root)
    return list(root.warnings) + ([hash_finding] if hash_finding else [])


def against_root(csr: CsrInfo, root: RootCA) -> list[Finding]:
    """What forbids issuing this CSR under this root whatever the profile, as `refuse` findings:
    the root's own key, or the root's own name. Names are compared as RFC 5280 §7.1 does (RFC 4518:
    case, blanks, Unicode form and string type ignored), as OpenSSL's subject hash does: a subject
    that differs from the root's only so would make the intermediate look self-issued."""
    findings: list[Finding] = []
    if spki_der(csr.public_key) == root.spki:  # normalised: a compressed EC point is the same key
        findings.append(Finding("refuse", "root.same_key", "the CSR carries the root's own public key"))
    if csr.subject == root.cert.subject:
        findings.append(Finding("refuse", "root.same_subject",
                                "the CSR's subject is the root's own subject; an intermediate needs a distinct name"))
    elif same_dn(csr.subject, root.cert.subject):
        findings.append(Finding("refuse", "root.same_subject",
                                f"the CSR's subject {shown(csr.subject_text, 120)} is the root's own subject {shown(root.subject_text, 120)} "
                                "as RFC 5280 compares names (case, spacing and string type do not count); "
                                "an intermediate needs a distinct name"))
    return findings


def make_plan(
    csr: CsrInfo,
    profile: Profile,
    root: RootCA,
    now: datetime | None = None,
    serial: int | None = None,
    *,
    lint: bool = True,
    strict_cabf: str | None = None,
) -> Plan:
    """Decide the certificate and lint it. Raises `PolicyRefused` with the first reason it cannot be issued.

    ``lint=False`` skips pkilint (only for callers that show a draft; `sign_plan` refuses a
    plan that was not linted). ``strict_cabf`` (or the profile's ``strict_cabf``) adds the
    CA/B Forum TLS BR validators for that CA type.
    """
    blocking = refusals(csr.findings) or refusals(against_root(csr, root))
    if blocking:
        raise PolicyRefused(f"refused: {blocking[0].message}")

    now = now or utcnow()
    findings = [f for f in csr.findings if f.severity != "refuse"]
    findings += review_request(csr, profile)
    findings += root.warnings  # the root's own (a serial that is not positive): `sign` prints them

    window = validity_window(profile, now, root)
    if window.refusal:
        raise PolicyRefused(f"refused: {window.refusal}")
    if window.capped:
        findings.append(
            Finding("warn", "validity.capped",
                    f"validity capped to the root's notAfter {iso(root.not_after)} "
                    f"(the profile asks for {profile.validity_days} days, to {iso(window.requested_not_after)})")
        )
    not_before, not_after = window.not_before, window.not_after
    if root.path_length is not None and (profile.path_length is None or profile.path_length >= root.path_length):
        findings.append(
            Finding("warn", "path_length.exceeds_root",
                    f"the root's pathLenConstraint is {root.path_length}: CAs below this intermediate "
                    "cannot use more than the root allows")
        )

    serial = serial if serial is not None else x509.random_serial_number()
    hash_algorithm = profile.hash_for(root.public_key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(root.cert.subject)
        .public_key(csr.public_key)  # type: ignore[arg-type]
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for extension, critical in profile.extensions(csr.public_key, root.key_identifier):
        builder = builder.add_extension(extension, critical=critical)
    try:
        lint_cert = builder.sign(_throwaway_key(root.public_key), hash_algorithm)  # type: ignore[arg-type]
    except ValueError as exc:
        raise PolicyRefused(f"refused: the certificate cannot be built ({safe_text(str(exc), 120)})") from None
    lint_der = lint_cert.public_bytes(serialization.Encoding.DER)
    parts = der.split_certificate(lint_der)
    if parts.issuer != root.raw_subject:
        raise PolicyRefused("refused: the root's subject cannot be reproduced byte for byte as the issuer")
    if parts.subject != csr.raw_subject:
        raise PolicyRefused("refused: the CSR's subject cannot be reproduced byte for byte (non-DER encoding?)")
    if parts.spki != csr.spki:
        raise PolicyRefused("refused: the CSR's public key cannot be reproduced byte for byte")

    report = None
    cabf = strict_cabf or profile.strict_cabf
    if cabf:
        from byoroot_tui.core.lint import check_cabf_type

        check_cabf_type(cabf)
    problems = []
    if lint:
        report = run_lint(lint_der, root.der, check_signature=False, cabf_type=cabf)
        if not report.clean:
            problems.append(f"refused by the linter before signing: {report.summary()}")
    if cabf:
        problem = _cabf_signature_problem(root.public_key, hash_algorithm)
        if problem:
            problems.append(f"refused before signing (strict CA/B Forum mode): {problem}")
    if problems:
        raise PolicyRefused("; ".join(problems))

    return Plan(
        csr=csr,
        profile=profile,
        root=root,
        serial=serial,
        not_before=not_before,
        not_after=not_after,
        hash_algorithm=hash_algorithm,
        signature_algorithm=oid_name(lint_cert.signature_algorithm_oid),
        extensions=describe_extensions(lint_cert.extensions),
        tbs=parts.tbs,
        signature_algorithm_der=parts.signature_algorithm,
        subject_text=csr.subject_text,
        issuer_text=root.subject_text,
        findings=findings,
        lint=report,
        lint_certificate=lint_der,
    )


@dataclass(frozen=True)
class SignedCertificate:
    """The certificate as the root key signed it and as it verified, before the lint after signing."""

    plan: Plan
    certificate: x509.Certificate
    der: bytes

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.der).hexdigest()


def sign_tbs(plan: Plan, signer: RootSigner) -> SignedCertificate:
    """Sign the planned TBS with the root signer, assemble, and check the result against the root.

    The key is needed only for this; the caller closes it before `lint_signed`."""
    if plan.lint is None or not plan.lint.clean:
        raise PolicyRefused("refused: this plan was not linted clean; nothing was signed")
    if der.split_certificate(plan.lint_certificate).tbs != plan.tbs:
        raise PolicyRefused("refused: the TBS to sign is not the one that was linted; nothing was signed")
    signature = sign_as_root(signer, plan.root, plan.tbs, plan.hash_algorithm)
    cert_der = der.assemble_certificate(plan.tbs, plan.signature_algorithm_der, signature)
    cert = verify_issued(cert_der, plan)
    return SignedCertificate(plan, cert, cert_der)


def lint_signed(signed: SignedCertificate) -> Issued:
    """The lint after signing (the signature included), on a certificate whose key is closed."""
    plan = signed.plan
    assert plan.lint is not None
    cabf = next((c.split(" as ", 1)[1] for c in plan.lint.checks if c.startswith("CA/B Forum")), None)
    report = run_lint(signed.der, plan.root.der, check_signature=True, cabf_type=cabf)
    if not report.clean:
        raise ByorootError(f"the signed certificate failed the linter; it was not exported: {report.summary()}")
    return Issued(
        plan=plan,
        certificate=signed.certificate,
        der=signed.der,
        pem=signed.pem,
        sha256=signed.sha256,
        lint=report,
    )


def sign_plan(plan: Plan, signer: RootSigner) -> Issued:
    """`sign_tbs` then `lint_signed` (for callers that keep no station log: tests and benches)."""
    return lint_signed(sign_tbs(plan, signer))


def verify_issued(cert_der: bytes, plan: Plan) -> x509.Certificate:
    """Post-signing checks, before anything is written. Raises `ByorootError` on any failure."""
    try:
        cert = x509.load_der_x509_certificate(cert_der)
    except Exception:
        raise ByorootError("the signed certificate does not parse") from None
    try:
        cert.verify_directly_issued_by(plan.root.cert)
    except Exception:
        raise ByorootError("the new certificate's signature does not verify with the root certificate") from None
    parts = der.split_certificate(cert_der)
    if parts.tbs != plan.tbs:
        raise ByorootError("the signed TBS differs from the planned one")
    if parts.issuer != plan.root.raw_subject:
        raise ByorootError("the issuer is not the root's subject byte for byte")
    if parts.subject != plan.csr.raw_subject:
        raise ByorootError("the subject is not the CSR's")
    if parts.spki != plan.csr.spki:
        raise ByorootError("the public key is not the CSR's")
    return cert


@dataclass(frozen=True)
class Assessment:
    """What `inspect` and the preview show: every finding, and the lint of what would be issued."""

    findings: list[Finding]
    plan: Plan | None  # None when issuing would be refused
    stand_in_root: bool  # True when no root was given and a throwaway stand-in issuer was used

    @property
    def refused(self) -> bool:
        return bool(refusals(self.findings))


def assess(csr: CsrInfo, profile: Profile, root: RootCA | None = None, *, strict_cabf: str | None = None) -> Assessment:
    """Plan (and lint) the certificate without touching any root key; never raises for policy."""
    findings = list(csr.findings)
    about_root = root_findings(profile, root) if root is not None else []
    if csr.refused:
        return Assessment(findings + about_root, None, root is None)
    stand_in = root is None
    if root is not None:
        blocking = refusals(against_root(csr, root))
        if blocking:
            return Assessment(findings + review_request(csr, profile) + blocking + about_root, None, False)
    if root is None:
        from byoroot_tui.core.demo import make_root
        from byoroot_tui.core.root import parse_root

        # The stand-in's curve suits the profile's hash, as a BR-conformant root would.
        curve = {"sha256": ec.SECP256R1(), "sha384": ec.SECP384R1()}.get(profile.signature_hash, ec.SECP521R1())
        _key, cert = make_root("Stand-in issuer for linting", years=101, curve=curve)
        root = parse_root(cert.public_bytes(serialization.Encoding.PEM), "stand-in")
    try:
        plan = make_plan(csr, profile, root, strict_cabf=strict_cabf)
    except PolicyRefused as exc:
        findings += [f for f in review_request(csr, profile)]
        findings.append(Finding("refuse", "plan.refused", str(exc).removeprefix("refused: ")))
        return Assessment(findings + about_root, None, stand_in)
    findings = list(plan.findings)  # the root's own warnings are among them
    findings += [f for f in about_root if f not in plan.findings]
    if plan.lint is not None:
        where = " (against a stand-in issuer)" if stand_in else ""
        findings.append(Finding("info", "lint.clean", f"pkilint{where}: {plan.lint.summary()}"))
        findings += [
            Finding("info", "lint.note", f"pkilint: {f.line()}") for f in plan.lint.findings if f.severity == "NOTICE"
        ]
    return Assessment(findings, plan, stand_in)
