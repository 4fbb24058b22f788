"""The next step's screen is composed ahead of time; the app closing meanwhile must not raise.

CI once failed on this race: a test ended (the app closed) just as the profile screen was being
composed ahead of time; Textual left its containers empty and still sent Mount, and the screen's
set-up raised NoMatches. Each case here starts a step's screen and closes the app at once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from byoroot_tui.core.ceremony import STEPS
from byoroot_tui.ui import drive
from byoroot_tui.ui.app import make_app

from test_ui_ceremony import services


@pytest.mark.parametrize("pauses", [0, 1, 2])
@pytest.mark.parametrize("step", STEPS[1:])
def test_app_closing_while_a_step_is_prebuilt(tmp_path: Path, step: str, pauses: int) -> None:
    app = make_app(media_roots=[tmp_path], services=services(), include_system_media=False)

    async def go() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await drive.wait_for(pilot, lambda: app._warm, "the warm-up")
            app.prebuild(step)
            for _ in range(pauses):
                await asyncio.sleep(0)
            # leaving the block closes the app while the screen may still be composing

    asyncio.run(go())  # raised NoMatches from the screen's set-up before the fix


def test_a_prebuilt_step_is_composed_and_shows(tmp_path: Path) -> None:
    app = make_app(media_roots=[tmp_path], services=services(), include_system_media=False)

    async def go() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await drive.wait_for(pilot, lambda: app._warm, "the warm-up")
            app.prebuild("profile")
            screen = app.step_screen("profile")
            await drive.wait_for(pilot, lambda: screen.is_mounted, "the profile screen composed")
            assert screen.query("#profile-list")
            assert app.current_step == "media"  # composed, not shown

    asyncio.run(go())
