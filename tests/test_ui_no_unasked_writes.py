"""Security pass: nothing in the app writes files on the station unasked.

No command palette (Textual's system commands include "save a screenshot" into ~/Downloads), the
screenshot action does nothing, every key bound on every screen is in the reviewed list below
(a new binding fails this test until it is reviewed), and Textual's environment switches that
write files or press keys (TEXTUAL_SCREENSHOT, TEXTUAL_LOG, TEXTUAL_PRESS, …) are ignored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import factories as f
from byoroot_tui.core.demo import make_demo
from byoroot_tui.ui import drive
from byoroot_tui.ui.app import make_app
from test_ui_ceremony import PASSPHRASE, run, services

# Every action a key can reach, per screen, and whether it writes a file. Reviewed by hand: an
# action that writes must be a deliberate, labelled key, and must ask before replacing anything.
REVIEWED: dict[str, str] = {
    "request_quit": "no write (asks first when a signed certificate is not written yet)",
    "back": "no write",
    "next": "no write",
    "submit_field": "no write (confirms a field; on the review the typed SIGN signs and writes the four files)",
    "rescan": "no write",
    "browse": "no write (opens a file picker)",
    "switch_source": "no write",
    "output_folder": "no write (picks the folder the files will go to)",
    "other_folder": "writes the signed certificate's files to a folder the officer picks; asks before replacing",
    "retry": "writes the signed certificate's files again after a failed write; asks before replacing",
    "copy": "no file (clipboard)",
    "qr": "no write",
    "write_copy": "writes a copy to a folder the officer picks; asks before replacing",
    "print": "sends the sheet already written to lp; writes nothing",
    "scroll_up": "no write",
    "scroll_down": "no write",
    "scroll_plan": "no write",
    "out_folder": "no write (picks the folder the files will go to)",
    "print_sheet": "sends the sheet already written to lp; writes nothing",
    "close": "no write (closes a dialog)",
}

# Keys of Textual's own widgets (Input, Tree, OptionList, scroll containers): editing, moving,
# selecting and the clipboard. None of them writes a file.
TEXTUAL_WIDGET_ACTIONS = {
    "copy", "copy_text", "cut", "paste", "select_all", "home", "end", "first", "last",
    "cursor_up", "cursor_down", "cursor_left", "cursor_right", "cursor_left_word", "cursor_right_word",
    "cursor_parent", "cursor_next_sibling", "cursor_previous_sibling", "cursor_parent_next_sibling",
    "delete_left", "delete_right", "delete_left_word", "delete_right_word", "delete_left_all",
    "delete_right_all", "page_up", "page_down", "page_left", "page_right", "scroll_home", "scroll_end",
    "scroll_left", "scroll_right", "scroll_up", "scroll_down", "select", "select_cursor", "toggle_node",
    "toggle_expand_all", "focus_next", "focus_previous",
}


def defined_by_byoroot(cls: type, action: str) -> bool:
    """Whether the binding for ``action`` comes from one of byoroot's classes (not Textual's)."""
    for klass in cls.__mro__:
        for binding in klass.__dict__.get("BINDINGS", ()):
            if getattr(binding, "action", None) == action or (isinstance(binding, tuple) and action in binding):
                return klass.__module__.startswith("byoroot_tui")
    return False


def all_files(*roots: Path) -> set[Path]:
    return {p for r in roots if r.exists() for p in r.rglob("*")}


def test_every_key_on_every_screen_is_reviewed_and_the_palette_and_screenshots_write_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, work = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    m = make_demo(tmp_path / "demo")
    enc = tmp_path / "demo" / "station" / "root-encrypted.key"
    drive.write_encrypted_key(m.root_key, enc, PASSPHRASE)
    log = tmp_path / "station.jsonl"
    app = make_app(media_roots=[m.stick], root_cert=m.root_cert, root_key=enc, demo=True,
                   services=services(log_path=log))
    actions: dict[str, set[str]] = {}
    before_sign = all_files(m.stick, home, work)

    async def audit(pilot: Any) -> None:
        step = drive.step_of(app)
        for bound in app.screen.active_bindings.values():
            action = bound.binding.action.split(".")[-1].split("(")[0]
            ours = defined_by_byoroot(type(bound.node), bound.binding.action)
            actions.setdefault("ours" if ours else "textual", set()).add(action)
        stack = len(app.screen_stack)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert len(app.screen_stack) == stack and drive.step_of(app) == step, "ctrl+p opened something"
        assert "CommandPalette" not in type(app.screen).__name__
        await app.run_action("screenshot")
        await app.run_action("app.screenshot")
        await pilot.pause()

    async def script(pilot: Any) -> None:
        c = app.ceremony
        assert list(app.get_system_commands(app.screen)) == []
        await drive.wait_for(pilot, lambda: c.csr is not None, "the CSR")
        await audit(pilot)
        await drive.to_preview(pilot, app)
        await audit(pilot)
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "profile", "profile")
        await audit(pilot)
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "root", "root")
        await drive.check_key(pilot, app, PASSPHRASE)
        await audit(pilot)
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "review", "review")
        await drive.wait_for(pilot, lambda: c.plan_is_current(), "the plan")
        await audit(pilot)
        assert all_files(m.stick, home, work) == before_sign, "something was written before signing"
        await drive.confirm_officers(pilot, app)
        await audit(pilot)
        await drive.sign(pilot, app)
        assert c.written is not None
        await audit(pilot)
        await pilot.press("v")
        await pilot.pause()
        await audit(pilot)

    run(app, (80, 24), script)
    assert {"next", "back", "submit_field", "write_copy", "request_quit"} <= actions["ours"]
    unreviewed = actions["ours"] - set(REVIEWED)
    assert not unreviewed, f"byoroot keys not yet reviewed for writing files: {sorted(unreviewed)}"
    unreviewed = actions["textual"] - TEXTUAL_WIDGET_ACTIONS
    assert not unreviewed, f"Textual widget keys not yet reviewed for writing files: {sorted(unreviewed)}"
    written = all_files(m.stick, home, work) - before_sign
    assert {p.name for p in written} == {f.CERT_NAME, "intermediate-fingerprint.png", "ceremony-record.txt", "ceremony-record.pdf"}
    assert all(p.parent == m.stick for p in written)


def test_textual_environment_switches_that_write_or_press_keys_are_ignored(tmp_path: Path) -> None:
    """TEXTUAL_SCREENSHOT=0 would save an SVG and quit at once; TEXTUAL_LOG would write a log;
    TEXTUAL_PRESS would type keys. The app drops them before Textual reads them."""
    m = make_demo(tmp_path / "demo")
    shots, textual_log = tmp_path / "shots", tmp_path / "textual.log"
    shots.mkdir()
    env = {
        "TEXTUAL_SCREENSHOT": "0", "TEXTUAL_SCREENSHOT_LOCATION": str(shots),
        "TEXTUAL_SCREENSHOT_FILENAME": "station.svg", "TEXTUAL_LOG": str(textual_log),
        "TEXTUAL_PRESS": "ctrl+q", "TEXTUAL": "devtools,debug",
        "XDG_DATA_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path),
    }
    p = drive.PtyProcess([str(f.byoroot_exe()), "--media-root", str(m.stick)], size=(80, 24), env=env)
    try:
        assert p.read_until("Rescan", timeout=30) is not None, drive.strip_ansi(bytes(p.output))[-2000:]
        assert p.proc.poll() is None, "the app quit by itself (a pressed key or the screenshot timer)"
        p.send("\x11")  # ctrl+q
        assert p.proc.wait(timeout=30) == 0
    finally:
        p.close()
    assert list(shots.iterdir()) == [] and not textual_log.exists()
    assert not any(n.endswith(".svg") for _, _, names in os.walk(tmp_path) for n in names)
