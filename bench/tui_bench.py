#!/usr/bin/env python3
"""TUI speed, measured (never asserted in tests): `make bench-tui` or `python bench/tui_bench.py`.

1. Start-up: process start to first screen, `byoroot --media-root M` vs a bare Textual app, each
   started in a fresh interpreter on a pseudo-terminal (80x24), timed until its first screen's
   text arrives on the terminal. Goal: ratio <= 1.5.
2. Key press to repaint, per screen: a key event is sent to the running app (Textual Pilot's
   headless driver) and timed until the screen's next compositor update. Goal: < 100 ms.
3. "sign" to fingerprint on screen with a P-384 root: Enter in the SIGN field until the result
   screen with the fingerprint is drawn (Pilot), and the same on a real pty. Goal: < 500 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BARE_APP = """
from textual.app import App
from textual.widgets import Static
class Bare(App):
    def compose(self):
        yield Static("BARE-READY")
Bare().run()
"""


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def ms(x: float) -> str:
    return f"{x * 1000:7.1f} ms"


# ---------------------------------------------------------------------------- 1. start-up


def time_start(argv: list[str], markers: list[str], env: dict[str, str | None]) -> list[float | None]:
    """Seconds from spawning ``argv`` on an 80x24 pty until each marker's text has arrived."""
    from byoroot_tui.ui.drive import PtyProcess

    t0 = time.monotonic()
    p = PtyProcess(argv, size=(80, 24), env=env)
    times: list[float | None] = []
    for marker in markers:
        seen = p.read_until(marker, timeout=30)
        times.append(None if seen is None else seen - t0)
    p.send("\x11")  # ctrl+q
    p.close()
    return times


def bench_startup(runs: int, media_root: Path) -> dict[str, Any]:
    from byoroot_tui.core.demo import DEMO_CSR_NAME

    # Bytecode as an installed station has it: this sandbox sets PYTHONDONTWRITEBYTECODE, which would
    # make our modules compile from source on every start while Textual's come precompiled.
    env: dict[str, str | None] = {"PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": None,
                                  "XDG_DATA_HOME": str(media_root.parent), "XDG_CONFIG_HOME": str(media_root.parent)}
    bare_cmd = [sys.executable, "-c", BARE_APP]
    ours_cmd = [sys.executable, "-m", "byoroot_tui", "--media-root", str(media_root)]
    # one untimed run of each so .pyc files exist (a cold interpreter, not a cold disk)
    time_start(bare_cmd, ["BARE-READY"], env)
    time_start(ours_cmd, ["1 Media", DEMO_CSR_NAME], env)
    bare, first, listed = [], [], []
    for _ in range(runs):  # interleaved, so drift and other load hit both alike
        (t,) = time_start(bare_cmd, ["BARE-READY"], env)
        if t is not None:
            bare.append(t)
        t1, t2 = time_start(ours_cmd, ["1 Media", DEMO_CSR_NAME], env)
        if t1 is not None and t2 is not None:
            first.append(t1)
            listed.append(t2)
    return {
        "bare_textual_s": median(bare),
        "byoroot_first_screen_s": median(first),
        "byoroot_csr_listed_s": median(listed),
        "ratio_first_screen": median(first) / median(bare),
        "ratio_csr_listed": median(listed) / median(bare),
        "min_ratio_first_screen": min(first) / min(bare),
        "runs": runs,
    }


# ---------------------------------------------------------------------------- 2 & 3. Pilot


