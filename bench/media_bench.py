#!/usr/bin/env python3
"""The media screen on a big stick, measured (never asserted in tests): `python bench/media_bench.py`.

The medium: 100 folders x 100 empty files (10,000 files) and a real CSR four levels down in d42.

1. Time to first screen: process start to the first screen's text on an 80x24 pty (the same
   measure as bench/tui_bench.py), for this medium and for the demo stick (one file); then to the
   top folder listed ("d00/") and to the search's result on screen.
2. Key press to repaint on the media screen (Textual Pilot, 80x24), median / p95 / max. A key is
   sent as a terminal would (tui_bench's RepaintClock) and timed until the first compositor update
   that shows its effect (cursor moved, folder opened or closed), so a repaint for something else
   (a search progress line) does not count. Three situations:
   a. while the search runs on a slow stick: the search thread sleeps SLOW ms after every folder
      (the time a slow USB stick takes per directory read; the GIL is released, as in real I/O);
   b. while the search thread is CPU-bound: it spins in Python (holding the GIL, as a slow
      CPU-bound walk would) SLOW ms after every folder;
   c. while the real search runs at full speed: `r` restarts it and keys are pressed while it
      runs (it takes tens of ms here, so few presses land in it); only presses sent and shown
      while it ran count;
   d. after the search ended.
3. Why a folder shows 200 entries at a time: one folder of 10,000 files, opened with the bound
   (200) and without it (10,000 tree nodes): time from Enter to the entries on screen, and Enter
   on another folder (which re-lays out every visible tree line) afterwards.
4. The walk itself, in this process: find_csrs over the medium, list_folder of a 10,000-file folder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tui_bench import RepaintClock, median, time_start  # noqa: E402  (bench/tui_bench.py)


def p95(xs: list[float]) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]


def stats(xs: list[float]) -> dict[str, float]:
    return {"median_ms": median(xs) * 1000, "p95_ms": p95(xs) * 1000,
            "max_ms": (max(xs) if xs else float("nan")) * 1000, "n": len(xs)}


def touch(path: Path) -> None:
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


def big_medium(base: Path) -> tuple[Path, Path]:
    from byoroot_tui.ui.drive import write_csr

    base.mkdir(parents=True)
    for i in range(100):
        d = base / f"d{i:02}"
        d.mkdir()
        for j in range(100):
            touch(d / f"f{j:03}.txt")
    deep = base / "d42" / "sub1" / "sub2" / "sub3"
    deep.mkdir(parents=True)
    csr = deep / "request.csr"
    write_csr(csr, "Deep Intermediate CA")
    return base, csr


def flat_medium(base: Path) -> Path:
    """A folder "big" with 10,000 files, and a small folder "aaa" next to it."""
    (base / "aaa").mkdir(parents=True)
    for j in range(5):
        touch(base / "aaa" / f"a{j}.txt")
    (base / "big").mkdir()
    for j in range(10_000):
        touch(base / "big" / f"f{j:05}.txt")
    return base


# ---------------------------------------------------------------------------- 1. start-up


def start_times(argv: list[str], markers: list[str], env: dict[str, str | None]) -> list[float | None]:
    """tui_bench.time_start's times (it may also return the peak RSS alongside them)."""
    res = time_start(argv, markers, env)
    return list(res[0] if isinstance(res, tuple) else res)


def bench_startup(runs: int, big: Path, small: Path, tmp: Path) -> dict[str, Any]:
    env: dict[str, str | None] = {"PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": None,
                                  "XDG_DATA_HOME": str(tmp), "XDG_CONFIG_HOME": str(tmp)}
    cmd = [sys.executable, "-m", "byoroot_tui", "--media-root"]
    markers_big = ["1 Media", "d00/", "1 CSR-like file found"]
    markers_small = ["1 Media", "1 CSR-like file found"]
    start_times(cmd + [str(small)], markers_small, env)  # untimed: .pyc files exist afterwards
    out: dict[str, list[float]] = {"small_first_screen": [], "small_search_shown": [],
                                   "big_first_screen": [], "big_top_listed": [], "big_search_shown": []}
    for _ in range(runs):  # interleaved, so other load hits both alike
        t = start_times(cmd + [str(small)], markers_small, env)
        if None not in t:
            out["small_first_screen"].append(t[0])  # type: ignore[arg-type]
            out["small_search_shown"].append(t[1])  # type: ignore[arg-type]
        t = start_times(cmd + [str(big)], markers_big, env)
        if None not in t:
            out["big_first_screen"].append(t[0])  # type: ignore[arg-type]
            out["big_top_listed"].append(t[1])  # type: ignore[arg-type]
            out["big_search_shown"].append(t[2])  # type: ignore[arg-type]
    return {k: stats(v) for k, v in out.items()}


