"""Resizing the terminal: the step on screen, and a step shown after the resize, are laid out for
the new size, with the breakpoint classes (-narrow below 120 columns, -wide from 120) of the new
size. A resize to the same size changes nothing on screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from byoroot_tui.ui import drive
from test_ui_ceremony import demo_app, run


def lines(app: Any) -> list[str]:
    return drive.screen_text(app).rstrip("\n").splitlines()


def test_resizing_lays_out_the_shown_step_and_the_next(tmp_path: Path) -> None:
    app = demo_app(tmp_path)

    async def script(pilot: Any) -> None:
        await drive.wait_for(pilot, lambda: drive.csr_checked(app), "the CSR check")
        media = app.screen
        assert media.has_class("-narrow") and not media.has_class("-wide")
        assert media.query_one("#media-list").outer_size.width == 26
        before = lines(app)
        await pilot.resize_terminal(80, 24)  # the same size: nothing changes
        await pilot.pause(0.2)
        assert lines(app) == before

        await pilot.resize_terminal(160, 48)
        await pilot.pause(0.3)
        assert media.has_class("-wide") and not media.has_class("-narrow")
        assert media.query_one("#media-list").outer_size.width == 34
        shown = lines(app)
        assert len(shown) == 48 and shown[-1].rstrip().endswith("^q Quit")

        await pilot.press("ctrl+n")  # the CSR step, first shown after the resize
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "preview", "the CSR step")
        await pilot.pause(0.3)
        preview = app.screen
        assert preview.has_class("-wide") and not preview.has_class("-narrow")
        assert preview.size == (160, 48)
        assert len(lines(app)) == 48 and "^q Quit" in lines(app)[-1]

        await pilot.resize_terminal(90, 30)  # and back below the breakpoint, then to the media step
        await pilot.pause(0.3)
        assert preview.has_class("-narrow")
        await pilot.press("escape")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "media", "the media step")
        await pilot.pause(0.3)
        assert media.has_class("-narrow") and media.query_one("#media-list").outer_size.width == 26
        assert len(lines(app)) == 30

    run(app, (80, 24), script)
