#!/usr/bin/env python3
"""TUI speed and memory, measured (never asserted in tests): `make bench-tui` or `python bench/tui_bench.py`.

Each figure is printed next to its goal with PASS or MISS (issues #7 and #17). Public API only:
Textual's `App.run_test`/`Pilot.press`, a driver subclassing the public `textual.driver.Driver`
(the app's `driver_class`), `App.post_message`, `App.workers`; no `App._display` hook, no private
driver attribute or key table.

1. Cold start: process start to first screen, `byoroot --media-root M` (the venv's console script)
   vs a bare Textual app (one Static), each in a fresh interpreter on an 80x24 pseudo-terminal,
   timed until the screen's text arrives. One untimed warm-up of each, then N round-robin rounds
   (the starting app rotates). Goal: median of the per-round ratios <= 1.5. For scale, a third app
   is Textual alone composing the media screen's widgets (the floor for such a screen). Also: peak
   RSS at the first screen, and the modules loaded at the first frame, which the bench's own
   driver sees as its first write (no crypto, linter, QR or clipboard package may be among them).
2. Key press to repaint, per screen (media, CSR, profile, root, review, result, QR modal, and the
   step switches): Pilot.press sends a key to the running app (`run_test(headless=False)` with
   the bench's driver, so Textual renders every update to terminal text and writes it), timed
   until the next frame is written and flushed. Several keys per screen; each ceremony in a fresh
   process; at 80x24 and 160x48. Goal: p95 <= 50 ms per key row; step switches p95 <= 100 ms.
3. SIGN + Enter to fingerprint on screen with a P-384 root and an encrypted key: with Pilot, and
   in a real terminal (pty). Goal: <= 500 ms.
4. Peak RSS of a whole ceremony: the real CLI on an 80x24 pty driven by keystrokes (media -> CSR
   -> profile -> root with passphrase -> review with two officers and SIGN -> result -> QR full
   screen), VmHWM read from /proc before quitting; a bare Textual app for comparison.
   Goal: <= 120 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Last, so that PYTHONPATH (another checkout, e.g. before a change) and the editable install win.
sys.path.append(str(ROOT))

import byoroot_tui  # noqa: E402

APP_ROOT = Path(byoroot_tui.__file__).resolve().parent.parent  # the checkout under test

GOAL_STARTUP_RATIO = 1.5  # issue #17 (was 1.2 in issue #7)
GOAL_KEY_MS = 50.0
GOAL_SWITCH_MS = 100.0
SWITCH_ROW = "step switch (Ctrl+N / Esc)"
GOAL_SIGN_MS = 500.0
GOAL_RSS_MB = 120.0
PASSPHRASE = "bench passphrase"
# Packages the first screen must not need: crypto, the linter and its ASN.1 stack, QR, clipboard, PKCS#11.
NOT_AT_START = ("cryptography", "pkilint", "pyasn1", "pyasn1_alt_modules", "qrcode", "PIL", "pyperclip", "pkcs11")

BARE_APP = """
from textual.app import App
from textual.widgets import Static
class Bare(App):
    def compose(self):
        yield Static("BARE-READY")
Bare().run()
"""

# The floor for a first screen like byoroot's: Textual alone composing the media screen's widgets
# (a title line, two bordered panes with their titles in the border: an OptionList, and a Tree
# over a status line; a status line, a Footer with three keys).
SAME_WIDGETS_APP = """
from textual.app import App
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, OptionList, Static, Tree
from textual.widgets.option_list import Option
class SameWidgets(App):
    BINDINGS = [Binding("ctrl+n", "bell", "Next"), Binding("r", "bell", "Rescan"), Binding("ctrl+q", "quit", "Quit")]
    CSS = "OptionList { width: 26; } OptionList, Tree { border: round $panel-lighten-2; }"
    def compose(self):
        yield Static("SAME-WIDGETS-READY  1 Media > 2 CSR > 3 Profile > 4 Root > 5 Review > 6 Sign")
        with Horizontal():
            media = OptionList(Option("stick\\nfolder /media/stick"))
            media.border_title = "Media"
            yield media
            with Vertical():
                tree = Tree("stick")
                tree.border_title = "Files on stick"
                tree.show_root = False
                tree.root.add_leaf("intermediate.csr  477 B")
                tree.root.add_leaf("README.txt")
                yield tree
                yield Static("1 CSR-like file found in 1 entry.")
        yield Static("CSR: intermediate.csr  read; Enter or ctrl+n inspects it")
        yield Footer()
SameWidgets().run()
"""

# Loads byoroot's TUI the way `byoroot` does (cli first), runs it with a driver of its own (a
# subclass of Textual's public Driver, writing nowhere), and writes the module names loaded when
# the first frame reaches the driver (its first non-empty write, then flush). The bare app the same way.
FIRST_PAINT = r"""
import sys
mode, media, out = sys.argv[1:4]
from textual import events
from textual.app import App
from textual.driver import Driver
from textual.geometry import Size

