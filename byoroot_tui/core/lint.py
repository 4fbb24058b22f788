"""Lint certificates with pkilint before the root key is touched, and again after signing.

RFC 5280 certificate validators plus pkilint's issuer/subject chain checks; optionally the
CA/Browser Forum TLS BR validators for a given CA type. Any finding at WARNING or above refuses.
pkilint is imported lazily: only signing pays for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from byoroot_tui.core.errors import ByorootError, PolicyRefused
from byoroot_tui.core.text import safe_text

SEVERITIES = ("FATAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG")
BLOCKING = {"FATAL", "ERROR", "WARNING"}


@dataclass(frozen=True)
class LintFinding:
    severity: str  # FATAL ERROR WARNING NOTICE INFO DEBUG
    code: str
    message: str
    where: str  # the document path pkilint reports

    @property
    def blocking(self) -> bool:
        return self.severity in BLOCKING

    def line(self) -> str:
        text = f"{self.severity} {self.code}"
        if self.message:
            text += f": {self.message}"
        return safe_text(text, 300)

    def as_dict(self) -> dict[str, str]:
        return {"severity": self.severity, "code": self.code, "message": self.message, "where": self.where}


@dataclass(frozen=True)
class LintReport:
    findings: tuple[LintFinding, ...]
    checks: tuple[str, ...]  # which linters ran

    @property
    def blocking(self) -> list[LintFinding]:
        return [f for f in self.findings if f.blocking]

    @property
    def clean(self) -> bool:
        return not self.blocking

    def summary(self) -> str:
        if self.clean:
            return f"clean ({', '.join(self.checks)}; nothing at WARNING or above)"
        return "; ".join(f.line() for f in self.blocking)

    def as_dict(self) -> dict[str, object]:
        return {"clean": self.clean, "checks": list(self.checks), "findings": [f.as_dict() for f in self.findings]}

    @classmethod
    def from_dict(cls, data: Any) -> LintReport:
        """The report `as_dict` gave (``clean`` is derived again). KeyError or TypeError when
        ``data`` is not one."""
        return cls(
            tuple(LintFinding(severity=str(f["severity"]), code=str(f["code"]), message=str(f["message"]),
                              where=str(f["where"])) for f in data["findings"]),
            tuple(str(c) for c in data["checks"]),
        )


# The CA types pkilint's CA/B Forum server-auth linter knows, as option strings. Written out so
# that checking a profile's `strict_cabf` does not import pkilint's CA/B and ETSI modules (their
# language tables take 0.5-1 s to load, which froze the app's profile step); a test compares this
# list with pkilint's own `CertificateType`, so a pkilint upgrade that changes it fails there.
CABF_CA_TYPES = (
    "ROOT-CA", "INTERNAL-CROSS-CA", "EXTERNAL-CROSS-CA", "INTERNAL-SUBSCRIBER-ISSUING-CROSS-CA",
    "EXTERNAL-SUBSCRIBER-ISSUING-CROSS-CA", "NON-TLS-CA", "PRECERT-SIGNING-CA",
    "INTERNAL-UNCONSTRAINED-TLS-CA", "INTERNAL-CONSTRAINED-TLS-CA", "EXTERNAL-UNCONSTRAINED-TLS-CA",
    "EXTERNAL-UNCONSTRAINED-EV-TLS-CA", "EXTERNAL-CONSTRAINED-TLS-CA", "EXTERNAL-CONSTRAINED-EV-TLS-CA",
)


def cabf_types() -> list[str]:
    """The CA types pkilint's CA/B Forum server-auth linter knows, as option strings (no import)."""
    return list(CABF_CA_TYPES)


def _cabf_type(name: str) -> Any:
    from pkilint.cabf.serverauth import serverauth_constants

    try:
        value = serverauth_constants.CertificateType.from_option_str(name)
    except KeyError:
        raise ByorootError(f"unknown CA/B Forum CA type {safe_text(name, 60)!r} (known: {', '.join(cabf_types())})") from None
    if not value.name.endswith("_CA"):
        raise ByorootError(f"{value.to_option_str} is not a CA type; strict mode lints CA certificates")
    return value


def check_cabf_type(name: str) -> None:
    """Raise `ByorootError` unless ``name`` is a CA type pkilint's CA/B linter knows."""
    _cabf_type(name)


@lru_cache(maxsize=1)
def _pkix_validator() -> Any:
    from pkilint.pkix import certificate, extension, name

    return certificate.create_pkix_certificate_validator_container(
        certificate.create_decoding_validators(name.ATTRIBUTE_TYPE_MAPPINGS, extension.EXTENSION_MAPPINGS),
        [
            certificate.create_issuer_validator_container([]),
            certificate.create_validity_validator_container(),
            certificate.create_subject_validator_container([]),
            certificate.create_extensions_validator_container([]),
            certificate.create_spki_validator_container([]),
        ],
    )


