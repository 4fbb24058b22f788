"""Step 5, Review: the exact certificate, two officers confirm it, then SIGN is typed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Static

from byoroot_tui.core.ceremony import CERT_NAME, SIGN_WORD, existing_exports, normalise_name
from byoroot_tui.core.errors import ByorootError
from byoroot_tui.core.text import safe_text
from byoroot_tui.ui.screens.base import StepScreen
from byoroot_tui.ui.screens.preview import kv_table
from byoroot_tui.ui.screens.profile import day
from byoroot_tui.ui.widgets.fingerprint import grouped
from byoroot_tui.ui.widgets.readout import Readout


_HEX_RUN = re.compile(r"(?:[0-9a-f]{2}:){10,}[0-9a-f]{2}")  # over 10 bytes


def wrap_hex(value: str, per_line: int = 10) -> str:
    """Break long colon-hex runs (key identifiers) into lines of ``per_line`` bytes."""
    def split(m: re.Match[str]) -> str:
        pairs = m.group(0).split(":")
        return "\n".join(":".join(pairs[i : i + per_line]) for i in range(0, len(pairs), per_line))

    return _HEX_RUN.sub(split, value)


def colon_hex(hex_text: str, per_line: int = 16) -> str:
    pairs = [hex_text[i : i + 2] for i in range(0, len(hex_text), 2)]
    return "\n".join(":".join(pairs[i : i + per_line]) for i in range(0, len(pairs), per_line))


class FittedHex:
    """A value holding colon-hex runs (a serial, a key identifier), broken into lines of 20 bytes
    where the cell it is drawn in is wide enough and of 10 where not: Rich gives it the width."""

    def __init__(self, value: str, suffix: str = "", style: str = "") -> None:
        self.value, self.suffix, self.style = value, suffix, style

    @classmethod
    def serial(cls, hex_text: str) -> FittedHex:
        return cls(colon_hex(hex_text, 1 << 16))

    def _text(self, per_line: int) -> Text:
        return Text(wrap_hex(self.value, per_line) + self.suffix, style=self.style)

    def __rich_console__(self, console, options):  # type: ignore[no-untyped-def]
        from rich.cells import cell_len

        wide = self._text(20)
        fits = all(cell_len(line) <= options.max_width for line in wide.plain.splitlines())
        yield wide if fits else self._text(10)

    def __rich_measure__(self, console, options):  # type: ignore[no-untyped-def]
        from rich.measure import Measurement

        narrow = max((len(line) for line in self._text(10).plain.splitlines()), default=0)
        wide = max((len(line) for line in self._text(20).plain.splitlines()), default=0)
        return Measurement(min(narrow, options.max_width), min(wide, options.max_width))


def existing_certificate_line(folder: Path) -> str:
    """What the intermediate.crt about to be replaced is (subject, serial, dates), as a sentence."""
    from byoroot_tui.core.ceremony import describe_certificate_file

    path = folder / CERT_NAME
    if not (path.exists() or path.is_symlink()):
        return ""
    return f"\n\nThe existing {describe_certificate_file(path)}.\n\n"


def existing_line(c: Any, folder: Path) -> str:
    """What the file about to be replaced is (a certificate's subject, serial and dates, or a
    CRL's issuer, number and date), as a sentence; empty when there is none."""
    if not c.is_crl:
        return existing_certificate_line(folder)
    from byoroot_tui.core.crl import CRL_NAME, describe_crl_file

    path = folder / CRL_NAME
    if not (path.exists() or path.is_symlink()):
        return ""
    return f"\n\nThe existing {describe_crl_file(path)}.\n\n"


def crl_plan_table(plan: Any, key: str | None) -> Any:
    """The CRL about to be signed, as the officers review it (core.crl.CrlPlan)."""
    t = kv_table()
    t.add_row(Text("Issuer"), Text(plan.root.subject_text, style="bold"))
    t.add_row(Text("CRL number"), Text(str(plan.number), style="bold"))
    t.add_row(Text("This update"), Text(day(plan.this_update)))
    days = (plan.next_update - plan.this_update).days
    t.add_row(Text("Next update"), Text(f"{day(plan.next_update)}  ({days} days; hold the next CRL ceremony before then)"))
    t.add_row(Text("Signature"), Text(f"{plan.signature_algorithm} by the root ({plan.root.key_algorithm} {plan.root.key_size})"))
    if key:
        t.add_row(Text("Root key"), Text(key))
    t.add_row(Text("Extensions"), Text("authorityKeyIdentifier (the root's key id), cRLNumber"))
    if plan.entries:
        listed = Text()
        for i, e in enumerate(plan.entries):
            if i:
                listed.append("\n")
            listed.append(colon_hex(e.serial, 1 << 16), style="bold")
            listed.append(f"\n  revoked {day(e.revocation_date)}, reason {e.reason}"
                          + (" (no reasonCode)" if e.reason == "unspecified" else ""))
            listed.append(f"\n  {e.subject}", style="dim")
        t.add_row(Text(f"Revoked ({len(plan.entries)})"), listed)
    else:
        t.add_row(Text("Revoked"), Text("none: the CRL lists no certificate"))
    if plan.lint is not None:
        t.add_row(Text("Lint (pkilint)"), Text(plan.lint.summary(), style="green" if plan.lint.clean else "red"))
    return t


class ReviewScreen(StepScreen):
    STEP = "review"
    BINDINGS = [
        Binding("ctrl+o", "out_folder", "Output folder", id="review.out", tooltip="Choose the folder the files are written to", priority=True),
        Binding("pageup", "scroll_plan(-1)", "Scroll", key_display="PgUp/PgDn", id="review.scroll_up",
                tooltip="Scroll what will be signed", priority=True),
        Binding("pagedown", "scroll_plan(1)", "Scroll", show=False, id="review.scroll_down",
                tooltip="Scroll what will be signed", priority=True),
        Binding("enter", "submit_field", "Confirm", id="review.enter", tooltip="Confirm this field", priority=True),
    ]

    def action_scroll_plan(self, direction: int) -> None:
        pane = self.query_one("#plan-pane", VerticalScroll)
        if direction < 0:
            pane.scroll_page_up()
        else:
            pane.scroll_page_down()

    def compose_body(self) -> ComposeResult:
        with Container(id="review-body", classes="body"):
            with VerticalScroll(id="plan-pane"):
                yield Static(Text("Certificate to be issued"), classes="section-title", id="plan-title")
                yield Readout(id="plan")
                yield Readout(id="plan-warnings")
                yield Static(Text("Output"), classes="section-title")
                yield Readout(id="out-path")
                yield Static(Text("CSR SHA-256 (compare with the requester's)"), classes="section-title",
                             id="csr-sha-title")
                yield Readout(id="csr-sha")
            with Vertical(id="officer-pane"):
                yield Static(Text("Each officer types their name; Enter confirms the certificate above"),
                             classes="officer-hint", id="officer-hint")
                with Horizontal(classes="officer-row"):
                    yield Static(Text("Officer 1"), classes="officer-label")
                    yield Input(placeholder="name", id="officer1", max_length=80, compact=True)
                    yield Readout(id="officer1-status", classes="officer-status")
                with Horizontal(classes="officer-row"):
                    yield Static(Text("Officer 2"), classes="officer-label")
                    yield Input(placeholder="a different person's name", id="officer2", max_length=80,
                                compact=True, disabled=True)
                    yield Readout(id="officer2-status", classes="officer-status")
                with Horizontal(classes="officer-row"):
                    yield Static(Text(f"Type {SIGN_WORD}"), classes="officer-label")
                    yield Input(placeholder=f"type {SIGN_WORD}, then Enter", id="sign-word",
                                max_length=10, compact=True, disabled=True)
                    yield Static(classes="officer-status")
                officer_warnings = Readout(id="officer-warnings")
                officer_warnings.display = False  # shown only when a confirmed name is flagged
                yield officer_warnings
                yield Readout(id="sign-status")

    def on_screen_resume(self) -> None:
        if self.byoroot.prebuilding or self.app.screen is not self:
            return  # composed ahead, not shown (ByorootApp.prebuild): no plan yet
        c = self.ceremony  # this step is every kind's: it names what the kind signs
        self.query_one("#plan-title", Static).update(Text(f"{'CRL' if c.is_crl else 'Certificate'} to be issued"))
        self.query_one("#officer-hint", Static).update(
            Text(f"Each officer types their name; Enter confirms the {c.noun} above"))
        self.query_one("#csr-sha-title").display = self.query_one("#csr-sha").display = not c.is_crl
        if not self.ceremony.plan_is_current() and not self.ceremony.signed:
            self.ceremony.set_plan(None, None)  # shown as being worked out
            # After this step's first frame: the plan's worker thread (lint) would slow its paint.
            self.call_after_refresh(self._start_plan)
        super().on_screen_resume()
        self._focus_next_field()

    def _start_plan(self) -> None:
        c = self.ceremony
        if self.is_current and c.plan is None and c.plan_error is None and not c.signed:
            self.flow.start_plan()
            self.safe_sync()  # a profile that broke meanwhile is refused at once, without a worker

    def _focus_next_field(self) -> None:
        c = self.ceremony
        target = "#officer1" if c.officer1 is None else "#officer2" if c.officer2 is None else "#sign-word"
        widget = self.query_one(target, Input)
        if not widget.disabled:
            # At once, not deferred like widget.focus(): keys typed ahead must reach this field,
            # never the one before it (a second officer typing fast, or a paste).
            self.set_focus(widget)

    # -------------------------------------------------------------- officers

    def on_input_changed(self, event: Input.Changed) -> None:
        c = self.ceremony
        # The field's value now, not the event's: change events of keys typed ahead can arrive after
        # the Enter that confirmed the full name.
        value = event.input.value
        if event.input.id == "officer1" and c.officer1 is not None and normalise_name(value) != c.officer1:
            c.clear_confirmations()
            self.sync()
        elif event.input.id == "officer2" and c.officer2 is not None and normalise_name(value) != c.officer2:
            c.officer2 = None
            self.sync()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit_field(event.input)

    def submit_field(self, field: Input) -> None:
        c = self.ceremony
        status = self.query_one("#sign-status", Static)
        if field.id in ("officer1", "officer2"):
            which = 1 if field.id == "officer1" else 2
            try:
                c.confirm_officer(which, field.value)
            except ByorootError as exc:
                self.query_one(f"#officer{which}-status", Static).update(Text("✗ refused", style="bold red"))
                status.update(Text.assemble(("✗ ", "bold red"), (str(exc), "red")))
                self.app.bell()
                return
            self.sync()
            self._focus_next_field()
        elif field.id == "sign-word":
            try:
                c.check_sign_word(field.value)
            except ByorootError as exc:
                status.update(Text.assemble(("✗ ", "bold red"), (str(exc), "red")))
                return
            self.start_signing()

    # -------------------------------------------------------------- signing

    def start_signing(self) -> None:
        from byoroot_tui.core.errors import ExportFailed, LogRefused

        c = self.ceremony
        status = self.query_one("#sign-status", Static)
        reason = c.sign_blocker()
        if reason:
            status.update(Text.assemble(("✗ not signed: ", "bold red"), (reason, "red")))
            return
        out_dir = c.out_dir
        assert out_dir is not None
        # Everything about the log and the folder, before the key is touched (core.record.preflight):
        # the log is a station log that takes entries; the folder takes new files; no name is in the way.
        try:
            notes = c.preflight(self.byoroot.services.station_log())
        except LogRefused as exc:
            status.update(Text.assemble(("✗ not signed: ", "bold red"), (str(exc), "red")))
            return
        except ExportFailed as exc:
            there = existing_exports(out_dir, c.export_names) if out_dir.is_dir() else []
            if there and not c.overwrite:
                self._ask_overwrite(out_dir, there)
            else:
                reason = self.flow.log_refusal(str(exc))  # as `byoroot sign` logs a refused signing
                status.update(Text.assemble(("✗ not signed: ", "bold red"), (reason, "red"),
                                            " — ctrl+o chooses another output folder"))
            return
        except ByorootError as exc:
            status.update(Text.assemble(("✗ not signed: ", "bold red"), (str(exc), "red")))
            return
        for note in notes:
            self.byoroot.say(note)
        self.query_one("#sign-word", Input).value = ""
        # The passphrase (or PIN) goes to the sign step as a wipeable buffer; it signs once it shows.
        self.byoroot.step_screen("sign").arm(self.flow.take_passphrase())  # type: ignore[attr-defined]
        self.byoroot.goto("sign")

    def _ask_overwrite(self, folder: Path, names: list[str]) -> None:
        from byoroot_tui.ui.screens.modals import ConfirmModal

        def answered(yes: bool | None) -> None:
            if yes:
                self.ceremony.overwrite = True
                self.start_signing()
            else:
                self.query_one("#sign-status", Static).update(
                    Text("Not signed. Choose another output folder with ctrl+o, then type SIGN again.", style="yellow"))

        c = self.ceremony
        self.app.push_screen(
            ConfirmModal(
                f"Replace the existing {c.noun}?",
                f"{', '.join(names)} already exist{'s' if len(names) == 1 else ''} in {safe_text(str(folder))}. "
                + existing_line(c, folder) + "Replace with what is about to be signed?",
                yes="Replace it",
                no="Keep it",
                danger=True,
            ),
            answered,
        )

    def action_out_folder(self) -> None:
        from byoroot_tui.ui.screens.modals import PathPicker

        c = self.ceremony
        start = c.out_dir if c.out_dir is not None and c.out_dir.is_dir() else (c.media_roots[0] if c.media_roots else Path("/"))

        def picked(path: Path | None) -> None:
            if path is not None:
                c.set_out_dir(path)
                self.sync()

        self.app.push_screen(PathPicker(f"Choose the folder for {c.out_name}", start, want="folder"), picked)

    # -------------------------------------------------------------- display

    def sync(self) -> None:
        if not self.is_mounted:
            return
        c = self.ceremony
        plan = c.plan if c.plan_is_current() else None
        ref = c.key_ref()
        # The certificate and the CSR hash are redrawn only when they change: rebuilding the
        # table lays the pane out again (~20-40 ms), and confirming an officer changes neither.
        shown = (plan, c.plan_error, c.key_description, ref, c.csr.sha256 if c.csr else None)
        if shown != self._drawn:
            new_plan = plan is not None and plan is not self._drawn[0]
            self._drawn = shown
            self._draw_plan(plan, ref)
            if new_plan and self.app.screen is self:
                self.call_after_refresh(self._focus_next_field)  # a new plan: officer 1's turn
        self._draw_output_and_officers(plan)

    _drawn: tuple[object, ...] = (None,)  # what the certificate pane shows (the plan first)

    def _draw_plan(self, plan: Any, ref: Any) -> None:
        c = self.ceremony
        plan_w = self.query_one("#plan", Static)
        warn_w = self.query_one("#plan-warnings", Static)
        warnings: list[str] = []
        if plan is None:
            if c.plan_error:
                plan_w.update(Text.assemble(("✗ REFUSED  ", "bold red"), (c.plan_error, "red")))
            else:
                plan_w.update(Text(f"working out the {c.noun}…", style="dim"))
            warn_w.update("")
        elif c.is_crl:
            plan_w.update(crl_plan_table(plan, c.key_description or (ref.describe() if ref is not None else None)))
            warnings = list(plan.notes)
            warn_w.update(Text("\n").join(Text.assemble(("NOTE   ", "yellow"), w) for w in warnings))
        else:
            t = kv_table()
            t.add_row(Text("Subject"), Text(plan.subject_text, style="bold"))
            t.add_row(Text("Issuer"), Text(plan.issuer_text))
            t.add_row(Text("Serial"), FittedHex.serial(plan.serial_hex))
            t.add_row(Text("Not before"), Text(day(plan.not_before)))
            days = (plan.not_after - plan.not_before).days
            t.add_row(Text("Not after"), Text(f"{day(plan.not_after)}  ({days} days)"))
            t.add_row(Text("Public key"), Text(f"{plan.csr.key_algorithm} ({plan.csr.key_size}), from the CSR"))
            t.add_row(Text("Signature"), Text(f"{plan.signature_algorithm} by the root ({plan.root.key_algorithm} {plan.root.key_size})"))
            if c.key_description or ref is not None:
                t.add_row(Text("Root key"), Text(c.key_description or ref.describe()))  # type: ignore[union-attr]
            for ext in plan.extensions:
                crit = " (critical)" if ext.critical else ""
                t.add_row(Text(ext.name), FittedHex(ext.value, crit))
            t.add_row(Text("Profile"), Text(plan.profile.name))
            if plan.lint is not None:
                t.add_row(Text("Lint (pkilint)"), Text(plan.lint.summary(), style="green" if plan.lint.clean else "red"))
            plan_w.update(t)
            from byoroot_tui.core.issue import hash_curve_finding

            advice = hash_curve_finding(plan.profile, plan.root)  # the hash against the root's curve
            warnings = list(plan.warnings) + ([advice.message] if advice else [])
            warns = Text()
            for w in warnings:
                if warns:
                    warns.append("\n")
                warns.append("WARN   ", style="yellow")
                warns.append(w)
            warn_w.update(warns)
        warn_w.display = bool(warnings)

        if c.csr and not c.is_crl:
            from byoroot_tui.core.fingerprint import pgp_words

            words = pgp_words(c.csr.sha256)
            sha = Text("\n".join(grouped(c.csr.sha256, 4, 8)))
            sha.append("\nas PGP words, to read aloud:", style="dim")
            for i in range(0, len(words), 8):
                sha.append("\n" + " ".join(words[i : i + 8]))
            self.query_one("#csr-sha", Static).update(sha)
        else:
            self.query_one("#csr-sha", Static).update(Text(""))

    def _draw_output_and_officers(self, plan: Any) -> None:
        c = self.ceremony
        out = Text(safe_text(str(c.out_dir)) if c.out_dir else "(none)")
        out.append("   ctrl+o: change", style="dim")
        what = f"{c.out_name} and root.crl.pem" if c.is_crl else c.out_name
        out.append(f"\n{what}, its QR code (PNG) and the ceremony record; the station log records it",
                   style="dim")
        there = existing_exports(c.out_dir, c.export_names) if c.out_dir is not None and c.out_dir.is_dir() else []
        if there:
            out.append(f"\n{', '.join(there)} exist{'s' if len(there) == 1 else ''}: "
                       + ("will be replaced" if c.overwrite else "you will be asked before anything is replaced"),
                       style="yellow")
        self.query_one("#out-path", Static).update(out)

        o1 = self.query_one("#officer1", Input)
        o2 = self.query_one("#officer2", Input)
        word = self.query_one("#sign-word", Input)
        o1.disabled = plan is None or c.signed
        o2.disabled = plan is None or c.officer1 is None or c.signed
        blocker = c.sign_blocker()
        word.disabled = blocker is not None
        s1 = self.query_one("#officer1-status", Static)
        s2 = self.query_one("#officer2-status", Static)
        s1.update(Text("✓ confirmed", style="bold green") if c.officer1 else Text("not confirmed", style="dim"))
        if c.officer2:
            s2.update(Text("✓ confirmed", style="bold green"))
        elif c.officer1 is None:
            s2.update(Text("after officer 1", style="dim"))
        else:
            s2.update(Text("not confirmed", style="dim"))
        # A confirmed name that mixes scripts or holds invisible characters, shown escaped: the other
        # officer looks at it twice (core.names).
        officer_warns = c.officer_warnings()
        warn_text = Text()
        for i, w in enumerate(officer_warns):
            warn_text.append(("\n" if i else "") + "WARN   ", style="yellow")
            warn_text.append(w.message)
        warn_w = self.query_one("#officer-warnings", Static)
        warn_w.update(warn_text)
        warn_w.display = bool(officer_warns)
        status = self.query_one("#sign-status", Static)
        root_blocker = c.blocker("root")
        if blocker is None:
            status.update(Text(f"Confirmed by {c.officer1} and {c.officer2}. Type {SIGN_WORD} and press Enter.", style="bold"))
        elif plan is not None and root_blocker:  # the key failed when signing was tried
            status.update(Text(f"Not ready to sign: {root_blocker} — esc goes back to the root step.",
                               style="yellow"))
        elif plan is not None:
            status.update(Text(f"Nothing is signed before both confirmations: {blocker}.", style="dim"))
        elif c.plan_error:
            status.update(Text("Nothing can be signed: see the refusal above.", style="red"))
        else:
            status.update("")