class FirstFrame(Driver):
    def __init__(self, app, *, debug=False, mouse=True, size=None):
        super().__init__(app, debug=debug, mouse=mouse, size=size)
        self.bench_app, self.bench_size, self.bench_pending, self.bench_seen = app, size or (80, 24), False, False
    def write(self, data):
        if data:
            self.bench_pending = True
    def flush(self):
        if self.bench_pending and not self.bench_seen:
            self.bench_seen = True
            with open(out, "w") as f:
                f.write("\n".join(sorted(sys.modules)))
            self.bench_app.exit()
        self.bench_pending = False
    def start_application_mode(self):
        size = Size(*self.bench_size)
        self.bench_app.post_message(events.Resize(size, size))
    def disable_input(self):
        pass
    def stop_application_mode(self):
        pass

if mode == "bare":
    from textual.widgets import Static
    class Bare(App):
        def compose(self):
            yield Static("BARE-READY")
    app = Bare()
else:
    import byoroot_tui.cli
    from byoroot_tui.ui.app import make_app
    app = make_app(media_roots=[media])
app.driver_class = FirstFrame
app.run(headless=False, size=(80, 24))
"""


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def p95(xs: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[max(0, math.ceil(0.95 * len(s)) - 1)]


def quartiles(xs: list[float]) -> tuple[float, float]:
    if len(xs) < 4:
        return (min(xs), max(xs)) if xs else (float("nan"), float("nan"))
    q = statistics.quantiles(xs, n=4)
    return q[0], q[2]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def vm_status_mb(pid: int, field: str) -> float | None:
    """A size from /proc/PID/status (VmHWM: peak resident set so far; VmRSS: now), in MB (10^6 bytes)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        return None
    return None


def vm_hwm_mb(pid: int) -> float | None:
    return vm_status_mb(pid, "VmHWM")


def child_env(tmp: Path) -> dict[str, str | None]:
    """Children cache .pyc files under the temp folder (as a wheel install has them; nothing is
    written to the repository), and keep their data and config there too."""
    return {"PYTHONPATH": str(APP_ROOT), "PYTHONDONTWRITEBYTECODE": None, "PYTHONPYCACHEPREFIX": str(tmp / "pycache"),
            "XDG_DATA_HOME": str(tmp / "data"), "XDG_CONFIG_HOME": str(tmp / "config")}


def machine() -> dict[str, Any]:
    from sign_bench import cpu_model  # bench/ is on sys.path: this script's own folder

    cpu = cpu_model("?")
    ram = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        ram = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    import textual

    return {"python": sys.version.split()[0], "textual": getattr(textual, "__version__", "?"),
            "nproc": os.cpu_count(), "cpu": cpu, "ram": ram, "load": os.getloadavg()}


def write_rich_csr(path: Path) -> None:
    """A CSR asking for more than the demo one (so the CSR and review screens have something to scroll)."""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from byoroot_tui.ui import drive

    names = [x509.DNSName(f"example.{tld}") for tld in ("com", "net", "org")]
    key_usage = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                              data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                              encipher_only=False, decipher_only=False)
    drive.write_csr(path, "Example Rich Intermediate CA", extensions=(
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (key_usage, True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), False),
        (x509.NameConstraints(permitted_subtrees=names, excluded_subtrees=None), True),
        (x509.SubjectAlternativeName([x509.DNSName("ca.example.com")]), False),
    ))


def add_stick_clutter(stick: Path) -> None:
    """A stick has more than the CSR on it: something for the file tree's cursor to move over."""
    (stick / "README.txt").write_text("notes\n")
    (stick / "backup").mkdir(exist_ok=True)
    (stick / "backup" / "old-notes.txt").write_text("old\n")


# ---------------------------------------------------------------------------- 1. cold start


def time_start(argv: list[str], markers: list[str], env: dict[str, str | None]) -> tuple[list[float | None], float | None]:
    """Seconds from spawning ``argv`` on an 80x24 pty until each marker's text has arrived, and
    the process's peak RSS (MB) when the last one had."""
    from byoroot_tui.ui.drive import PtyProcess

    t0 = time.monotonic()
    p = PtyProcess(argv, size=(80, 24), env=env)
    times: list[float | None] = []
    rss = None
    try:
        for marker in markers:
            seen = p.read_until(marker, timeout=30)
            times.append(None if seen is None else seen - t0)
        rss = vm_hwm_mb(p.proc.pid)
    finally:
        p.send("\x11")  # ctrl+q
        p.close()
    return times, rss


def byoroot_argv() -> list[str]:
    """`byoroot` as the officer starts it: the venv's console script (else `python -m byoroot_tui`)."""
    script = Path(sys.executable).parent / "byoroot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "byoroot_tui"]