# ---------------------------------------------------------------------------- 2 & 3. Pilot


class EffectClock(RepaintClock):
    """RepaintClock, plus the tree's state at every compositor update: the repaint that shows a key."""

    def __init__(self, app: Any, state: Callable[[], Any]) -> None:
        super().__init__(app)
        self.state = state
        self.states: list[Any] = []
        inner = app._display

        def display(screen: Any, renderable: Any) -> None:
            if renderable is not None:
                self.states.append(state())
            inner(screen, renderable)

        app._display = display

    async def effect(self, key: str, timeout: float = 5.0) -> tuple[float, float]:
        """Send ``key`` as a terminal would; (seconds to the first repaint showing a changed state, when sent)."""
        import unicodedata

        from textual import events
        from textual.keys import _get_unicode_name_from_key

        try:
            char: str | None = unicodedata.lookup(_get_unicode_name_from_key(key))
        except KeyError:
            char = key if len(key) == 1 else None
        before = self.state()
        i = len(self.states)
        t0 = time.perf_counter()
        event = events.Key(key, char)
        event.set_sender(self.app)
        self.app._driver.send_message(event)
        end = t0 + timeout
        while time.perf_counter() < end:
            while i < len(self.states):
                if self.states[i] != before:
                    return self.stamps[i] - t0, t0
                i += 1
            await asyncio.sleep(0.0005)
        return float("nan"), t0


    async def until_drawn(self, key: str, shows: Callable[[Any], bool], timeout: float = 10.0) -> float:
        """Send ``key``; seconds to the first repaint whose state satisfies ``shows``."""
        from textual import events

        i = len(self.states)
        t0 = time.perf_counter()
        event = events.Key(key, "\r" if key == "enter" else None)
        event.set_sender(self.app)
        self.app._driver.send_message(event)
        while time.perf_counter() < t0 + timeout:
            while i < len(self.states):
                if shows(self.states[i]):
                    return self.stamps[i] - t0
                i += 1
            await asyncio.sleep(0.0005)
        return float("nan")


def tree_state(app: Any) -> Callable[[], Any]:
    def state() -> Any:
        try:
            tree = app.screen.query_one("#files")
        except Exception:
            return None
        node = tree.cursor_node
        return (tree.cursor_line, node.is_expanded if node is not None else None,
                len(node.children) if node else 0, len(tree.root.children))

    return state


def make_bench_app(media: Path, tmp: Path) -> Any:
    from byoroot_tui.core.media import discover_media
    from byoroot_tui.ui.app import Services, make_app

    return make_app(media_roots=[media], services=Services(
        discover=lambda roots: discover_media(roots, include_system=False), poll_interval=0,
        clipboard=lambda t: False, log_path=tmp / "station-log.jsonl"))


async def until(cond: Callable[[], Any], what: str, timeout: float = 30.0) -> None:
    """Poll with plain sleeps: Pilot's waits wait for the process to be idle, never the case while a
    search thread is busy."""
    end = time.perf_counter() + timeout
    while not cond():
        if time.perf_counter() > end:
            raise TimeoutError(what)
        await asyncio.sleep(0.002)


async def keys_while(clock: EffectClock, tree: Any, running: Callable[[], bool], out: list[float],
                     limit: int = 1000) -> None:
    """Press keys while ``running()``: down/up, and Enter twice (open, close) when on a folder."""
    from byoroot_tui.core.media import Item

    i = 0
    while running() and i < limit:
        node = tree.cursor_node
        on_dir = node is not None and isinstance(node.data, Item) and node.data.is_dir and not node.is_expanded
        seq = ["enter", "enter"] if on_dir and i % 4 == 0 else [("down", "down", "up")[i % 3]]
        for key in seq:
            dt, _ = await clock.effect(key)
            if running() and dt == dt:
                out.append(dt)
            await asyncio.sleep(0.03)
        i += 1


