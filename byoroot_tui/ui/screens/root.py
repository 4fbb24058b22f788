"""Step 4, Root: the root certificate, and the root key: a key file with its passphrase, or a
key in an HSM (PKCS#11 module, token, key on it, PIN). Secrets are typed into masked inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from byoroot_tui.ui.jobs import Outcome
from byoroot_tui.ui.screens.base import StepScreen
from byoroot_tui.ui.screens.preview import kv_table
from byoroot_tui.ui.screens.profile import day
from byoroot_tui.ui.widgets.fingerprint import grouped
from byoroot_tui.ui.widgets.readout import Readout


class RootScreen(StepScreen):
    STEP = "root"
    BINDINGS = [
        Binding("ctrl+o", "browse", "Browse", id="root.browse", tooltip="Pick the file in a tree", priority=True),
        Binding("ctrl+t", "switch_source", "File/HSM", id="root.source",
                tooltip="Switch between a key file and a key in an HSM (PKCS#11)", priority=True),
        Binding("enter", "submit_field", "Load / check", id="root.enter", tooltip="Load this file or check the key", priority=True),
    ]

    def compose_body(self) -> ComposeResult:
        c = self.ceremony
        with VerticalScroll(id="root-body", classes="body"):
            yield Static(Text("Enter loads or checks a field · ctrl+o picks a file · ctrl+t key file ⇄ HSM"),
                         classes="officer-hint")
            with Horizontal(classes="field-row"):
                yield Static(Text("Root cert"), classes="field-name")
                yield Input(value=str(c.root_cert_path or ""), placeholder="root certificate file (PEM or DER)",
                            id="root-cert-path", compact=True)
            yield Readout(id="root-info")
            with Horizontal(classes="field-row"):
                yield Static(Text("Key is in"), classes="field-name")
                yield Readout(id="key-source")
            with Vertical(id="file-key"):
                with Horizontal(classes="field-row"):
                    yield Static(Text("Root key"), classes="field-name")
                    yield Input(value=str(c.root_key_path or ""), placeholder="root private key file",
                                id="root-key-path", compact=True)
                with Horizontal(classes="field-row"):
                    yield Static(Text("Passphrase"), classes="field-name")
                    yield Input(password=True, placeholder="hidden; leave empty if the key is not encrypted",
                                id="passphrase", compact=True)
            with Vertical(id="hsm-key"):
                with Horizontal(classes="field-row"):
                    yield Static(Text("Module"), classes="field-name")
                    yield Input(value=c.hsm_module or "", placeholder="PKCS#11 module (.so); Enter lists its tokens",
                                id="hsm-module", compact=True)
                with Horizontal(classes="list-row"):
                    yield Static(Text("Token"), classes="field-name")
                    yield OptionList(id="hsm-tokens", compact=True)
                with Horizontal(classes="list-row"):
                    yield Static(Text("Key"), classes="field-name")
                    yield OptionList(id="hsm-keys", compact=True)
                with Horizontal(classes="field-row"):
                    yield Static(Text("PIN"), classes="field-name")
                    yield Input(password=True, placeholder="hidden; the token's user PIN; Enter checks the key",
                                id="pin", compact=True)
            yield Readout(id="key-status")

    def __init__(self) -> None:
        super().__init__()
        self._tokens: list[Any] = []  # core.pkcs11.TokenInfo, as listed for the module typed
        self._tokens_for: str | None = None  # the module they were listed from
        self._token: Any = None  # the token chosen
        self._keys: list[Any] = []  # core.pkcs11.KeyInfo on the chosen token
        self._hsm_note: str | None = None  # what the last listing said (an error or a hint)
        self._hsm_busy: str | None = None  # "tokens" or "keys" while a listing runs
        self._check_when_listed = False  # Enter in the PIN field listed the keys: check the key after

    def on_step_mount(self) -> None:
        c = self.ceremony
        if c.root_cert_path is None:
            self.set_focus(self.query_one("#root-cert-path", Input))
        elif c.key_source == "hsm":
            self._focus_hsm()
        elif c.root_key_path is None:
            self.set_focus(self.query_one("#root-key-path", Input))  # at once: type-ahead lands here
        else:
            self.set_focus(self.query_one("#passphrase", Input))
        self.sync()
        if c.key_source == "hsm":
            if c.hsm_module and self._tokens_for != c.hsm_module:
                self._list_tokens(c.hsm_module)
        elif c.root is not None and c.root_key_path is not None and not c.key_checked and c.key_error is None \
                and not self.flow.passphrase_needed:
            self.flow.start_key_check()

    # -------------------------------------------------------------- key file or key in an HSM

    def action_switch_source(self) -> None:
        c = self.ceremony
        if c.signed:
            return
        c.set_key_source("file" if c.key_source == "hsm" else "hsm")
        if c.key_source == "hsm":
            if not c.hsm_module:
                from byoroot_tui.core.keyref import default_module_path

                field_ = self.query_one("#hsm-module", Input)
                module = field_.value.strip() or default_module_path()  # what was typed here before wins
                if module:
                    field_.value = module
                    c.set_hsm_module(module)
            if c.hsm_module and self._tokens_for != c.hsm_module:
                self._list_tokens(c.hsm_module)
            self._focus_hsm()
        else:
            field_ = "#passphrase" if c.root_key_path is not None else "#root-key-path"
            self.set_focus(self.query_one(field_, Input))
        self.sync()
        self.refresh_bindings()

    def _focus_hsm(self, only_if_there: bool = False) -> None:
        """Focus the next HSM field to fill in. ``only_if_there``: not if the officer is elsewhere."""
        c = self.ceremony
        if only_if_there and self.focused is not None and self.focused not in self.query_one("#hsm-key").walk_children():
            return
        if not c.hsm_module:
            self.set_focus(self.query_one("#hsm-module", Input))
        elif self._token is None and len(self._tokens) > 1:
            self.set_focus(self.query_one("#hsm-tokens", OptionList))
        elif c.hsm_key is None and len(self._keys) > 1:
            self.set_focus(self.query_one("#hsm-keys", OptionList))
        elif c.hsm_key is not None and c.hsm_key.pin_pad:
            self.set_focus(self.query_one("#hsm-keys", OptionList))
        else:
            self.set_focus(self.query_one("#pin", Input))

    def _list_tokens(self, module: str) -> None:
        self._tokens, self._tokens_for, self._token, self._keys = [], module, None, []
        self._hsm_note, self._hsm_busy = None, "tokens"
        self.flow.list_tokens(module)
        self.sync()

    def tokens_listed(self, module: str, listed: Outcome[list[Any]]) -> None:
        """The job listed the module's tokens (or could not)."""
        if module != self.ceremony.hsm_module or self.ceremony.signed:
            return
        self._hsm_busy = None
        if not listed.ok:
            self._tokens, self._hsm_note = [], listed.reason
            self.sync()
            return
        self._tokens = list(listed.value or [])
        usable = [t for t in self._tokens if t.initialized]
        if not self._tokens:
            self._hsm_note = "the module shows no token: is the HSM connected (or the SoftHSM2 token made)?"
        elif not usable:
            self._hsm_note = "no token in this module is initialised"
        else:
            self._hsm_note = None
        key = self.ceremony.hsm_key
        again = [t for t in usable if key is not None and t.label == key.token_label and t.serial == key.token_serial]
        if again:
            self._choose_token(again[0], keep_key=True)
        elif len(usable) == 1:
            self._choose_token(usable[0])
        self.sync()
        self._focus_hsm(only_if_there=True)

    def _choose_token(self, token: Any, keep_key: bool = False) -> None:
        c = self.ceremony
        if c.hsm_module is None:
            return
        self._token, self._keys = token, []
        if not keep_key:
            c.set_hsm_key(None)
        self._hsm_note, self._hsm_busy = None, "keys"
        self.flow.list_keys(c.hsm_module, token, self.flow.take_passphrase() if c.key_source == "hsm" else None)
        self.sync()

    def keys_listed(self, module: str, listed: Outcome[list[Any]], token: Any) -> None:
        c = self.ceremony
        if module != c.hsm_module or token != self._token or c.signed:
            return
        self._hsm_busy = None
        if not listed.ok:
            self._keys, self._hsm_note = [], listed.reason
            self.sync()
            return
        self._keys = list(listed.value or [])
        usable = [k for k in self._keys if k.usable]
        if not self._keys:
            self._hsm_note = ("no key is visible without logging in: type the PIN and press Enter to list the "
                              "private keys" if token.login_required and not token.protected_auth
                              else "this token holds no key")
        elif not usable:
            self._hsm_note = "no key on this token can sign a certificate here (each says why)"
        else:
            self._hsm_note = None
        key = c.hsm_key
        again = [k for k in usable if key is not None and k.label == key.key_label and k.id == key.key_id]
        if again:
            pass  # the key chosen before is still there
        elif len(usable) == 1:
            self._choose_key(usable[0])
        check, self._check_when_listed = self._check_when_listed, False
        if check and c.hsm_key is not None and c.root is not None and not c.key_checked:
            self.flow.start_key_check()
        self.sync()
        self._focus_hsm(only_if_there=True)

    def _choose_key(self, key: Any) -> None:
        from byoroot_tui.core.keyref import HsmKey

        c = self.ceremony
        if c.hsm_module is None or self._token is None:
            return
        if not key.usable:
            self.byoroot.say(key.problem, severity="error")
            return
        c.set_hsm_key(HsmKey.chosen(c.hsm_module, self._token, key))
        if c.root is not None and (self._token.protected_auth or not self._token.login_required):
            self.flow.start_key_check()  # nothing to type here: a PIN pad, or no login at all

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.ceremony.signed or event.option.id is None:
            return
        index = int(event.option.id.split("-")[-1])
        if event.option_list.id == "hsm-tokens" and index < len(self._tokens):
            token = self._tokens[index]
            if not token.initialized:
                self.byoroot.say("this token is not initialised", severity="error")
                return
            self._choose_token(token)
        elif event.option_list.id == "hsm-keys" and index < len(self._keys):
            self._choose_key(self._keys[index])
            if self.ceremony.hsm_key is not None and not self.ceremony.hsm_key.pin_pad:
                self.set_focus(self.query_one("#pin", Input))
        self.sync()

    # -------------------------------------------------------------- input

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id in ("passphrase", "pin"):
            self.flow.passphrase_edited()
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
        elif field.id == "hsm-module":
            self._set_module(field.value)
        elif field.id == "pin":
            self._check_hsm()

    def _set_module(self, value: str) -> None:
        module = value.strip() or None
        self.ceremony.set_hsm_module(module)
        if module is None:
            self._tokens, self._tokens_for, self._token, self._keys = [], None, None, []
            self._hsm_note = "type the path of the PKCS#11 module (the HSM vendor's .so)"
            self.sync()
            return
        self._list_tokens(module)

    def _check_hsm(self) -> None:
        c = self.ceremony
        module = self.query_one("#hsm-module", Input).value.strip()
        if module and module != c.hsm_module:
            self._set_module(module)
            return
        if c.root is None:
            self.byoroot.say(c.root_error or "load the root certificate first", severity="error")
            return
        if self._hsm_busy:
            self.byoroot.say(f"still listing the {self._hsm_busy}…")
            return
        if c.hsm_key is None:
            if self._token is not None:
                self._check_when_listed = True
                self._choose_token(self._token)  # list again, logged in with the PIN typed
                return
            self.byoroot.say("choose the token and the key on it", severity="error")
            return
        self.flow.start_key_check()
        self.sync()

    def _set_cert(self, value: str) -> None:
        value = value.strip()
        c = self.ceremony
        path = Path(value).expanduser().absolute() if value else None
        if path is None:
            c.set_root(None, None, "choose the root certificate")
        else:
            c.set_root(path, None, None)
            self.flow.load_root(path)
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
        if c.key_source == "hsm":
            self._check_hsm()
            return
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
        self.flow.start_key_check()
        self.sync()

    def action_browse(self) -> None:
        from byoroot_tui.ui.screens.modals import PathPicker

        focused = self.focused
        fid = focused.id if focused is not None else None
        target = {"root-key-path": "key", "passphrase": "key", "hsm-module": "module", "hsm-tokens": "module",
                  "hsm-keys": "module", "pin": "module"}.get(fid or "", "cert")
        field_ = self.query_one({"key": "#root-key-path", "module": "#hsm-module"}.get(target, "#root-cert-path"), Input)
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
            elif target == "module":
                self._set_module(str(path))
            else:
                self._set_cert(str(path))

        title = {"key": "Choose the root private key file", "module": "Choose the PKCS#11 module (.so)"}.get(
            target, "Choose the root certificate")
        self.app.push_screen(PathPicker(title, start, want="file"), picked)

    def action_next(self) -> None:
        c = self.ceremony
        field_ = self.flow.passphrase_input()
        if c.key_source == "file" and self.flow.passphrase_needed and not c.key_checked and field_ is not None \
                and not field_.value:
            self.set_focus(field_)
            self.byoroot.say("the root key is encrypted: type its passphrase first", severity="warning")
            return
        # An officer who typed the passphrase and pressed ctrl+n means "check it and go on".
        if c.blocker("root") and c.root is not None and c.key_ref() is not None and not c.key_checked and c.key_error is None:
            self._check()
            self._next_once_checked = True  # ...and go on once the check says the key is right
            self.byoroot.say("checking the root key…")
            return
        super().action_next()

    _next_once_checked = False

    def go_on_if_checked(self) -> None:
        """After ctrl+n started a key check: move on once it succeeded (stay on a refusal)."""
        c = self.ceremony
        if not self._next_once_checked or self.flow.key_check_running:
            return
        self._next_once_checked = False
        if c.key_checked and not c.blocker("root") and self.byoroot.current_step == "root":
            self.call_after_refresh(super().action_next)

    # -------------------------------------------------------------- display

    def _sync_hsm_lists(self) -> None:
        from byoroot_tui.core.text import safe_text

        c = self.ceremony
        tokens = self.query_one("#hsm-tokens", OptionList)
        options = []
        for i, t in enumerate(self._tokens):
            label = Text.assemble(
                ("● " if t is self._token else "  ", "bold green"), (safe_text(t.label, 32) or "(no label)", "bold"),
                f"  serial {safe_text(t.serial, 32) or 'none'}",
                (f"  [{', '.join(t.state)}]" if t.state else "", "yellow"),
            )
            options.append(Option(label, id=f"token-{i}", disabled=not t.initialized))
        if not options:
            options.append(Option(Text("listing the tokens…" if self._hsm_busy == "tokens" else "(none listed)",
                                       style="dim"), id="none", disabled=True))
        _replace_options(tokens, options)
        keys = self.query_one("#hsm-keys", OptionList)
        chosen = c.hsm_key
        options = []
        for i, k in enumerate(self._keys):
            mark = chosen is not None and k.label == chosen.key_label and k.id == chosen.key_id
            label = Text.assemble(
                ("● " if mark else "  ", "bold green"), (safe_text(k.label, 32) or "(no label)", "bold"),
                f"  id {k.id_hex or 'none'}  {k.key_type} {k.size}".rstrip(),
                (f"  ✗ {safe_text(k.problem, 120)}" if k.problem else "", "red"),
            )
            options.append(Option(label, id=f"key-{i}", disabled=not k.usable))
        if not options:
            text = "listing the keys…" if self._hsm_busy == "keys" else (
                "(choose a token)" if self._token is None else "(none listed)")
            options.append(Option(Text(text, style="dim"), id="none", disabled=True))
        _replace_options(keys, options)

    def _hsm_status(self) -> Text:
        c = self.ceremony
        if c.key_checked:
            return Text("✓ the PIN opens the key on the token and it matches the root certificate; the session "
                        "was closed again and is opened only for signing", style="green")
        if c.key_error:
            return Text.assemble(("✗ ", "bold red"), (c.key_error, "red"))
        if self._hsm_note:
            return Text.assemble(("! ", "bold yellow"), (self._hsm_note, "yellow"))
        if self._hsm_busy:
            return Text(f"listing the {self._hsm_busy}…", style="dim")
        if not c.hsm_module:
            return Text("type the path of the PKCS#11 module and press Enter, or ctrl+o to browse", style="dim")
        if self._token is None:
            return Text("choose the token (arrows, Enter)", style="dim")
        if c.hsm_key is None:
            return Text("choose the root key on the token (arrows, Enter)", style="dim")
        if c.root is None:
            return Text("the key is checked once the root certificate is loaded", style="dim")
        if self.flow.key_check_running:
            return Text("checking the key on the token…", style="dim")
        if c.hsm_key.pin_pad:
            return Text("enter the PIN on the token's PIN pad when it asks", style="dim")
        return Text("type the PIN and press Enter to check the key", style="dim")

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
            for finding in r.warnings:  # the root's own (a serial that is not positive); the hash is the review's
                t.add_row(Text("Warning", style="bold yellow"), Text(finding.message, style="yellow"))
            info.update(t)
        elif c.root_error:
            info.update(Text.assemble(("✗ ", "bold red"), (c.root_error, "red")))
        elif c.root_cert_path is not None:
            info.update(Text("reading the root certificate…", style="dim"))
        else:
            info.update(Text("type the path of the root certificate and press Enter, or ctrl+o to browse", style="dim"))

        hsm = c.key_source == "hsm"
        outcome = (c.key_source, c.key_checked, c.key_error)
        if outcome != getattr(self, "_outcome", None):
            self._outcome = outcome
            if c.key_checked or c.key_error:  # the verdict is the last line: make sure it is in view
                self.call_after_refresh(self.query_one("#root-body", VerticalScroll).scroll_end, animate=False)
        self.query_one("#key-source", Static).update(Text.assemble(
            ("○ a key file" if hsm else "● a key file", "" if hsm else "bold"), "    ",
            ("● an HSM (PKCS#11)" if hsm else "○ an HSM (PKCS#11)", "bold" if hsm else ""),
            ("    ctrl+t switches", "dim"),
        ))
        self.query_one("#file-key").display = not hsm
        self.query_one("#hsm-key").display = hsm
        status = self.query_one("#key-status", Static)
        if hsm:
            self._sync_hsm_lists()
            status.update(self._hsm_status())
            return
        if c.key_checked:
            status.update(Text("✓ the key opens and matches the root certificate; it was dropped again "
                               "and is loaded only for signing", style="green"))
        elif c.key_error:
            status.update(Text.assemble(("✗ ", "bold red"), (c.key_error, "red")))
        elif self.flow.passphrase_needed and not self.flow.key_check_running:
            status.update(Text("the root key is encrypted: type its passphrase above and press Enter", style="bold"))
        elif c.root_key_path is None:
            status.update(Text("type the path of the root key and press Enter, or ctrl+o to browse", style="dim"))
        elif c.root is None:
            status.update(Text("the key is checked once the root certificate is loaded", style="dim"))
        elif self.flow.key_check_running:
            status.update(Text("checking the key…", style="dim"))
        else:
            status.update(Text("press Enter in the passphrase field to check the key", style="dim"))


def _replace_options(widget: OptionList, options: list[Option]) -> None:
    """Show ``options``, keeping the highlight where it was (rebuilt only when something changed)."""
    old = [(str(o.prompt), o.id, o.disabled) for o in widget.options]
    new = [(str(o.prompt), o.id, o.disabled) for o in options]
    if old == new:
        return
    highlighted = widget.highlighted
    widget.set_options(options)
    enabled = [i for i, o in enumerate(options) if not o.disabled]
    if highlighted is not None and highlighted < len(options) and not options[highlighted].disabled:
        widget.highlighted = highlighted
    elif enabled:
        widget.highlighted = enabled[0]
