"""The two officers of a ceremony: both named, two different people (signing, revoking, the CRL)."""

from __future__ import annotations

from byoroot_tui.core.ceremony import check_officer_name, same_person
from byoroot_tui.core.errors import InputRefused


def check_two_officers(names: list[str] | None, command: str = "sign") -> list[str]:
    """Exactly two officers, two different people (names compared as the app compares them:
    `same_person`), each name checked (`check_officer_name`); the normalised names, or
    `InputRefused` with one line saying why (``command`` names what needs them)."""
    from byoroot_tui.core.names import shown

    given = names or []
    if len(given) != 2:
        raise InputRefused(f"{command} needs exactly two officers, two different people: give --officer NAME twice "
                           f"(given {len(given)})")
    officers = []
    for i, name in enumerate(given, 1):
        try:
            officers.append(check_officer_name(name))
        except InputRefused as exc:
            raise InputRefused(f"officer {i}: {exc}") from None
    a, b = officers
    if same_person(a, b):
        also = "" if a == b else f" (as '{shown(b)}': names are compared ignoring case, width and Unicode form)"
        raise InputRefused(f"officer '{shown(a)}' is named twice{also}: a two-person ceremony needs two different officers")
    return officers
