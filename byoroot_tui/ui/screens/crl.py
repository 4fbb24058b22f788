"""The root CRL ceremony's own step: what the CRL will hold.

The ledger (core.ledger: every certificate the root issued, from the station log, with its
status), the revoked ones the CRL will list, the last CRL and the warnings. `r` revokes the
highlighted certificate: a reason RFC 5280 and the BRs allow for a CA certificate, and both
officers' names (core.crl.revoke; no key). Everything from the log is shown escaped.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from byoroot_tui.core.text import safe_text
from byoroot_tui.ui.jobs import Outcome
from byoroot_tui.ui.screens.base import StepScreen
from byoroot_tui.ui.screens.preview import kv_table
from byoroot_tui.ui.widgets.keybar import KeyBar
from byoroot_tui.ui.widgets.readout import Readout

REASON_HELP = {
    "unspecified": "no reason given (no reasonCode on the CRL entry)",
    "keyCompromise": "the intermediate's private key is, or may be, known to someone else",
    "cACompromise": "the CA itself is compromised",
    "affiliationChanged": "the subject's name or organisation changed",
    "superseded": "replaced by a new certificate",
    "cessationOfOperation": "the intermediate CA no longer operates",
}

STATUS_STYLE = {"valid": "green", "revoked": "bold red", "expired": "dim", "refused": "yellow"}


def short_serial(serial: str) -> str:
    return serial if len(serial) <= 16 else f"{serial[:8]}…{serial[-6:]}"


def plain(warning: str) -> str:
    """A ledger warning for the app: the CLI command it names without its backticks."""
    return safe_text(warning.replace("`", ""))


def root_rows(ledger: Any, root: Any) -> list[Any]:
    """The ledger's certificates issued by ``root`` (all of them while no root is loaded)."""
    if root is None:
        return list(ledger.rows)
    return [r for r in ledger.rows if r.root_sha256 == root.sha256]


def ledger_summary(ledger: Any, root: Any) -> Text:
    """The last CRL of this root, what the next one lists, and the ledger's warnings."""
    out = Text()
    rows = root_rows(ledger, root)
    revoked = [r for r in rows if r.revoked_at]
    crls = [c for c in ledger.crls if root is None or c.root_sha256 in ("", root.sha256)]
    last = max(crls, key=lambda c: c.number, default=None)
    others = len(ledger.rows) - len(rows)
    if others:
        out.append(f"{others} certificate{'' if others == 1 else 's'} in the station log issued by another root "
                   "not shown.\n", style="dim")
    if last is None:
        out.append("No CRL of this root has been issued from this station log yet.\n")
    else:
        out.append(f"Last CRL: number {last.number}, this update {last.this_update}, next update {last.next_update}, "
                   f"{len(last.serials)} revoked listed.\n")
    out.append(f"The CRL issued now lists {len(revoked)} revoked certificate{'' if len(revoked) == 1 else 's'}"
               + (": " + ", ".join(short_serial(r.serial) for r in revoked) if revoked else "") + ".", style="bold")
    for w in ledger.warnings:
        out.append("\nWARN   ", style="yellow")
        out.append(plain(w))
    return out


