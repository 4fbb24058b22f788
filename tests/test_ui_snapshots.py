"""Snapshots of every screen, compared character for character with the stored ones in tests/snapshots/.

pytest-textual-snapshot pins pytest below 9, so this does what it does with Textual's own means:
a whole ceremony is driven by keyboard on fixed inputs (tests/data/snapshot/, made once by
tests/data/make_snapshot_inputs.py) with a fixed clock and a fixed serial. The RSA root signs
deterministically, so every run issues the same certificate bytes: same fingerprint, same QR code.
Each screen, at 80x24 and at 160x48, is rendered as plain text (the character grid) and as SVG
(Textual's export_screenshot, colours included) and both must equal the stored files byte for byte.

What would differ between runs is pinned:
- paths: the inputs are copied into the fixed folder /tmp/byoroot-snapshot (emptied first; a lock
  file next to it makes concurrent runs take turns). A random temporary folder replaced by a
  placeholder afterwards is not enough: a narrow pane wraps a long path, splitting the random part
  over two lines where no replacement finds it (and the SVG positions each line on its own);
- time: the app's clock (Services.clock), the station log's entry time and the sheet's date are
  all NOW, with TZ=UTC and the station named "station" on the sheet (the `exported` entry holds the
  sheet's SHA-256), so the log head on the result screen is the same on every run and machine; the
  serial is Services.serial;
- input cursors do not blink, toasts are cleared before each picture (they expire on timers).

On a mismatch the test fails with a unified diff of the text and writes the new renderings as
``*.new.txt`` / ``*.new.svg`` into a pytest temporary folder (the message says where).
Regenerate all of them after an intended change of a screen (see tests/snapshots/README.md):

    .venv/bin/python -m pytest tests/test_ui_snapshots.py --update-snapshots

Each screen is also checked for the key text an officer must see, which says *why* it matters.
"""

from __future__ import annotations

import difflib
import fcntl
import io
import os
import shutil
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from rich.console import Console
from textual.widgets import Input

from byoroot_tui.core.stationlog import verify_log
from byoroot_tui.ui import drive
from byoroot_tui.ui.app import ByorootApp, make_app
from byoroot_tui.ui.widgets.fingerprint import grouped
from test_ui_ceremony import PASSPHRASE, run, services  # noqa: E402

HERE = Path(__file__).resolve().parent
SNAPSHOTS = HERE / "snapshots"
INPUTS = HERE / "data" / "snapshot"
CSR_NAME = "csr-7d3e91b0-SNAPSHOT-4a2f6.csr"
WEAK_CSR_NAME = "weak-intermediate.csr"
NOW = datetime(2026, 11, 26, 10, 0, 0, tzinfo=timezone.utc)
SERIAL = 0x3A5E_17C0_DE00_0000_0000_0000_0000_0000_0000_0042  # positive, < 2**159
BASE = Path("/tmp/byoroot-snapshot")  # shown on screen: the same on every machine
LOCK = Path("/tmp/byoroot-snapshot.lock")
SIZES = [(80, 24), (160, 48)]

# The key text each screen must show (the snapshot says what is drawn; this says what matters).
SCREENS: dict[str, list[str]] = {
    "01-media": ["1 Media", "Media", CSR_NAME, "^n Next", "Rescan", "^q Quit"],
    "02-csr": ["ACCEPTABLE", "SHA-256 (DER)", "Subject", "Public key", "ECDSA (P-256)", "Self-signature",
               "verifies", "Requested extensions", "basicConstraints", "kept", "Findings", "esc Back"],
    "03-profile": ["intermediate-ca", "(default)", "path length 0", "Validity", "3650 days", "Signature hash",
                   "SHA-512", "Key usage", "key_cert_sign", "Root expiry", "2026-11-26"],
    "04-root": ["Root cert", "Root key", "Snapshot Offline Root CA", "RSA", "Passphrase", "•",
                "matches the root certificate", "^o Browse"],
    "05-review": ["Certificate to be issued", "Subject", "Issuer", "Serial", "Not before", "Not after",
                  "Signature", "sha512WithRSAEncryption", "Officer 1", "Officer 2", "Type SIGN"],
    "06-same-officer": ["Officer 1", "Officer 2", "✗ refused", "must be a different person"],
    "07-review-confirmed": ["Officer 1", "Officer 2", "Type SIGN", "Alice Martin", "Bob Okafor"],
    "08-result": ["ISSUED AND WRITTEN", "SHA-256 fingerprint of intermediate.crt", "Copy fingerprint",
                  "QR full screen", "█"],
    "09-qr": ["█", "Close"],  # at 160x48 the code is drawn twice the size: full blocks only
    "10-weak-csr": ["REFUSED", "1024 bits is too small", "cannot be signed"],
}


