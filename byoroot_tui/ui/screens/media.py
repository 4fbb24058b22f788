"""Step 1, Media: which stick, and which CSR on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import OptionList, Static, Tree
from textual.widgets.option_list import Option
from textual.widgets.tree import TreeNode

from byoroot_tui.core.media import CSR_SUFFIXES, Entry, Medium, medium_of, preselect_csr, scan_medium
from byoroot_tui.core.text import safe_text
from byoroot_tui.ui.screens.base import StepScreen


class MediaListed(Message):
    def __init__(self, media: list[Medium]) -> None:
        super().__init__()
        self.media = media


class MediumScanned(Message):
    def __init__(self, key: str, entry: Entry) -> None:
        super().__init__()
        self.key, self.entry = key, entry


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

    def __init__(self) -> None:
        super().__init__()
        self.media: list[Medium] = []
        self.current: str | None = None
        self.scans: dict[str, Entry] = {}
        self._preselect_done = False

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="media-body"):
            with Vertical(id="media-pane"):
                yield Static(Text("Media"), classes="pane-title")
                yield OptionList(id="media-list")
            with Vertical(id="files-pane"):
                yield Static(Text("Files"), id="files-title", classes="pane-title")
                tree: Tree[Entry | None] = Tree(Text("no medium"), id="files")
                tree.show_root = False
                tree.auto_expand = True
                yield tree
        yield Static(id="selection", classes="selection", markup=False)

    def on_mount(self) -> None:
        self._apply_media(self.byoroot.services.discover(self.ceremony.media_roots), announce=False)
        interval = self.byoroot.services.poll_interval
        if interval > 0:
            self.set_interval(interval, self.poll_media)
        self.query_one("#files", Tree).focus()
        self.sync()

    # -------------------------------------------------------------- media list

    def _with_given_csr(self, media: list[Medium]) -> list[Medium]:
        given = self.byoroot.csr_given
        if given is not None and medium_of(given, media) is None:
            folder = given.parent
            media = media + [Medium(path=folder, label=safe_text(folder.name or str(folder)),
                                    detail=f"folder of --csr {safe_text(str(folder))}")]
        return media

    def _apply_media(self, media: list[Medium], announce: bool = True) -> None:
        media = self._with_given_csr(media)
        old = {m.key: m for m in self.media}
        new = {m.key: m for m in media}
        if list(old) == list(new) and self.media:
            return
        if announce:
            for key in new.keys() - old.keys():
                self.byoroot.say(f"Medium found: {new[key].label}")
            for key in old.keys() - new.keys():
                self.byoroot.say(f"Medium removed: {old[key].label}", severity="warning")
                self.scans.pop(key, None)
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
            self._show_tree(None)
            return
        if self.current not in new:
            chosen = None
            if self.ceremony.csr_path is not None:
                holder = medium_of(self.ceremony.csr_path, media)
                chosen = holder.key if holder else None
            self.current = chosen or media[0].key
        options.highlighted = [m.key for m in media].index(self.current)
        for m in media:
            if m.key not in self.scans:
                self.scan(m.key, m.path)
        self._show_tree(self.current)

    @work(thread=True, group="media-poll", exclusive=True, exit_on_error=False)
    def poll_media(self) -> None:
        try:
            media = self.byoroot.services.discover(self.ceremony.media_roots)
        except Exception:
            return
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
        self.query_one("#files", Tree).focus()

    # -------------------------------------------------------------- files

    @work(thread=True, group="media-scan", exit_on_error=False)
    def scan(self, key: str, path: Path) -> None:
        try:
            entry = scan_medium(path)
        except Exception:
            entry = Entry(path=path, name=safe_text(path.name), is_dir=True, error="cannot read")
        self.post_message(MediumScanned(key, entry))

    def on_medium_scanned(self, msg: MediumScanned) -> None:
        if msg.key not in {m.key for m in self.media}:
            return
        self.scans[msg.key] = msg.entry
        if msg.key == self.current:
            self._show_tree(msg.key)
        self._maybe_preselect()

    def _maybe_preselect(self) -> None:
        if self._preselect_done or any(m.key not in self.scans for m in self.media):
            return
        self._preselect_done = True
        c = self.ceremony
        if c.csr_path is not None:
            self._show_tree(self.current)
            return
        pick = preselect_csr(self.media, self.scans)
        if pick is not None:
            self.byoroot.choose_csr(pick)
            self._show_tree(self.current)
            self.sync()

    def action_rescan(self) -> None:
        self.scans.clear()
        self.media = []
        self._apply_media(self.byoroot.services.discover(self.ceremony.media_roots), announce=False)
        self.byoroot.say("Looking at the media again")

    def _label(self, entry: Entry) -> Text:
        chosen = self.ceremony.csr_path
        if entry.is_dir:
            label = Text(entry.name + "/", style="bold")
            if entry.error:
                label.append(f"  ({entry.error})", style="red")
            elif entry.truncated:
                label.append("  (not fully scanned)", style="dim")
            return label
        if entry.csr_like:
            label = Text()
            if chosen is not None and entry.path == chosen:
                label.append("▶ ", style="bold green")
            label.append(entry.name, style="bold")
            label.append(f"  {_size(entry.size)}", style="dim")
            return label
        return Text(entry.name, style="dim")

    def _show_tree(self, key: str | None) -> None:
        tree: Tree[Entry | None] = self.query_one("#files", Tree)
        title = self.query_one("#files-title", Static)
        tree.clear()
        medium = next((m for m in self.media if m.key == key), None)
        if medium is None:
            title.update(Text("Files"))
            tree.root.add_leaf(Text("No medium found.", style="bold"), data=None)
            tree.root.add_leaf(Text("Insert the USB stick with the CSR:"), data=None)
            tree.root.add_leaf(Text("this list refreshes by itself.", style="dim"), data=None)
            return
        title.update(Text(f"Files on {medium.label}  (CSR: {' '.join(CSR_SUFFIXES)})"))
        entry = self.scans.get(key or "")
        if entry is None:
            tree.root.add_leaf(Text("Reading the medium…", style="dim"), data=None)
            return
        if entry.error:
            tree.root.add_leaf(Text(f"Cannot read this medium: {entry.error}", style="red"), data=None)
            return
        target: TreeNode[Entry | None] | None = None

        def add(node: TreeNode[Entry | None], e: Entry) -> None:
            nonlocal target
            for child in e.children:
                if child.is_dir:
                    sub = node.add(self._label(child), data=child, expand=child.has_csr())
                    add(sub, child)
                else:
                    leaf = node.add_leaf(self._label(child), data=child)
                    if self.ceremony.csr_path is not None and child.path == self.ceremony.csr_path:
                        target = leaf

        add(tree.root, entry)
        if not entry.children:
            tree.root.add_leaf(Text("(this medium is empty)", style="dim"), data=None)
        elif not entry.has_csr():
            tree.root.add_leaf(Text("No CSR-like file here (.csr .req .pem .der)", style="yellow"), data=None)
        tree.root.expand()
        if target is not None:
            node = target
            self.call_after_refresh(lambda: tree.move_cursor(node))
        else:
            first = next((n for n in self._iter_nodes(tree.root) if isinstance(n.data, Entry) and n.data.csr_like), None)
            if first is not None:
                self.call_after_refresh(lambda: tree.move_cursor(first))

    def _iter_nodes(self, node: TreeNode[Any]) -> Any:
        for child in node.children:
            yield child
            yield from self._iter_nodes(child)

    def on_tree_node_selected(self, event: Tree.NodeSelected[Entry | None]) -> None:
        entry = event.node.data
        if entry is None or entry.is_dir:
            return
        if not entry.csr_like:
            self.byoroot.say(f"{entry.name} is not named like a CSR ({' '.join(CSR_SUFFIXES)})", severity="warning")
            return
        self.byoroot.choose_csr(entry.path)
        self._show_tree(self.current)
        self.sync()
        self.byoroot.goto("preview")

    # -------------------------------------------------------------- status line

    def sync(self) -> None:
        if not self.is_mounted:
            return
        c = self.ceremony
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
