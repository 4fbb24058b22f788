"""The ceremony's background work, started by the steps and by the app at start: read the CSR,
read the root certificate, check the root key, list an HSM's tokens and keys, check the CSR
against the profile, plan the certificate.

Each is one job (ui/jobs.py) whose outcome goes to the core `Ceremony`, which decides whether it
still counts (a newer choice wins; nothing changes once the root key has signed). The rules are
the core's; what is here is which job to start and which screen to repaint. Crypto and the
core's parsers are imported inside the jobs, never at start-up.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.widgets import Input

from byoroot_tui.ui.jobs import Outcome, run_job

if TYPE_CHECKING:  # pragma: no cover
    from byoroot_tui.ui.app import ByorootApp


# ------------------------------------------------------------------ the work itself (in threads)


def _load_csr(path: Path) -> Any:
    from byoroot_tui.core.csr import load_csr

    return load_csr(path)


def _load_root(path: Path, now: datetime) -> Any:
    from byoroot_tui.core.root import load_root

    return load_root(path, now=now)


def _check_key(ref: Any, root: Any, secret: bytearray | None) -> str:
    """Open the key (file or token) with the secret typed, check it is the root's, drop it at once."""
    from byoroot_tui.core.keyref import check_key

    return check_key(ref, root, secret)  # wipes the secret


def _list_tokens(module: str) -> list[Any]:
    from byoroot_tui.core.pkcs11 import list_tokens

    return list_tokens(module)


def _list_keys(module: str, token: Any, secret: bytearray | None) -> list[Any]:
    """The keys on the token: the public halves without a PIN, the private keys with one."""
    from byoroot_tui.core.pkcs11 import list_private_keys, wipe

    try:
        return list_private_keys(module, token, (lambda: bytearray(secret)) if secret else None)
    finally:
        wipe(secret)


def _read_ledger(log_path: Path, now: datetime) -> Any:
    from byoroot_tui.core.ledger import read_ledger

    return read_ledger(log_path, now)  # a missing log (a new station) has issued nothing


def _revoke(log_path: Path, serial: str, reason: str, officers: list[str], now: datetime) -> Any:
    from byoroot_tui.core.crl import revoke

    return revoke(log_path, serial, reason, officers, now=now)


def _assess(csr: Any, profile: Any, root: Any) -> Any:
    from byoroot_tui.core.issue import assess

    return assess(csr, profile, root)  # what `byoroot inspect` shows, lint included


