"""One ceremony as one value: what each step chose, and the rules for moving on.

The TUI's screens read and add to a `Ceremony`; the rules (when a step may be left, when the
officers may sign, what invalidates a reviewed plan) live here, not in the screens. This module
imports no cryptography at import time (the TUI's start-up stays fast) and never imports Textual.
No secret is ever stored here: the passphrase stays in the masked input that holds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from byoroot_tui.core.errors import ByorootError, InputRefused, PolicyRefused
from byoroot_tui.core.findings import Finding
from byoroot_tui.core.kinds import INTERMEDIATE, STEP_TITLES, Kind, get_kind  # noqa: F401  (STEP_TITLES re-exported)
from byoroot_tui.core.names import is_blank, officer_findings, person_key
from byoroot_tui.core.text import has_control_chars, is_unsafe_char

if TYPE_CHECKING:  # pragma: no cover
    from byoroot_tui.core.csr import CsrInfo
    from byoroot_tui.core.issue import Assessment, ExtensionRow, Issued, Plan
    from byoroot_tui.core.keyref import HsmKey, KeyRef
    from byoroot_tui.core.ledger import IssuedRecord
    from byoroot_tui.core.record import Exported
    from byoroot_tui.core.profiles import Profile
    from byoroot_tui.core.root import RootCA

STEPS = INTERMEDIATE.steps  # the intermediate ceremony's steps (each kind names its own: core.kinds)
CERT_NAME = "intermediate.crt"
DEFAULT_PROFILE_NAME = "intermediate-ca"  # equals core.profiles.DEFAULT_PROFILE.name (a test checks)
MAX_OFFICER_NAME = 64
SIGN_WORD = "SIGN"


def existing_exports(folder: Path) -> list[str]:
    """Which of the files a ceremony writes (certificate, QR PNG, record) already exist in ``folder``."""
    from byoroot_tui.core.record import EXPORT_NAMES

    return [n for n in EXPORT_NAMES if (folder / n).exists() or (folder / n).is_symlink()]


def describe_certificate_file(path: Path, limit: int = 256 * 1024) -> str:
    """One safe line naming the certificate in ``path`` (subject, serial, validity), for the
    question before it is replaced. Read without following a link; never raises."""
    import os
    import stat

    from byoroot_tui.core.text import safe_text

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        return f"{safe_text(path.name)}: cannot be read ({os.strerror(exc.errno or 5)})"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return f"{safe_text(path.name)}: not a regular file"
        data = os.read(fd, limit + 1)
    except OSError as exc:
        return f"{safe_text(path.name)}: cannot be read ({os.strerror(exc.errno or 5)})"
    finally:
        os.close(fd)
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
        self.kind_name = name

    @property
    def profile(self) -> Profile:
        from byoroot_tui.core.profiles import get_profile

        return get_profile(self.profile_name, list(self.profile_dirs) or None)

    @property
    def out_dir(self) -> Path | None:
        if self.out_dir_override is not None:
            return self.out_dir_override
        if self.csr_path is not None:
            return self.csr_path.parent
        return None

    @property
    def out_path(self) -> Path | None:
        d = self.out_dir
        return d / CERT_NAME if d is not None else None

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

    def plan_token(self) -> tuple[object, ...]:
        """What a plan depends on: the CSR, the profile and the root."""
        return (self.csr.sha256 if self.csr else None, self.profile_name, self.root.sha256 if self.root else None)

    def plan_wanted(self) -> Profile | None:
        """The profile to plan with when a plan can be made now (a refused profile is set as the plan's error)."""
        if self.csr is None or self.root is None or self.signed:
            return None
        try:
            return self.profile
        except ByorootError as exc:
            self.set_plan(None, str(exc))
            return None

    def planned(self, token: tuple[object, ...], plan: Plan | None, error: str | None) -> bool:
        if self.signed or token != self.plan_token():
            return False
        self.set_plan(plan, error)
        return True

    def quit_question(self, started: bool) -> tuple[str, str, str, str, bool] | None:
        """What to ask before the app closes: (title, text, yes, no, danger), or None to close at
        once. ``started``: the officers are past the first screen."""
        if self.signed and self.written is None:
            serial = self.issued_record.serial if self.issued_record is not None else "SERIAL"
            return ("Quit without the certificate?",
                    "The certificate is signed and in the station log, but NOT written to any medium. "
                    f"After quitting, `byoroot export {serial} --out DIR` writes it (no new signature).",
                    "Quit anyway", "Stay", True)
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
            return "the certificate was written"
        if self.issued is not None:
            return "the certificate is in the station log; `byoroot export` writes it"
        return "nothing was signed"

    def exit_code(self) -> int:
        """0 when nothing was signed or what was signed is written; 1 when signed and not written."""
        return 0 if self.written is not None or not self.signed else 1

    def plan_is_current(self) -> bool:
        p = self.plan
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
            return "the certificate is already signed"
        for step in ("media", "preview", "root"):
            reason = self.blocker(step)
            if reason:
                return reason
        if not self.plan_is_current():
            return self.plan_error or "the certificate has not been planned yet"
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

    def record_issued(self, issued: Issued, record: IssuedRecord | None = None) -> None:
        self._locked()
        self.issued = issued
        self.sign_count += 1
        if record is None:
            from byoroot_tui.core.ledger import IssuedRecord

            record = IssuedRecord.from_signed(issued, self.officers, self.csr.name if self.csr else "")
        self.issued_record = record

    def record_written(self, exported: Exported) -> None:
        self.exported, self.written, self.write_error = exported, exported.certificate, None
        self.log_head = exported.log_head

    def record_write_error(self, reason: str) -> None:
        self.written, self.write_error = None, reason