@lru_cache(maxsize=2)
def _chain_validators(check_signature: bool) -> tuple[Any, ...]:
    """pkilint's issuer/subject chain checks (as in lint_pkix_signer_signee_cert_chain)."""
    from pyasn1_alt_modules import rfc5280

    from pkilint import document, pkix, validation
    from pkilint.pkix import algorithm, certificate, extension, key, name
    from pkilint.pkix.certificate import certificate_extension, certificate_key

    decoders = validation.ValidatorContainer(
        validators=[
            pkix.create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS),
            pkix.create_extension_decoder(extension.EXTENSION_MAPPINGS),
            pkix.create_signature_algorithm_identifier_decoder(
                algorithm.SIGNATURE_ALGORITHM_IDENTIFIER_MAPPINGS, path="certificate.tbsCertificate.signature"
            ),
            certificate.create_spki_decoder(
                key.SUBJECT_PUBLIC_KEY_ALGORITHM_IDENTIFIER_MAPPINGS,
                key.SUBJECT_KEY_PARAMETER_ALGORITHM_IDENTIFIER_MAPPINGS,
            ),
        ],
        path="certificate",
    )
    issuer_checks = validation.ValidatorContainer(
        validators=[
            name.IssuerSubjectNameBinaryEqualValidator(
                path="certificate.tbsCertificate.subject",
                subject_document_issuer_dn_path="subject:certificate.tbsCertificate.issuer",
            ),
            extension.IssuerSubjectKeyIdentifierBinaryEqualValidator(
                subject_auth_key_id_retriever=(
                    lambda n: document.get_document_by_name(n, "subject").get_extension_by_oid(
                        rfc5280.id_ce_authorityKeyIdentifier
                    )
                )
            ),
            certificate_extension.IssuerSubjectPolicyChainValidator(),
        ]
    )
    subject_checks = []
    if check_signature:
        subject_checks.append(
            validation.ValidatorContainer(
                validators=[
                    certificate_key.SubjectSignatureVerificationValidator(
                        tbs_node_retriever=lambda n: n.navigate("^.tbsCertificate"), path="certificate.signature"
                    )
                ]
            )
        )
    return decoders, issuer_checks, *subject_checks


def _collect(results: Any) -> list[LintFinding]:
    out = []
    for result in results:
        for fd in result.finding_descriptions:
            out.append(
                LintFinding(
                    severity=fd.finding.severity.name,
                    code=fd.finding.code,
                    message=fd.message or "",
                    where=str(getattr(result.node, "path", "")),
                )
            )
    return out


def lint(cert_der: bytes, issuer_der: bytes, *, check_signature: bool, cabf_type: str | None = None) -> LintReport:
    """Lint ``cert_der`` (RFC 5280) and its chain to ``issuer_der``; with ``cabf_type`` also the TLS BRs.

    ``check_signature=False`` is for the pre-sign lint certificate, whose signature is made by a
    throwaway key and so cannot verify against the root. Inside `lintproc.helper()` the helper
    process lints (the same code, with pkilint loaded on another core); if it cannot answer,
    this process does.
    """
    answer = _ask_helper(cert_der, issuer_der, check_signature, cabf_type)
    if answer is not None:
        return answer
    try:
        from pkilint import loader

        ld = loader.RFC5280CertificateDocumentLoader()
        doc = ld.load_der_document(cert_der, "certificate")
        findings = _collect(_pkix_validator().validate(doc.root))
        checks = ["RFC 5280"]

        collection: dict[str, Any] = {}
        issuer = ld.load_der_document(issuer_der, "issuer", "issuer", collection)
        collection["issuer"] = issuer
        subject = ld.load_der_document(cert_der, "subject", "subject", collection)
        collection["subject"] = subject
        decoders, issuer_checks, *subject_checks = _chain_validators(check_signature)
        decoders.validate(issuer.root)
        decoders.validate(subject.root)
        findings += _collect(issuer_checks.validate(issuer.root))
        for container in subject_checks:
            findings += _collect(container.validate(subject.root))
        checks.append("issuer/subject chain" + ("" if check_signature else " (signature checked after signing)"))

        if cabf_type:
            from pkilint import finding_filter
            from pkilint.cabf import serverauth
            from pkilint.pkix import certificate

            ca_type = _cabf_type(cabf_type)
            validator = certificate.create_pkix_certificate_validator_container(
                serverauth.create_decoding_validators(), serverauth.create_validators(ca_type)
            )
            results = validator.validate(ld.load_der_document(cert_der, "certificate").root)
            results, _ = finding_filter.filter_results(serverauth.create_serverauth_finding_filters(ca_type), results)
            findings += _collect(results)
            checks.append(f"CA/B Forum TLS BRs as {ca_type.to_option_str}")
    except ByorootError:
        raise
    except Exception as exc:
        raise PolicyRefused(f"refused: the linter could not process the certificate ({type(exc).__name__})") from None
    return LintReport(tuple(findings), tuple(checks))