def bench_startup(runs: int, media_root: Path, env: dict[str, str | None]) -> dict[str, Any]:
    from byoroot_tui.core.demo import DEMO_CSR_NAME

    apps: dict[str, tuple[list[str], list[str]]] = {
        "bare": ([sys.executable, "-c", BARE_APP], ["BARE-READY"]),
        "same_widgets": ([sys.executable, "-c", SAME_WIDGETS_APP], ["SAME-WIDGETS-READY"]),
        "byoroot": (byoroot_argv() + ["--media-root", str(media_root)], ["1 Media", DEMO_CSR_NAME]),
    }
    names = list(apps)
    for name in names:  # untimed: compile .pyc files, fill the page cache (a cold interpreter, not a cold disk)
        time_start(*apps[name], env)
    times: dict[str, list[list[float]]] = {name: [] for name in names}
    rss: dict[str, list[float]] = {name: [] for name in names}
    failed = 0
    for i in range(runs):  # round-robin; the starting app rotates, so drift and load hit all alike
        row: dict[str, list[float]] = {}
        for name in names[i % len(names):] + names[: i % len(names)]:
            t, r = time_start(*apps[name], env)
            if any(x is None for x in t):
                break
            row[name] = [x for x in t if x is not None]
            if r is not None:
                rss[name].append(r)
        if len(row) != len(names):
            failed += 1
            continue
        for name in names:
            times[name].append(row[name])

    def ratios(name: str, marker: int = 0) -> list[float]:
        return [o[marker] / b[0] for o, b in zip(times[name], times["bare"])]

    first = ratios("byoroot")
    q1, q3 = quartiles(first)
    return {
        "runs": runs,
        "failed_runs": failed,
        "bare_textual_ms": median([t[0] for t in times["bare"]]) * 1000,
        "same_widgets_ms": median([t[0] for t in times["same_widgets"]]) * 1000,
        "byoroot_first_screen_ms": median([t[0] for t in times["byoroot"]]) * 1000,
        "byoroot_csr_listed_ms": median([t[1] for t in times["byoroot"]]) * 1000,
        "ratio_first_screen": median(first),
        "ratio_first_screen_q1": q1,
        "ratio_first_screen_q3": q3,
        "ratio_csr_listed": median(ratios("byoroot", 1)),
        "ratio_same_widgets": median(ratios("same_widgets")),
        "ratio_byoroot_to_same_widgets": median([o[0] / w[0] for o, w in zip(times["byoroot"], times["same_widgets"])]),
        "bare_rss_mb": median(rss["bare"]),
        "byoroot_rss_at_first_screen_mb": median(rss["byoroot"]),
        "goal_ratio": GOAL_STARTUP_RATIO,
        "pass": median(first) <= GOAL_STARTUP_RATIO,
    }