class CrlScreen(StepScreen):
    STEP = "crl"
    DEFAULT_CSS = """
    #crl-body { height: 1fr; }
    #ledger-pane { width: 42; height: 1fr; }
    Screen.-narrow #ledger-pane { width: 34; }
    #ledger-list { height: 1fr; border: round $primary; }
    #ledger-detail-pane { width: 1fr; height: 1fr; padding: 0 1; }
    """
    BINDINGS = [
        Binding("r", "revoke", "Revoke", id="crl.revoke", tooltip="Revoke the highlighted certificate (both officers)"),
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="crl-body", classes="body"):
            with Vertical(id="ledger-pane"):
                ledger = OptionList(id="ledger-list")
                ledger.border_title = Text("What the root issued")
                yield ledger
            with VerticalScroll(id="ledger-detail-pane"):
                yield Static(Text("The certificate"), classes="section-title")
                yield Readout(id="ledger-detail")
                yield Static(Text("The CRL"), classes="section-title")
                yield Readout(id="crl-summary")

    def on_step_mount(self) -> None:
        self.set_focus(self.query_one("#ledger-list", OptionList))

    def on_screen_resume(self) -> None:  # StepScreen.on_screen_resume runs as well
        if not self.byoroot.prebuilding and self.app.screen is self:
            self.flow.load_ledger()  # the log may have grown since (another ceremony, `byoroot revoke`)

    # -------------------------------------------------------------- display

    _listed: tuple[object, ...] = ()

    def sync(self) -> None:
        if not self.is_mounted:
            return
        c = self.ceremony
        ledger = c.ledger
        options = self.query_one("#ledger-list", OptionList)
        rows = root_rows(ledger, c.root) if ledger is not None else []
        self.rows = rows
        listed = tuple((r.serial, r.status, r.on_crl) for r in rows)
        if listed != self._listed:
            self._listed = listed
            before = options.highlighted
            options.clear_options()
            for r in rows:
                label = Text()
                label.append(f"{r.status:<8}", style=STATUS_STYLE.get(r.status, ""))
                label.append(f" {short_serial(r.serial)}", style="bold")
                label.append(f" to {r.not_after[:10]}\n", style="dim")
                label.append(safe_text(r.subject, 60), style="dim")
                options.add_option(Option(label, id=r.serial))
            if rows:
                options.highlighted = min(before or 0, len(rows) - 1)
        summary = self.query_one("#crl-summary", Static)
        if c.ledger_error:
            summary.update(Text.assemble(("✗ REFUSED  ", "bold red"), (c.ledger_error, "red")))
        elif ledger is None:
            summary.update(Text("reading the station log…", style="dim"))
        else:
            summary.update(ledger_summary(ledger, c.root))
        self._show_detail()

    rows: list[Any] = []  # the certificates listed: the chosen root's

    def highlighted_row(self) -> Any:
        options = self.query_one("#ledger-list", OptionList)
        if options.highlighted is None or options.highlighted >= len(self.rows):
            return None
        return self.rows[options.highlighted]

    def _show_detail(self) -> None:
        detail = self.query_one("#ledger-detail", Static)
        row = self.highlighted_row()
        if row is None:
            detail.update(Text("The station log holds no certificate this root issued: there is nothing to revoke. "
                               "A CRL issued now lists no certificate." if self.ceremony.ledger is not None else "",
                               style="dim"))
            return
        t = kv_table()
        t.add_row(Text("Serial"), Text(row.serial))
        t.add_row(Text("Subject"), Text(safe_text(row.subject)))
        t.add_row(Text("Valid"), Text(f"{row.not_before}  →  {row.not_after}"))
        t.add_row(Text("SHA-256"), Text(row.sha256))
        status = Text(row.status, style=STATUS_STYLE.get(row.status, ""))
        if row.revoked_at:
            status.append(f" at {row.revoked_at} ({row.reason})" if row.status == "revoked"
                          else f", revoked at {row.revoked_at} ({row.reason})")
            status.append(f", on CRL number {row.on_crl}" if row.on_crl else ", on no CRL yet", style="dim")
        t.add_row(Text("Status"), status)
        detail.update(t)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show_detail()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_revoke()

    # -------------------------------------------------------------- revoking

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "revoke":
            return not self.ceremony.signed and self.ceremony.ledger is not None
        return super().check_action(action, parameters)

    def action_revoke(self) -> None:
        row = self.highlighted_row()
        if self.ceremony.signed:
            return
        if row is None:
            self.byoroot.say("no certificate of this root to revoke", severity="warning")
            return
        if row.revoked_at:
            self.byoroot.say(f"serial {row.serial} is already revoked ({row.reason})", severity="warning")
            return
        if row.status == "refused":
            self.byoroot.say("this certificate was refused after signing and never exported: nothing to revoke",
                             severity="warning")
            return

        def answered(answer: tuple[str, list[str]] | None) -> None:
            if answer is None:
                return
            reason, officers = answer

            def done(o: Outcome[Any]) -> None:
                if o.ok:
                    self.byoroot.say(f"Serial {row.serial} revoked ({reason}); the CRL issued now lists it")
                else:
                    self.byoroot.show_error("Not revoked", o.reason or "")

            self.flow.revoke(row.serial, reason, officers, done)

        self.app.push_screen(RevokeModal(row.serial, row.subject), answered)