class RepaintClock:
    """Timestamps of the app's compositor updates (the headless driver skips only the terminal write)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.stamps: list[float] = []
        self.screens: list[str] = []
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            if renderable is not None:
                self.stamps.append(time.perf_counter())
                self.screens.append(type(screen).__name__)
            original(screen, renderable)

        app._display = display

    async def key(self, key: str, timeout: float = 5.0) -> float:
        """Send one key like a terminal would; seconds until the first repaint after it."""
        import unicodedata

        from textual import events
        from textual.keys import _get_unicode_name_from_key

        try:
            char: str | None = unicodedata.lookup(_get_unicode_name_from_key(key))
        except KeyError:
            char = key if len(key) == 1 else None
        n = len(self.stamps)
        t0 = time.perf_counter()
        event = events.Key(key, char)
        event.set_sender(self.app)
        self.app._driver.send_message(event)
        end = t0 + timeout
        while len(self.stamps) == n and time.perf_counter() < end:
            await asyncio.sleep(0.0005)
        if len(self.stamps) == n:
            return float("nan")
        return self.stamps[n] - t0


async def settle(pilot: Any) -> None:
    await pilot.pause(0.15)


async def bench_keys(size: tuple[int, int], rounds: int) -> dict[str, dict[str, float]]:
    from byoroot_tui.core.demo import make_demo
    from byoroot_tui.core.media import discover_media
    from byoroot_tui.ui import drive
    from byoroot_tui.ui.app import Services, make_app

    results: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        results.setdefault(name, []).append(value)

    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            m = make_demo(Path(tmp) / f"round{i}")
            enc = m.root_key.parent / "enc.key"
            drive.write_encrypted_key(m.root_key, enc, "bench passphrase")
            app = make_app(media_roots=[m.stick], root_cert=m.root_cert, root_key=enc, services=Services(
                discover=lambda roots: discover_media(roots, include_system=False), poll_interval=0,
                clipboard=lambda t: False, log_path=Path(tmp) / "station-log.jsonl"))
            clock = RepaintClock(app)
            async with app.run_test(size=size, notifications=True) as pilot:
                c = app.ceremony
                await drive.wait_for(pilot, lambda: c.csr is not None, "CSR")
                await settle(pilot)
                add("media: tab (focus)", await clock.key("tab"))
                await settle(pilot)
                add("media: tab (focus)", await clock.key("tab"))
                await settle(pilot)
                add("media → CSR: ctrl+n", await clock.key("ctrl+n"))
                await settle(pilot)
                add("CSR → media: escape", await clock.key("escape"))
                await settle(pilot)
                await clock.key("ctrl+n")
                await settle(pilot)
                add("CSR → profile: ctrl+n", await clock.key("ctrl+n"))
                await settle(pilot)
                add("profile → root: ctrl+n", await clock.key("ctrl+n"))
                await drive.wait_for(pilot, lambda: c.key_error is not None, "first key check")
                await settle(pilot)
                for ch in "bench passphrase":
                    add("root: type in passphrase", await clock.key("space" if ch == " " else ch))
                    await pilot.pause(0.02)
                await pilot.press("enter")
                await drive.wait_for(pilot, lambda: c.key_checked, "key check")
                await settle(pilot)
                add("root → review: ctrl+n", await clock.key("ctrl+n"))
                await drive.wait_for(pilot, c.plan_is_current, "plan")
                await settle(pilot)
                for ch in "Alice":
                    add("review: type officer name", await clock.key(ch))
                    await pilot.pause(0.02)
                await pilot.press("enter")
                await settle(pilot)
                pane = app.screen.query_one("#plan-pane")
                if pane.max_scroll_y > 0:  # at 160x48 the whole certificate fits: nothing to scroll
                    add("review: pagedown", await clock.key("pagedown"))
                    await settle(pilot)
                    add("review: pageup", await clock.key("pageup"))
                    await settle(pilot)
                await drive.type_into(pilot, app, "#officer2", "Bob")
                await drive.type_into(pilot, app, "#sign-word", "SIGN", submit=False)
                await settle(pilot)
                # 3. sign → fingerprint on screen
                n = len(clock.stamps)
                t0 = time.perf_counter()
                await clock.key("enter")
                try:
                    await drive.wait_for(pilot, lambda: type(app.screen).__name__ == "ResultScreen", "result")
                except Exception:
                    print(drive.screen_text(app), c.officer1, c.officer2, c.sign_blocker())
                    raise
                await settle(pilot)
                shown = next(t for t, scr in zip(clock.stamps[n:], clock.screens[n:]) if scr == "ResultScreen")
                add("SIGN enter → fingerprint (Pilot)", shown - t0)
                await settle(pilot)
                add("result: v (QR full screen)", await clock.key("v"))
                await settle(pilot)
                add("result: escape (close QR)", await clock.key("escape"))
                await settle(pilot)
                add("result: c (copy → message)", await clock.key("c"))
                await settle(pilot)
    return {k: {"median_ms": median(v) * 1000, "max_ms": max(v) * 1000, "n": len(v)} for k, v in results.items()}


# ---------------------------------------------------------------------------- 3b. sign on a real pty


def bench_sign_pty(runs: int) -> dict[str, float]:
    from byoroot_tui.core.demo import make_demo
    from byoroot_tui.ui.drive import PtyProcess

    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            m = make_demo(Path(tmp))
            p = PtyProcess([sys.executable, "-m", "byoroot_tui", "--media-root", str(m.stick), "--root-cert",
                            str(m.root_cert), "--root-key", str(m.root_key)], size=(80, 24),
                           env={"PYTHONPATH": str(ROOT), "XDG_DATA_HOME": tmp, "XDG_CONFIG_HOME": tmp})
            try:
                steps = [("", "read; Enter"), ("\x0e", "ACCEPTABLE"), ("\x0e", "Root expiry"), ("\x0e", "matches the root"),
                         ("\x0e", "Certificate to be issued")]
                for key, marker in steps:
                    if key:
                        p.send(key)
                    assert p.read_until(marker, timeout=20), marker
                time.sleep(0.3)
                for name in ("Alice", "Bob"):
                    p.send(name)
                    time.sleep(0.2)
                    p.send("\r")
                    time.sleep(0.3)
                p.send("SIGN")
                time.sleep(0.3)
                p.output.clear()
                t0 = time.monotonic()
                p.send("\r")
                done = p.read_until("ISSUED AND WRITTEN", timeout=20)
                if done is not None:
                    times.append(done - t0)
            finally:
                p.send("\x11")
                p.close()
    return {"median_ms": median(times) * 1000, "max_ms": max(times) * 1000 if times else float("nan"), "n": len(times)}


def main() -> int:
    ap = argparse.ArgumentParser(description="byoroot TUI speed")
    ap.add_argument("--runs", type=int, default=7, help="start-up runs (each app)")
    ap.add_argument("--rounds", type=int, default=3, help="Pilot ceremonies per size")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from byoroot_tui.core.demo import make_demo

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        m = make_demo(Path(tmp))
        out["startup"] = bench_startup(args.runs, m.stick)
    out["keys_80x24"] = asyncio.run(bench_keys((80, 24), args.rounds))
    out["keys_160x48"] = asyncio.run(bench_keys((160, 48), args.rounds))
    out["sign_pty_80x24"] = bench_sign_pty(max(3, args.rounds))

    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    s = out["startup"]
    print(f"Python {sys.version.split()[0]}, median of {s['runs']} runs each, 80x24 pty\n")
    print("1. Start-up (process start → text on the terminal)")
    print(f"   bare Textual app            {ms(s['bare_textual_s'])}")
    print(f"   byoroot first screen        {ms(s['byoroot_first_screen_s'])}   ratio {s['ratio_first_screen']:.2f}x (goal ≤ 1.5x)")
    print(f"   byoroot CSR listed on it    {ms(s['byoroot_csr_listed_s'])}   ratio {s['ratio_csr_listed']:.2f}x")
    for size in ("80x24", "160x48"):
        print(f"\n2. Key press → repaint, {size} (median / max over {args.rounds} ceremonies; goal < 100 ms)")
        for name, r in out[f"keys_{size}"].items():
            if "SIGN" in name:
                continue
            print(f"   {name:<34} {r['median_ms']:7.1f} ms  / {r['max_ms']:7.1f} ms")
    print("\n3. SIGN + Enter → fingerprint on screen, P-384 root (goal < 500 ms)")
    for size in ("80x24", "160x48"):
        r = out[f"keys_{size}"]["SIGN enter → fingerprint (Pilot)"]
        print(f"   Pilot {size:<8}                 {r['median_ms']:7.1f} ms  / {r['max_ms']:7.1f} ms")
    r = out["sign_pty_80x24"]
    print(f"   real pty 80x24 (incl. write)   {r['median_ms']:7.1f} ms  / {r['max_ms']:7.1f} ms  (n={r['n']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
