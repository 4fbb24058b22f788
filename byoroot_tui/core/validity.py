"""When a certificate issued now would be valid: the one rule, used by signing and by the app.

Imports no cryptography at load time, so the app's profile screen can use it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from byoroot_tui.core.profiles import Profile
    from byoroot_tui.core.root import RootCA

# When capping to the root's notAfter leaves less than this (or less than the profile asks
# for, if that is shorter), issuing is refused: such an intermediate is useless.
MIN_CAPPED_VALIDITY = timedelta(days=30)


@dataclass(frozen=True)
class ValidityWindow:
    not_before: datetime
    not_after: datetime
    capped: bool  # cut to the root's notAfter
    requested_not_after: datetime
    refusal: str | None = None  # why nothing can be issued now, or None


def validity_window(profile: Profile, now: datetime, root: RootCA | None = None) -> ValidityWindow:
    """notBefore back-dated by the profile (never before the root's), notAfter after the
    profile's days, capped to the root's notAfter or refused as the profile says."""
    from byoroot_tui.core.root import iso

    not_before = now - timedelta(minutes=profile.backdate_minutes)
    if root is not None:
        not_before = max(not_before, root.not_before)
    requested = now + timedelta(days=profile.validity_days)
    not_after, capped, refusal = requested, False, None
    if root is not None and requested > root.not_after:
        if profile.cap_to_issuer:
            not_after, capped = root.not_after, True
            shortest = min(MIN_CAPPED_VALIDITY, timedelta(days=profile.validity_days))
            if not_after - now < shortest:
                refusal = (f"the root expires {iso(root.not_after)}, leaving the intermediate less than "
                           f"{shortest.days} days of validity")
        else:
            refusal = f"the validity would end {iso(requested)}, after the root's notAfter {iso(root.not_after)}"
    if refusal is None and not_after <= not_before:
        refusal = "the root expires too soon to issue anything"
    return ValidityWindow(not_before, not_after, capped, requested, refusal)
