"""One ceremony as one value: what each step chose, and the rules for moving on.

The TUI's screens read and add to a `Ceremony`; the rules (when a step may be left, when the
officers may sign, what invalidates a reviewed plan) live here, not in the screens. This module
imports no cryptography at import time (the TUI's start-up stays fast) and never imports Textual.
No secret is ever stored here: the passphrase stays in the masked input that holds it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from byoroot_tui.core.errors import ByorootError, InputRefused, PolicyRefused
from byoroot_tui.core.findings import Finding
from byoroot_tui.core.kinds import INTERMEDIATE, Kind, get_kind
from byoroot_tui.core.names import is_blank, officer_findings, person_key
from byoroot_tui.core.text import has_control_chars, is_unsafe_char

if TYPE_CHECKING:  # pragma: no cover
    from byoroot_tui.core.crl import CrlExported, CrlPlan
    from byoroot_tui.core.csr import CsrInfo
    from byoroot_tui.core.issue import Assessment, ExtensionRow, Issued, Plan
    from byoroot_tui.core.keyref import HsmKey, KeyRef
    from byoroot_tui.core.ledger import IssuedRecord
    from byoroot_tui.core.record import Exported
    from byoroot_tui.core.profiles import Profile
    from byoroot_tui.core.root import RootCA
    from byoroot_tui.core.ledger import Ledger

STEPS = INTERMEDIATE.steps  # the intermediate ceremony's steps (each kind names its own: core.kinds)
CERT_NAME = "intermediate.crt"
DEFAULT_PROFILE_NAME = "intermediate-ca"  # equals core.profiles.DEFAULT_PROFILE.name (a test checks)
MAX_OFFICER_NAME = 64
SIGN_WORD = "SIGN"


def existing_exports(folder: Path, names: tuple[str, ...] | None = None) -> list[str]:
    """Which of the files a ceremony writes (``names``; by default an intermediate's: certificate,
    QR PNG, record) already exist in ``folder``."""
    if names is None:
        from byoroot_tui.core.record import EXPORT_NAMES

        names = tuple(EXPORT_NAMES)
    return [n for n in names if (folder / n).exists() or (folder / n).is_symlink()]


def describe_certificate_file(path: Path, limit: int = 256 * 1024) -> str:
    """One safe line naming the certificate in ``path`` (subject, serial, validity), for the
    question before it is replaced. Read without following a link; never raises."""
    from byoroot_tui.core.files import read_without_following
    from byoroot_tui.core.text import safe_text

    try:
        data = read_without_following(path, limit)
    except InputRefused as exc:
        return f"{safe_text(path.name)}: {exc}"
    try:
        from cryptography import x509

        cert = (x509.load_pem_x509_certificate(data) if b"-----BEGIN CERTIFICATE-----" in data
                else x509.load_der_x509_certificate(data))
        serial = format(cert.serial_number, "x")
        serial = ":".join((("0" if len(serial) % 2 else "") + serial)[i:i + 2] for i in range(0, len(serial) + len(serial) % 2, 2))
        day = "%Y-%m-%d %H:%M UTC"
        return (f"{safe_text(path.name)}: subject {safe_text(cert.subject.rfc4514_string(), 200)}, serial {serial}, "
                f"valid {cert.not_valid_before_utc.strftime(day)} to {cert.not_valid_after_utc.strftime(day)}")
    except Exception:
        return f"{safe_text(path.name)}: not a certificate that can be read"


def normalise_name(name: str) -> str:
    """An officer's name as recorded: surrounding blanks stripped, inner runs of blanks made one."""
    return " ".join(name.split())


def same_person(a: str, b: str) -> bool:
    """Names are compared after NFKC and case folding, with blanks folded and invisible characters
    dropped: 'Alice', ' alice ', full-width 'Ａlice' are one person, and so are 'José' typed as
    NFC and as NFD (core.names.person_key)."""
    return person_key(a) == person_key(b)


