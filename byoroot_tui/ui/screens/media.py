"""Step 1, Media: which stick, and which CSR on it.

Nothing here reads a medium on the UI thread, and nothing reads a whole medium at once:

- the media list comes from ``Services.discover`` (the mount table, /sys, a stat of each
  ``--media-root``: no folder is read): once at start, then in a thread worker every
  ``poll_interval`` seconds and on ``r``;
- the file tree is lazy: a folder is read (one ``os.scandir``, ``core.media.list_folder``, in a
  thread worker) only when it is opened, and shows at most ``FOLDER_SHOW`` entries at a time,
  CSR-like files first, then a "… N more not shown" line (Enter on it shows the next ones);
- the search for CSR-like files (``core.media.find_csrs``), which decides what to preselect and
  which folders to open, runs in one thread worker for the medium shown, within
  ``SEARCH_MAX_DEPTH`` levels and ``SEARCH_MAX_ENTRIES`` names, and is cancelled (its flag is
  checked before every name, and the Textual worker is cancelled) when the medium disappears,
  another medium is chosen, or the screen is left; it starts again when the screen comes back.

Links are never followed: they are listed, dimmed, and can be neither opened nor chosen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import OptionList, Static, Tree
from textual.widgets.option_list import Option
from textual.widgets.tree import NodeID, TreeNode, UnknownNodeID
from textual.worker import Worker, get_current_worker

from byoroot_tui.core import media as core_media
from byoroot_tui.core.media import (
    CSR_SUFFIXES,
    CsrSearch,
    Item,
    Listing,
    Medium,
    find_csrs,
    list_folder,
    medium_of,
    preselect_csr,
)
from byoroot_tui.core.text import safe_text
from byoroot_tui.ui.screens.base import StepScreen
from byoroot_tui.ui.widgets.readout import Readout

REVEAL_MAX = 20  # folders holding the first found CSRs that are opened by themselves


class MediaListed(Message):
    def __init__(self, media: list[Medium]) -> None:
        super().__init__()
        self.media = media


class FolderListed(Message):
    def __init__(self, generation: int, node_id: NodeID | None, listing: Listing) -> None:
        super().__init__()
        self.generation, self.node_id, self.listing = generation, node_id, listing


class SearchProgress(Message):
    def __init__(self, run: SearchRun, visited: int, found: int) -> None:
        super().__init__()
        self.run, self.visited, self.found = run, visited, found


class SearchDone(Message):
    def __init__(self, run: SearchRun) -> None:
        super().__init__()
        self.run = run


@dataclass(eq=False)
class SearchRun:
    """One search of one medium. ``done`` is set when its thread has returned (cancelled or not)."""

    key: str
    path: Path
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    result: CsrSearch | None = None
    worker: Worker[None] | None = None

    @property
    def running(self) -> bool:
        return not self.done.is_set() and not self.cancel.is_set()


@dataclass(frozen=True, eq=False)
class More:
    """The "… N more not shown" line of a folder: Enter shows the next entries."""

    listing: Listing
    shown: int


class FilesTree(Tree[Any]):
    """The file tree; remembers whether the officers moved its cursor (then it is never moved for them)."""

    touched = False
    _title: str | None = None

    def set_title(self, title: str) -> None:
        """The pane's title, shown in its border (as Text: never markup). Only on a change:
        setting a border title repaints the tree."""
        if title != self._title:
            self._title = title
            self.border_title = Text(title)

    def _touch(self) -> None:
        self.touched = True

    def action_cursor_up(self) -> None:
        self._touch()
        super().action_cursor_up()

    def action_cursor_down(self) -> None:
        self._touch()
        super().action_cursor_down()

    def action_page_up(self) -> None:
        self._touch()
        super().action_page_up()

    def action_page_down(self) -> None:
        self._touch()
        super().action_page_down()

    def action_scroll_home(self) -> None:
        self._touch()
        super().action_scroll_home()

    def action_scroll_end(self) -> None:
        self._touch()
        super().action_scroll_end()

    def action_select_cursor(self) -> None:
        self._touch()
        super().action_select_cursor()

    def action_toggle_node(self) -> None:
        self._touch()
        super().action_toggle_node()

    def action_cursor_parent(self) -> None:
        self._touch()
        super().action_cursor_parent()

    def action_cursor_parent_next_sibling(self) -> None:
        self._touch()
        super().action_cursor_parent_next_sibling()

    def action_cursor_previous_sibling(self) -> None:
        self._touch()
        super().action_cursor_previous_sibling()

    def action_cursor_next_sibling(self) -> None:
        self._touch()
        super().action_cursor_next_sibling()

    def on_click(self, event: events.Click) -> None:
        self._touch()  # Textual calls the Tree's own click handler as well


def _size(n: int | None) -> str:
    if n is None:
        return ""
    if n < 10_000:
        return f"{n} B"
    return f"{n // 1024} KiB"


class MediaScreen(StepScreen):
    STEP = "media"
    BINDINGS = [
        Binding("r", "rescan", "Rescan", id="media.rescan", tooltip="Look for media and files again"),
    ]

    # Bounds (class attributes, so tests can lower them); the defaults are core.media's.
    FOLDER_SHOW: ClassVar[int] = core_media.FOLDER_SHOW
    FOLDER_READ_MAX: ClassVar[int] = core_media.FOLDER_READ_MAX
    SEARCH_MAX_DEPTH: ClassVar[int] = core_media.SEARCH_MAX_DEPTH
    SEARCH_MAX_ENTRIES: ClassVar[int] = core_media.SEARCH_MAX_ENTRIES
    PROGRESS_EVERY: ClassVar[int] = 1000  # names between two progress lines
    # Called in the search thread after every folder (tests gate the search with it; the bench slows it).
    search_hook: ClassVar[Callable[[CsrSearch], None] | None] = None

    def __init__(self) -> None:
        super().__init__()
        self.media: list[Medium] = []
        self.current: str | None = None
        self.search_run: SearchRun | None = None  # the current medium's search, running or finished
        self.search_results: dict[str, CsrSearch] = {}  # finished (not cancelled) searches, by medium
        self._listed = False  # the first media list has arrived
        self._force_show = False
        self._shown_key: str | None = None
        self._gen = 0  # bumped whenever the tree is rebuilt: older folder listings are dropped
        self._loaded: set[NodeID] = set()  # folder nodes read or being read (this generation)
        self._top_listed = False  # the medium's top folder is shown (this generation)
        self._csr_dirs: set[Path] = set()  # folders (and their parents) holding found CSRs
        self._preselect_done = False
        self._labelled_for: Path | None = None  # the chosen CSR the labels show

    def compose_body(self) -> ComposeResult:
        # The panes' titles are their border titles: a line more for the lists, and fewer widgets
        # to build before the first frame (bench-tui: cold start). Text, never markup.
        with Horizontal(id="media-body"):
            media_list = OptionList(id="media-list")
            media_list.border_title = Text("Media")
            yield media_list
            with Vertical(id="files-pane"):
                tree = FilesTree(Text("no medium"), id="files")
                tree.show_root = False
                tree.auto_expand = True
                tree.set_title("Files")
                yield tree
                yield Readout(id="search-status")
        yield Readout(id="selection", classes="selection")

    def on_step_mount(self) -> None:
        # The first list at once (the mount table, /sys, and a stat of each --media-root: no folder
        # is read), so the top folder's listing starts now and is usually back for the first paint.
        try:
            media = self.byoroot.services.discover(self.ceremony.media_roots)
        except Exception:
            media = []
        self._apply_media(media)
        interval = self.byoroot.services.poll_interval
        if interval > 0:
            self.set_interval(interval, self.poll_media)
        self.set_focus(self.query_one("#files", FilesTree))  # at once: the screen's auto-focus then moves nothing
        self.sync()

    def on_screen_suspend(self) -> None:
        if self.byoroot.prebuilding or self.app.screen is self:
            return  # the next step was composed ahead for a moment (ByorootApp.prebuild): still shown
        if self.search_run is not None and self.search_run.running:
            self._cancel_search()  # started again when the screen comes back

    def on_screen_resume(self) -> None:  # StepScreen.on_screen_resume runs as well
        medium = self._medium(self.current)
        if medium is not None and self.is_mounted and self._shown_key == medium.key and self._top_listed:
            self._start_search(medium)

    def on_unmount(self) -> None:
        self._cancel_search()
        self._gen += 1

    # -------------------------------------------------------------- media list

    def _medium(self, key: str | None) -> Medium | None:
        return next((m for m in self.media if m.key == key), None)

    def _with_given_csr(self, media: list[Medium]) -> list[Medium]:
        given = self.byoroot.csr_given
        if given is not None and medium_of(given, media) is None:
            folder = given.parent
            media = media + [Medium(path=folder, label=safe_text(folder.name or str(folder)),
                                    detail=f"folder of --csr {safe_text(str(folder))}")]
        return media

    def _apply_media(self, media: list[Medium]) -> None:
        media = self._with_given_csr(media)
        old = {m.key: m for m in self.media}
        new = {m.key: m for m in media}
        first = not self._listed
        self._listed = True
        if not first and not self._force_show and list(old) == list(new):
            return
        if not first:
            for key in new.keys() - old.keys():
                self.byoroot.say(f"Medium found: {new[key].label}")
            for key in old.keys() - new.keys():
                self.byoroot.say(f"Medium removed: {old[key].label}", severity="warning")
                self.search_results.pop(key, None)
                if self.search_run is not None and self.search_run.key == key:
                    self._cancel_search()
        self.media = media
        options = self.query_one("#media-list", OptionList)
        options.clear_options()
        for m in media:
            prompt = Text(m.label, style="bold")
            if m.detail:
                prompt.append("\n" + m.detail, style="dim")
            options.add_option(Option(prompt, id=m.key))
        if not media:
            self.current = None
        else:
            if self.current not in new:
                chosen = None
                if self.ceremony.csr_path is not None:
                    holder = medium_of(self.ceremony.csr_path, media)
                    chosen = holder.key if holder else None
                self.current = chosen or media[0].key
            options.highlighted = [m.key for m in media].index(self.current)
        force, self._force_show = self._force_show, False
        self._show_tree(self.current, force=force)

    @work(thread=True, group="media-poll", exclusive=True, exit_on_error=False)
    def poll_media(self) -> None:
        try:
            media = self.byoroot.services.discover(self.ceremony.media_roots)
        except Exception:
            if self._listed:
                return  # keep what is shown; the next poll tries again
            media = []
        self.post_message(MediaListed(media))

    def on_media_listed(self, msg: MediaListed) -> None:
        self._apply_media(msg.media)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        key = event.option.id
        if key is None or key == self.current:
            return
        self.current = key
        self._show_tree(key)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.query_one("#files", FilesTree).focus()

    def action_rescan(self) -> None:
        self._cancel_search()
        self.search_results.clear()
        self._force_show = True
        self.poll_media()
        self.byoroot.say("Looking at the media again")

    # -------------------------------------------------------------- the search for CSR-like files

    def _start_search(self, medium: Medium) -> None:
        run = self.search_run
        if run is not None and run.key == medium.key and (run.running or run.result is not None
                                                          and run.result.stopped != "cancelled"):
            return  # running, or finished for this medium
        self._cancel_search()
        cached = self.search_results.get(medium.key)
        if cached is not None:
            self._apply_search(medium, cached)
            return
        run = SearchRun(key=medium.key, path=medium.path)
        self.search_run = run
        self._status(Text("Looking for CSR-like files…", style="dim"))
        run.worker = self._search(run)

    def _start_search_if_shown(self, key: str, generation: int) -> None:
        medium = self._medium(key)
        if medium is not None and generation == self._gen and self.is_current:
            self._start_search(medium)

    def _cancel_search(self) -> None:
        run, self.search_run = self.search_run, None
        if run is not None and not run.done.is_set():
            run.cancel.set()
            if run.worker is not None:
                run.worker.cancel()

    @work(thread=True, group="media-search", exit_on_error=False)
    def _search(self, run: SearchRun) -> None:
        worker = get_current_worker()
        hook = type(self).search_hook
        every = max(1, self.PROGRESS_EVERY)
        posted = [0]

        def cancelled() -> bool:
            return run.cancel.is_set() or worker.is_cancelled

        def progress(state: CsrSearch) -> None:
            if hook is not None:
                hook(state)
            if state.visited - posted[0] >= every:
                posted[0] = state.visited
                self.post_message(SearchProgress(run, state.visited, len(state.found)))

        try:
            result = find_csrs(run.path, max_depth=self.SEARCH_MAX_DEPTH, max_entries=self.SEARCH_MAX_ENTRIES,
                               cancelled=cancelled, progress=progress)
        except Exception as exc:  # a bug, or a hook that failed: a calm line, never a traceback
            result = CsrSearch(root=run.path, stopped="error", reason=f"internal error ({type(exc).__name__})")
        run.result = result
        run.done.set()
        self.post_message(SearchDone(run))

    def on_search_progress(self, msg: SearchProgress) -> None:
        if msg.run is self.search_run and msg.run.running:
            self._status(Text(f"Looking for CSR-like files… {msg.visited:,} entr{'y' if msg.visited == 1 else 'ies'} so far, {msg.found} found",
                              style="dim"))

    def on_search_done(self, msg: SearchDone) -> None:
        run = msg.run
        if run is not self.search_run or run.cancel.is_set() or run.result is None:
            return
        medium = self._medium(run.key)
        if medium is None:
            return
        if run.result.stopped not in ("cancelled", "gone", "error"):
            self.search_results[run.key] = run.result
        self._apply_search(medium, run.result)

    def _apply_search(self, medium: Medium, result: CsrSearch) -> None:
        style = "yellow" if result.stopped or not result.found or not result.complete else "dim"
        self._status(Text(result.summary(), style=style))
        self._csr_dirs = set()
        for path in result.found:
            for parent in path.parents:
                if parent == medium.path or parent in self._csr_dirs:
                    break
                self._csr_dirs.add(parent)
        if not self._preselect_done and result.stopped not in ("cancelled", "gone", "error"):
            self._preselect_done = True
            if self.ceremony.csr_path is None:
                pick = preselect_csr(self.media, {medium.key: result})
                if pick is not None:
                    self.flow.choose_csr(pick)
                    self.sync()
        self._relabel()
        tree = self.query_one("#files", FilesTree)
        if not tree.touched:
            reveal = self._reveal_dirs()
            for node in self._all_nodes(tree.root):
                if isinstance(node.data, Item) and node.data.path in reveal and not node.is_expanded:
                    node.expand()
        self._auto_cursor()

    def _status(self, text: Text) -> None:
        self.query_one("#search-status", Static).update(text)

    # -------------------------------------------------------------- the lazy file tree

    def _show_tree(self, key: str | None, force: bool = False) -> None:
        """Show the medium ``key``'s top folder (read in a worker); its search starts or resumes."""
        if key is not None and key == self._shown_key and not force:
            return
        if self.search_run is not None and self.search_run.key != key:
            self._cancel_search()  # another medium is shown: its search starts once its top folder is
        self._shown_key = key
        self._gen += 1
        self._loaded = set()
        self._top_listed = False
        self._csr_dirs = set()
        tree = self.query_one("#files", FilesTree)
        tree.clear()
        tree.touched = False
        medium = self._medium(key)
        if medium is None:
            self._cancel_search()
            self._status(Text(""))
            tree.set_title("Files")
            if not self._listed:
                tree.root.add_leaf(Text("Looking for media…", style="dim"), data=None)
                return
            tree.root.add_leaf(Text("No medium found.", style="bold"), data=None)
            tree.root.add_leaf(Text("Insert the USB stick with the CSR:"), data=None)
            tree.root.add_leaf(Text("this list refreshes by itself.", style="dim"), data=None)
            return
        tree.set_title(f"Files on {medium.label}  (CSR: {' '.join(CSR_SUFFIXES)})")
        self._status(Text(""))
        tree.root.add_leaf(Text("Reading the medium…", style="dim"), data=None)
        self._list_folder(self._gen, None, medium.path, True)  # the search starts once this is shown

    @work(thread=True, group="media-folder", exit_on_error=False)
    def _list_folder(self, generation: int, node_id: NodeID | None, path: Path, top: bool = False) -> None:
        try:
            listing = list_folder(path, max_read=self.FOLDER_READ_MAX, stat_max=self.FOLDER_SHOW,
                                  cancelled=lambda: generation != self._gen, nofollow=not top)
        except Exception as exc:  # a bug: a calm line, never a traceback
            listing = Listing(path=path, error=f"internal error ({type(exc).__name__})")
        self.post_message(FolderListed(generation, node_id, listing))

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[Any]) -> None:
        node = event.node
        item = node.data
        if not isinstance(item, Item) or not item.is_dir or node.id in self._loaded:
            return
        self._loaded.add(node.id)
        node.add_leaf(Text("reading…", style="dim"), data=None)
        self._list_folder(self._gen, node.id, item.path)

    def on_folder_listed(self, msg: FolderListed) -> None:
        if msg.generation != self._gen or msg.listing.cancelled:
            return
        tree = self.query_one("#files", FilesTree)
        if msg.node_id is None:
            node: TreeNode[Any] = tree.root  # Tree.clear() makes a root that get_node_by_id does not know
        else:
            try:
                node = tree.get_node_by_id(msg.node_id)
            except UnknownNodeID:
                return
        node.remove_children()
        listing = msg.listing
        top = node is tree.root
        if top:  # the top folder first, then the search (both in threads, but they share the GIL)
            self._top_listed = True
            medium = self._medium(self._shown_key)
            if medium is not None:
                self.call_after_refresh(self._start_search_if_shown, medium.key, msg.generation)
        if listing.error and not len(listing):
            reason = safe_text(listing.error)
            text = f"Cannot read this medium: {reason}" if top else f"(cannot read: {reason})"
            node.add_leaf(Text(text, style="red"), data=None)
            return
        if not len(listing) and listing.read_all:
            node.add_leaf(Text("(this medium is empty)" if top else "(empty)", style="dim"), data=None)
            return
        self._add_page(node, listing, 0)
        if listing.error:
            node.add_leaf(Text(f"(not read to the end: {safe_text(listing.error)})", style="red"), data=None)
        self._auto_cursor()

    def _add_page(self, node: TreeNode[Any], listing: Listing, start: int) -> None:
        tree = self.query_one("#files", FilesTree)
        end = min(start + max(1, self.FOLDER_SHOW), len(listing))
        reveal = self._reveal_dirs() if not tree.touched else set()
        for item in listing.page(start, end):
            if item.is_dir:
                child = node.add(self._label(item), data=item)
                if item.path in reveal:
                    child.expand()
            else:
                node.add_leaf(self._label(item), data=item)
        rest = len(listing) - end
        if rest > 0:
            label = Text(f"… {rest:,} more not shown", style="bold")
            label.append(f"  (Enter shows {min(rest, self.FOLDER_SHOW):,} more)", style="dim")
            if not listing.read_all:
                label.append(f"; this folder has over {self.FOLDER_READ_MAX:,} entries, the rest were not read",
                             style="yellow")
            node.add_leaf(label, data=More(listing, end))
        elif not listing.read_all:
            node.add_leaf(Text(f"… this folder has over {self.FOLDER_READ_MAX:,} entries: the rest were not read",
                               style="yellow"), data=None)

    def _show_more(self, node: TreeNode[Any]) -> None:
        more = node.data
        parent = node.parent
        if not isinstance(more, More) or parent is None:
            return
        node.remove()  # the cursor stays on its line: the first of the next entries
        self._add_page(parent, more.listing, more.shown)

    def _reveal_dirs(self) -> set[Path]:
        """Folders to open by themselves: those holding the chosen CSR and the first found ones."""
        medium = self._medium(self.current)
        if medium is None:
            return set()
        targets: list[Path] = []
        if self.ceremony.csr_path is not None:
            targets.append(self.ceremony.csr_path)
        run = self.search_results.get(medium.key)
        if run is not None:
            targets.extend(run.found[:REVEAL_MAX])
        out: set[Path] = set()
        for path in targets:
            try:
                path.relative_to(medium.path)
            except ValueError:
                continue
            for parent in path.parents:
                if parent == medium.path:
                    break
                out.add(parent)
        return out

    def _all_nodes(self, node: TreeNode[Any]) -> Iterator[TreeNode[Any]]:
        """Every node under ``node``, in line order (only loaded folders have children)."""
        for child in node.children:
            yield child
            yield from self._all_nodes(child)

    def _visible(self, node: TreeNode[Any]) -> Iterator[TreeNode[Any]]:
        for child in node.children:
            yield child
            if child.is_expanded:
                yield from self._visible(child)

    def _auto_cursor(self) -> None:
        """Put the cursor on the chosen CSR, else on the first CSR-like file, until the officers move it."""
        tree = self.query_one("#files", FilesTree)
        if tree.touched:
            return
        generation = self._gen

        def move() -> None:
            if generation != self._gen or tree.touched:
                return
            chosen = self.ceremony.csr_path
            target: TreeNode[Any] | None = None
            first: TreeNode[Any] | None = None
            for node in self._visible(tree.root):
                data = node.data
                if isinstance(data, Item) and data.csr_like:
                    if chosen is not None and data.path == chosen:
                        target = node
                        break
                    if first is None:
                        first = node
            node = target or first
            if node is not None and node is not tree.cursor_node:
                _ = tree.last_line  # lays the lines out, so the node's line is known
                tree.move_cursor(node)

        self.call_after_refresh(move)

    def _label(self, item: Item) -> Text:
        if item.is_dir:
            label = Text(item.name + "/", style="bold")
            if item.path in self._csr_dirs:
                label.append("  CSR inside", style="green")
            return label
        if item.kind == "link":
            label = Text(item.name, style="dim")
            label.append("  (link, not followed)", style="dim italic")
            return label
        if item.csr_like:
            label = Text()
            chosen = self.ceremony.csr_path
            if chosen is not None and item.path == chosen:
                label.append("▶ ", style="bold green")
            label.append(item.name, style="bold")
            label.append(f"  {_size(item.size)}", style="dim")
            return label
        return Text(item.name, style="dim")

    def _relabel(self) -> None:
        tree = self.query_one("#files", FilesTree)
        for node in self._all_nodes(tree.root):
            item = node.data
            if isinstance(item, Item) and (item.is_dir or item.csr_like):
                node.set_label(self._label(item))

    def on_tree_node_selected(self, event: Tree.NodeSelected[Any]) -> None:
        data = event.node.data
        if isinstance(data, More):
            self._show_more(event.node)
            return
        if not isinstance(data, Item) or data.is_dir:
            return
        if data.kind == "link":
            self.byoroot.say(f"{data.name} is a link: links are not followed", severity="warning")
            return
        if not data.csr_like:
            self.byoroot.say(f"{data.name} is not named like a CSR ({' '.join(CSR_SUFFIXES)})", severity="warning")
            return
        self.flow.choose_csr(data.path)
        self._relabel()
        self.sync()
        self.byoroot.goto("preview")

    # -------------------------------------------------------------- status line

    def sync(self) -> None:
        if not self.is_mounted:
            return
        c = self.ceremony
        if c.csr_path != self._labelled_for:  # chosen elsewhere (--csr, preselection, another screen)
            self._labelled_for = c.csr_path
            self._relabel()
            self._auto_cursor()
        line = Text()
        if c.csr_path is None:
            line.append("No CSR chosen. ", style="bold")
            line.append("Highlight a CSR file and press Enter.", style="dim")
        else:
            line.append("CSR: ", style="bold")
            holder = medium_of(c.csr_path, self.media)
            shown = str(c.csr_path.relative_to(holder.path)) if holder else str(c.csr_path)
            line.append(safe_text(shown), style="bold")
            if c.csr_error:
                line.append("  refused: ", style="bold red")
                line.append(c.csr_error, style="red")
            elif c.csr is None:
                line.append("  reading…", style="dim")
            elif c.csr.refused:
                line.append("  refused (see the next step)", style="bold red")
            else:
                line.append("  read; ", style="green")
                line.append("Enter or ctrl+n inspects it", style="dim")
        self.query_one("#selection", Static).update(line)
