"""Sign & export, every kind's last step: sign in a worker (the record first), write the set
(intermediate.crt or root.crl, the QR code, the sheet), show the fingerprint.

Signing happens once. A failed write keeps what was signed (it is in the station log) and offers
to retry, or to write to another folder, without touching the root key again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import ProgressBar, Static

from byoroot_tui.core.ceremony import CERT_NAME
from byoroot_tui.core.errors import KeyUnusable, TargetExists
from byoroot_tui.core.text import safe_text
from byoroot_tui.ui.jobs import Outcome, attempt, run_job, run_steps
from byoroot_tui.ui.screens.base import StepScreen
from byoroot_tui.ui.screens.preview import kv_table
from byoroot_tui.ui.screens.profile import day
from byoroot_tui.ui.screens.review import FittedHex, existing_line
from byoroot_tui.ui.widgets.fingerprint import Fingerprint, grouped
from byoroot_tui.ui.widgets.readout import Readout

STAGES = (
    ("key", "Load the root key"),
    ("sign", "Sign, verify against the root, lint again"),
    ("drop", "Drop the root key"),
    ("write", f"Write {CERT_NAME}, its QR code and the ceremony record (text, PDF); log it"),
)


class CertificateWriter:
    """Write the issued certificate from a thread; `write_done` or `write_failed` takes the outcome (mixin for screens)."""


    def write_certificate(self, folder: Path, overwrite: bool, copy: bool = False) -> None:
        """Export again (a retry, another medium, or a copy) from the certificate already signed."""

        def done(o: Outcome[Any]) -> None:
            if o.ok:
                self.write_done(o.value)  # type: ignore[attr-defined]
            else:
                self.write_failed(o, folder)  # type: ignore[attr-defined]

        c = self.ceremony  # type: ignore[attr-defined]
        log = self.byoroot.services.station_log()  # type: ignore[attr-defined]  # a copy is an export too
        export, args = c.export_job(folder, log, overwrite, self.byoroot.cancel_event)  # type: ignore[attr-defined]
        run_job(self.app, export, c.issued_record, *args, group="write", then=done)  # type: ignore[attr-defined]

    def pick_folder(self, title: str, start: Path, then: Any) -> None:
        from byoroot_tui.ui.screens.modals import PathPicker

        start = start if start.is_dir() else Path("/")
        self.app.push_screen(PathPicker(title, start, want="folder"), then)  # type: ignore[attr-defined]

    def ask_overwrite(self, folder: Path, then: Any) -> None:
        from byoroot_tui.core.ceremony import existing_exports
        from byoroot_tui.ui.screens.modals import ConfirmModal

        c = self.ceremony  # type: ignore[attr-defined]
        names = existing_exports(folder, c.export_names) or [c.out_name]
        self.app.push_screen(  # type: ignore[attr-defined]
            ConfirmModal(
                f"Replace the existing {c.noun}?",
                f"{', '.join(names)} already exist{'s' if len(names) == 1 else ''} in {safe_text(str(folder))}. "
                + existing_line(c, folder) + "Replace?",
                yes="Replace it",
                no="Keep it",
                danger=True,
            ),
            then,
        )


class SignScreen(CertificateWriter, StepScreen):
    STEP = "sign"
    BINDINGS = [
        Binding("r", "retry", "Retry write", id="sign.retry", tooltip="Write again to the same folder (no new signature)"),
        Binding("ctrl+o", "other_folder", "Other folder", id="sign.other", tooltip="Write to another folder or stick (no new signature)", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._secret: bytearray | None = None
        self._armed = False
        self.stage: str | None = None
        self.failed_stage: str | None = None
        self.writing = False

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="sign-body", classes="body"):
            yield Static(Text("Signing with the root key"), classes="section-title")
            yield Readout(id="stages")
            yield ProgressBar(total=len(STAGES), show_eta=False, id="sign-progress")
            yield Readout(id="signed-facts")
            yield Readout(id="write-status")

    def arm(self, secret: bytearray | None) -> None:
        """Signing starts when this screen shows; the passphrase buffer is handed to the worker."""
        self._secret = secret
        self._armed = True

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self._armed:
            self._armed = False
            secret, self._secret = self._secret, None
            c = self.ceremony
            ref = c.key_ref()
            if c.signed or c.plan is None or ref is None:
                return
            self.stage = "key"
            self.failed_stage = None
            self.sync()
            self.sign_worker(ref, secret)

    def sign_worker(self, ref: Any, secret: bytearray | None) -> None:
        """Sign the reviewed plan (the record first), then write the whole set: the kind's own
        core functions (Ceremony.sign_job, Ceremony.export_job), in one worker thread."""
        c = self.ceremony
        log_path = self.byoroot.services.station_log()
        folder, overwrite, cancel = c.out_dir, c.overwrite, self.byoroot.cancel_event
        assert folder is not None
        sign, sign_args = c.sign_job(log_path)
        export, export_args = c.export_job(folder, log_path, overwrite, cancel)

        def job(report: Any) -> None:
            signed = attempt(sign, *sign_args, ref, secret, lambda stage: report(lambda: self.sign_progress(stage)))
            if not signed.ok:
                report(lambda: self.sign_failed(signed))
                return
            issued, record = signed.value  # type: ignore[misc]
            report(lambda: self.signed(issued, record))
            report(lambda: self.sign_progress("write"))
            written = attempt(export, record, *export_args)  # from the record, as the log holds it
            report(lambda: self.write_done(written.value) if written.ok else self.write_failed(written, folder))

        run_steps(self.app, job, group="sign")

    # -------------------------------------------------------------- results

    def sign_progress(self, stage: str) -> None:
        self.stage = stage
        self.writing = stage == "write"
        self.sync()

    def sign_failed(self, o: Outcome[Any]) -> None:
        from byoroot_tui.core.errors import SignedNotExported
        from byoroot_tui.core.ledger import NotRecorded

        self.failed_stage = self.stage
        self.stage = None
        self.sync()
        if o.raised(KeyUnusable):  # the officers fix the key on the root step; the review stays as it was
            self.ceremony.set_key_check(False, o.reason)

        def back(_: None) -> None:
            self.byoroot.goto("review")

        from byoroot_tui.ui.screens.modals import ErrorModal

        if o.raised(SignedNotExported, NotRecorded):
            self.app.push_screen(ErrorModal("Signed, not exported", o.reason or ""), back)
        else:
            self.app.push_screen(ErrorModal("Not signed", f"{o.reason} — nothing was signed."), back)

    def signed(self, issued: Any, record: Any) -> None:
        self.ceremony.record_issued(issued, record)
        self.flow.clear_passphrase()
        self.sync()
        self.refresh_bindings()

    def write_done(self, exported: Any) -> None:
        self.writing = False
        self.stage = "done"
        self.ceremony.record_written(exported)
        for note in exported.notes:
            self.byoroot.say(note)
        self.sync()
        self.byoroot.goto("result")

    def write_failed(self, o: Outcome[Any], folder: Path) -> None:
        self.writing = False
        self.stage = None
        self.failed_stage = "write"
        self.ceremony.record_write_error(o.reason or "")
        self.sync()
        self.refresh_bindings()
        from byoroot_tui.core.ceremony import existing_exports

        if o.raised(TargetExists) and existing_exports(folder, self.ceremony.export_names):
            def answered(yes: bool | None) -> None:
                if yes:
                    self.ceremony.overwrite = True
                    self._write_again()

            self.ask_overwrite(folder, answered)

    # -------------------------------------------------------------- retry

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("retry", "other_folder"):
            c = self.ceremony
            return c.signed and c.written is None and not self.writing
        if action == "back":
            return False
        return super().check_action(action, parameters)

    def _write_again(self) -> None:
        c = self.ceremony
        if c.issued is None or c.out_dir is None or self.writing:
            return
        self.writing = True
        self.stage = "write"
        self.failed_stage = None
        self.sync()
        self.refresh_bindings()
        self.write_certificate(c.out_dir, c.overwrite)

    def action_retry(self) -> None:
        self._write_again()

    def action_other_folder(self) -> None:
        c = self.ceremony
        start = c.media_roots[0] if c.media_roots else (c.out_dir.parent if c.out_dir else Path("/"))

        def picked(folder: Path | None) -> None:
            if folder is None:
                return
            from byoroot_tui.core.ceremony import existing_exports

            c.set_out_dir(folder)
            if existing_exports(folder, c.export_names):
                def answered(yes: bool | None) -> None:
                    if yes:
                        c.overwrite = True
                        self._write_again()
                    else:
                        self.sync()

                self.ask_overwrite(folder, answered)
            else:
                self._write_again()

        self.pick_folder(f"Write {c.out_name} to which folder?", start, picked)

    # -------------------------------------------------------------- display

    def sync(self) -> None:
        if not self.is_mounted:
            return
        c = self.ceremony
        order = [s for s, _ in STAGES]
        done_upto = -1
        if c.signed:
            done_upto = order.index("drop")
        if c.written is not None:
            done_upto = len(order) - 1
        current = self.stage if self.stage in order else None
        if current is not None and not c.signed:
            done_upto = order.index(current) - 1
        lines = Text()
        for i, (stage, label) in enumerate(STAGES):
            label = label.replace(CERT_NAME, c.out_name)
            if i:
                lines.append("\n")
            if i <= done_upto:
                lines.append("  ✓ ", style="bold green")
                lines.append(label)
            elif stage == self.failed_stage:
                lines.append("  ✗ ", style="bold red")
                lines.append(label, style="red")
            elif stage == current:
                lines.append("  ▸ ", style="bold")
                lines.append(label + " …", style="bold")
            else:
                lines.append("  · ", style="dim")
                lines.append(label, style="dim")
        self.query_one("#stages", Static).update(lines)
        self.query_one("#sign-progress", ProgressBar).update(progress=max(0, done_upto + 1))

        facts = self.query_one("#signed-facts", Static)
        if c.issued is not None:
            t = kv_table()
            if c.is_crl:
                t.add_row(Text("CRL number"), Text(str(c.issued.plan.number)))
            else:
                t.add_row(Text("Serial"), FittedHex.serial(c.issued.plan.serial_hex))
            t.add_row(Text("SHA-256"), Text("\n".join(grouped(c.issued.sha256, 4, 8))))
            facts.update(t)
        else:
            facts.update("")
        status = self.query_one("#write-status", Static)
        if c.write_error and c.written is None and not self.writing:
            status.update(Text.assemble(
                ("✗ NOT WRITTEN  ", "bold red"), (c.write_error, "red"),
                f"\nThe {c.noun} is signed and in the station log; it will not be signed again.\n",
                ("r", "bold"), ": retry the same folder   ", ("ctrl+o", "bold"), ": write to another folder or stick",
            ))
            status.add_class("failed")
        else:
            status.remove_class("failed")
            status.update(Text(f"writing to {safe_text(str(c.out_dir))} …", style="dim") if self.writing else "")


class ResultScreen(CertificateWriter, StepScreen):
    STEP = "sign"
    BINDINGS = [
        Binding("c", "copy", "Copy fingerprint", id="result.copy", tooltip="Copy the SHA-256 fingerprint"),
        Binding("v", "qr", "QR full screen", id="result.qr", tooltip="Show only the QR code, for a phone to scan"),
        Binding("w", "write_copy", "Write a copy", id="result.copy_file", tooltip="Write the same files to another folder too"),
        Binding("p", "print_sheet", "Print sheet", id="result.print",
                tooltip="Print the ceremony sheet (PDF) with lp (CUPS), or say where it is"),
    ]

    def action_print_sheet(self) -> None:
        exported = self.ceremony.exported
        if exported is None:
            self.notify("The ceremony sheet has not been written yet.", severity="warning")
            return
        if self.ceremony.is_crl:  # core.crl.CrlExported: the PDF sheet is one of its files
            sheets = [p for p in exported.files if p.suffix == ".pdf"] or [p for p in exported.files if p.suffix == ".txt"]  # type: ignore[union-attr]
            self._print_worker(sheets[0])
        else:
            self._print_worker(exported.pdf or exported.sheet)  # type: ignore[union-attr]

    def _print_worker(self, sheet: Path) -> None:
        from byoroot_tui.core.record import print_sheet

        def done(o: Outcome[str]) -> None:
            self.byoroot.say(o.value or "" if o.ok else o.reason or "", severity="information" if o.ok else "error",
                             timeout=10)

        run_job(self.app, print_sheet, sheet, group="print", then=done)

    def compose_body(self) -> ComposeResult:
        c = self.ceremony
        assert c.issued is not None
        fp = c.issued.sha256
        from byoroot_tui.ui.widgets.qr import QrCode

        with VerticalScroll(id="result-body", classes="body"):
            with Vertical(id="result-main"):
                yield Readout(id="result-status")
                yield Static(Text(f"SHA-256 fingerprint of {c.out_name} (DER)"), classes="section-title")
                yield Fingerprint(fp, id="fingerprint")
                yield Readout(id="copy-status")
                yield Static(Text("PGP words (read aloud in order)"), classes="section-title")
                yield Readout(id="pgp-words")
                yield Readout(id="result-facts")
            with Vertical(id="result-qr"):
                yield Static(Text("Scan to compare (lowercase hex SHA-256)"), classes="section-title")
                yield QrCode(fp, spare=(60, 8), id="qr", files=self.qr_files())  # on the console: where 2 columns a module fit

    def qr_files(self) -> tuple[str, str]:
        """(the QR code's PNG, the file it is the fingerprint of), for the note when it does not fit."""
        c = self.ceremony
        if c.is_crl:
            from byoroot_tui.core.crl import CRL_NAME, CRL_QR_NAME

            return CRL_QR_NAME, CRL_NAME
        return "intermediate-fingerprint.png", CERT_NAME

    def on_step_mount(self) -> None:
        self.set_focus(self.query_one("#result-body"))
        self.query_one("#copy-status").display = False
        self.sync()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return False
        return super().check_action(action, parameters)

    def sync(self) -> None:
        if not self.is_mounted:
            return
        c = self.ceremony
        issued = c.issued
        if issued is None:
            return
        status = Text()
        status.append("✓ ISSUED AND WRITTEN  ", style="bold")
        status.append(safe_text(str(c.written)) if c.written else "(not written)")
        self.query_one("#result-status", Static).update(status)
        plan = issued.plan
        t = kv_table()
        if c.is_crl:
            t.add_row(Text("Issuer"), Text(plan.root.subject_text))
            t.add_row(Text("CRL number"), Text(str(plan.number)))
            t.add_row(Text("Valid"), Text(f"{day(plan.this_update)}  →  next update {day(plan.next_update)}"))
            t.add_row(Text("Revoked"), Text(", ".join(e.serial for e in plan.entries) or "none"))
        else:
            t.add_row(Text("Subject"), Text(plan.subject_text))
            t.add_row(Text("Issuer"), Text(plan.issuer_text))
            t.add_row(Text("Serial"), FittedHex.serial(plan.serial_hex))
            t.add_row(Text("Valid"), Text(f"{day(plan.not_before)}  →  {day(plan.not_after)}"))
        t.add_row(Text("Officers"), Text(f"{c.officer1} and {c.officer2}"))
        if issued.lint is not None:
            t.add_row(Text("Lint"), Text(f"after signing: {issued.lint.summary()}"))
        if c.key_source == "hsm":
            t.add_row(Text("Root key"), Text("in the token; logged out after signing; PIN field cleared"))
        else:
            t.add_row(Text("Root key"), Text("dropped after signing; passphrase field cleared"))
        ex = c.exported
        if ex is not None:
            files = ex.files if c.is_crl else (ex.certificate, ex.qr_png, ex.sheet, ex.pdf)  # type: ignore[union-attr]
            t.add_row(Text("Written"), Text("\n".join(safe_text(str(p)) for p in files if p is not None)))
            log = self.byoroot.services.station_log()
            head = c.log_head or ex.log_head  # a copy written later moves the head on
            if head:
                from byoroot_tui.core.fingerprint import grouped_hex

                shown = safe_text(str(log)) + "\nhead " + grouped_hex(head, per_line=8).replace("\n", "\n     ")
            else:
                shown = safe_text(str(log))
            t.add_row(Text("Station log"), Text(shown))
        self.query_one("#result-facts", Static).update(t)
        from byoroot_tui.core.fingerprint import pgp_words

        words = pgp_words(issued.sha256)
        self.query_one("#pgp-words", Static).update(
            Text("\n".join(" ".join(words[i : i + 8]) for i in range(0, len(words), 8))))

    def action_copy(self) -> None:
        c = self.ceremony
        if c.issued is None:
            return
        status = self.query_one("#copy-status", Static)
        if self.byoroot.copy_text(c.issued.sha256):
            status.update(Text("✓ copied to the clipboard (lowercase hex)", style="green"))
        else:
            status.update(Text("No clipboard on this station (normal when offline); it was offered to the "
                               "terminal (OSC 52). Read it from the screen or scan the QR code.", style="yellow"))
        status.display = True
        self.call_after_refresh(status.scroll_visible)

    def action_qr(self) -> None:
        from byoroot_tui.ui.screens.modals import QrModal

        issued = self.ceremony.issued
        if issued is None:
            return
        # One modal per certificate, kept installed: opening it again shows the same screen
        # instead of composing a new one each time.
        name = f"qr-{issued.sha256}"
        if not self.app.is_screen_installed(name):
            self.app.install_screen(QrModal(issued.sha256, self.qr_files()), name=name)
        self.app.push_screen(name)

    def action_write_copy(self) -> None:
        c = self.ceremony
        if c.issued is None:
            return
        start = c.media_roots[0] if c.media_roots else (c.written.parent if c.written else Path("/"))
        if c.written is not None and start.resolve() == c.written.parent.resolve():
            start = start.parent  # not the folder just written: a copy goes elsewhere

        def picked(folder: Path | None) -> None:
            from byoroot_tui.core.ceremony import existing_exports

            if folder is None:
                return
            if c.written is not None and folder.resolve() == c.written.parent.resolve():
                # the copy would replace the files just written with themselves: not a copy
                self.byoroot.say(f"{c.out_name} was just written to {safe_text(str(folder))}: "
                                 "choose another folder or stick for the copy", severity="warning")
                self.pick_folder(f"Write a copy ({c.noun}, QR, record) to which OTHER folder?", start, picked)
                return
            if existing_exports(folder, c.export_names):
                def answered(yes: bool | None) -> None:
                    if yes:
                        self.write_certificate(folder, True, copy=True)

                self.ask_overwrite(folder, answered)
            else:
                self.write_certificate(folder, False, copy=True)

        self.pick_folder(f"Write a copy ({c.noun}, QR, record) to which folder?", start, picked)

    def write_done(self, exported: Any) -> None:
        self.ceremony.log_head = exported.log_head  # the copy's `exported` entry is the log's new head
        self.sync()
        main = exported.crl if self.ceremony.is_crl else exported.certificate
        self.byoroot.say(f"A copy was written to {safe_text(str(main.parent))}")

    def write_failed(self, o: Outcome[Any], folder: Path) -> None:
        self.byoroot.show_error("Copy not written", o.reason or "")