def check_officer_name(name: str) -> str:
    """The normalised name, or `InputRefused` with the reason it cannot be used."""
    clean = normalise_name(name)
    if not clean:
        raise InputRefused("type the officer's name first")
    if is_blank(clean):
        raise InputRefused("the name has no visible characters (only blank or invisible ones)")
    if has_control_chars(name) or any(is_unsafe_char(c) for c in clean):
        raise InputRefused("the name contains control characters")
    if len(clean) > MAX_OFFICER_NAME:
        raise InputRefused(f"the name is longer than {MAX_OFFICER_NAME} characters")
    if person_key(clean) == person_key(SIGN_WORD):
        raise InputRefused(f"{SIGN_WORD} is not a name; type the officer's name here")
    return clean


def officer_name_findings(which: int, name: str) -> list[Finding]:
    """`warn` findings for a confirmed officer's name that mixes scripts or holds invisible
    characters (shown escaped): the other officer should look at it twice."""
    return officer_findings(which, name)


def extension_rows(csr: CsrInfo, profile: Profile, root: RootCA | None = None) -> list[ExtensionRow]:
    """Each extension the CSR requests and what the profile does with it (`core.issue.extension_rows`,
    the same rule `inspect` reports), with the root's key identifier once a root is chosen."""
    from byoroot_tui.core.issue import extension_rows as rows

    return rows(csr, profile, root.key_identifier if root is not None else None)