async def bench_keys(big: Path, tmp: Path, slow_ms: float, rounds: int, fast_rounds: int) -> dict[str, Any]:
    from byoroot_tui.ui.screens.media import MediaScreen

    during_slow: list[float] = []
    during_busy: list[float] = []
    during_fast: list[float] = []
    after: list[float] = []
    first_paint: list[float] = []
    top_listed: list[float] = []

    def slow(state: Any) -> None:
        time.sleep(slow_ms / 1000)

    def busy(state: Any) -> None:
        end = time.perf_counter() + slow_ms / 1000
        while time.perf_counter() < end:
            pass

    for r in range(rounds):
        MediaScreen.search_hook = slow
        app = make_bench_app(big, tmp)
        clock = EffectClock(app, tree_state(app))
        t_start = time.perf_counter()
        async with app.run_test(size=(80, 24)):
            await until(lambda: "MediaScreen" in clock.screens, "first paint")
            first_paint.append(clock.stamps[clock.screens.index("MediaScreen")] - t_start)
            await until(lambda: any(st is not None and st[3] == 100 for st in clock.states), "top folder drawn")
            shown = next(i for i, st in enumerate(clock.states) if st is not None and st[3] == 100)
            top_listed.append(clock.stamps[shown] - t_start)
            screen = app.screen
            tree = screen.query_one("#files")
            await until(lambda: screen.search_run is not None, "search")

            def running() -> bool:
                run = screen.search_run
                return run is not None and run.running

            # a. slow stick
            await keys_while(clock, tree, running, during_slow)
            await until(lambda: screen.search_run.done.is_set(), "search end")
            # d. after
            await asyncio.sleep(0.1)
            await keys_while(clock, tree, lambda: True, after, limit=30)
            # b. a search thread that never waits: busy in Python (holding the GIL) after every folder
            MediaScreen.search_hook = busy
            await clock.effect("r")
            await until(running, "busy search")
            await keys_while(clock, tree, running, during_busy)
            await until(lambda: screen.search_run.done.is_set(), "search end")
            # c. the real search at full speed (tens of ms here), restarted with r: few presses land in it
            MediaScreen.search_hook = None
            for _ in range(fast_rounds if r == 0 else 0):
                await clock.effect("r")
                await until(lambda: screen.search_run is not None, "rescan")
                await keys_while(clock, tree, running, during_fast)
                await until(lambda: screen.search_run.done.is_set(), "search end")
    MediaScreen.search_hook = None
    return {
        "pilot_first_paint": stats(first_paint),
        "pilot_top_listed": stats(top_listed),
        f"during_slow_stick_{slow_ms:g}ms_sleep_per_folder": stats(during_slow),
        f"during_busy_search_{slow_ms:g}ms_CPU_per_folder": stats(during_busy),
        "during_real_search_full_speed": stats(during_fast),
        "after_search": stats(after),
    }


async def bench_tree_bound(flat: Path, tmp: Path, show: int, rounds: int) -> dict[str, Any]:
    from byoroot_tui.ui import drive
    from byoroot_tui.ui.screens.media import MediaScreen

    MediaScreen.FOLDER_SHOW = show
    opened: list[float] = []
    toggles: list[float] = []
    moves: list[float] = []
    try:
        for _ in range(rounds):
            app = make_bench_app(flat, tmp)
            clock = EffectClock(app, tree_state(app))
            async with app.run_test(size=(80, 24)) as pilot:
                tree = app.screen.query_one("#files")
                await drive.wait_for(pilot, lambda: len(tree.root.children) == 2, "top")
                await drive.wait_for(pilot, lambda: app.screen.search_run is not None
                                     and app.screen.search_run.done.is_set(), "search")
                await pilot.press("down", "down")  # on big/
                await pilot.pause(0.1)
                dt = await clock.until_drawn("enter", lambda st: st is not None and st[1] and st[2] > 1)
                opened.append(dt)
                await pilot.pause(0.2)
                for _ in range(10):
                    dt, _ = await clock.effect("down")
                    moves.append(dt)
                    await pilot.pause(0.03)
                await pilot.press("up", "up", "up", "up", "up", "up", "up", "up", "up", "up", "up")
                await pilot.pause(0.1)
                for _ in range(6):  # aaa/ at the top: open and close it, below it every line moves
                    dt, _ = await clock.effect("space")
                    toggles.append(dt)
                    await pilot.pause(0.05)
    finally:
        MediaScreen.FOLDER_SHOW = 200
    return {"open 10,000-file folder (Enter → entries drawn)": stats(opened),
            "down in it": stats(moves), "space: open/close another folder": stats(toggles)}


