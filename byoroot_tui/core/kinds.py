"""Ceremony kinds as data: what each kind of ceremony is called and which steps it takes.

A kind is a name, a title for the first screen, one line on what it is for, and its steps in
order. Steps are named; the app maps each name to one screen (byoroot_tui.ui.steps), so a step
two kinds share (the root and its key, the two-officer review, sign & export) is one
implementation. Adding a kind means adding a `Kind` here and a screen for each step only it has.
This module imports nothing heavy and never imports Textual.
"""

from __future__ import annotations

from dataclasses import dataclass

STEP_TITLES = {
    "media": "Media",
    "preview": "CSR",
    "profile": "Profile",
    "root": "Root",
    "review": "Review",
    "sign": "Sign & export",
    "crl": "CRL entries",
}


@dataclass(frozen=True)
class Kind:
    name: str
    title: str  # what the first screen offers, e.g. "Sign an intermediate CA's CSR"
    summary: str  # one line under the title
    steps: tuple[str, ...]  # in order; each a key of STEP_TITLES

    def __post_init__(self) -> None:
        unknown = [s for s in self.steps if s not in STEP_TITLES]
        if unknown or not self.steps or len(set(self.steps)) != len(self.steps):
            raise ValueError(f"kind {self.name!r}: steps {self.steps!r}")

    def next_step(self, step: str) -> str | None:
        i = self.steps.index(step)
        return self.steps[i + 1] if i + 1 < len(self.steps) else None

    def previous_step(self, step: str) -> str | None:
        i = self.steps.index(step)
        return self.steps[i - 1] if i > 0 else None


INTERMEDIATE = Kind(
    name="intermediate",
    title="Sign an intermediate CA's CSR",
    summary="A hosted CA's CSR from a USB stick: check it, pick a profile, sign it with the root key, "
            "export intermediate.crt and its fingerprint.",
    steps=("media", "preview", "profile", "root", "review", "sign"),
)

ROOT_CRL = Kind(
    name="crl",
    title="Issue the root CRL",
    summary="The root's certificate revocation list: what the root issued and revoked (revoke one here, "
            "with both officers), signed with the root key; export root.crl and its fingerprint.",
    steps=("root", "crl", "review", "sign"),
)

KINDS: dict[str, Kind] = {k.name: k for k in (INTERMEDIATE, ROOT_CRL)}


def get_kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown ceremony kind {name!r}") from None