@dataclass
class Ceremony:
    """Everything chosen so far. Screens add their part; the setters keep it consistent."""

    media_roots: list[Path] = field(default_factory=list)
    demo: bool = False
    kind_name: str = INTERMEDIATE.name  # which ceremony (core.kinds); chosen on the first screen

    csr_path: Path | None = None
    csr: CsrInfo | None = None
    csr_error: str | None = None  # the core's reason the file is not a CSR at all

    profile_name: str = DEFAULT_PROFILE_NAME
    profile_dirs: list[Path] = field(default_factory=list)  # extra *.toml profile folders

    assessment: Assessment | None = None  # core.issue.assess: the lint and refusals `inspect` shows
    assessment_key: tuple[object, ...] = ()
    assessment_error: str | None = None

    root_cert_path: Path | None = None
    root: RootCA | None = None
    root_error: str | None = None
    root_key_path: Path | None = None
    key_source: str = "file"  # "file": a key file; "hsm": a private key in a PKCS#11 token
    hsm_module: str | None = None  # the PKCS#11 module (shared library) path
    hsm_key: HsmKey | None = None  # the token and key chosen on the root screen
    key_checked: bool = False  # the key opened with the passphrase/PIN now typed, and matches the root
    key_error: str | None = None
    key_description: str | None = None  # what the last successful check opened, for the review

    out_dir_override: Path | None = None  # --out, or a folder picked by the officers
    overwrite: bool = False  # asked and confirmed for the current output folder

    plan: Plan | None = None
    plan_error: str | None = None
    issued_record: IssuedRecord | None = None  # the certificate as its `issued` log entry holds it (core.ledger)
    log_head: str | None = None  # the station log's head after the latest export (a copy moves it on)
    paper: str = "a4"  # of the PDF sheet: "a4" or "letter" (`byoroot --paper`)
    officer1: str | None = None  # confirmed names
    officer2: str | None = None

    issued: Issued | None = None
    exported: Exported | None = None  # core.record.export_ceremony's result: certificate, QR PNG, sheet
    written: Path | None = None
    write_error: str | None = None
    sign_count: int = 0  # how many times the root key signed in this ceremony (must stay ≤ 1)

    # The root CRL ceremony (kind "crl"): what the log says the root issued and revoked, read by
    # the CRL step; the revisions count revocations recorded here (each invalidates the plan).
    ledger: Ledger | None = None
    ledger_error: str | None = None
    crl_revision: int = 0
    next_update_days: int = 365

    # -------------------------------------------------------------- what was chosen

    @property
    def kind(self) -> Kind:
        return get_kind(self.kind_name)

    @property
    def steps(self) -> tuple[str, ...]:
        return self.kind.steps

    def set_kind(self, name: str) -> None:
        """Choose the kind of ceremony (first screen). Refused once anything is signed."""
        self._locked()
        get_kind(name)
        if name != self.kind_name:
            self.kind_name = name
            self.invalidate_plan()
            self.overwrite = False

    @property
    def profile(self) -> Profile:
        from byoroot_tui.core.profiles import get_profile

        return get_profile(self.profile_name, list(self.profile_dirs) or None)

    @property
    def is_crl(self) -> bool:
        return self.kind_name == "crl"

    @property
    def noun(self) -> str:
        """What this ceremony signs, for the officers: "certificate" or "CRL"."""
        return "CRL" if self.is_crl else "certificate"

    @property
    def out_name(self) -> str:
        """The main file this ceremony writes."""
        if self.is_crl:
            from byoroot_tui.core.crl import CRL_NAME

            return CRL_NAME
        return CERT_NAME

    @property
    def export_names(self) -> tuple[str, ...]:
        """Every file this ceremony writes into the output folder."""
        if self.is_crl:
            from byoroot_tui.core.crl import CRL_EXPORT_NAMES

            return tuple(CRL_EXPORT_NAMES)
        from byoroot_tui.core.record import EXPORT_NAMES

        return tuple(EXPORT_NAMES)

    @property
    def out_dir(self) -> Path | None:
        if self.out_dir_override is not None:
            return self.out_dir_override
        if self.is_crl:  # no CSR to sit beside: the first medium, until the officers choose
            return self.media_roots[0] if self.media_roots else None
        if self.csr_path is not None:
            return self.csr_path.parent
        return None

    @property
    def out_path(self) -> Path | None:
        d = self.out_dir
        return d / self.out_name if d is not None else None

    @property
    def signed(self) -> bool:
        return self.issued is not None

    def _locked(self) -> None:
        if self.issued is not None:
            raise PolicyRefused("the certificate is already signed; this ceremony is finished")

    def invalidate_plan(self) -> None:
        """The certificate to be issued changed: the officers must review it again."""
        self.plan = None
        self.plan_error = None
        self.officer1 = None
        self.officer2 = None

    def set_csr(self, path: Path | None, info: CsrInfo | None = None, error: str | None = None) -> None:
        self._locked()
        same = (
            path == self.csr_path
            and info is not None
            and self.csr is not None
            and info.sha256 == self.csr.sha256
        )
        self.csr_path, self.csr, self.csr_error = path, info, error
        if not same:
            self.invalidate_plan()
            self.overwrite = False

    def set_profile(self, name: str) -> None:
        self._locked()
        if name != self.profile_name:
            self.profile_name = name
            self.invalidate_plan()

    def set_root(self, path: Path | None, root: RootCA | None = None, error: str | None = None) -> None:
        self._locked()
        changed = path != self.root_cert_path or (root is None) != (self.root is None) or (
            root is not None and self.root is not None and root.sha256 != self.root.sha256
        )
        self.root_cert_path, self.root, self.root_error = path, root, error
        if changed:
            self.key_checked = False
            self.key_error = None
            self.invalidate_plan()

    def _key_changed(self) -> None:
        self.key_checked = False
        self.key_error = None
        self.key_description = None

    def set_root_key_path(self, path: Path | None) -> None:
        self._locked()
        if path != self.root_key_path:
            self.root_key_path = path
            if self.key_source == "file":
                self._key_changed()

    def set_key_source(self, source: str) -> None:
        """Choose where the root key is: "file" or "hsm". What was entered for the other is kept."""
        self._locked()
        if source not in ("file", "hsm"):
            raise ValueError(source)
        if source != self.key_source:
            self.key_source = source
            self._key_changed()

    def set_hsm_module(self, module: str | None) -> None:
        self._locked()
        if module != self.hsm_module:
            self.hsm_module = module
            self.hsm_key = None
            if self.key_source == "hsm":
                self._key_changed()

    def set_hsm_key(self, key: HsmKey | None) -> None:
        self._locked()
        if key != self.hsm_key:
            self.hsm_key = key
            if self.key_source == "hsm":
                self._key_changed()

    def key_ref(self) -> KeyRef | None:
        """The root key chosen (a file or a key in a token), or None."""
        if self.key_source == "hsm":
            return self.hsm_key
        if self.root_key_path is None:
            return None
        from byoroot_tui.core.keyref import KeyFile

        return KeyFile(self.root_key_path)

    def passphrase_changed(self) -> None:
        """The typed passphrase changed: the last key check no longer holds."""
        if self.issued is None:
            self._key_changed()

    def set_key_check(self, ok: bool, error: str | None = None, description: str | None = None) -> None:
        self.key_checked, self.key_error = ok, (None if ok else error)
        self.key_description = description if ok else None

    def set_out_dir(self, path: Path | None) -> None:
        if path != self.out_dir_override:
            self.out_dir_override = path
            self.overwrite = False

    def set_plan(self, plan: Plan | None, error: str | None = None) -> None:
        self._locked()
        self.invalidate_plan()
        self.plan, self.plan_error = plan, error

    def assessment_token(self) -> tuple[object, ...]:
        """What an assessment depends on: the CSR, the profile and the root (if chosen)."""
        return (
            self.csr.sha256 if self.csr else None,
            self.profile_name,
            self.root.sha256 if self.root else None,
        )

    def set_assessment(self, token: tuple[object, ...], assessment: Assessment | None, error: str | None = None) -> None:
        self.assessment, self.assessment_key, self.assessment_error = assessment, token, error

    def assessment_is_current(self) -> bool:
        return self.assessment_key == self.assessment_token() and (
            self.assessment is not None or self.assessment_error is not None
        )

    # -------------------------------------------------------------- results of background work
    # Each check or load runs while the officers go on; its result counts only if what it was
    # started for is still what the ceremony holds (a newer choice wins, and nothing changes
    # once the root key has signed). True when the result was taken.

    def csr_loaded(self, path: Path, info: CsrInfo | None, error: str | None) -> bool:
        if self.signed or path != self.csr_path:
            return False
        self.set_csr(path, info, error)
        return True

    def root_loaded(self, path: Path, root: RootCA | None, error: str | None) -> bool:
        if self.signed or path != self.root_cert_path:
            return False
        self.set_root(path, root, error)
        return True

    def key_check_wanted(self) -> bool:
        """A key file was named before the root loaded (`--root-key`): check it as soon as it has."""
        return (self.root is not None and self.key_ref() is not None and not self.key_checked
                and self.key_source == "file" and not self.signed)

    def assessment_wanted(self) -> tuple[tuple[object, ...], Profile] | None:
        """(token, profile) when the CSR must be checked against the profile (and root) again;
        None when the assessment is current or nothing needs one (a refusal is set directly)."""
        if self.csr is None or self.signed or self.assessment_is_current():
            return None
        if self.csr.refused:
            self.set_assessment(self.assessment_token(), None, None)  # refused already; nothing to lint
            return None
        try:
            profile = self.profile
        except ByorootError as exc:
            self.set_assessment(self.assessment_token(), None, str(exc))
            return None
        return self.assessment_token(), profile

    def assessed(self, token: tuple[object, ...], assessment: Assessment | None, error: str | None) -> bool:
        if self.signed or token != self.assessment_token():
            return False
        self.set_assessment(token, assessment, error)
        return True

    _plan_token: tuple[object, ...] = ()  # what the plan held was made for (the CRL kind checks it)

    def plan_token(self) -> tuple[object, ...]:
        """What a plan depends on: the CSR, the profile and the root; for a CRL, the root, the
        revocations recorded in this ceremony and the nextUpdate chosen."""
        if self.is_crl:
            return ("crl", self.root.sha256 if self.root else None, self.crl_revision, self.next_update_days)
        return (self.csr.sha256 if self.csr else None, self.profile_name, self.root.sha256 if self.root else None)

    def plan_job(self, now: datetime, serial: int | None, log_path: Path) -> tuple[tuple[object, ...], Callable[..., object], tuple[object, ...]] | None:
        """(token, function, arguments) that make the plan in a worker thread, when one can be made
        now; None when not (a refused profile is set as the plan's error at once). The function is
        the core's: `issue.make_plan` (lints before the key is touched) or `crl.plan_crl`."""
        if self.signed or self.root is None:
            return None
        if self.is_crl:
            return self.plan_token(), _plan_crl, (self.root, log_path, now, self.next_update_days)
        if self.csr is None:
            return None
        try:
            profile = self.profile
        except ByorootError as exc:
            self.set_plan(None, str(exc))
            return None
        return self.plan_token(), _make_plan, (self.csr, profile, self.root, now, serial)

    def planned(self, token: tuple[object, ...], plan: Plan | CrlPlan | None, error: str | None) -> bool:
        if self.signed or token != self.plan_token():
            return False
        self.set_plan(plan, error)
        self._plan_token = token
        return True

    def quit_question(self, started: bool) -> tuple[str, str, str, str, bool] | None:
        """What to ask before the app closes: (title, text, yes, no, danger), or None to close at
        once. ``started``: the officers are past the first screen."""
        if self.signed and self.written is None:
            if self.is_crl:
                number = getattr(self.issued_record, "number", "NUMBER")
                again = f"`byoroot export-crl {number} --out DIR`"
            else:
                again = f"`byoroot export {getattr(self.issued_record, 'serial', 'SERIAL')} --out DIR`"
            return (f"Quit without the {self.noun}?",
                    f"The {self.noun} is signed and in the station log, but NOT written to any medium. "
                    f"After quitting, {again} writes it (no new signature).",
                    "Quit anyway", "Stay", True)
        if not self.signed and self.crl_revision:
            return ("Quit without the CRL?",
                    "Nothing has been signed, but the revocation recorded here is in the station log and stays "
                    "there: the root CRL must list it within 24 hours (BRs 4.9.7). Quitting now leaves it on no CRL; "
                    "the next CRL ceremony (or `byoroot crl`) lists it.", "Quit anyway", "Stay", True)
        if not self.signed and (self.officer1 or self.officer2 or started):
            # Mid-ceremony (past the first step, or an officer confirmed): a stray ctrl+q would
            # throw away what the officers checked. Asked first; nothing was signed.
            return ("Quit the ceremony?",
                    "Nothing has been signed. What the officers checked and confirmed is not kept: "
                    "a new ceremony starts from the first step.", "Quit", "Stay", False)
        return None

    def where_things_are(self) -> str:
        """One line on what became of this ceremony's signature, for a stop at any moment."""
        if self.write_error:
            return self.write_error
        if self.written is not None:
            return f"the {self.noun} was written"
        if self.issued is not None:
            return f"the {self.noun} is in the station log; `byoroot {'export-crl' if self.is_crl else 'export'}` writes it"
        return "nothing was signed"

    def exit_code(self) -> int:
        """0 when nothing was signed or what was signed is written; 1 when signed and not written."""
        return 0 if self.written is not None or not self.signed else 1

    def plan_is_current(self) -> bool:
        p = self.plan
        if self.is_crl:
            return (p is not None and self.root is not None and getattr(p, "number", None) is not None
                    and p.root.sha256 == self.root.sha256 and self._plan_token == self.plan_token())
        return (
            p is not None
            and self.csr is not None
            and self.root is not None
            and p.csr.sha256 == self.csr.sha256
            and p.root.sha256 == self.root.sha256
            and p.profile.name == self.profile_name
        )

    # -------------------------------------------------------------- leaving a step

    def blocker(self, step: str) -> str | None:
        """Why the ceremony cannot move on from ``step``, or None."""
        if step == "media":
            if self.csr_path is None:
                return "choose a CSR file on a medium first"
            return None
        if step == "preview":
            if self.csr_error:
                return f"refused: {self.csr_error}"
            if self.csr is None:
                return "the CSR is still being read"
            from byoroot_tui.core.findings import refusals

            blocking = refusals(self.csr.findings)
            if blocking:
                return f"refused: {blocking[0].message}"
            if not self.assessment_is_current():
                return "the CSR is still being checked against the profile"
            if self.assessment_error:
                return f"refused: {self.assessment_error}"
            blocking = refusals(self.assessment.findings) if self.assessment else []
            if blocking:
                return f"refused: {blocking[0].message}"
            return None
        if step == "profile":
            return None
        if step == "root":
            if self.root is None:
                return self.root_error or "choose the root certificate"
            if self.key_source == "hsm":
                if not self.hsm_module:
                    return "type the path of the PKCS#11 module"
                if self.hsm_key is None:
                    return "choose the token and the key on it"
            elif self.root_key_path is None:
                return "choose the root key file"
            if not self.key_checked:
                return self.key_error or "the root key has not been checked yet"
            return None
        if step == "crl":
            if self.ledger_error:
                return f"refused: {self.ledger_error}"
            if self.ledger is None:
                return "the station log is still being read"
            return None
        if step == "review":
            return self.sign_blocker()
        return None

    # -------------------------------------------------------------- two officers

    def confirm_officer(self, which: int, name: str) -> str:
        """Record officer ``which`` (1 or 2) as having confirmed the plan. Returns the name."""
        self._locked()
        if not self.plan_is_current():
            raise PolicyRefused("there is no certificate to confirm yet")
        clean = check_officer_name(name)
        if which == 1:
            self.officer1 = clean
            if self.officer2 is not None and same_person(self.officer2, clean):
                self.officer2 = None
            return clean
        if which == 2:
            if self.officer1 is None:
                raise PolicyRefused("officer 1 confirms first")
            if same_person(self.officer1, clean):
                raise InputRefused("officer 2 must be a different person from officer 1")
            self.officer2 = clean
            return clean
        raise ValueError(which)

    def clear_confirmations(self) -> None:
        self.officer1 = None
        self.officer2 = None

    @property
    def officers(self) -> list[str]:
        return [o for o in (self.officer1, self.officer2) if o]

    def officer_warnings(self) -> list[Finding]:
        """What to point out about the confirmed officers' names (mixed scripts, invisible characters)."""
        out: list[Finding] = []
        for which, name in ((1, self.officer1), (2, self.officer2)):
            if name:
                out += officer_name_findings(which, name)
        return out

    def log_fields(self) -> dict[str, object]:
        """What the station log records about this ceremony when it is refused (as the CLI does)."""
        if self.is_crl:
            crl_fields: dict[str, object] = {"action": "crl"}
            if self.root is not None:
                crl_fields["root_sha256"] = self.root.sha256
            if self.plan is not None and self.plan_is_current():
                crl_fields["crl_number"] = self.plan.number  # type: ignore[union-attr]
            crl_fields["officers"] = self.officers
            return crl_fields
        fields: dict[str, object] = {"csr_file": self.csr.name if self.csr else (self.csr_path.name if self.csr_path else "")}
        if self.csr is not None:
            fields.update(csr_sha256=self.csr.sha256, subject=self.csr.subject_text)
        fields["profile"] = self.profile_name
        if self.root is not None:
            fields["root_sha256"] = self.root.sha256
        fields["officers"] = self.officers
        return fields

    def sign_blocker(self) -> str | None:
        """Why signing may not start now, or None. Checked again right before the key is loaded."""
        if self.issued is not None:
            return f"the {self.noun} is already signed"
        for step in self.steps[: self.steps.index("review")]:
            reason = self.blocker(step)
            if reason:
                return reason
        if not self.plan_is_current():
            return self.plan_error or f"the {self.noun} has not been planned yet"
        if self.officer1 is None:
            return "officer 1 has not confirmed"
        if self.officer2 is None:
            return "officer 2 has not confirmed"
        if same_person(self.officer1, self.officer2):
            return "the two officers must be different people"
        if self.out_dir is None:
            return "choose an output folder"
        return None

    def check_sign_word(self, typed: str) -> None:
        if typed.strip() != SIGN_WORD:
            raise InputRefused(f"type {SIGN_WORD} (in capitals) to sign")

    # -------------------------------------------------------------- after signing

    def revocation_recorded(self) -> None:
        """A revocation was added to the station log: the CRL planned before no longer lists everything."""
        self._locked()
        self.crl_revision += 1
        self.invalidate_plan()

    def set_ledger(self, ledger: Ledger | None, error: str | None) -> None:
        self.ledger, self.ledger_error = ledger, error

    # -------------------------------------------------------------- the work of the shared steps
    # (run in worker threads: each returns a function and its arguments, taken from this value on
    # the app's thread, so the thread never reads the ceremony while the officers change it)

    def preflight(self, log_path: Path) -> list[str]:
        """Before the key is touched: the log takes entries, the folder takes the files."""
        from byoroot_tui.core.record import preflight

        assert self.out_dir is not None
        return preflight(self.out_dir, log_path, overwrite=self.overwrite, names=self.export_names)

    def sign_job(self, log_path: Path) -> tuple[Callable[..., object], tuple[object, ...]]:
        """(function, arguments) that sign the reviewed plan with the record first; call it with
        (key ref, secret, progress) appended. Returns (issued, record)."""
        assert self.plan is not None
        if self.is_crl:
            return _sign_crl, (self.plan, list(self.officers), log_path, self.log_fields())
        csr_file = self.csr.name if self.csr else ""
        return _sign_certificate, (self.plan, list(self.officers), csr_file, log_path, self.log_fields())

    def export_job(self, folder: Path, log_path: Path, overwrite: bool, cancel: object) -> tuple[Callable[..., object], tuple[object, ...]]:
        """(function, arguments) that write the whole set, all or none, from the record the log
        holds; call it with the record first: ``fn(record, *arguments)``."""
        fn = _export_crl if self.is_crl else _export_certificate
        return fn, (folder, log_path, overwrite, cancel, self.paper)

    def record_issued(self, issued: Issued, record: IssuedRecord | None = None) -> None:
        self._locked()
        self.issued = issued
        self.sign_count += 1
        if record is None:
            from byoroot_tui.core.ledger import IssuedRecord

            record = IssuedRecord.from_signed(issued, self.officers, self.csr.name if self.csr else "")
        self.issued_record = record

    def record_written(self, exported: Exported | CrlExported) -> None:
        self.exported, self.write_error = exported, None
        self.written = exported.crl if self.is_crl else exported.certificate  # type: ignore[union-attr]
        self.log_head = exported.log_head

    def record_write_error(self, reason: str) -> None:
        self.written, self.write_error = None, reason


