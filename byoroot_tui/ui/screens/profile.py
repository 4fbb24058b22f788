"""Step 3, Profile: what kind of certificate the root will issue."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from byoroot_tui.core.ceremony import DEFAULT_PROFILE_NAME
from byoroot_tui.core.validity import validity_window
from byoroot_tui.ui.screens.base import StepScreen
from byoroot_tui.ui.screens.preview import kv_table
from byoroot_tui.ui.widgets.readout import Readout


def day(dt) -> str:  # type: ignore[no-untyped-def]
    return dt.strftime("%Y-%m-%d %H:%M UTC")


def list_name(name: str, width: int = 20) -> str:
    """A long profile name broken into lines after a '-', '.' or '_' (intermediate-ca- /
    curve-matched), not in mid-word where the list would cut it; a part without one is cut."""
    lines = []
    while len(name) > width:
        cut = max(name.rfind(sep, 0, width) for sep in "-._") + 1 or width
        lines.append(name[:cut])
        name = name[cut:]
    return "\n".join([*lines, name])


class ProfileScreen(StepScreen):
    STEP = "profile"

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="profile-body", classes="body"):
            with Vertical(id="profile-pane"):
                profiles = OptionList(id="profile-list")
                profiles.border_title = Text("Profiles")  # Text: never markup
                yield profiles
                yield Readout(id="profile-errors")
            with VerticalScroll(id="profile-detail-pane"):
                yield Readout(id="profile-detail")

    def on_step_mount(self) -> None:
        from byoroot_tui.core.profiles import find_profiles

        listing = find_profiles(list(self.ceremony.profile_dirs) or None)
        options = self.query_one("#profile-list", OptionList)
        for p in listing.profiles:
            label = Text(list_name(p.name), style="bold")
            if p.name == DEFAULT_PROFILE_NAME:
                label.append("  (default)", style="dim")
            elif p.source != "built-in":
                label.append(f"\n{p.source}", style="dim")
            options.add_option(Option(label, id=p.name))
        errors = self.query_one("#profile-errors", Static)
        errors.update(Text("\n".join(f"✗ {e}" for e in listing.errors), style="red"))
        errors.display = bool(listing.errors)
        ids = [p.name for p in listing.profiles]
        if self.ceremony.profile_name in ids:
            options.highlighted = ids.index(self.ceremony.profile_name)
        self.set_focus(options)
        self.sync()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id and not self.ceremony.signed:
            self.flow.profile_changed(event.option.id)
            self.sync()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_next()

    def sync(self) -> None:
        if not self.is_mounted:
            return
        c = self.ceremony
        p = c.profile
        now = self.byoroot.services.clock()
        w = validity_window(p, now, c.root)
        t = kv_table()
        t.add_row(Text("Profile"), Text.assemble((p.name, "bold"), f"  ({p.source})"))
        t.add_row(Text("About"), Text(p.description))
        path = "no limit" if p.path_length is None else str(p.path_length)
        t.add_row(Text("CA"), Text(f"yes, path length {path}" + (" (no CAs below it)" if p.path_length == 0 else "")))
        validity = Text(f"{p.validity_days} days if signed now:\n{day(w.not_before)}  →\n{day(w.not_after)}")
        if p.backdate_minutes:
            validity.append(f"\n(starts {p.backdate_minutes} min back: clocks drift)", style="dim")
        t.add_row(Text("Validity"), validity)
        if c.root is None:
            t.add_row(Text("Root expiry"), Text("not known yet (next step); if the root expires first, "
                                                "the validity is capped to it", style="dim"))
        elif w.refusal:
            t.add_row(Text("Root expiry"), Text(f"REFUSED: {w.refusal} (root notAfter {day(c.root.not_after)})", style="bold red"))
        elif w.capped:
            t.add_row(Text("Root expiry"), Text(f"CAPPED: the root expires first, {day(c.root.not_after)} "
                                                f"(the profile asks until {day(w.requested_not_after)})", style="bold yellow"))
        else:
            t.add_row(Text("Root expiry"), Text(f"{day(c.root.not_after)}: after the certificate, no capping", style="green"))
        for label, value in p.describe():  # the core's own description (CLI `byoroot profiles` shows it too)
            if label in ("path length", "validity", "backdate"):
                continue  # shown above, with real dates
            t.add_row(Text(label.capitalize()), Text(value))
        if c.root is not None:
            from byoroot_tui.core.issue import hash_curve_finding

            advice = hash_curve_finding(p, c.root)  # the hash against the root's curve
            if advice is not None:
                t.add_row(Text("Warning", style="bold yellow"), Text(advice.message, style="yellow"))
        t.add_row(Text("Past the root"), Text("capped to the root's notAfter" if p.cap_to_issuer else "refused"))
        t.add_row(Text("From the CSR"), Text("subject and public key only; every extension comes from the profile"))
        self.query_one("#profile-detail", Static).update(t)
