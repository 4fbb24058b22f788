"""Modal dialogs: an error with its one-line reason, a yes/no question, a path picker, a big QR."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Static

from byoroot_tui.core.text import safe_text
from byoroot_tui.ui.widgets.keybar import KeyBar
from byoroot_tui.ui.widgets.qr import QrCode
from byoroot_tui.ui.widgets.readout import Readout


class ErrorModal(ModalScreen[None]):
    """The core's one-line reason, shown until the officer acknowledges it."""

    BINDINGS = [
        Binding("escape,enter", "close", "OK", id="error.close", tooltip="Close this message"),
    ]

    def __init__(self, title: str, reason: str) -> None:
        super().__init__(classes="modal error-modal")
        self.title_text = title
        self.reason = reason

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog error"):
            yield Static(Text(self.title_text), classes="dialog-title")
            yield Static(Text(self.reason), id="error-reason", classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", id="ok", variant="primary")
        yield KeyBar()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class ConfirmModal(ModalScreen[bool]):
    """A yes/no question. Escape means no."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes", tooltip="Answer yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no", tooltip="Answer no"),
    ]

    def __init__(self, title: str, question: str, yes: str = "Yes", no: str = "No", danger: bool = False) -> None:
        super().__init__(classes="modal confirm-modal")
        self.title_text = title
        self.question = question
        self.yes_label = yes
        self.no_label = no
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog" + (" error" if self.danger else "")):
            yield Static(Text(self.title_text), classes="dialog-title")
            yield Static(Text(self.question), id="confirm-question", classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes_label} (y)", id="yes", variant="error" if self.danger else "primary")
                yield Button(f"{self.no_label} (n)", id="no")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # the safe answer has the focus

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class SafeDirectoryTree(DirectoryTree):
    """A DirectoryTree that escapes hostile file names and hides dot files."""

    def process_label(self, label):  # type: ignore[no-untyped-def]
        if isinstance(label, str):
            label = Text(safe_text(label))
        return super().process_label(label)

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [p for p in paths if not p.name.startswith(".")]


class PathPicker(ModalScreen["Path | None"]):
    """Pick a file (``want="file"``) or a folder (``want="folder"``) by keyboard."""

    BINDINGS = [
        Binding("ctrl+s", "choose", "Choose", id="picker.choose", tooltip="Choose the highlighted entry", priority=True),
        Binding("backspace", "up", "Up a folder", id="picker.up", tooltip="Show the parent folder"),
        Binding("escape", "cancel", "Cancel", id="picker.cancel", tooltip="Close without choosing"),
    ]

    def __init__(self, title: str, start: Path, want: str = "file") -> None:
        super().__init__(classes="modal picker-modal")
        self.title_text = title
        self.start = start if start.is_dir() else Path("/")
        self.want = want

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog picker"):
            yield Static(Text(self.title_text), classes="dialog-title")
            yield Readout(Text(safe_text(str(self.start))), id="picker-where", classes="dim")
            yield SafeDirectoryTree(self.start, id="picker-tree")
            hint = "Enter opens a folder or chooses a file" if self.want == "file" else "Highlight a folder, then ctrl+s chooses it"
            yield Static(Text(hint), classes="dim")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(SafeDirectoryTree).focus()

    def _highlighted(self) -> Path | None:
        tree = self.query_one(SafeDirectoryTree)
        node = tree.cursor_node
        if node is None or node.data is None:
            return None
        return Path(node.data.path)

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        if self.want == "file":
            self.dismiss(Path(event.path))

    def action_choose(self) -> None:
        path = self._highlighted()
        if path is None:
            return
        if self.want == "folder":
            self.dismiss(path if path.is_dir() else path.parent)
        elif path.is_file():
            self.dismiss(path)

    def action_up(self) -> None:
        tree = self.query_one(SafeDirectoryTree)
        parent = Path(tree.path).parent
        tree.path = parent
        self.query_one("#picker-where", Static).update(Text(safe_text(str(parent))))

    def action_cancel(self) -> None:
        self.dismiss(None)


class QrModal(ModalScreen[None]):
    """The QR code alone, as large as the terminal allows, for a phone to scan."""

    BINDINGS = [Binding("escape,enter,v", "close", "Close", id="qr.close", tooltip="Back to the result")]

    def __init__(self, payload: str, files: tuple[str, str] = ("intermediate-fingerprint.png", "intermediate.crt")) -> None:
        super().__init__(classes="modal qr-modal")
        self.payload = payload
        self.files = files

    def compose(self) -> ComposeResult:
        with Vertical(id="qr-box"):
            yield QrCode(self.payload, fit=True, spare=(0, 1), id="qr-big", files=self.files)  # 1: the key bar
        yield KeyBar()

    def action_close(self) -> None:
        self.dismiss(None)