class RevokeModal(ModalScreen["tuple[str, list[str]] | None"]):
    """The reason and both officers' names for one revocation. Escape cancels; nothing is recorded
    until the second officer's Enter (the core checks the names and the reason)."""

    DEFAULT_CSS = """
    #revoke-reasons { height: auto; max-height: 6; margin: 1 0; background: $boost; }
    #revoke-reasons:focus { background: $primary 20%; }
    .revoke-row { height: 1; }
    .revoke-row Static { width: 12; }
    .revoke-row Input { width: 1fr; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="revoke.cancel", tooltip="Revoke nothing"),
    ]

    def __init__(self, serial: str, subject: str) -> None:
        super().__init__(classes="modal")
        self.serial, self.subject = serial, subject

    def compose(self) -> ComposeResult:
        from byoroot_tui.core.crl import ALLOWED_REASONS

        with Vertical(classes="dialog error"):
            yield Static(Text("Revoke this certificate?"), classes="dialog-title")
            yield Static(Text(f"Serial {self.serial}\n{safe_text(self.subject)}\nRecorded in the station log at "
                              "once (no key); the next root CRL lists it. It cannot be undone."),
                         classes="dialog-body")
            reasons = OptionList(id="revoke-reasons", compact=True)
            for name in ALLOWED_REASONS:
                label = Text.assemble((name, "bold"), " - ", (REASON_HELP.get(name, ""), "dim"),
                                      no_wrap=True, overflow="ellipsis")
                reasons.add_option(Option(label, id=name))
            yield reasons
            with Horizontal(classes="revoke-row"):
                yield Static(Text("Officer 1"))
                yield Input(placeholder="name", id="revoke-officer1", max_length=80, compact=True)
            with Horizontal(classes="revoke-row"):
                yield Static(Text("Officer 2"))
                yield Input(placeholder="a different person's name; Enter revokes", id="revoke-officer2",
                            max_length=80, compact=True)
            yield Readout(id="revoke-status")
        yield KeyBar()

    def on_mount(self) -> None:
        reasons = self.query_one("#revoke-reasons", OptionList)
        reasons.highlighted = None
        self.set_focus(reasons)
        self.query_one("#revoke-status", Static).update(
            Text("↑ ↓ a reason, Enter; then each officer's name and Enter", style="dim"))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.query_one("#revoke-status", Static).update(
            Text.assemble("Reason: ", (event.option.id or "", "bold"), ". Each officer types a name and Enter."))
        self.set_focus(self.query_one("#revoke-officer1", Input))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "revoke-officer1":
            self.set_focus(self.query_one("#revoke-officer2", Input))
            return
        reasons = self.query_one("#revoke-reasons", OptionList)
        status = self.query_one("#revoke-status", Static)
        if reasons.highlighted is None:
            status.update(Text("choose the reason first", style="red"))
            self.set_focus(reasons)
            return
        reason = reasons.get_option_at_index(reasons.highlighted).id or ""
        names = [self.query_one("#revoke-officer1", Input).value, self.query_one("#revoke-officer2", Input).value]
        from byoroot_tui.core.errors import ByorootError
        from byoroot_tui.core.officers import check_two_officers

        try:
            officers = check_two_officers(names, "revoke")  # the same check the core makes, shown here
        except ByorootError as exc:
            status.update(Text(str(exc), style="red"))
            return
        self.dismiss((reason, officers))

    def action_cancel(self) -> None:
        self.dismiss(None)