def first_paint_modules(media_root: Path, env: dict[str, str | None], tmp: Path) -> dict[str, Any]:
    """The modules loaded when the first frame reaches the bench's driver, ours vs the bare app."""
    full_env = {**os.environ}
    for k, v in env.items():
        if v is None:
            full_env.pop(k, None)
        else:
            full_env[k] = v
    found: dict[str, set[str]] = {}
    for mode in ("bare", "ours"):
        out = tmp / f"modules-{mode}.txt"
        done = subprocess.run([sys.executable, "-c", FIRST_PAINT, mode, str(media_root), str(out)], env=full_env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"no first frame from the {mode} app:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        found[mode] = set(out.read_text().split())
    extra = found["ours"] - found["bare"]
    bad = sorted(m for m in found["ours"] if m.split(".")[0] in NOT_AT_START)
    packages = sorted({m.split(".")[0] for m in extra if not m.startswith("byoroot_tui")})
    return {"bare": len(found["bare"]), "ours": len(found["ours"]), "extra": len(extra),
            "extra_packages": packages, "byoroot_modules": sorted(m for m in extra if m.startswith("byoroot_tui")),
            "not_at_start_loaded": bad, "pass": not bad}


# ---------------------------------------------------------------------------- 2 & 3. Pilot


class FrameClock:
    """Timestamps of the frames the app writes to its terminal, through a driver of the bench's own.

    The driver subclasses Textual's public `textual.driver.Driver` and is given to the app as its
    `driver_class`; `run_test(headless=False)` then runs it like a terminal app: Textual renders
    each update to terminal text and hands it to `write`, then calls `flush`. A frame is stamped
    at the flush that follows a non-empty write, with the screen on top at that moment (only the
    top screen paints). Writes without a flush (the OSC 52 of a copy, a bell) are not frames.
    Keys go in with `Pilot.press` (which posts them through the driver, as a terminal's would be).
    """

    def __init__(self, app: Any, size: tuple[int, int]) -> None:
        from textual import events
        from textual.driver import Driver
        from textual.geometry import Size

        self.app = app
        self.stamps: list[float] = []
        self.screens: list[str] = []
        clock = self

        class ClockDriver(Driver):
            def __init__(self, app: Any, *, debug: bool = False, mouse: bool = True,
                         size: tuple[int, int] | None = None) -> None:
                super().__init__(app, debug=debug, mouse=mouse, size=size)
                self.bench_app = app
                self.bench_size = Size(*size) if size else Size(*clock.size)
                self.bench_pending = False

            def write(self, data: str) -> None:
                if data:
                    self.bench_pending = True

            def flush(self) -> None:
                if self.bench_pending:
                    clock.stamps.append(time.perf_counter())
                    try:
                        clock.screens.append(type(self.bench_app.screen).__name__)
                    except Exception:  # no screen (yet, or any more)
                        clock.screens.append("")
                self.bench_pending = False

            def start_application_mode(self) -> None:
                self.bench_app.post_message(events.Resize(self.bench_size, self.bench_size))

            def disable_input(self) -> None:
                pass

            def stop_application_mode(self) -> None:
                pass

        self.size = size
        app.driver_class = ClockDriver

    async def key(self, pilot: Any, key: str, timeout: float = 2.0, screen: str | None = None) -> float | None:
        """Press one key (Pilot); seconds until the first frame after it (of ``screen`` if given), or None."""
        n = len(self.stamps)
        t0 = time.perf_counter()
        await pilot.press(key)
        end = t0 + timeout
        while True:
            for t, scr in zip(self.stamps[n:], self.screens[n:]):
                if screen is None or scr == screen:
                    return t - t0
            if time.perf_counter() >= end:
                return None
            await asyncio.sleep(0.0005)


KEY_ROWS = ("media", "CSR preview", "profile", "root", "review", "result", "QR modal (open / close)", SWITCH_ROW)


def row_goal(row: str) -> float:
    return GOAL_SWITCH_MS if row == SWITCH_ROW else GOAL_KEY_MS


class KeyLog:
    def __init__(self) -> None:
        self.rows: dict[str, list[float]] = {}
        self.samples: dict[str, list[tuple[str, float]]] = {}
        self.silent: dict[str, list[str]] = {}  # keys that repainted nothing (nothing to scroll, ...)
        self.sign: list[float] = []
        self.gc2: list[float] = []  # full (generation 2) garbage collections in the app's process, ms

    def add(self, row: str, key: str, value: float | None) -> None:
        if value is None:
            self.silent.setdefault(row, []).append(key)
        else:
            self.rows.setdefault(row, []).append(value * 1000)
            self.samples.setdefault(row, []).append((key, round(value * 1000, 1)))

    def raw(self) -> dict[str, Any]:
        return {"samples": self.samples, "silent": self.silent, "sign": self.sign, "gc2": self.gc2}

    def merge(self, raw: dict[str, Any]) -> None:
        for row, samples in raw["samples"].items():
            for key, ms in samples:
                self.add(row, key, ms / 1000)
        for row, keys in raw["silent"].items():
            for key in keys:
                self.add(row, key, None)
        self.sign += raw["sign"]
        self.gc2 += raw["gc2"]

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for row in sorted(self.rows.keys() | self.silent.keys(), key=lambda r: KEY_ROWS.index(r) if r in KEY_ROWS else 99):
            if row not in self.rows:
                out[row] = {"n": 0, "no_repaint": self.silent[row]}
                continue
            v = self.rows[row]
            out[row] = {"n": len(v), "median_ms": median(v), "p95_ms": p95(v), "max_ms": max(v),
                        "no_repaint": self.silent.get(row, []), "samples": self.samples[row],
                        "goal_p95_ms": row_goal(row), "pass_p95": p95(v) <= row_goal(row)}
        return out


async def key_ceremony(size: tuple[int, int], log: KeyLog) -> None:
    """One whole ceremony with Pilot, timing each key press to its repaint."""
    from textual.widgets import Input

    from byoroot_tui.core.demo import make_demo
    from byoroot_tui.core.media import discover_media
    from byoroot_tui.ui import drive
    from byoroot_tui.ui.app import Services, make_app

    async def settle(pilot: Any, t: float = 0.12) -> None:
        await pilot.pause(t)

    def quiet_cursors(app: Any) -> None:
        # A blinking cursor repaints every 0.5 s by itself; it would be taken for a key's repaint.
        for screen in app.screen_stack:
            for field in screen.query(Input):
                field.cursor_blink = False

    async def keys(pilot: Any, app: Any, clock: FrameClock, row: str, names: list[str], gap: float = 0.12) -> None:
        for k in names:
            quiet_cursors(app)
            log.add(row, k, await clock.key(pilot, k, timeout=1.0))
            await settle(pilot, gap)

    async def switch(pilot: Any, app: Any, clock: FrameClock, key: str, target: str, label: str) -> None:
        """A step switch: the time until the target screen's first frame."""
        log.add(SWITCH_ROW, label, await clock.key(pilot, key, timeout=5.0, screen=target))

    def warm_up_done(app: Any) -> bool:
        """The app's warm-up imports (a thread worker of group "warm", started 0.3 s after the start) are over."""
        return not any(w.group == "warm" and not w.is_finished for w in app.workers)

    def passphrase_needed(app: Any) -> bool:
        """The key file is encrypted and asks for its passphrase (`app.flow` since issue #17, the app before)."""
        return bool(getattr(getattr(app, "flow", app), "passphrase_needed", False))

    with tempfile.TemporaryDirectory() as tmp:
        m = make_demo(Path(tmp) / "demo")
        m.csr.unlink()  # in its place, a CSR that asks for five extensions (three are ignored, with warnings)
        write_rich_csr(m.stick / "intermediate-ca.csr")
        add_stick_clutter(m.stick)
        enc = m.root_key.parent / "enc.key"
        drive.write_encrypted_key(m.root_key, enc, PASSPHRASE)
        app = make_app(media_roots=[m.stick], root_cert=m.root_cert, root_key=enc,
                       profile_dirs=[APP_ROOT / "profiles"], services=Services(
                           discover=lambda roots: discover_media(roots, include_system=False), poll_interval=0,
                           clipboard=lambda t: False, log_path=Path(tmp) / "station-log.jsonl"))
        clock = FrameClock(app, size)
        async with app.run_test(headless=False, size=size, notifications=True) as pilot:
            c = app.ceremony
            await drive.wait_for(pilot, lambda: drive.step_of(app) == "media", "the media step")
            await drive.wait_for(pilot, lambda: drive.csr_checked(app), "the CSR check")
            await settle(pilot, 0.6)  # the warm-up imports start 0.3 s after start
            await drive.wait_for(pilot, lambda: warm_up_done(app), "the warm-up", timeout=30)
            await settle(pilot)
            # media: the file tree (cursor) and the focus between the lists
            await keys(pilot, app, clock, "media", ["down", "up", "down", "up", "tab", "shift+tab", "tab", "shift+tab"])
            # media -> CSR, back, and again
            await switch(pilot, app, clock, "ctrl+n", "PreviewScreen", "media → CSR")
            await drive.wait_for(pilot, lambda: drive.csr_checked(app), "the CSR check")
            await settle(pilot, 0.5)
            await keys(pilot, app, clock, "CSR preview", ["down", "up", "pagedown", "pageup", "end", "home"])
            await switch(pilot, app, clock, "escape", "MediaScreen", "CSR → media")
            await settle(pilot, 0.5)
            await switch(pilot, app, clock, "ctrl+n", "PreviewScreen", "media → CSR")
            await settle(pilot, 0.5)
            await switch(pilot, app, clock, "ctrl+n", "ProfileScreen", "CSR → profile")
            await settle(pilot, 0.5)
            # profile: each move re-checks the CSR against the highlighted profile (in a worker)
            for k in ("down", "up", "down", "up"):
                quiet_cursors(app)
                log.add("profile", k, await clock.key(pilot, k, timeout=1.0))
                await drive.wait_for(pilot, lambda: c.assessment_is_current(), "the assessment")
                await settle(pilot)
            await switch(pilot, app, clock, "ctrl+n", "RootScreen", "profile → root")
            await drive.wait_for(pilot, lambda: c.key_error is not None or c.key_checked or passphrase_needed(app),
                                 "the first key check (or the passphrase asked for)")
            await settle(pilot, 0.5)
            # root: the passphrase, typed key by key, one correction, then Enter (checks the key)
            await keys(pilot, app, clock, "root", list(PASSPHRASE) + ["backspace", "e"], gap=0.03)
            quiet_cursors(app)
            log.add("root", "enter", await clock.key(pilot, "enter", timeout=2.0))
            await drive.wait_for(pilot, lambda: c.key_checked, "the key check")
            await settle(pilot, 0.5)
            await switch(pilot, app, clock, "ctrl+n", "ReviewScreen", "root → review")
            await drive.wait_for(pilot, c.plan_is_current, "the plan")
            await settle(pilot, 0.3)
            # review: scroll the certificate, two officers, the SIGN word
            pane = app.screen.query_one("#plan-pane")
            if pane.max_scroll_y > 0:  # at 160x48 the whole certificate fits: nothing to scroll
                await keys(pilot, app, clock, "review", ["pagedown", "pageup"])
            await keys(pilot, app, clock, "review", list("Alice") + ["enter"], gap=0.03)
            await settle(pilot)
            await keys(pilot, app, clock, "review", list("Bob") + ["enter"], gap=0.03)
            await settle(pilot)
            await keys(pilot, app, clock, "review", list("SIGN"), gap=0.03)
            await settle(pilot)
            if c.sign_blocker():
                raise RuntimeError(f"cannot sign: {c.sign_blocker()}\n{drive.screen_text(app)}")
            # 3. SIGN -> fingerprint on screen
            shown = await clock.key(pilot, "enter", timeout=20.0, screen="ResultScreen")
            if shown is None:
                raise RuntimeError("no result screen after SIGN:\n" + drive.screen_text(app))
            log.sign.append(shown * 1000)
            await settle(pilot, 0.6)
            # result: scroll, copy (a status line); QR full screen opened and closed
            await keys(pilot, app, clock, "result", ["down", "up", "pagedown", "pageup", "c"])
            for close in ("escape", "enter", "v"):
                log.add("QR modal (open / close)", "v", await clock.key(pilot, "v", timeout=2.0, screen="QrModal"))
                await settle(pilot, 0.3)
                log.add("QR modal (open / close)", close, await clock.key(pilot, close, timeout=2.0, screen="ResultScreen"))
                await settle(pilot, 0.3)


def bench_keys(size: tuple[int, int], rounds: int, env: dict[str, str | None]) -> dict[str, Any]:
    """``rounds`` ceremonies, each in a fresh process (as at the station: one ceremony per start, so
    no garbage or caches carried over from the one before)."""
    log = KeyLog()
    full_env = {**os.environ}
    for k, v in env.items():
        if v is None:
            full_env.pop(k, None)
        else:
            full_env[k] = v
    for _ in range(rounds):
        done = subprocess.run([sys.executable, __file__, "--child-keys", f"{size[0]}x{size[1]}"], env=full_env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"the Pilot ceremony at {size} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        raw = json.loads(done.stdout.strip().splitlines()[-1])
        log.merge(raw)
        app_file = raw["app_file"]
    return {"app_file": app_file, "rows": log.summary(), "sign_ms": {"n": len(log.sign), "median_ms": median(log.sign),
                                               "max_ms": max(log.sign), "pass": median(log.sign) <= GOAL_SIGN_MS},
            "gc2_ms": {"n": len(log.gc2), "median_ms": median(log.gc2), "max_ms": max(log.gc2, default=float("nan"))}}


def child_keys(size: str) -> int:
    import gc

    log = KeyLog()
    started: list[float] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            log.gc2.append((time.perf_counter() - started.pop()) * 1000)

    gc.callbacks.append(on_gc)
    cols, rows = (int(x) for x in size.split("x"))
    asyncio.run(key_ceremony((cols, rows), log))
    print(json.dumps({**log.raw(), "app_file": byoroot_tui.__file__}))
    return 0


# ---------------------------------------------------------------------------- 3b & 4. a real terminal


class Flow:
    """The real CLI on a pty: send keys, wait for text, fail with the screen when it does not come."""

    def __init__(self, argv: list[str], env: dict[str, str | None]) -> None:
        from byoroot_tui.ui.drive import PtyProcess

        self.p = PtyProcess(argv, size=(80, 24), env=env)

    def expect(self, marker: str, timeout: float = 20.0) -> float:
        seen = self.p.read_until(marker, timeout=timeout)
        if seen is None:
            tail = self.p.text()[-3000:]
            raise RuntimeError(f"the app never showed {marker!r}; last output:\n{tail}")
        return seen

    def send(self, keys: str, pause: float = 0.0) -> None:
        self.p.send(keys)
        if pause:
            time.sleep(pause)

    def type(self, text: str, gap: float = 0.02) -> None:
        for ch in text:
            self.p.send(ch)
            time.sleep(gap)

    def mark(self) -> None:
        self.p.output.clear()


def pty_ceremony(env: dict[str, str | None], tmp: Path) -> dict[str, Any]:
    """One whole ceremony in a fresh `byoroot` process; SIGN→fingerprint time and peak RSS."""
    from byoroot_tui.core.demo import make_demo
    from byoroot_tui.ui import drive

    m = make_demo(tmp)
    add_stick_clutter(m.stick)
    enc = m.root_key.parent / "enc.key"
    drive.write_encrypted_key(m.root_key, enc, PASSPHRASE)
    f = Flow(byoroot_argv() + ["--media-root", str(m.stick), "--root-cert", str(m.root_cert),
                               "--root-key", str(enc)], env)
    steps: dict[str, float | None] = {}

    def note(step: str) -> None:
        steps[step] = vm_status_mb(f.p.proc.pid, "VmRSS")

    try:
        f.expect("read; Enter")  # the CSR read (media screen)
        time.sleep(0.5)
        note("media")
        f.mark()
        f.send("\x0e")  # ctrl+n: CSR
        f.expect("ACCEPTABLE")
        time.sleep(0.4)
        note("CSR")
        f.mark()
        f.send("\x0e")  # profile
        f.expect("Root expiry")
        time.sleep(0.4)
        note("profile")
        f.mark()
        f.send("\x0e")  # root: the passphrase field has the focus
        f.expect("assphrase")
        time.sleep(0.4)
        f.mark()
        f.type(PASSPHRASE)
        f.send("\r")
        f.expect("matches the root")
        time.sleep(0.4)
        note("root")
        f.mark()
        f.send("\x0e")  # review
        f.expect("Certificate to be issued")
        time.sleep(0.8)
        note("review")
        f.type("Alice")
        f.send("\r", 0.3)
        f.type("Bob")
        f.send("\r", 0.3)
        f.type("SIGN")
        time.sleep(0.3)
        f.mark()
        t0 = time.monotonic()
        f.send("\r")
        done = f.expect("ISSUED AND WRITTEN")
        time.sleep(0.5)
        note("result")
        f.mark()
        f.send("v")  # the QR code full screen
        f.expect("esc Close")  # the QR modal's footer
        time.sleep(0.3)
        note("QR")
        f.send("\x1b", 0.3)
        rss = vm_hwm_mb(f.p.proc.pid)
        return {"sign_ms": (done - t0) * 1000, "rss_mb": rss, "steps": steps}
    finally:
        f.send("\x11")
        f.p.close()


def bare_rss(env: dict[str, str | None]) -> float | None:
    f = Flow([sys.executable, "-c", BARE_APP], env)
    try:
        f.expect("BARE-READY")
        f.send("\t", 0.2)
        return vm_hwm_mb(f.p.proc.pid)
    finally:
        f.send("\x11")
        f.p.close()


def bench_pty(runs: int, env: dict[str, str | None], tmp: Path) -> dict[str, Any]:
    sign, rss, bare = [], [], []
    steps: dict[str, list[float]] = {}
    for i in range(runs):
        r = pty_ceremony(env, tmp / f"pty{i}")
        for step, mb in r["steps"].items():
            if mb is not None:
                steps.setdefault(step, []).append(mb)
        if r["sign_ms"] is not None:
            sign.append(r["sign_ms"])
        if r["rss_mb"] is not None:
            rss.append(r["rss_mb"])
        b = bare_rss(env)
        if b is not None:
            bare.append(b)
    return {
        "sign_ms": {"n": len(sign), "median_ms": median(sign), "max_ms": max(sign) if sign else float("nan"),
                    "pass": median(sign) <= GOAL_SIGN_MS},
        "rss": {"n": len(rss), "ceremony_peak_mb": max(rss) if rss else float("nan"), "ceremony_median_mb": median(rss),
                "bare_textual_mb": median(bare), "goal_mb": GOAL_RSS_MB,
                "rss_now_by_step_mb": {step: median(v) for step, v in steps.items()},
                "pass": bool(rss) and max(rss) <= GOAL_RSS_MB},
    }


# ---------------------------------------------------------------------------- report


def report(out: dict[str, Any], args: argparse.Namespace) -> None:
    mach = out["machine"]
    print(f"Python {mach['python']}, Textual {mach['textual']}; {mach['nproc']} CPUs ({mach['cpu']}), RAM {mach['ram']}")
    la, lb = mach["load"], out["load_after"]
    print(f"load average {la[0]:.2f} at start, {lb[0]:.2f} at the end (other work on the machine makes the figures noisy)")
    print(f"byoroot_tui under test: {out['app_file']}"
          + "".join(f"; key ceremonies {s}: {out[f'keys_{s}']['app_file']}" for s in ("80x24", "160x48") if f"keys_{s}" in out)
          + "\n")

    s = out["startup"]
    print(f"1. Cold start, process start → first screen on an 80x24 pty ({s['runs']} round-robin rounds after a warm-up"
          + (f", {s['failed_runs']} failed" if s["failed_runs"] else "") + ")")
    print(f"   bare Textual app (one Static)  {s['bare_textual_ms']:7.1f} ms")
    print(f"   byoroot, first screen          {s['byoroot_first_screen_ms']:7.1f} ms")
    print(f"   byoroot, CSR listed            {s['byoroot_csr_listed_ms']:7.1f} ms")
    print(f"   ratio (median of rounds)       {s['ratio_first_screen']:7.2f}×   goal ≤ {GOAL_STARTUP_RATIO}×   "
          f"{verdict(s['pass'])}   (quartiles {s['ratio_first_screen_q1']:.2f}–{s['ratio_first_screen_q3']:.2f}; "
          f"CSR listed {s['ratio_csr_listed']:.2f}×)")
    print(f"   for scale: Textual alone with the media screen's widgets {s['same_widgets_ms']:.1f} ms, "
          f"{s['ratio_same_widgets']:.2f}× the bare app; byoroot is {s['ratio_byoroot_to_same_widgets']:.2f}× that")
    print(f"   peak RSS at the first screen   {s['byoroot_rss_at_first_screen_mb']:7.1f} MB   (bare {s['bare_rss_mb']:.1f} MB)")
    fp = out["first_paint"]
    bad = ", ".join(fp["not_at_start_loaded"]) or "none"
    print(f"   modules at the first frame     {fp['ours']} (bare {fp['bare']}, +{fp['extra']}); "
          f"crypto/lint/QR/clipboard: {bad}   {verdict(fp['pass'])}")
    print(f"   extra packages: {', '.join(fp['extra_packages']) or 'none'}")

    for size in ("80x24", "160x48"):
        k = out[f"keys_{size}"]["rows"]
        print(f"\n2. Key press → frame written, {size}, Pilot + the bench's driver ({args.rounds} ceremonies; "
              f"goal p95 ≤ {GOAL_KEY_MS:.0f} ms per key, ≤ {GOAL_SWITCH_MS:.0f} ms per step switch)")
        print(f"   {'screen':<28} {'n':>3} {'median':>9} {'p95':>9} {'max':>9}")
        for row, r in k.items():
            if not r["n"]:
                keys = " ".join(dict.fromkeys(r["no_repaint"]))
                print(f"   {row:<28}   0   (no key repainted anything: {keys}; it all fits on the screen)")
                continue
            note = f"   (no repaint: {' '.join(dict.fromkeys(r['no_repaint']))})" if r["no_repaint"] else ""
            print(f"   {row:<28} {r['n']:>3} {r['median_ms']:6.1f} ms {r['p95_ms']:6.1f} ms {r['max_ms']:6.1f} ms   "
                  f"p95 ≤ {r['goal_p95_ms']:.0f}: {verdict(r['pass_p95'])}{note}")

    for size in ("80x24", "160x48"):
        g = out[f"keys_{size}"]["gc2_ms"]
        print(f"   full garbage collections (gen 2) in the app, {size}: {g['n']}, median {g['median_ms']:.0f} ms, "
              f"max {g['max_ms']:.0f} ms (a key pressed meanwhile waits)")
    print(f"\n3. SIGN + Enter → fingerprint on screen, P-384 root, encrypted key (goal ≤ {GOAL_SIGN_MS:.0f} ms, median)")
    for size in ("80x24", "160x48"):
        r = out[f"keys_{size}"]["sign_ms"]
        print(f"   Pilot {size:<7}                  {r['median_ms']:6.1f} ms (max {r['max_ms']:6.1f}, n={r['n']})   {verdict(r['pass'])}")
    r = out["pty"]["sign_ms"]
    print(f"   real pty 80x24 (incl. writes)  {r['median_ms']:6.1f} ms (max {r['max_ms']:6.1f}, n={r['n']})   {verdict(r['pass'])}")

    r = out["pty"]["rss"]
    print(f"\n4. Peak RSS (VmHWM) of a whole ceremony, real CLI on an 80x24 pty, QR shown (n={r['n']})")
    print(f"   byoroot ceremony               {r['ceremony_peak_mb']:6.1f} MB (median {r['ceremony_median_mb']:.1f})   "
          f"goal ≤ {GOAL_RSS_MB:.0f} MB   {verdict(r['pass'])}")
    print(f"   bare Textual app               {r['bare_textual_mb']:6.1f} MB")
    print("   RSS on each screen (median):   " + ", ".join(f"{k} {v:.0f}" for k, v in r["rss_now_by_step_mb"].items()) + " MB")


def main() -> int:
    ap = argparse.ArgumentParser(description="byoroot TUI speed and memory")
    ap.add_argument("--runs", type=int, default=20, help="cold-start rounds (default 20)")
    ap.add_argument("--rounds", type=int, default=3, help="Pilot ceremonies per size (default 3)")
    ap.add_argument("--pty-runs", type=int, default=3, help="whole ceremonies on a pty (default 3)")
    ap.add_argument("--only", choices=["startup", "keys", "pty"], help="run one part only")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    ap.add_argument("--save", metavar="FILE", help="also write the figures as JSON to FILE")
    ap.add_argument("--child-keys", metavar="WxH", help=argparse.SUPPRESS)  # one Pilot ceremony (a child)
    args = ap.parse_args()
    if args.child_keys:
        return child_keys(args.child_keys)

    from byoroot_tui.core.demo import make_demo

    out: dict[str, Any] = {"machine": machine(), "app_file": byoroot_tui.__file__}
    with tempfile.TemporaryDirectory(prefix="byoroot-tui-bench-") as tmp_name:
        tmp = Path(tmp_name)
        env = child_env(tmp)
        if args.only in (None, "startup"):
            m = make_demo(tmp / "startup")
            out["startup"] = bench_startup(args.runs, m.stick, env)
            out["first_paint"] = first_paint_modules(m.stick, env, tmp)
        if args.only in (None, "keys"):
            out["keys_80x24"] = bench_keys((80, 24), args.rounds, env)
            out["keys_160x48"] = bench_keys((160, 48), args.rounds, env)
        if args.only in (None, "pty"):
            out["pty"] = bench_pty(args.pty_runs, env, tmp)
    out["load_after"] = os.getloadavg()
    if args.save:
        Path(args.save).write_text(json.dumps(out, indent=2, ensure_ascii=False))

    if args.json or args.only:
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        report(out, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