class Flow:
    """The jobs a ceremony starts, and what the root key's check depends on."""

    def __init__(self, app: ByorootApp) -> None:
        self.app = app
        self.key_check_running = False
        self.passphrase_needed = False  # the key file is encrypted and no passphrase was typed yet
        self._key_check_token: tuple[Any, ...] = ()
        self._checked_token: tuple[Any, ...] = ()  # the token a successful key check was made under
        self._assess_timer: Any = None  # the pending lint after a profile change (see profile_changed)

    @property
    def ceremony(self) -> Any:
        return self.app.ceremony

    def _changed(self) -> None:
        self.app.sync_screen()

    # -------------------------------------------------------------- CSR

    def choose_csr(self, path: Path) -> None:
        """The officers picked a CSR file: remember it and read it in the background."""
        self.ceremony.set_csr(path, None, None)
        self.load_csr(path)

    def load_csr(self, path: Path) -> None:
        def done(o: Outcome[Any]) -> None:
            if self.ceremony.csr_loaded(path, o.value, o.reason):
                self.start_assessment()
                self._changed()

        run_job(self.app, _load_csr, path, group="csr", then=done)

    # -------------------------------------------------------------- root certificate and key

    def load_root(self, path: Path) -> None:
        def done(o: Outcome[Any]) -> None:
            c = self.ceremony
            if c.root_loaded(path, o.value, o.reason):
                self.start_assessment()
                self._changed()
                if c.key_check_wanted():
                    self.start_key_check()

        run_job(self.app, _load_root, path, self.app.services.clock(), group="root", then=done)

    def passphrase_input(self, source: str | None = None) -> Input | None:
        """The masked field holding the secret for the key source chosen: the passphrase or the PIN."""
        screen = self.app.step_screen_if_built("root")
        if screen is None or not screen.is_mounted:
            return None
        source = source or self.ceremony.key_source
        try:
            return screen.query_one("#pin" if source == "hsm" else "#passphrase", Input)
        except Exception:
            return None

    def take_passphrase(self) -> bytearray | None:
        """The typed passphrase (or PIN) as a wipeable buffer (None when the field is empty)."""
        field_ = self.passphrase_input()
        if field_ is None or not field_.value:
            return None
        return bytearray(field_.value.encode("utf-8"))

    def clear_passphrase(self) -> None:
        """Empty both secret fields (after signing; the PIN and the passphrase are not kept)."""
        self._checked_token = self._key_check_token = ()
        for source in ("file", "hsm"):
            field_ = self.passphrase_input(source)
            if field_ is not None:
                with field_.prevent(Input.Changed):
                    field_.value = ""

    def passphrase_edited(self) -> None:
        """The passphrase field changed: a key check done before no longer counts.

        Change events can arrive after a check of the final text started (keys typed ahead), so
        what counts is whether the field still holds the very string that was checked."""
        if not self._same_key_token(self._checked_token, self.key_token()):
            self._checked_token = ()
            self.ceremony.passphrase_changed()

    def key_token(self) -> tuple[Any, ...]:
        """What a key check depends on. The passphrase is compared by identity (`is`) with the
        string the field holds: no copy of it is made, and any edit makes a new string."""
        c = self.ceremony
        field_ = self.passphrase_input()
        return (c.key_ref(), c.root.sha256 if c.root else None, field_.value if field_ else None)

    @staticmethod
    def _same_key_token(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
        return len(a) == len(b) == 3 and a[0] == b[0] and a[1] == b[1] and a[2] is b[2]

    def start_key_check(self) -> None:
        c = self.ceremony
        ref = c.key_ref()
        if c.root is None or ref is None or c.signed:
            return
        c.key_error = None
        self.key_check_running = True
        token = self._key_check_token = self.key_token()
        run_job(self.app, _check_key, ref, c.root, self.take_passphrase(), group="key",
                then=lambda o: self._key_checked(token, o))
        self._changed()

    def _key_checked(self, token: tuple[Any, ...], o: Outcome[str]) -> None:
        current = self._same_key_token(token, self.key_token())
        if self._same_key_token(token, self._key_check_token):
            self.key_check_running = False
            self._key_check_token = ()  # drop the reference to the passphrase string
        if self.ceremony.signed or not current:
            return  # the passphrase or the key changed meanwhile
        self._checked_token = token if o.ok else ()
        from byoroot_tui.core.errors import PassphraseNeeded

        # An encrypted key checked before any passphrase was typed: not a refusal, a question
        # (the root step asks for the passphrase; see RootScreen.sync).
        self.passphrase_needed = o.raised(PassphraseNeeded)
        self.ceremony.set_key_check(o.ok, None if self.passphrase_needed else o.reason, o.value)
        self._changed()
        screen = self.app.step_screen_if_built("root")
        if screen is not None and screen.is_mounted:
            screen.go_on_if_checked()  # type: ignore[attr-defined]  # ctrl+n meant "check it and go on"

    # -------------------------------------------------------------- a key in an HSM (PKCS#11)

    def list_tokens(self, module: str) -> None:
        run_job(self.app, _list_tokens, module, group="hsm", then=lambda o: self._to_root_screen("tokens_listed", module, o))

    def list_keys(self, module: str, token: Any, secret: bytearray | None) -> None:
        run_job(self.app, _list_keys, module, token, secret, group="hsm",
                then=lambda o: self._to_root_screen("keys_listed", module, o, token))

    def _to_root_screen(self, what: str, *args: Any) -> None:
        screen = self.app.step_screen_if_built("root")
        if screen is not None and screen.is_mounted:
            getattr(screen, what)(*args)

    # -------------------------------------------------------------- assessment (inspect) and plan

    def start_assessment(self) -> None:
        """Check the CSR against the profile (and the root, once known), lint included, in a thread."""
        c = self.ceremony
        wanted = c.assessment_wanted()
        if wanted is None:
            return
        token, profile = wanted

        def done(o: Outcome[Any]) -> None:
            if c.assessed(token, o.value, o.reason):
                self._changed()

        run_job(self.app, _assess, c.csr, profile, c.root, group="assess", then=done)

    def profile_changed(self, name: str) -> None:
        c = self.ceremony
        if c.signed or name == c.profile_name:
            return
        c.set_profile(name)
        self._changed()
        # Lint the CSR against the new profile once the officer stops moving through the list
        # (and after this key's repaint): a lint thread started at once holds the GIL while the
        # screen is being drawn, and moving through five profiles would start five of them.
        if self._assess_timer is not None:
            self._assess_timer.stop()
        self._assess_timer = self.app.set_timer(0.15, self.start_assessment)

    def start_plan(self) -> None:
        """Work out exactly what will be signed (the core lints it before the key is touched)."""
        c = self.ceremony
        services = self.app.services
        serial = services.serial() if services.serial is not None else None
        job = c.plan_job(services.clock(), serial, services.station_log())
        if job is None:
            return
        token, fn, args = job

        def done(o: Outcome[Any]) -> None:
            if c.planned(token, o.value, o.reason):
                self._changed()

        run_job(self.app, fn, *args, group="plan", then=done)

    # -------------------------------------------------------------- the ledger and revocations

    def load_ledger(self, then: Any = None) -> None:
        """Read what the root issued and revoked from the station log (core.ledger)."""
        c = self.ceremony

        def done(o: Outcome[Any]) -> None:
            c.set_ledger(o.value, o.reason)
            self._changed()
            if then is not None:
                then(o)

        run_job(self.app, _read_ledger, self.app.services.station_log(), self.app.services.clock(),
                group="ledger", then=done)

    def revoke(self, serial: str, reason: str, officers: list[str], then: Any) -> None:
        """Record a revocation (two officers, no key); the CRL planned before no longer counts."""
        c = self.ceremony

        def done(o: Outcome[Any]) -> None:
            if o.ok:
                c.revocation_recorded()
                self.load_ledger()
            then(o)

        run_job(self.app, _revoke, self.app.services.station_log(), serial, reason, officers,
                self.app.services.clock(), group="revoke", then=done)

    # -------------------------------------------------------------- the station log

    def log_refusal(self, reason: str) -> str:
        """Record a refused signing in the station log; the reason to show (saying if logging failed)."""
        from byoroot_tui.core.stationlog import log_refusal
        from byoroot_tui.ui.jobs import attempt

        o = attempt(log_refusal, self.app.services.station_log(), self.ceremony.log_fields(), reason)
        return o.value if o.value is not None else f"{reason} (and the station log could not record it: {o.reason})"
