"""The Linux console (issue 16): only glyphs Debian's console fonts carry, a QR code that decodes
when drawn through such a font, big digits no two alike, the full-screen QR that grows, and the
officer-facing fixes (quitting asks first, ctrl+n after ctrl+t twice goes on)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import consolefont
from byoroot_tui.ui import drive
from byoroot_tui.ui.glyphs import CONSOLE_GLYPHS, CONSOLE_MAP, console_text, wants_console
from byoroot_tui.ui.widgets.bigdigits import BIG_HEX, big_lines
from byoroot_tui.ui.widgets.qr import QrCode, choose_scale, lines_to_matrix, qr_matrix
from byoroot_tui.ui.app import make_app
from test_ui_ceremony import demo_app, run, services

HAVE_FONTS = all((consolefont.FONT_DIR / f"{name}.psf.gz").exists() for name in consolefont.FONTS)
needs_fonts = pytest.mark.skipif(not HAVE_FONTS, reason="needs console-setup's fonts (apt-get install console-setup-linux)")
needs_zbar = pytest.mark.skipif(shutil.which("zbarimg") is None, reason="needs zbarimg (zbar-tools)")


def off_font(text: str) -> set[str]:
    return {ch for ch in text if ch not in CONSOLE_GLYPHS and ch != "\n"}


def console_screen(app: Any) -> str:
    """The screen as the console driver writes it, after checking that every glyph drawn is one
    the fonts carry or one the glyph table replaces on purpose (none falls back to "?")."""
    app.console_glyphs = False  # the text before the driver's table (widgets were laid out for the console)
    try:
        raw = drive.screen_text(app)
    finally:
        app.console_glyphs = True
    unplanned = {ch for ch in off_font(raw) if ch not in CONSOLE_MAP}
    assert not unplanned, f"glyphs neither in the console fonts nor in the table: {unplanned}"
    return drive.screen_text(app)


def decode(lines: list[str], font: str, tmp_path: Path) -> list[str]:
    image = tmp_path / f"screen-{font}.png"
    image.write_bytes(consolefont.png(consolefont.draw(lines, consolefont.load(font))))
    out = subprocess.run(["zbarimg", "--quiet", "--raw", str(image)], capture_output=True, text=True)
    return out.stdout.split()


@needs_fonts
def test_the_glyph_table_is_what_every_console_font_carries() -> None:
    fonts = [consolefont.load(name) for name in consolefont.FONTS]
    for ch in CONSOLE_GLYPHS:
        assert all(ch in f.cmap for f in fonts), f"{ch!r} U+{ord(ch):04X} is not in every console font"
    for ch in "▀▄✓⏎⇄○▏":
        assert not all(ch in f.cmap for f in fonts)
        assert off_font(console_text(ch)) == set()


def test_console_text_keeps_widths_and_escape_sequences() -> None:
    from rich.cells import cell_len

    line = "\x1b[1;31m✓ ok ⏎ Next ⇄ ○ ▏📁 folder ▀▄ ☃\x1b[0m"
    out = console_text(line)
    assert out.startswith("\x1b[1;31m") and out.endswith("\x1b[0m")
    assert cell_len(out) == cell_len(line) and off_font(out.replace("\x1b", "")) == set()
    assert wants_console(term="linux") and not wants_console(term="xterm-256color")
    assert wants_console(True, term="xterm") and not wants_console(False, term="linux")


# ------------------------------------------------------------------ big digits

def rounded(font: consolefont.PsfFont) -> consolefont.PsfFont:
    """The same font, its square corners ┌ ┐ └ ┘ drawn rounded (as a font that rounds them would)."""
    arms = {"┌": (1, 1), "┐": (-1, 1), "└": (1, -1), "┘": (-1, -1)}
    for ch, (dx, dy) in arms.items():
        bm = [row[:] for row in font.bitmap(ch)]
        cx = max(range(font.width), key=lambda x: sum(row[x] for row in bm))
        cy = max(range(font.height), key=lambda y: sum(bm[y]))
        for y in range(font.height):
            for x in range(font.width):
                if abs(x - cx) <= 2 and abs(y - cy) <= 2 and (x - cx) * dx >= 0 and (y - cy) * dy >= 0:
                    bm[y][x] = False
        for i in range(4):  # the arc, as a diagonal from one arm to the other
            x, y = cx + dx * (3 - i), cy + dy * i
            if 0 <= x < font.width and 0 <= y < font.height:
                bm[y][x] = True
        font.overrides[ch] = bm
    return font


@needs_fonts
def test_no_two_big_digits_look_alike_on_the_console_or_with_rounded_corners() -> None:
    square, round_ = consolefont.load("Uni2-Fixed16"), rounded(consolefont.load("Uni2-Fixed16"))
    assert square.bitmap("┌") != round_.bitmap("┌")
    drawn = {(d, name): consolefont.draw(list(BIG_HEX[d]), font) for d in BIG_HEX for name, font in
             (("square", square), ("rounded", round_))}
    fewest = None
    for (a, fa), pa in drawn.items():
        for (b, fb), pb in drawn.items():
            if a == b:
                continue
            differ = sum(x != y for ra, rb in zip(pa, pb) for x, y in zip(ra, rb))
            fewest = differ if fewest is None else min(fewest, differ)
            assert differ >= 16, f"{a} ({fa}) and {b} ({fb}) differ in {differ} pixels only"
    assert fewest is not None
    for d in "8B0D":  # the pairs, each in its own shape
        assert all(ch in CONSOLE_GLYPHS for ch in "".join(BIG_HEX[d]))
    assert big_lines("18DB")[1] != big_lines("1808")[1]


# ------------------------------------------------------------------ the QR code

def test_scale_choice() -> None:
    assert choose_scale(45, 80, 24, console=False) == 1
    assert choose_scale(45, 128, 46, console=False) == 2
    assert choose_scale(45, 240, 65, console=False) == 2
    assert choose_scale(45, 200, 80, console=False) == 3
    assert choose_scale(45, 240, 65, console=True) == 2
    assert choose_scale(45, 80, 24, console=True) == 0


async def _to_result(pilot: Any, app: Any) -> str:
    screens = {}
    await drive.to_preview(pilot, app)
    screens["preview"] = console_screen(app)
    for step in ("profile", "root"):
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == step, step)
        screens[step] = console_screen(app)
    await drive.check_key(pilot, app, None)
    screens["root"] = console_screen(app)
    await pilot.press("ctrl+o")  # the folder picker: Textual's DirectoryTree with its emoji icons
    await drive.wait_for(pilot, lambda: type(app.screen).__name__ == "PathPicker", "the picker")
    screens["picker"] = console_screen(app)
    await pilot.press("escape")
    await pilot.press("ctrl+t")  # the key in an HSM: OptionLists, the PIN field
    await pilot.pause(0.2)
    screens["root-hsm"] = console_screen(app)
    await pilot.press("ctrl+t")
    await pilot.press("ctrl+n")
    await drive.wait_for(pilot, lambda: drive.step_of(app) == "review", "the review screen")
    await pilot.press("ctrl+q")  # a dialog: buttons, borders
    await drive.wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmModal", "the question")
    screens["quit?"] = console_screen(app)
    await pilot.press("n")
    await drive.confirm_officers(pilot, app)
    screens["review"] = console_screen(app)
    await drive.sign(pilot, app)
    screens["result"] = console_screen(app)
    for step, text in screens.items():
        assert off_font(text) == set(), f"{step}: {off_font(text)}"
    return app.ceremony.issued.sha256


@needs_fonts
@needs_zbar
@pytest.mark.parametrize("size", [(128, 48), (240, 67)])
def test_console_ceremony_qr_decodes_through_the_console_font(tmp_path: Path, size: tuple[int, int]) -> None:
    app = demo_app(tmp_path, console=True)
    assert app.console_glyphs

    async def script(pilot: Any) -> None:
        assert off_font(console_screen(app)) == set()  # the media step (Tree guides and icons)
        fp = await _to_result(pilot, app)
        result = drive.screen_text(app).splitlines()
        qr = app.screen.query_one("#qr", QrCode)
        if size == (240, 67):
            assert qr.scale == 2
            for font in consolefont.FONTS:
                assert decode(result, font, tmp_path) == [fp], font
        else:  # too small for two columns a module beside the rest: it says so
            assert qr.scale == 0
            assert drive.shows(app, "does not fit this screen") and drive.shows(app, "intermediate-fingerprint.png"), "\n".join(result)
        await pilot.press("v")
        await drive.wait_for(pilot, lambda: type(app.screen).__name__ == "QrModal", "the QR alone")
        big = console_screen(app)
        assert off_font(big) == set() and "▀" not in big and "▄" not in big
        for font in consolefont.FONTS:
            assert decode(big.splitlines(), font, tmp_path) == [fp], font
        await pilot.press("escape")

    run(app, size, script)


@pytest.mark.parametrize(("size", "scale"), [((80, 24), 1), ((100, 50), 2), ((160, 72), 3)])
def test_full_screen_qr_grows_with_the_terminal(tmp_path: Path, size: tuple[int, int], scale: int) -> None:
    app = demo_app(tmp_path)

    async def script(pilot: Any) -> None:
        await drive.whole_ceremony(pilot, app)
        fp = app.ceremony.issued.sha256
        await pilot.press("v")
        await drive.wait_for(pilot, lambda: type(app.screen).__name__ == "QrModal", "the QR alone")
        qr = app.screen.query_one(QrCode)
        assert qr.scale == scale
        n = len(qr_matrix(fp))
        expanded = lines_to_matrix(qr.lines)
        assert [row[::scale] for row in expanded[::scale]][:n] == qr_matrix(fp)  # exactly the code, scaled
        await pilot.press("escape")

    run(app, size, script)


# ------------------------------------------------------------------ officer-facing fixes

def test_quit_mid_ceremony_asks_first(tmp_path: Path) -> None:
    app = demo_app(tmp_path)

    async def script(pilot: Any) -> None:
        await drive.to_review(pilot, app)
        await drive.confirm_officers(pilot, app)
        await pilot.press("ctrl+q")
        await drive.wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmModal", "the question")
        assert drive.shows(app, "Quit the ceremony?") and app.is_running
        await pilot.press("n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "review", "back on the review")
        assert app.ceremony.officer2 and app.is_running
        await pilot.press("ctrl+q")
        await drive.wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmModal", "the question")
        await pilot.press("y")
        await pilot.pause(0.1)
        assert not app.is_running

    run(app, (80, 24), script)
    assert app.return_code == 0


def test_ctrl_n_after_switching_the_key_source_twice_goes_on(tmp_path: Path) -> None:
    app = demo_app(tmp_path)

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.to_root(pilot, app)
        await drive.check_key(pilot, app, None)
        assert c.key_checked
        await pilot.press("ctrl+t")
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert c.key_source == "file"
        await pilot.press("ctrl+n")  # one press: the key is checked again and the step moves on
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "review", "the review screen")

    run(app, (80, 24), script)


def test_a_terminal_below_80x24_is_said_to_be_too_small(tmp_path: Path) -> None:
    said: dict[str, list[str]] = {"small": [], "ok": []}

    def app_saying(path: Path, key: str) -> Any:
        app = demo_app(path)
        notify = app.notify
        app.notify = lambda message, **kw: (said[key].append(message), notify(message, **kw))[1]  # type: ignore[method-assign]
        return app

    async def script(pilot: Any) -> None:
        await pilot.pause(0.2)
        await pilot.resize_terminal(100, 30)  # large enough: nothing more is said
        await pilot.pause(0.1)
        await pilot.resize_terminal(79, 30)  # too narrow again: said again
        await pilot.pause(0.1)

    run(app_saying(tmp_path / "small", "small"), (70, 20), script)
    small = [m for m in said["small"] if "too small" in m]
    assert small[0].startswith("The terminal is too small (70x20)") and "at least 80x24" in small[0]
    assert len(small) == 2 and "(79x30)" in small[1]

    async def fine(pilot: Any) -> None:
        await pilot.pause(0.2)

    run(app_saying(tmp_path / "ok", "ok"), (80, 24), fine)
    assert not [m for m in said["ok"] if "too small" in m]


def test_serial_and_key_identifiers_use_the_width(tmp_path: Path) -> None:
    app = demo_app(tmp_path)
    seen: dict[str, str] = {}

    async def script(pilot: Any) -> None:
        await drive.to_review(pilot, app)
        seen["wide"] = drive.screen_text(app)
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.2)
        seen["narrow"] = drive.screen_text(app)

    run(app, (160, 48), script)
    plan = app.ceremony.plan
    pairs = [plan.serial_hex[i:i + 2] for i in range(0, len(plan.serial_hex), 2)]
    assert ":".join(pairs) in seen["wide"]  # 20 bytes on one line at 160 columns
    assert ":".join(pairs[:10]) in seen["narrow"] and ":".join(pairs) not in seen["narrow"]


def test_replace_dialog_names_the_existing_certificate_and_a_copy_goes_elsewhere(tmp_path: Path) -> None:
    first = demo_app(tmp_path / "first")

    async def sign_once(pilot: Any) -> None:
        await drive.whole_ceremony(pilot, first)

    run(first, (100, 40), sign_once)
    old = first.ceremony.written
    assert old is not None
    c1 = first.ceremony  # the same stick again: intermediate.crt is there
    app = make_app(media_roots=c1.media_roots, root_cert=c1.root_cert_path, root_key=c1.root_key_path, csr=c1.csr_path,
                   services=services())
    said: list[str] = []
    notify = app.notify
    app.notify = lambda message, **kw: (said.append(message), notify(message, **kw))[1]  # type: ignore[method-assign]

    async def script(pilot: Any) -> None:
        await drive.to_review(pilot, app)
        await drive.confirm_officers(pilot, app)
        await drive.sign(pilot, app)
        assert type(app.screen).__name__ == "ConfirmModal"
        hex_ = format(int(first.ceremony.issued.plan.serial_hex, 16), "x")
        hex_ = ("0" if len(hex_) % 2 else "") + hex_
        serial = ":".join(hex_[i:i + 2] for i in range(0, len(hex_), 2))
        question = " ".join(app.screen.question.split())  # type: ignore[attr-defined]
        assert "The existing intermediate.crt: subject CN=Example Demo Org Intermediate CA" in question
        assert f"serial {serial}, valid 20" in question and " UTC to 20" in question
        assert "Intermediate CA" in drive.screen_text(app)  # drawn (the dialog sits over the review)
        await pilot.press("y")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "result", "the result")
        await pilot.press("w")
        await drive.wait_for(pilot, lambda: type(app.screen).__name__ == "PathPicker", "the folder picker")
        picker = app.screen
        assert picker.start != old.parent  # type: ignore[attr-defined]
        picker.dismiss(old.parent)  # the officer chooses the folder just written anyway
        await drive.wait_for(pilot, lambda: type(app.screen).__name__ == "PathPicker" and app.screen is not picker,
                             "the picker again")
        assert any("was just written to" in m for m in said)
        await pilot.press("escape")

    run(app, (100, 40), script)
