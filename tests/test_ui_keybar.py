"""The key bar (ui/widgets/keybar.py): the screen's keys on one line, redrawn when they change,
and a click on a key presses it. It replaced Textual's Footer (the stored snapshots did not change)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from byoroot_tui.ui import drive
from byoroot_tui.ui.widgets.keybar import KeyBar
from test_ui_ceremony import demo_app, run


def bar_text(app: Any) -> str:
    """The bottom line as drawn on the terminal (not the widget's render(): what is on screen)."""
    return drive.screen_text(app).rstrip("\n").splitlines()[-1].strip()


def test_the_bar_follows_the_screen_and_the_focus_and_a_click_presses_a_key(tmp_path: Path) -> None:
    app = demo_app(tmp_path)

    async def script(pilot: Any) -> None:
        await drive.wait_for(pilot, lambda: drive.csr_checked(app), "the CSR check")
        assert bar_text(app).split("  ") == ["esc Back", "^n Next", "r Rescan", "^q Quit"]  # esc: the choice of ceremony
        await drive.to_root(pilot, app)
        await pilot.pause(0.3)
        # a field has the focus: Enter loads or checks it
        assert bar_text(app).startswith("⏎ Load / check") and "^t File/HSM" in bar_text(app)
        await drive.check_key(pilot, app, None)
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "review", "the review")
        await drive.wait_for(pilot, app.ceremony.plan_is_current, "the plan")
        await pilot.pause(0.3)
        assert "⏎ Confirm" in bar_text(app) and "^n Next" not in bar_text(app)  # no Next on the review
        # a click on "esc Back" presses Escape: back to the root step
        x = drive.screen_text(app).rstrip("\n").splitlines()[-1].index("esc Back") + 1
        assert await pilot.click(KeyBar, offset=(x, 0))
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "root", "back on the root step")

    run(app, (100, 30), script)


def test_a_modal_has_its_own_keys(tmp_path: Path) -> None:
    app = demo_app(tmp_path)

    async def script(pilot: Any) -> None:
        await drive.to_root(pilot, app)
        await pilot.press("ctrl+o")  # pick the root certificate in a tree
        await drive.wait_for(pilot, lambda: type(app.screen).__name__ == "PathPicker", "the picker")
        await pilot.pause(0.2)
        assert "esc" in bar_text(app) and "^t File/HSM" not in bar_text(app)
        await pilot.press("escape")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "root", "the root step")
        await pilot.pause(0.2)
        assert "^t File/HSM" in bar_text(app)

    run(app, (100, 30), script)