def warm_up() -> None:
    """Load pkilint and build the validators `lint` uses (a helper process does this first)."""
    from pkilint import loader  # noqa: F401

    _pkix_validator()
    _chain_validators(False)
    _chain_validators(True)


def _ask_helper(cert_der: bytes, issuer_der: bytes, check_signature: bool, cabf_type: str | None) -> LintReport | None:
    """The helper process's report (or its refusal, raised), or None when there is no answer."""
    import base64

    from byoroot_tui.core import lintproc

    helper = lintproc.current()
    if helper is None:
        return None
    reply = helper.ask({
        "cert": base64.b64encode(cert_der).decode(), "issuer": base64.b64encode(issuer_der).decode(),
        "check_signature": check_signature, "cabf_type": cabf_type,
    })
    return _helper_report(helper, reply)


# ----------------------------------------------------------------------------- CRLs

CRL_CHECKS = ("RFC 5280 CRL (pkilint lint_crl -t CRL -p PKIX)", "CA/B Forum BRs ARL (pkilint lint_crl -t ARL -p BR)")


@lru_cache(maxsize=2)
def _crl_validator(br_arl: bool) -> Any:
    """The validators of pkilint's `lint_crl`: ``-t CRL -p PKIX``, or ``-t ARL -p BR`` (the BR
    reason-code allowlist and the 365-day validity of an ARL added)."""
    from pkilint import pkix
    from pkilint.cabf import cabf_crl
    from pkilint.pkix import crl, extension, name

    validity_extra: list[Any] = []
    doc_extra: list[Any] = []
    if br_arl:
        kind = crl.CertificateRevocationListType.ARL
        doc_extra.append(cabf_crl.CabfCrlReasonCodeAllowlistValidator(kind))
        validity_extra.append(cabf_crl.create_validity_period_validator(kind))
    return crl.create_pkix_crl_validator_container(
        [pkix.create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS),
         pkix.create_extension_decoder(extension.EXTENSION_MAPPINGS)],
        [crl.create_issuer_validator_container([]),
         crl.create_validity_validator_container(validity_extra),
         crl.create_extensions_validator_container([])] + doc_extra,
    )


def lint_crl(crl_der: bytes) -> LintReport:
    """Lint a CRL the root issues about its subordinate CAs (an ARL) as pkilint's `lint_crl` does,
    twice: RFC 5280 (``-t CRL -p PKIX``) and the CA/B Forum BRs for an ARL (``-t ARL -p BR``).
    Any finding at WARNING or above makes the report not clean. The signature is not checked
    here (the caller verifies it with the root's key). Inside `lintproc.helper()` the helper
    process lints, as for certificates."""
    answer = _ask_helper_crl(crl_der)
    if answer is not None:
        return answer
    try:
        from pkilint import loader

        findings: list[LintFinding] = []
        for br_arl in (False, True):
            doc = loader.RFC5280CertificateListDocumentLoader().load_der_document(crl_der, "crl")
            findings += _collect(_crl_validator(br_arl).validate(doc.root))
    except ByorootError:
        raise
    except Exception as exc:
        raise PolicyRefused(f"refused: the linter could not process the CRL ({type(exc).__name__})") from None
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for f in findings:  # the two passes share the RFC 5280 validators: a finding of both is one finding
        key = (f.severity, f.code, f.where)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return LintReport(tuple(unique), CRL_CHECKS)


def _ask_helper_crl(crl_der: bytes) -> LintReport | None:
    import base64

    from byoroot_tui.core import lintproc

    helper = lintproc.current()
    if helper is None:
        return None
    reply = helper.ask({"crl": base64.b64encode(crl_der).decode()})
    return _helper_report(helper, reply)


def _helper_report(helper: Any, reply: Any) -> LintReport | None:
    """The lint helper's reply as a report; a refusal or an error it sends is raised here. None
    (lint in this process instead) when there was no reply or one not understood."""
    try:
        if reply is None:
            return None
        if set(reply) == {"refused"}:
            raise PolicyRefused(str(reply["refused"]))
        if set(reply) == {"error"}:
            raise ByorootError(str(reply["error"]))
        return LintReport.from_dict(reply["report"])
    except (KeyError, TypeError, AttributeError):
        helper.broken = True  # not a reply we understand: lint here
        return None
