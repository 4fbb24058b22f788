"""How a step shows: a step shown again shows what the ceremony holds now (and the theme of
now), never a stale drawing; a field (Readout) is redrawn only when what it shows changed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult

from byoroot_tui.ui import drive
from byoroot_tui.ui.widgets.readout import Readout, content_key
from test_ui_ceremony import demo_app, run


ROOT = Path(__file__).resolve().parent.parent


def shipped_profiles_app(tmp_path: Path) -> Any:
    return demo_app(tmp_path, profile_dirs=[ROOT / "profiles"])  # more than one profile to move between


async def ready(pilot: Any, app: Any) -> None:
    await drive.wait_for(pilot, lambda: drive.csr_checked(app), "the CSR check")


async def go(pilot: Any, app: Any, key: str, step: str) -> None:
    await pilot.press(key)
    await drive.wait_for(pilot, lambda: drive.step_of(app) == step, f"the {step} step")
    await pilot.pause(0.2)


def test_a_step_shown_again_shows_what_changed_while_it_was_hidden(tmp_path: Path) -> None:
    """The CSR step names the profile in its extension table. Changed on the profile step while
    the CSR step was hidden (and drawn), it must show the new name when it shows again."""
    app = shipped_profiles_app(tmp_path)

    async def script(pilot: Any) -> None:
        await ready(pilot, app)
        await go(pilot, app, "ctrl+n", "preview")
        first = app.ceremony.profile_name
        assert drive.shows(app, f"{first} will")
        await go(pilot, app, "ctrl+n", "profile")
        await pilot.press("down")
        await drive.wait_for(pilot, lambda: app.ceremony.profile_name != first, "another profile")
        second = app.ceremony.profile_name
        await go(pilot, app, "escape", "preview")
        await drive.wait_for(pilot, lambda: app.ceremony.assessment_is_current(), "the assessment")
        await pilot.pause(0.2)
        assert drive.shows(app, f"{second} will") and not drive.shows(app, f"{first} will")

    run(app, (120, 40), script)


def test_a_theme_change_while_a_step_is_hidden_restyles_it_when_it_shows(tmp_path: Path) -> None:
    app = shipped_profiles_app(tmp_path)

    async def script(pilot: Any) -> None:
        await ready(pilot, app)
        await go(pilot, app, "ctrl+n", "preview")
        dark = app.screen.styles.background
        await go(pilot, app, "escape", "media")  # the CSR step is hidden, styled under the old theme
        app.theme = "textual-light"
        await pilot.pause(0.3)
        light = app.screen.styles.background
        assert light != dark
        await go(pilot, app, "ctrl+n", "preview")
        assert app.screen.styles.background == light
        # the theme back, and the step shown again: restyled again
        await go(pilot, app, "escape", "media")
        app.theme = "textual-dark"
        await pilot.pause(0.3)
        await go(pilot, app, "ctrl+n", "preview")
        assert app.screen.styles.background == app.step_screen("media").styles.background

    run(app, (100, 30), script)


# Readout: a field redrawn only when what it shows changed ---------------------------------------


def table(cell: Text, header: str = "Value") -> Table:
    t = Table(box=box.SIMPLE_HEAD, expand=True)
    t.add_column(Text("Name"))
    t.add_column(Text(header))
    t.add_row(Text("subject"), cell)
    return t


def test_content_key_tells_apart_everything_a_field_shows() -> None:
    assert content_key(Text("a", style="red")) == content_key(Text("a", style="red"))
    assert content_key(Text("a", style="red")) != content_key(Text("a", style="green"))  # the style alone
    assert content_key(Text("a")) != content_key(Text("b"))
    assert content_key(Text.assemble(("a", "bold"), "b")) != content_key(Text.assemble("a", ("b", "bold")))
    assert content_key(table(Text("x"))) == content_key(table(Text("x")))
    assert content_key(table(Text("x"))) != content_key(table(Text("y")))
    assert content_key(table(Text("x"))) != content_key(table(Text("x", style="red")))
    assert content_key(table(Text("x"))) != content_key(table(Text("x"), header="Other"))
    assert content_key(Group(Text("a"), Text("b"))) != content_key(Group(Text("a"), Text("c")))
    assert content_key("plain") == content_key("plain") != content_key(Text("plain"))
    # what it cannot compare is always redrawn
    assert content_key(object()) is None
    assert content_key(Group(Text("a"), object())) is None


class OneReadout(App[None]):
    def compose(self) -> ComposeResult:
        yield Readout(Text("first"), id="r")


def test_a_readout_redraws_on_a_change_only() -> None:
    app = OneReadout()

    async def script() -> None:
        async with app.run_test(size=(40, 5)) as pilot:
            r = app.query_one(Readout)
            refreshes: list[bool] = []
            original = r.refresh

            def counting(*a: Any, **k: Any) -> Any:
                refreshes.append(True)
                return original(*a, **k)

            r.refresh = counting  # type: ignore[method-assign]
            r.update(Text("first"))
            assert refreshes == []
            r.update(Text("first", style="bold red"))
            assert refreshes == [True]
            r.update(Text("first", style="bold red"))
            assert refreshes == [True]
            r.update(Text("[b]second[/b]"))  # never markup: the brackets are text
            await pilot.pause()
            assert refreshes == [True, True]
            assert "[b]second[/b]" in drive.screen_text(app)  # type: ignore[arg-type]

    asyncio.run(script())