# ---------------------------------------------------------------------------- 4. the walk


def bench_walk(big: Path, flat: Path, runs: int) -> dict[str, Any]:
    from byoroot_tui.core.media import find_csrs, list_folder

    search, listing = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        s = find_csrs(big)
        search.append(time.perf_counter() - t0)
        assert s.complete and len(s.found) == 1, s.summary()
        t0 = time.perf_counter()
        lst = list_folder(flat / "big")
        listing.append(time.perf_counter() - t0)
        assert len(lst.items) == 10_000
    return {"find_csrs over 10,104 names": stats(search), "list_folder of 10,000 files": stats(listing)}


def main() -> int:
    ap = argparse.ArgumentParser(description="byoroot media screen on a 10,000-file stick")
    ap.add_argument("--runs", type=int, default=5, help="start-up runs per medium")
    ap.add_argument("--rounds", type=int, default=3, help="Pilot rounds")
    ap.add_argument("--slow-ms", type=float, default=20.0, help="slow-stick delay per folder read, ms")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from byoroot_tui.core.demo import make_demo

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        t0 = time.perf_counter()
        big, _csr = big_medium(tmp / "BIG")
        out["fixture_s"] = time.perf_counter() - t0
        flat = flat_medium(tmp / "FLAT")
        small = make_demo(tmp / "demo").stick
        out["walk"] = bench_walk(big, flat, 7)
        out["startup_pty"] = bench_startup(args.runs, big, small, tmp)
        out["keys"] = asyncio.run(bench_keys(big, tmp, args.slow_ms, args.rounds, fast_rounds=20))
        out["tree_200"] = asyncio.run(bench_tree_bound(flat, tmp, 200, args.rounds))
        out["tree_10000"] = asyncio.run(bench_tree_bound(flat, tmp, 20_000, args.rounds))

    if args.json:
        print(json.dumps(out, indent=2))
        return 0

    def row(name: str, r: dict[str, float]) -> None:
        print(f"   {name:<46} {r['median_ms']:8.1f} {r['p95_ms']:8.1f} {r['max_ms']:8.1f}   n={r['n']}")

    print(f"Python {sys.version.split()[0]}; medium: 100 folders x 100 files + a CSR 4 levels down "
          f"(built in {out['fixture_s']:.2f} s)\n")
    print("                                                   median      p95      max  (ms)")
    print("1. Start-up, 80x24 pty (process start → text on the terminal)")
    s = out["startup_pty"]
    row("demo stick (1 file): first screen", s["small_first_screen"])
    row("demo stick: search result shown", s["small_search_shown"])
    row("10,000 files: first screen", s["big_first_screen"])
    row("10,000 files: top folder listed (d00/)", s["big_top_listed"])
    row("10,000 files: search result shown", s["big_search_shown"])
    k = out["keys"]
    print("   (Pilot, in process)")
    row("run_test → first paint of the media screen", k["pilot_first_paint"])
    row("run_test → top folder in the tree", k["pilot_top_listed"])
    print("\n2. Key press → repaint showing it, media screen 80x24 (goal < 100 ms)")
    for name, r in k.items():
        if not name.startswith("pilot"):
            row(name.replace("_", " "), r)
    print("\n3. One folder of 10,000 files: 200 shown at a time vs all 10,000 as tree nodes")
    for label, key in (("bound 200", "tree_200"), ("no bound", "tree_10000")):
        for name, r in out[key].items():
            row(f"{label}: {name}", r)
    print("\n4. The walk (in this process, no UI)")
    for name, r in out["walk"].items():
        row(name, r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
