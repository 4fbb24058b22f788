"""The next step's screen is composed ahead, by public means (pushed and popped inside
App.batch_update): it is composed and not shown; the screen shown stays current with its focus;
the review composed ahead plans nothing; and the app closing meanwhile raises nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from byoroot_tui.core.kinds import INTERMEDIATE
from byoroot_tui.ui import drive
from byoroot_tui.ui.app import make_app
from test_ui_ceremony import demo_app, run, services


@pytest.mark.parametrize("pauses", [0, 1, 2])
@pytest.mark.parametrize("step", INTERMEDIATE.steps[1:-1])
def test_app_closing_while_a_step_is_composed_ahead(tmp_path: Path, step: str, pauses: int) -> None:
    app = make_app(media_roots=[tmp_path], services=services(), include_system_media=False)

    async def go() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await drive.to_media(pilot, app)
            task = asyncio.ensure_future(app.prebuild(step))
            for _ in range(pauses):
                await asyncio.sleep(0)
            # leaving the block closes the app while the screen may still be composing
        await asyncio.wait_for(task, timeout=10)

    asyncio.run(go())


def test_the_next_step_is_composed_ahead_and_not_shown(tmp_path: Path) -> None:
    app = demo_app(tmp_path)

    async def script(pilot: Any) -> None:
        await drive.wait_for(pilot, lambda: drive.csr_checked(app), "the CSR check")
        focused = app.focused
        await drive.wait_for(pilot, lambda: (s := app.step_screen_if_built("preview")) is not None and s.is_mounted,
                             "the CSR step composed ahead", timeout=30)
        preview = app.step_screen_if_built("preview")
        assert preview.query("#csr-summary")
        assert drive.step_of(app) == "media" and app.focused is focused and len(app.screen_stack) == 1
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "preview", "the CSR step")
        assert app.screen is preview and drive.shows(app, "ACCEPTABLE")

    run(app, (100, 30), script)


def test_the_review_composed_ahead_plans_nothing(tmp_path: Path) -> None:
    app = demo_app(tmp_path)

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.to_root(pilot, app)
        await drive.check_key(pilot, app, None)
        review = app.step_screen("review")
        await drive.wait_for(pilot, lambda: review.is_mounted, "the review composed ahead", timeout=30)
        await pilot.pause(0.5)
        assert drive.step_of(app) == "root"
        assert c.plan is None and c.plan_error is None  # planned only when the officers see the review
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: c.plan_is_current(), "the plan, once shown")

    run(app, (100, 30), script)
