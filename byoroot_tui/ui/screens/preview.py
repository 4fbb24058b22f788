"""Step 2, CSR: everything `byoroot inspect` shows, laid out for a person."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from byoroot_tui.core.ceremony import extension_rows
from byoroot_tui.ui.screens.base import StepScreen
from byoroot_tui.ui.widgets.fingerprint import grouped
from byoroot_tui.ui.widgets.readout import Readout

SEVERITY_STYLE = {"refuse": "bold red", "warn": "yellow", "info": "cyan"}
SEVERITY_WORD = {"refuse": "REFUSE", "warn": "WARN", "info": "INFO"}
ACTION_STYLE = {"kept": "green", "narrowed": "green", "overridden": "yellow", "ignored": "yellow"}


def kv_table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    return table


def findings_text(findings: list) -> Text:  # type: ignore[type-arg]
    out = Text()
    if not findings:
        out.append("none", style="green")
    for i, f in enumerate(findings):
        if i:
            out.append("\n")
        out.append(f"{SEVERITY_WORD.get(f.severity, f.severity.upper()):<7}", style=SEVERITY_STYLE.get(f.severity, ""))
        out.append(f.message)
    return out


class PreviewScreen(StepScreen):
    STEP = "preview"

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="preview-body", classes="body"):
            yield Readout(id="verdict", classes="verdict")
            yield Readout(id="csr-summary")
            yield Static(Text("Requested extensions"), id="ext-title", classes="section-title")
            yield Readout(id="extensions")
            yield Static(Text("Findings"), id="findings-title", classes="section-title")
            yield Readout(id="findings")

    def on_step_mount(self) -> None:
        self.set_focus(self.query_one("#preview-body"))
        self.sync()

    def sync(self) -> None:
        if not self.is_mounted:
            return
        c = self.ceremony
        detail_ids = ("#csr-summary", "#ext-title", "#extensions", "#findings-title", "#findings")
        verdict = self.query_one("#verdict", Static)

        def say(kind: str, text: Text) -> None:
            for name in ("ok", "refused", "pending"):
                verdict.set_class(name == kind, name)  # only a change of class restyles it
            verdict.update(text)

        name = c.csr_path.name if c.csr_path else "(none)"
        if c.csr_path is None:
            say("pending", Text("No CSR chosen yet: go back (esc) and pick one on the medium."))
            self._show_details(detail_ids, False)
            return
        if c.csr_error:
            say("refused", Text.assemble(("REFUSED  ", "bold"), c.csr_error, "\nThis file cannot be signed. Go back (esc) and choose another."))
            self._show_details(detail_ids, False)
            return
        info = c.csr
        if info is None:
            say("pending", Text("Reading the CSR…"))
            self._show_details(detail_ids, False)
            return
        from byoroot_tui.core.errors import ByorootError
        from byoroot_tui.core.findings import Finding, refusals

        try:
            profile = c.profile
        except ByorootError as exc:  # a profile file that vanished or broke meanwhile
            say("refused", Text.assemble(("REFUSED  ", "bold"), str(exc)))
            self._show_details(detail_ids, False)
            return
        checking = False
        if info.refused:
            findings = list(info.findings)
        elif c.assessment_is_current() and c.assessment is not None:
            findings = list(c.assessment.findings)  # exactly what `byoroot inspect` lists
        elif c.assessment_is_current():
            findings = list(info.findings) + [Finding("refuse", "assess.failed", c.assessment_error or "")]
        else:
            findings, checking = list(info.findings), True
        blocking = refusals(findings)
        if checking and not blocking:
            say("pending", Text(f"Checking the CSR against profile {profile.name} (lint)…"))
        elif blocking:
            say("refused", Text.assemble(("REFUSED  ", "bold"), blocking[0].message,
                                         "\nThis CSR cannot be signed. Go back (esc) and choose another file."))
        else:
            warns = sum(1 for f in findings if f.severity == "warn")
            say("ok", Text.assemble(("ACCEPTABLE  ", "bold"),
                                    f"profile {profile.name} can sign this CSR"
                                    + (f" ({warns} warning{'s' if warns != 1 else ''} below)" if warns else "")
                                    + ".  ctrl+n: next step"))
        self._show_details(detail_ids, True)

        summary = kv_table()
        summary.add_row(Text("File"), Text(name if c.csr_path is None else info.name))
        summary.add_row(Text("SHA-256 (DER)"), Text("\n".join(grouped(info.sha256, 4, 8))))
        summary.add_row(Text("Subject"), Text(info.subject_text or "(empty)"))
        for f in info.subject_fields:
            summary.add_row(Text("  " + f["name"], style="dim"), Text(f["value"]))
        summary.add_row(Text("Public key"), Text(f"{info.key_algorithm} ({info.key_size})"))
        summary.add_row(Text("Signature"), Text(info.signature_algorithm))
        summary.add_row(
            Text("Self-signature"),
            Text("verifies ✓", style="green") if info.signature_valid else Text("DOES NOT VERIFY ✗", style="bold red"),
        )
        for a in info.attributes:
            summary.add_row(Text(f"Attribute {a['name']}"), Text(a["value"]))
        self.query_one("#csr-summary", Static).update(summary)

        ext = self.query_one("#extensions", Static)
        if info.refused:
            ext.update(Text("(not reviewed: the CSR is refused)", style="dim"))
        elif not info.extensions:
            ext.update(Text("none requested; the profile decides every extension", style="dim"))
        else:
            table = Table(box=box.SIMPLE_HEAD, expand=True, pad_edge=False, show_edge=False)
            table.add_column(Text("Extension"), overflow="fold", min_width=16, max_width=24)
            table.add_column(Text("Critical"), no_wrap=True)
            table.add_column(Text("Requested"), overflow="fold", ratio=3)
            table.add_column(Text(f"{profile.name} will"), overflow="fold", ratio=3)
            for row in extension_rows(info, profile, c.root):
                action = Text(row.action, style=ACTION_STYLE[row.action])
                if row.action in ("overridden", "narrowed") and row.issued:
                    action.append(f" → {row.issued}")
                elif row.action == "ignored":
                    action.append(" (not in the certificate)", style="dim")
                table.add_row(Text(row.name), Text("yes" if row.critical else "no"), Text(row.requested), action)
            ext.update(table)
        shown = findings_text(findings)
        if checking:
            shown.append("\n…      linting what would be issued", style="dim")
        self.query_one("#findings", Static).update(Group(shown))

    def _show_details(self, ids: tuple[str, ...], show: bool) -> None:
        for i in ids:
            self.query_one(i).display = show
