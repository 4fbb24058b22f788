"""The media screen on big and vanishing media: a lazy file tree, a bounded CSR search off the UI
thread, cancelled when the medium goes away.

"Search in progress" is made deterministic with a gate (MediaScreen.search_hook, called in the
search thread after every folder): the search is held after its first folder while the test
presses keys or pulls the medium. Nothing here measures time (bench/media_bench.py does).
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import OptionList, Static, Tree

from byoroot_tui.core.media import (
    CsrSearch,
    Item,
    Medium,
    find_csrs,
    folder_media,
    list_folder,
    preselect_csr,
)
from byoroot_tui.ui import drive
from byoroot_tui.ui.screens.media import MediaScreen, More
from test_ui_ceremony import run, services


class Gate:
    """A search hook that holds the search thread after its ``after``-th folder until opened."""

    def __init__(self, after: int = 1) -> None:
        self.after = after
        self.calls = 0
        self.held = threading.Event()
        self.opened = threading.Event()

    def __call__(self, state: CsrSearch) -> None:
        self.calls += 1
        if self.calls >= self.after and not self.opened.is_set():
            self.held.set()
            self.opened.wait(timeout=60)  # a safety limit: a failing test must not hang the run


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    g = Gate()
    monkeypatch.setattr(MediaScreen, "search_hook", g)
    yield g
    g.opened.set()


def touch(path: Path) -> None:
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


def nested_medium(base: Path, folders: int, files: int) -> Path:
    """``folders`` folders of ``files`` empty files each."""
    base.mkdir(parents=True)
    for i in range(folders):
        d = base / f"d{i:02}"
        d.mkdir()
        for j in range(files):
            touch(d / f"f{j:03}.txt")
    return base


def big_medium(base: Path) -> tuple[Path, Path]:
    """100 folders x 100 files (10,000 files) and a real CSR four levels down in d42."""
    m = nested_medium(base, 100, 100)
    deep = m / "d42" / "sub1" / "sub2" / "sub3"
    deep.mkdir(parents=True)
    csr = deep / "request.csr"
    drive.write_csr(csr, "Deep Intermediate CA")
    return m, csr


BIG_NAMES = 100 + 100 * 100 + 3 + 1  # top: 100 folders; 100 files each; sub1..sub3; the CSR
BIG_FOLDERS = 1 + 100 + 3


def screen_of(app: Any) -> MediaScreen:
    screen = app.screen
    assert isinstance(screen, MediaScreen)
    return screen


def cursor_name(tree: Tree[Any]) -> str | None:
    node = tree.cursor_node
    return node.data.name if node is not None and isinstance(node.data, Item) else None


async def open_folder(pilot: Any, tree: Tree[Any]) -> None:
    """Enter on the folder under the cursor, then wait until its entries are read."""
    node = tree.cursor_node
    assert node is not None and isinstance(node.data, Item) and node.data.is_dir
    await pilot.press("enter")
    await drive.wait_for(pilot, lambda: node.is_expanded and node.children
                         and isinstance(node.children[0].data, Item), f"{node.data.name} to be read")


# ----------------------------------------------------------------------------- the app


def test_big_medium_keys_work_while_the_search_runs_and_the_deep_csr_is_reachable(tmp_path: Path, gate: Gate) -> None:
    m, csr = big_medium(tmp_path / "BIG")
    app = make_app_for([m])

    async def script(pilot: Any) -> None:
        await drive.to_media(pilot, app)  # no CSR near the top of any medium: the first screen asks which ceremony
        c = app.ceremony
        await drive.wait_for(pilot, gate.held.is_set, "the search to be under way")
        screen = screen_of(app)
        search = screen.search_run
        assert search is not None and search.running
        tree = screen.query_one("#files", Tree)
        await drive.wait_for(pilot, lambda: len(tree.root.children) == 100, "the medium's top folder")
        assert drive.step_of(app) == "media" and drive.shows(app, "1 Media")
        assert drive.shows(app, "d00/") and drive.shows(app, "Looking for CSR-like files")
        # lazy: only the top folder is in the tree, none of the 10,000 files
        assert all(not n.children for n in tree.root.children)
        # every key press moves the cursor, while the search is held
        previous = cursor_name(tree)
        for _ in range(43):
            await pilot.press("down")
            assert cursor_name(tree) != previous
            previous = cursor_name(tree)
        assert previous == "d42"
        await open_folder(pilot, tree)
        d42 = tree.cursor_node
        assert [n.data.name for n in d42.children[:2]] == ["sub1", "f000.txt"]  # folders, then other files
        assert len(d42.children) == 101
        for name in ("sub1", "sub2", "sub3"):
            await pilot.press("down")
            assert cursor_name(tree) == name
            await open_folder(pilot, tree)
        await pilot.press("down")
        assert tree.cursor_node.data.path == csr
        assert search.running and c.csr_path is None  # all of it while the search was still held
        gate.opened.set()
        await drive.wait_for(pilot, search.done.is_set, "the search to end")
        result = search.result
        assert result is not None and result.stopped is None and result.complete
        assert result.found == [csr]
        assert (result.visited, result.folders) == (BIG_NAMES, BIG_FOLDERS)
        await drive.wait_for(pilot, lambda: c.csr_path == csr, "the only CSR to be preselected")
        assert drive.shows(app, f"1 CSR-like file found in {BIG_NAMES:,} entries")
        assert tree.cursor_node.data.path == csr  # the officers' cursor was left where they put it
        await pilot.press("enter")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "preview", "the CSR screen")
        await drive.wait_for(pilot, lambda: drive.csr_checked(app), "the CSR check")
        assert c.csr is not None and not c.csr.refused

    run(app, (80, 24), script)


def make_app_for(roots: list[Path], **kw: Any) -> Any:
    from byoroot_tui.ui.app import make_app

    return make_app(media_roots=roots, services=services(**kw))


def test_medium_pulled_during_the_search_cancels_it(tmp_path: Path, gate: Gate) -> None:
    m = nested_medium(tmp_path / "STICK", 20, 20)
    drive.write_csr(m / "d19" / "late.csr")
    other = tmp_path / "OTHER"
    other.mkdir()
    drive.write_csr(other / "next.csr", "Next Intermediate CA")
    present: list[Medium] = folder_media([m])
    app = make_app_for([], discover=lambda roots: list(present), poll_interval=0.05)

    async def script(pilot: Any) -> None:
        await drive.to_media(pilot, app)  # no CSR near the top of any medium: the first screen asks which ceremony
        await drive.wait_for(pilot, gate.held.is_set, "the search to be under way")
        screen = screen_of(app)
        search = screen.search_run
        assert search is not None and search.running
        options = screen.query_one("#media-list", OptionList)
        shutil.rmtree(m)  # the stick is pulled ...
        present.clear()  # ... and the system no longer lists it
        await drive.wait_for(pilot, lambda: options.option_count == 0, "the medium to go")
        assert drive.shows(app, "No medium found")
        assert search.cancel.is_set() and search.worker is not None and search.worker.is_cancelled
        gate.opened.set()  # the held thread goes on: it must see the flag and stop at once
        await drive.wait_for(pilot, search.done.is_set, "the search thread to end")
        result = search.result
        assert result is not None and result.stopped == "cancelled"
        assert result.visited == 20 and result.found == []  # the top folder only: nothing read after
        assert screen.search_run is None
        await pilot.pause()
        assert app.screen is screen and app.ceremony.csr_path is None  # no error, nothing chosen
        # still usable: another stick comes, is searched, and its only CSR preselected
        present.extend(folder_media([other]))
        await drive.wait_for(pilot, lambda: app.ceremony.csr_path == other / "next.csr", "the next stick's CSR")
        assert drive.shows(app, "next.csr")

    run(app, (80, 24), script)


def test_medium_vanishing_while_still_listed_stops_the_search_calmly(tmp_path: Path, gate: Gate) -> None:
    """A stick pulled while its mount lingers: the walk meets a missing folder and stops."""
    m = nested_medium(tmp_path / "STICK", 20, 20)
    app = make_app_for([], discover=lambda roots: folder_media([m]), poll_interval=0)

    async def script(pilot: Any) -> None:
        await drive.to_media(pilot, app)  # no CSR near the top of any medium: the first screen asks which ceremony
        await drive.wait_for(pilot, gate.held.is_set, "the search to be under way")
        screen = screen_of(app)
        search = screen.search_run
        tree = screen.query_one("#files", Tree)
        await drive.wait_for(pilot, lambda: len(tree.root.children) == 20, "the top folder")
        m.rename(tmp_path / "elsewhere")
        gate.opened.set()
        await drive.wait_for(pilot, search.done.is_set, "the search to end")
        assert search.result.stopped == "gone" and search.result.visited == 20
        await drive.wait_for(pilot, lambda: drive.shows(app, "This medium cannot be read any more"), "the notice")
        await pilot.press("down")
        assert cursor_name(tree) == "d00"
        await pilot.press("enter")  # a folder of the vanished medium: a calm line in the tree
        await drive.wait_for(pilot, lambda: drive.shows(app, "(cannot read: No such file or directory)"),
                             "the unreadable folder")
        assert app.screen is screen and app.ceremony.csr_path is None

    run(app, (80, 24), script)


def test_choosing_another_medium_or_leaving_the_screen_cancels_the_search(tmp_path: Path, gate: Gate) -> None:
    a = nested_medium(tmp_path / "A", 10, 10)
    b = nested_medium(tmp_path / "B", 3, 3)
    drive.write_csr(b / "given.csr")
    from byoroot_tui.ui.app import make_app

    app = make_app(media_roots=[a, b], csr=b / "given.csr", services=services())  # B shown first: it holds the CSR

    async def script(pilot: Any) -> None:
        await drive.to_media(pilot, app)  # no CSR near the top of any medium: the first screen asks which ceremony
        await drive.wait_for(pilot, gate.held.is_set, "B's search to be under way")
        screen = screen_of(app)
        first = screen.search_run
        assert first is not None and first.key == str(b) and first.running
        screen.query_one("#media-list", OptionList).focus()
        await pilot.press("up")  # A is chosen
        await drive.wait_for(pilot, lambda: screen.current == str(a), "A shown")
        assert first.cancel.is_set() and first.worker is not None and first.worker.is_cancelled
        gate.opened.set()
        await drive.wait_for(pilot, first.done.is_set, "B's search thread to end")
        assert first.result.stopped == "cancelled" and first.result.visited == 4  # B's top only
        await drive.wait_for(pilot, lambda: screen.search_run is not None and screen.search_run.key == str(a)
                             and screen.search_run.done.is_set(), "A's search")
        assert screen.search_run.result.complete and screen.search_run.result.visited == 110
        # leaving the screen cancels a running search; coming back starts it again
        gate.opened.clear()
        gate.held.clear()
        await pilot.press("down")  # B again: its search was cancelled, so it runs again
        await drive.wait_for(pilot, gate.held.is_set, "B's search again")
        second = screen.search_run
        assert second is not first and second.key == str(b) and second.running
        await drive.wait_for(pilot, lambda: app.ceremony.csr is not None, "the given CSR read")
        await pilot.press("ctrl+n")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "preview", "the CSR screen")
        assert second.cancel.is_set()
        gate.opened.set()
        await drive.wait_for(pilot, second.done.is_set, "the thread to end")
        assert second.result.stopped == "cancelled"
        await pilot.press("escape")
        await drive.wait_for(pilot, lambda: drive.step_of(app) == "media", "back")
        await drive.wait_for(pilot, lambda: screen.search_run is not None and screen.search_run is not second
                             and screen.search_run.done.is_set(), "B searched again")
        third = screen.search_run.result
        assert third.complete and third.found == [b / "given.csr"] and third.visited == 3 + 9 + 1

    run(app, (100, 30), script)


def test_search_stops_at_its_bound_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MediaScreen, "SEARCH_MAX_ENTRIES", 500)
    m = nested_medium(tmp_path / "STICK", 30, 30)  # 30 + 900 names, and the CSR: more than the bound
    drive.write_csr(m / "top.csr")
    app = make_app_for([m])

    async def script(pilot: Any) -> None:
        await drive.to_media(pilot, app)  # no CSR near the top of any medium: the first screen asks which ceremony
        await drive.wait_for(pilot, lambda: isinstance(app.screen, MediaScreen) and app.screen.search_run is not None
                             and app.screen.search_run.done.is_set(), "the search to end")
        result = screen_of(app).search_run.result
        assert result.stopped == "limit" and not result.complete
        assert result.visited == 500  # counted, not read to the end: 931 names are there
        assert result.folders == 17  # the top and 16 of the 30 folders
        assert result.found == [m / "top.csr"]
        await drive.wait_for(pilot, lambda: drive.shows(app, "Search stopped at its limit of 500 entries"),
                             "the notice")
        status = str(screen_of(app).query_one("#search-status", Static).content)
        assert status == "Search stopped at its limit of 500 entries: 1 CSR-like file found so far, none preselected."
        assert app.ceremony.csr_path is None  # there may be another CSR where it did not look
        assert drive.shows(app, "top.csr")

    run(app, (100, 30), script)


def test_a_big_folder_shows_a_page_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MediaScreen, "FOLDER_SHOW", 50)
    m = tmp_path / "STICK"
    m.mkdir()
    for j in range(120):
        touch(m / f"f{j:03}.txt")
    drive.write_csr(m / "zz-last.csr")  # sorts last by name, shown first: CSR-like files lead
    app = make_app_for([m])

    async def script(pilot: Any) -> None:
        await drive.to_media(pilot, app)  # no CSR near the top of any medium: the first screen asks which ceremony
        c = app.ceremony
        tree = screen_of(app).query_one("#files", Tree)
        await drive.wait_for(pilot, lambda: c.csr_path == m / "zz-last.csr", "the CSR preselected")
        await drive.wait_for(pilot, lambda: cursor_name(tree) == "zz-last.csr", "the cursor on it")
        children = tree.root.children
        assert len(children) == 51 and isinstance(children[-1].data, More)
        for _ in range(50):
            await pilot.press("down")
        assert isinstance(tree.cursor_node.data, More)
        assert drive.shows(app, "… 71 more not shown (Enter shows 50 more)")  # scrolled into view
        await pilot.press("enter")
        await pilot.pause()
        assert len(tree.root.children) == 101 and cursor_name(tree) == "f049.txt"
        for _ in range(50):
            await pilot.press("down")
        await pilot.press("enter")
        await pilot.pause()
        assert len(tree.root.children) == 121 and not isinstance(tree.root.children[-1].data, More)
        assert tree.root.children[-1].data.name == "f119.txt"

    run(app, (100, 30), script)


def test_links_are_listed_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    drive.write_csr(outside / "foreign.csr")
    m = tmp_path / "STICK"
    m.mkdir()
    drive.write_csr(m / "own.csr")
    (m / "escape").symlink_to(outside)
    (m / "foreign-link.csr").symlink_to(outside / "foreign.csr")
    app = make_app_for([m])

    async def script(pilot: Any) -> None:
        await drive.to_media(pilot, app)  # no CSR near the top of any medium: the first screen asks which ceremony
        c = app.ceremony
        await drive.wait_for(pilot, lambda: c.csr_path == m / "own.csr", "the only real CSR preselected")
        assert drive.shows(app, "escape  (link, not followed)")
        tree = screen_of(app).query_one("#files", Tree)
        link = next(n for n in tree.root.children if n.data.name == "escape")
        assert not link.allow_expand
        tree.move_cursor(link)
        await pilot.press("enter")
        await pilot.pause()
        assert not link.children and drive.step_of(app) == "media"

    run(app, (100, 30), script)


# ----------------------------------------------------------------------------- the core walk


def test_find_csrs_counts_and_never_follows_links(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "foreign.csr").write_text("x")
    m = tmp_path / "M"
    (m / "a" / "b").mkdir(parents=True)
    (m / "a" / "b" / "deep.req").write_text("x")
    (m / "top.pem").write_text("-----BEGIN CERTIFICATE REQUEST-----\n")  # a .pem is CSR-like with a request inside
    (m / ".hidden").mkdir()
    (m / ".hidden" / "trash.csr").write_text("x")
    (m / "out").symlink_to(outside)  # a way out of the medium
    (m / "self").symlink_to(m)  # a loop
    (m / "x").symlink_to(m / "y")  # a loop of two links
    (m / "y").symlink_to(m / "x")
    (m / "link.csr").symlink_to(m / "top.pem")
    s = find_csrs(m)
    assert s.found == [m / "a" / "b" / "deep.req", m / "top.pem"]
    assert s.complete and s.stopped is None
    assert s.visited == 10  # a .hidden top.pem out self x y link.csr; b; deep.req
    assert s.folders == 3  # M, a, a/b: neither the links nor the hidden folder
    assert preselect_csr(folder_media([m]), {str(m): s}) is None  # two CSRs


def test_find_csrs_depth_bound(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*[f"d{i}" for i in range(10)])
    deep.mkdir(parents=True)
    (deep / "far.csr").write_text("x")
    (tmp_path / "near.csr").write_text("x")
    s = find_csrs(tmp_path, max_depth=3)
    assert s.found == [tmp_path / "near.csr"]
    assert s.too_deep == 1 and s.folders == 4 and not s.complete
    assert "more than 3 levels deep" in s.summary()
    assert preselect_csr(folder_media([tmp_path]), {str(tmp_path): s}) is None  # it did not look everywhere
    assert find_csrs(tmp_path, max_depth=10).found == [deep / "far.csr", tmp_path / "near.csr"]  # d9 is 10 deep


def test_find_csrs_folders_vanishing_mid_walk(tmp_path: Path) -> None:
    m = nested_medium(tmp_path / "M", 4, 3)
    (m / "d03" / "last.csr").write_text("x")

    def pull_two(state: CsrSearch) -> None:
        if state.folders == 1:  # the top is read; its folders are queued
            shutil.rmtree(m / "d01")  # FileNotFoundError
            shutil.rmtree(m / "d02")
            (m / "d02").write_text("now a file")  # NotADirectoryError

    s = find_csrs(m, progress=pull_two)
    assert s.stopped is None and s.unreadable == 2 and not s.complete
    assert s.found == [m / "d03" / "last.csr"] and s.folders == 3
    assert "2 folders could not be read" in s.summary()

    def pull_all(state: CsrSearch) -> None:
        if state.folders == 1:
            m.rename(tmp_path / "gone")

    s = find_csrs(m, progress=pull_all)
    assert s.stopped == "gone" and s.folders == 1 and s.reason
    assert find_csrs(tmp_path / "never").stopped == "gone"


def test_find_csrs_cancelled_and_bounded(tmp_path: Path) -> None:
    m = nested_medium(tmp_path / "M", 10, 10)
    checks = [0]

    def cancelled() -> bool:
        checks[0] += 1
        return checks[0] > 25

    s = find_csrs(m, cancelled=cancelled)
    assert s.stopped == "cancelled" and s.visited < 110
    s = find_csrs(m, max_entries=37)
    assert s.stopped == "limit" and s.visited == 37
    assert find_csrs(m, max_entries=110).stopped is None  # exactly enough


def test_list_folder_order_bounds_and_refusals(tmp_path: Path) -> None:
    m = tmp_path / "M"
    (m / "sub").mkdir(parents=True)
    (m / "b.txt").write_text("x")
    (m / "a.der").write_bytes(b"12345")
    (m / ".hidden.csr").write_text("x")
    (m / "z.csr").write_text("x")
    (m / "lnk").symlink_to(m / "sub")
    lst = list_folder(m)
    assert [(i.name, i.kind) for i in lst.items] == [("a.der", "file"), ("z.csr", "file"), ("sub", "dir"),
                                                     ("b.txt", "file"), ("lnk", "link")]
    assert lst.items[0].csr_like and lst.items[0].size == 5 and lst.read_all and lst.error is None
    short = list_folder(m, max_read=3)  # hidden names count
    assert not short.read_all and len(short.items) <= 3
    assert list_folder(m / "lnk").error  # a link is not opened as a folder
    assert list_folder(m, nofollow=True).items  # the top itself is a real folder
    assert list_folder(m / "missing").error == "No such file or directory"
    assert list_folder(m / "b.txt").error == "Not a directory"
