"""Findings: what `inspect` shows and `sign` acts on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["refuse", "warn", "info"]


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str  # stable identifier, e.g. "csr.signature_invalid"
    message: str  # one safe line for the officer

    def as_dict(self) -> dict[str, str]:
        return {"severity": self.severity, "code": self.code, "message": self.message}


def refusals(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "refuse"]


def warnings(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "warn"]
