"""The first screen when no CSR is waiting: which ceremony the officers hold (core.kinds)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from byoroot_tui.core.kinds import KINDS
from byoroot_tui.core.text import safe_text
from byoroot_tui.ui.screens.base import StepScreen
from byoroot_tui.ui.widgets.readout import Readout


class KindScreen(StepScreen):
    STEP = "kinds"
    DEFAULT_CSS = """
    #kinds-body { padding: 0 1; }
    #kinds-list { height: auto; max-height: 1fr; margin: 1 0; }
    #kinds-notes { height: auto; }
    """
    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="kinds-body", classes="body"):
            yield Static(Text("Which ceremony do the officers hold?  ↑ ↓ choose · Enter starts", style="bold"),
                         classes="section-title")
            options = OptionList(id="kinds-list")
            for kind in KINDS.values():
                label = Text(kind.title, style="bold")
                label.append("\n" + kind.summary, style="dim")
                options.add_option(Option(label, id=kind.name))
            yield options
            yield Readout(id="kinds-notes")

    def sync(self) -> None:
        """Under the choice: where the station log stands (the root's other duties)."""
        if not self.is_mounted:
            return
        c = self.ceremony
        notes = Text()
        notes.append(f"Station log: {safe_text(str(self.byoroot.services.station_log()))}", style="dim")
        if c.ledger_error:
            notes.append(f"\n✗ {c.ledger_error}", style="red")
        elif c.ledger is not None:
            rows = c.ledger.rows
            revoked = sum(1 for r in rows if r.revoked_at)
            last = c.ledger.last_crl
            notes.append(f"\nThe root issued {len(rows)} certificate{'' if len(rows) == 1 else 's'} here, {revoked} revoked; "
                         + (f"last CRL number {last.number}, next update {last.next_update}." if last else "no CRL yet."))
            for w in c.ledger.warnings:
                notes.append("\nWARN   ", style="yellow")
                notes.append(safe_text(w))
        self.query_one("#kinds-notes", Static).update(notes)

    def on_step_mount(self) -> None:
        options = self.query_one("#kinds-list", OptionList)
        names = list(KINDS)
        if self.ceremony.kind_name in names:
            options.highlighted = names.index(self.ceremony.kind_name)
        self.set_focus(options)
        self.sync()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.start(event.option.id)

    def action_choose(self) -> None:
        options = self.query_one("#kinds-list", OptionList)
        if options.highlighted is not None:
            option = options.get_option_at_index(options.highlighted)
            if option.id:
                self.start(option.id)

    def action_next(self) -> None:
        self.action_choose()

    def start(self, name: str) -> None:
        c = self.ceremony
        if c.signed:
            return
        c.set_kind(name)
        self.byoroot.goto(c.steps[0])
