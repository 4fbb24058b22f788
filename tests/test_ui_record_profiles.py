"""The app's parts of the record and the profiles: PGP words on review, printing the sheet, file profiles."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from byoroot_tui.core.demo import make_demo
from byoroot_tui.core.errors import ByorootError
from byoroot_tui.core.fingerprint import pgp_words
from byoroot_tui.core.media import discover_media
from byoroot_tui.core.record import print_sheet
from byoroot_tui.ui import drive
from byoroot_tui.ui.app import Services, make_app


def _services(tmp_path: Path) -> Services:
    return Services(discover=lambda roots: discover_media(roots, include_system=False), poll_interval=0,
                    clipboard=lambda text: False, log_path=tmp_path / "log.jsonl")


def _app(tmp_path: Path, **kw: Any):  # type: ignore[no-untyped-def]
    m = make_demo(tmp_path / "demo")
    app = make_app(media_roots=[m.stick], csr=m.csr, root_cert=m.root_cert, root_key=m.root_key,
                   services=_services(tmp_path), **kw)
    return app, m


def test_review_shows_the_csr_sha256_as_pgp_words(tmp_path: Path) -> None:
    app, m = _app(tmp_path)

    async def go() -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            await drive.to_review(pilot, app)
            from byoroot_tui.core.csr import load_csr

            words = pgp_words(load_csr(m.csr).sha256)
            await drive.wait_for(pilot, lambda: drive.shows(app, " ".join(words[:8])), "the first eight words")
            assert drive.shows(app, " ".join(words[24:]))

    asyncio.run(go())


def test_file_profiles_are_offered_beside_the_built_in(tmp_path: Path) -> None:
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "short.toml").write_text('name = "short-lived"\ndescription = "Two years"\nvalidity_days = 730\n')
    app, _m = _app(tmp_path, profile_dirs=[folder])

    async def go() -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            await drive.to_profile(pilot, app)
            await drive.wait_for(pilot, lambda: drive.shows(app, "short-lived"), "the file profile listed")
            assert drive.shows(app, "intermediate-ca")

    asyncio.run(go())


def _fake_lp(tmp_path: Path, body: str) -> Path:
    """A stand-in for CUPS' lp on PATH (the station's printing system is environment, not crypto)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    lp = bindir / "lp"
    lp.write_text("#!/bin/sh\n" + body)
    lp.chmod(lp.stat().st_mode | stat.S_IXUSR)
    return bindir


def test_print_sheet_without_cups_says_where_the_sheet_is(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    sheet = tmp_path / "ceremony-record.txt"
    sheet.write_text("sheet\n")
    message = print_sheet(sheet)
    assert "No printing system" in message and str(sheet) in message


def test_print_sheet_with_lp_sends_the_file(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    record = tmp_path / "printed"
    bindir = _fake_lp(tmp_path, f'cat "$2" > "{record}"; echo "request id is station-1 (1 file(s))"\n')
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    sheet = tmp_path / "ceremony-record.txt"
    sheet.write_text("the sheet\n")
    message = print_sheet(sheet)
    assert message.startswith("Sent to the printer") and "station-1" in message
    assert record.read_text() == "the sheet\n"


def test_print_sheet_failure_is_one_clear_line(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    bindir = _fake_lp(tmp_path, 'echo "lp: Error - no default destination available." >&2; exit 1\n')
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    sheet = tmp_path / "ceremony-record.txt"
    sheet.write_text("x\n")
    with pytest.raises(ByorootError, match="no default destination") as exc:
        print_sheet(sheet)
    assert "\n" not in str(exc.value) and str(sheet) in str(exc.value)


def test_the_result_screen_prints_the_pdf_sheet(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    record = tmp_path / "printed"
    bindir = _fake_lp(tmp_path, f'cat "$2" > "{record}"; echo "request id is station-7"\n')
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    app, m = _app(tmp_path)

    async def go() -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            await drive.whole_ceremony(pilot, app)
            await pilot.press("p")
            await drive.wait_for(pilot, lambda: record.exists(), "the sheet sent to lp")

    asyncio.run(go())
    assert record.read_bytes() == (m.stick / "ceremony-record.pdf").read_bytes()  # `p` prints the PDF sheet
    assert record.read_bytes().startswith(b"%PDF-")


def test_the_app_writes_the_pdf_sheet_on_the_paper_chosen(tmp_path: Path) -> None:
    """`byoroot --paper letter`: the PDF the app writes (and `p` prints) is US Letter (pdfinfo)."""
    import subprocess

    from byoroot_tui.cli import app_options_only, build_parser

    args = build_parser(commands=False).parse_args(["--paper", "Letter"])
    assert args.tui_paper == "letter" and app_options_only(["--paper", "letter"])
    app, m = _app(tmp_path, paper=args.tui_paper)

    async def go() -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            await drive.whole_ceremony(pilot, app)
            await drive.wait_for(pilot, lambda: app.ceremony.written is not None, "the write")

    asyncio.run(go())
    info = subprocess.run(["pdfinfo", str(m.stick / "ceremony-record.pdf")], capture_output=True, text=True, check=True)
    assert "612 x 792 pts (letter)" in info.stdout, info.stdout