def render(app: ByorootApp, unique_id: str) -> tuple[str, str]:
    """The screen (with any modal) as plain text and as SVG, from one rendering.

    What App.export_screenshot does, with a fixed SVG id (Rich derives it from the content
    otherwise, random path included) and the text exported as well.
    """
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    text = console.export_text(clear=False, styles=False)
    svg = console.export_svg(title=app.title, unique_id=unique_id)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n", svg


@pytest.fixture
def snap_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """BASE, empty, for this test alone (other runs wait on the lock); the station log's clock at NOW;
    Textual's own defaults for colours (no NO_COLOR, no TEXTUAL features, the default theme)."""
    from textual import constants

    if constants.DEFAULT_THEME != "textual-dark" or constants.DIM_FACTOR != 0.66:
        pytest.fail("unset TEXTUAL_THEME and TEXTUAL_DIM_FACTOR: the snapshots are drawn with Textual's defaults")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TEXTUAL", raising=False)
    monkeypatch.setattr("byoroot_tui.core.stationlog.utcnow", lambda: NOW)
    # The sheet's bytes go into the log (the `exported` entry's SHA-256 of each file), so its date,
    # time zone and station name are fixed too: the head shown is then the same on every machine.
    monkeypatch.setattr("byoroot_tui.core.record.utcnow", lambda: NOW)
    monkeypatch.setattr("byoroot_tui.core.record.socket.gethostname", lambda: "station")
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    fd = os.open(LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if BASE.exists():  # left by a run that was killed
            shutil.rmtree(BASE)  # refuses a symlink: then the test fails rather than follow it
        BASE.mkdir(mode=0o700)
        try:
            yield BASE
        finally:
            shutil.rmtree(BASE, ignore_errors=True)
    finally:
        os.close(fd)  # releases the lock


def copy_inputs(base: Path) -> dict[str, Path]:
    stick, station, weak = base / "stick", base / "station", base / "weak-stick"
    for d in (stick, station, weak):
        d.mkdir()
    shutil.copyfile(INPUTS / CSR_NAME, stick / CSR_NAME)
    shutil.copyfile(INPUTS / WEAK_CSR_NAME, weak / WEAK_CSR_NAME)
    shutil.copyfile(INPUTS / "root.crt", station / "root.crt")
    shutil.copyfile(INPUTS / "root-encrypted.key", station / "root-encrypted.key")
    os.chmod(station / "root-encrypted.key", 0o600)
    return {"stick": stick, "weak": weak, "cert": station / "root.crt", "key": station / "root-encrypted.key",
            "log": station / "station-log.jsonl"}


def fixed_services(log: Path) -> Any:
    return services(clock=lambda: NOW, serial=lambda: SERIAL, log_path=log)


async def settle(pilot: Any, app: ByorootApp) -> None:
    """Let every worker report, then take out what depends on timing: blinking cursors, expiring toasts."""
    await drive.wait_for(pilot, lambda: all(w.is_finished for w in app.workers), "every worker to finish")
    await pilot.pause()
    app.clear_notifications()
    for screen in app.screen_stack:
        for field in screen.query(Input):
            field.cursor_blink = False  # the cursor then shows steadily where the focus is
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


class Shots:
    def __init__(self, app: ByorootApp) -> None:
        self.app = app
        self.texts: dict[str, str] = {}
        self.svgs: dict[str, str] = {}

    async def take(self, pilot: Any, name: str) -> None:
        await settle(pilot, self.app)
        text, svg = render(self.app, f"byoroot-{name}")
        self.texts[name], self.svgs[name] = text, svg


def compare(shots: dict[str, tuple[str, str]], size: tuple[int, int], update: bool, new_dir: Path) -> None:
    """Each (text, svg) against tests/snapshots/<name>-<W>x<H>.{txt,svg}; write or report."""
    w, h = size
    problems: list[str] = []
    for name, (text, svg) in shots.items():
        stem = f"{name}-{w}x{h}"
        txt_file, svg_file = SNAPSHOTS / f"{stem}.txt", SNAPSHOTS / f"{stem}.svg"
        if update:
            SNAPSHOTS.mkdir(exist_ok=True)
            for path, content in ((txt_file, text), (svg_file, svg)):
                if not path.exists() or path.read_bytes() != content.encode("utf-8"):
                    path.write_bytes(content.encode("utf-8"))
                    print(f"updated {path}")
            continue
        old_text = txt_file.read_bytes().decode("utf-8") if txt_file.exists() else None
        old_svg = svg_file.read_bytes().decode("utf-8") if svg_file.exists() else None
        if old_text == text and old_svg == svg:
            continue
        new_dir.mkdir(parents=True, exist_ok=True)
        (new_dir / f"{stem}.new.txt").write_bytes(text.encode("utf-8"))
        (new_dir / f"{stem}.new.svg").write_bytes(svg.encode("utf-8"))
        if old_text is None or old_svg is None:
            problems.append(f"{stem}: no stored snapshot ({txt_file.name} / {svg_file.name} missing)")
        elif old_text != text:
            diff = difflib.unified_diff(old_text.splitlines(), text.splitlines(), f"stored {txt_file.name}",
                                        f"now {stem}.new.txt", lineterm="")
            problems.append(f"{stem}: the screen's text differs"
                            + ("" if old_svg != svg else " (the stored SVG matches: was the .txt edited?)")
                            + "\n" + "\n".join(diff))
        else:
            problems.append(f"{stem}: same characters, but the SVG differs (colours, styles or layout "
                            f"attributes changed); compare {svg_file} with {new_dir / (stem + '.new.svg')}")
    if problems:
        pytest.fail(
            f"{len(problems)} screen(s) differ from tests/snapshots/ at {w}x{h}.\n"
            f"The new renderings are in {new_dir} (*.new.txt, *.new.svg).\n"
            "If the change is intended, regenerate: "
            ".venv/bin/python -m pytest tests/test_ui_snapshots.py --update-snapshots\n\n"
            + "\n\n".join(problems),
            pytrace=False,
        )


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_screen_matches_its_snapshot(snap_dir: Path, size: tuple[int, int], request: pytest.FixtureRequest,
                                           tmp_path: Path) -> None:
    files = copy_inputs(snap_dir)
    app = make_app(media_roots=[files["stick"]], root_cert=files["cert"], root_key=files["key"],
                   services=fixed_services(files["log"]))
    shots = Shots(app)

    async def script(pilot: Any) -> None:
        c = app.ceremony
        await drive.wait_for(pilot, lambda: c.csr is not None, "the CSR")
        await shots.take(pilot, "01-media")
        await drive.to_preview(pilot, app)
        await shots.take(pilot, "02-csr")
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "profile", "profile")
        await shots.take(pilot, "03-profile")
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "root", "root")
        await drive.check_key(pilot, app, PASSPHRASE)
        await shots.take(pilot, "04-root")
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "review", "review")
        await drive.wait_for(pilot, c.plan_is_current, "the plan")
        assert c.plan.serial == SERIAL
        await shots.take(pilot, "05-review")
        await drive.type_into(pilot, app, "#officer1", "Alice Martin")
        await drive.type_into(pilot, app, "#officer2", "alice martin")  # the same officer twice: refused
        assert c.officer2 is None
        await shots.take(pilot, "06-same-officer")
        await drive.type_into(pilot, app, "#officer2", "Bob Okafor")
        assert c.officer2 is not None
        await shots.take(pilot, "07-review-confirmed")
        await drive.sign(pilot, app)
        await shots.take(pilot, "08-result")
        await pilot.press("v")
        await drive.wait_for(pilot, lambda: type(app.screen).__name__ == "QrModal", "the QR")
        await shots.take(pilot, "09-qr")

    run(app, size, script)

    weak_app = make_app(media_roots=[files["weak"]], services=fixed_services(files["log"]))
    weak_shots = Shots(weak_app)

    async def weak_script(pilot: Any) -> None:
        await drive.to_preview(pilot, weak_app)
        assert weak_app.ceremony.csr is not None and weak_app.ceremony.csr.refused
        await weak_shots.take(pilot, "10-weak-csr")

    run(weak_app, size, weak_script)
    texts = {**shots.texts, **weak_shots.texts}
    svgs = {**shots.svgs, **weak_shots.svgs}
    assert list(texts) == list(SCREENS)

    # the certificate really written is the one pinned: fixed serial and dates, its fingerprint on screen
    issued = x509.load_pem_x509_certificate((files["stick"] / "intermediate.crt").read_bytes())
    assert issued.serial_number == SERIAL and issued.not_valid_after_utc.date().isoformat() == "2036-11-23"
    assert " ".join(grouped(app.ceremony.issued.sha256, 4, 8)[0].split()) in " ".join(texts["08-result"].split())
    # the station log on screen is the real one: its chain verifies and ends at the head shown
    check = verify_log(files["log"])
    assert check.ok and check.head == app.ceremony.exported.log_head
    if size == (160, 48):  # at 80x24 the facts are below the fold
        from byoroot_tui.core.fingerprint import grouped_hex

        shown = " ".join(texts["08-result"].split())  # the head is shown as grouped hex, on two lines
        first, second = grouped_hex(check.head, per_line=8).upper().split("\n")
        assert first in shown.upper() and second in shown.upper() and str(files["log"]) in texts["08-result"]

    for name, expected in SCREENS.items():
        text = texts[name]
        assert svgs[name].startswith("<svg") and len(svgs[name]) > 5000, name
        missing = [e for e in expected if e not in text]
        assert not missing, f"{name} at {size} lacks {missing}:\n{text}"
        # every screen but the QR one keeps its Footer with Quit; the step bar is on every step
        if name != "09-qr":
            assert "^q Quit" in text and "byoroot" in text.splitlines()[0]
    assert PASSPHRASE not in "".join(texts.values()) + "".join(svgs.values())

    compare({n: (texts[n], svgs[n]) for n in SCREENS}, size,
            request.config.getoption("--update-snapshots"), tmp_path / "snapshots-new")


def test_no_stray_snapshots(request: pytest.FixtureRequest) -> None:
    """Every stored snapshot belongs to a screen and size above (a renamed screen leaves none behind)."""
    expected = {f"{n}-{w}x{h}.{ext}" for n in SCREENS for w, h in SIZES for ext in ("txt", "svg")}
    stored = {p.name for p in SNAPSHOTS.iterdir() if p.suffix in (".txt", ".svg")}
    if request.config.getoption("--update-snapshots"):
        for stray in stored - expected:
            (SNAPSHOTS / stray).unlink()
            print(f"removed {SNAPSHOTS / stray}")
        stored &= expected
    assert stored == expected, f"missing: {sorted(expected - stored)}; stray: {sorted(stored - expected)}"