# The core's work for the shared steps, imported when first run (in a worker thread): the app's
# start-up imports no cryptography.


def _make_plan(csr: Any, profile: Any, root: Any, now: datetime, serial: int | None) -> Any:
    from byoroot_tui.core.issue import make_plan

    return make_plan(csr, profile, root, now=now, serial=serial)  # lints with pkilint before the key is ever touched


def _plan_crl(root: Any, log_path: Path, now: datetime, days: int) -> Any:
    from byoroot_tui.core.crl import plan_crl

    return plan_crl(root, log_path, now=now, next_update_days=days)  # lints the throwaway-signed CRL


def _sign_certificate(plan: Any, officers: list[str], csr_file: str, log_path: Path, fields: dict[str, object],
                      ref: Any, secret: bytearray | None, progress: Callable[[str], object]) -> Any:
    from byoroot_tui.core.ledger import sign_and_record

    return sign_and_record(plan, ref, secret, officers, csr_file, log_path, fields, progress)


def _sign_crl(plan: Any, officers: list[str], log_path: Path, fields: dict[str, object],
              ref: Any, secret: bytearray | None, progress: Callable[[str], object]) -> Any:
    from byoroot_tui.core.crl import sign_and_record_crl

    return sign_and_record_crl(plan, ref, secret, officers, log_path, fields, progress)


def _export_certificate(record: Any, folder: Path, log_path: Path, overwrite: bool, cancel: Any, paper: str) -> Any:
    from byoroot_tui.core.record import export_record

    return export_record(record, folder, log_path=log_path, overwrite=overwrite, cancel=cancel, paper=paper)


def _export_crl(record: Any, folder: Path, log_path: Path, overwrite: bool, cancel: Any, paper: str) -> Any:
    from byoroot_tui.core.crl import export_crl

    return export_crl(record, folder, log_path=log_path, overwrite=overwrite, cancel=cancel, paper=paper)
