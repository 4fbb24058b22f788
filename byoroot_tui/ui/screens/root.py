"""Step 4, Root: the root certificate, the root key file, and its passphrase (masked)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Static

from byoroot_tui.ui.screens.base import StepScreen
from byoroot_tui.ui.screens.preview import kv_table
from byoroot_tui.ui.screens.profile import day
from byoroot_tui.ui.widgets.fingerprint import grouped


class RootScreen(StepScreen):
    STEP = "root"
    BINDINGS = [
        Binding("ctrl+o", "browse", "Browse", id="root.browse", tooltip="Pick the file in a tree", priority=True),
        Binding("enter", "submit_field", "Load / check", id="root.enter", tooltip="Load this file or check the key", priority=True),
    ]

    def compose_body(self) -> ComposeResult:
        c = self.ceremony
        with VerticalScroll(id="root-body", classes="body"):
            yield Static(Text("Enter in a field loads or checks it; ctrl+o picks the file in a tree"), classes="officer-hint")
            with Horizontal(classes="field-row"):
                yield Static(Text("Root cert"), classes="field-name")
                yield Input(value=str(c.root_cert_path or ""), placeholder="root certificate file (PEM or DER)",
                            id="root-cert-path", compact=True)
            yield Static(id="root-info", markup=False)
            with Horizontal(classes="field-row"):
                yield Static(Text("Root key"), classes="field-name")
                yield Input(value=str(c.root_key_path or ""), placeholder="root private key file",
                            id="root-key-path", compact=True)
            with Horizontal(classes="field-row"):
                yield Static(Text("Passphrase"), classes="field-name")
                yield Input(password=True, placeholder="hidden; leave empty if the key is not encrypted",
                            id="passphrase", compact=True)
            yield Static(id="key-status", markup=False)

    def on_mount(self) -> None:
        c = self.ceremony
        if c.root_cert_path is None:
            self.query_one("#root-cert-path", Input).focus()
        elif c.root_key_path is None:
            self.set_focus(self.query_one("#root-key-path", Input))  # at once: type-ahead lands here
        else:
            self.query_one("#passphrase", Input).focus()
        self.sync()
        if c.root is not None and c.root_key_path is not None and not c.key_checked and c.key_error is None:
            self.byoroot.start_key_check()

    # -------------------------------------------------------------- input

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "passphrase":
            self.byoroot.passphrase_edited()
            self.sync()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit_field(event.input)

    def submit_field(self, field: Input) -> None:
        if self.ceremony.signed:
            return
        if field.id == "root-cert-path":
            self._set_cert(field.value)
        elif field.id == "root-key-path":
            self._set_key(field.value)
        elif field.id == "passphrase":
            self._check()

    def _set_cert(self, value: str) -> None:
        value = value.strip()
        c = self.ceremony
        path = Path(value).expanduser().absolute() if value else None
        if path is None:
            c.set_root(None, None, "choose the root certificate")
        else:
            c.set_root(path, None, None)
            self.byoroot.load_root(path)
            self.set_focus(self.query_one("#root-key-path", Input))  # at once: type-ahead lands here
        self.sync()

    def _set_key(self, value: str) -> None:
        value = value.strip()
        path = Path(value).expanduser().absolute() if value else None
        self.ceremony.set_root_key_path(path)
        if path is not None:
            self.set_focus(self.query_one("#passphrase", Input))  # at once: a passphrase typed ahead
            self._check()                                          # must never land in a visible field
        self.sync()

    def _check(self) -> None:
        c = self.ceremony
        # take what is typed in the path fields even if Enter was not pressed there
        cert_value = self.query_one("#root-cert-path", Input).value.strip()
        if cert_value and (c.root_cert_path is None or Path(cert_value).expanduser().absolute() != c.root_cert_path):
            self._set_cert(cert_value)
            return  # the key is checked when the certificate has loaded
        key_value = self.query_one("#root-key-path", Input).value.strip()
        if key_value and (c.root_key_path is None or Path(key_value).expanduser().absolute() != c.root_key_path):
            c.set_root_key_path(Path(key_value).expanduser().absolute())
        if c.root is None:
            self.byoroot.say(c.root_error or "load the root certificate first", severity="error")
            return
        if c.root_key_path is None:
            self.byoroot.say("choose the root key file", severity="error")
            return
        self.byoroot.start_key_check()
        self.sync()

    def action_browse(self) -> None:
        from byoroot_tui.ui.screens.modals import PathPicker

        focused = self.focused
        target = "key" if isinstance(focused, Input) and focused.id in ("root-key-path", "passphrase") else "cert"
        field_ = self.query_one("#root-key-path" if target == "key" else "#root-cert-path", Input)
        current = Path(field_.value.strip()).expanduser() if field_.value.strip() else None
        if current is not None and current.parent.is_dir():
            start = current.parent
        elif self.ceremony.media_roots:
            start = self.ceremony.media_roots[0]
        else:
            start = Path.cwd()

        def picked(path: Path | None) -> None:
            if path is None:
                return
            field_.value = str(path)
            if target == "key":
                self._set_key(str(path))
            else:
                self._set_cert(str(path))

        title = "Choose the root private key file" if target == "key" else "Choose the root certificate"
        self.app.push_screen(PathPicker(title, start, want="file"), picked)

    def action_next(self) -> None:
        c = self.ceremony
        # An officer who typed the passphrase and pressed ctrl+n means "check it and go on".
        if c.blocker("root") and c.root is not None and c.root_key_path is not None and not c.key_checked and c.key_error is None:
            self._check()
            self.byoroot.say("checking the root key…")
            return
        super().action_next()

    # -------------------------------------------------------------- display

    def sync(self) -> None:
        if not self.is_mounted:
            return
        c = self.ceremony
        info = self.query_one("#root-info", Static)
        if c.root is not None:
            r = c.root
            t = kv_table()
            t.add_row(Text("Subject"), Text(r.subject_text))
            t.add_row(Text("Key"), Text(f"{r.key_algorithm} ({r.key_size})"))
            t.add_row(Text("Valid"), Text(f"{day(r.not_before)}  →  {day(r.not_after)}"))
            t.add_row(Text("SHA-256"), Text("\n".join(grouped(r.sha256, 4, 8))))
            info.update(t)
        elif c.root_error:
            info.update(Text.assemble(("✗ ", "bold red"), (c.root_error, "red")))
        elif c.root_cert_path is not None:
            info.update(Text("reading the root certificate…", style="dim"))
        else:
            info.update(Text("type the path of the root certificate and press Enter, or ctrl+o to browse", style="dim"))

        status = self.query_one("#key-status", Static)
        if c.key_checked:
            status.update(Text("✓ the key opens and matches the root certificate; it was dropped again "
                               "and is loaded only for signing", style="green"))
        elif c.key_error:
            status.update(Text.assemble(("✗ ", "bold red"), (c.key_error, "red")))
        elif c.root_key_path is None:
            status.update(Text("type the path of the root key and press Enter, or ctrl+o to browse", style="dim"))
        elif c.root is None:
            status.update(Text("the key is checked once the root certificate is loaded", style="dim"))
        elif self.byoroot.key_check_running:
            status.update(Text("checking the key…", style="dim"))
        else:
            status.update(Text("press Enter in the passphrase field to check the key", style="dim"))
