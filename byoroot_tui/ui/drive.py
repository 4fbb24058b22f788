"""Drive the app with a Textual Pilot, as an officer would at the keyboard.

Shared by the tests, `scripts/screenshots.py` and `bench/tui_bench.py`. Only keys are pressed;
the waits poll the ceremony until a worker has reported (they never assert a duration).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from rich.cells import cell_len
from textual.pilot import Pilot
from textual.widgets import Input

from byoroot_tui.ui.app import ByorootApp


class DriveTimeout(AssertionError):
    pass


_SVG_TEXT = re.compile(r'<text [^>]*?x="([0-9.]+)"[^>]*?clip-path="url\(#[^"]*?-line-(\d+)\)">(.*?)</text>', re.S)
_CHAR_WIDTH = 20 * 0.61  # the cell width of Rich's SVG export (char_height 20, font_aspect_ratio 0.61)


def screen_text(app: ByorootApp) -> str:
    """The current screen (with any modal) as plain text, exactly as drawn: read back from the
    app's public `export_screenshot` (each run of text sits at its cell in Rich's SVG)."""
    width, height = app.size
    grid = [[" "] * width for _ in range(height)]
    for x, line, content in _SVG_TEXT.findall(app.export_screenshot()):
        y = int(line)
        if not 0 <= y < height:
            continue
        col = round(float(x) / _CHAR_WIDTH)
        for char in html.unescape(content.replace("&#160;", " ")):  # Rich writes each space as &#160;
            if col >= width:
                break
            grid[y][col] = char
            col += max(cell_len(char), 1)
            if cell_len(char) == 2 and col - 1 < width:
                grid[y][col - 1] = ""  # the wide character's second cell
    text = "\n".join("".join(row) for row in grid) + "\n"
    if getattr(app, "console_glyphs", False):  # what the console driver writes (ui/glyphs.py)
        from byoroot_tui.ui.glyphs import console_text

        text = console_text(text)
    return text


_EDGES = " ┃│║▊▎▌▐█▕▏╹╻"


def shows(app: ByorootApp, phrase: str) -> bool:
    """True when ``phrase`` is on screen, even wrapped over lines (single-column text, borders ignored)."""
    lines = [line.strip(_EDGES) for line in screen_text(app).splitlines()]
    flat = " ".join(" ".join(line.split()) for line in lines if line.strip())
    return " ".join(phrase.split()) in flat


async def wait_for(pilot: Pilot[Any], condition: Callable[[], Any], what: str, timeout: float = 15.0) -> None:
    """Let the app run until ``condition()`` holds (a safety limit, not a timing assertion)."""
    loops = int(timeout / 0.02)
    for _ in range(loops):
        if condition():
            await pilot.pause()
            return
        await pilot.pause(0.02)
    raise DriveTimeout(f"gave up waiting for: {what}")


def step_of(app: ByorootApp) -> str | None:
    return app.current_step


async def type_into(pilot: Pilot[Any], app: ByorootApp, selector: str, text: str, submit: bool = True) -> None:
    """Type into an input (focusing it first if the screen has not), then Enter."""
    field = app.screen.query_one(selector, Input)
    if app.focused is not field:
        field.focus()
        await pilot.pause()
    field.value = ""
    await pilot.press(*list(text))
    if submit:
        await pilot.press("enter")
    await pilot.pause()


def csr_checked(app: ByorootApp) -> bool:
    """The CSR is read and checked against the profile (lint included), or refused."""
    c = app.ceremony
    return c.csr_error is not None or (c.csr is not None and (c.csr.refused or c.assessment_is_current()))


async def to_preview(pilot: Pilot[Any], app: ByorootApp) -> None:
    c = app.ceremony
    await wait_for(pilot, lambda: c.csr is not None or c.csr_error is not None, "the CSR to be read")
    await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: step_of(app) == "preview", "the CSR screen")
    await wait_for(pilot, lambda: csr_checked(app), "the CSR check")


async def to_profile(pilot: Pilot[Any], app: ByorootApp) -> None:
    await to_preview(pilot, app)
    await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: step_of(app) == "profile", "the profile screen")


async def to_root(pilot: Pilot[Any], app: ByorootApp) -> None:
    await to_profile(pilot, app)
    await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: step_of(app) == "root", "the root screen")


async def check_key(pilot: Pilot[Any], app: ByorootApp, passphrase: str | None) -> None:
    c = app.ceremony
    await wait_for(pilot, lambda: c.root is not None or c.root_error is not None, "the root certificate")
    if passphrase is not None:
        await type_into(pilot, app, "#passphrase", passphrase)
    await wait_for(pilot, lambda: c.key_checked or c.key_error is not None, "the key check")


async def to_review(pilot: Pilot[Any], app: ByorootApp, passphrase: str | None = None) -> None:
    await to_root(pilot, app)
    await check_key(pilot, app, passphrase)
    await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: step_of(app) == "review", "the review screen")
    c = app.ceremony
    await wait_for(pilot, lambda: c.plan_is_current() or c.plan_error is not None, "the plan")


async def confirm_officers(pilot: Pilot[Any], app: ByorootApp, first: str = "Alice Martin", second: str = "Bob Okafor") -> None:
    await type_into(pilot, app, "#officer1", first)
    await type_into(pilot, app, "#officer2", second)


async def sign(pilot: Pilot[Any], app: ByorootApp) -> None:
    """Type SIGN and wait until the certificate is written or the write failed."""
    c = app.ceremony
    await type_into(pilot, app, "#sign-word", "SIGN")

    def settled() -> bool:
        if c.written is not None or c.write_error is not None:
            return True
        return type(app.screen).__name__ in ("ErrorModal", "ConfirmModal") or (
            step_of(app) == "review" and not c.signed)

    await wait_for(pilot, settled, "signing and writing")
    if c.written is not None:
        await wait_for(pilot, lambda: step_of(app) == "result", "the result screen")


async def whole_ceremony(pilot: Pilot[Any], app: ByorootApp, passphrase: str | None = None,
                         officers: tuple[str, str] = ("Alice Martin", "Bob Okafor")) -> None:
    await to_review(pilot, app, passphrase)
    await confirm_officers(pilot, app, *officers)
    await sign(pilot, app)


# ------------------------------------------------------------------ material for tests and screenshots


def write_encrypted_key(plain_key_path: Any, out_path: Any, passphrase: str) -> None:
    """A passphrase-protected copy of a PEM private key (PKCS#8, best available encryption)."""
    from pathlib import Path

    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(Path(plain_key_path).read_bytes(), None)
    Path(out_path).write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode("utf-8")),
    ))


def write_csr(out_path: Any, common_name: str = "Example Intermediate CA", key: Any = None,
              hash_name: str = "sha256", extensions: tuple[Any, ...] = ()) -> None:
    """A PEM CSR; ``key`` defaults to a fresh P-256 key."""
    from pathlib import Path

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = key or ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Org"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ]))
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    csr = builder.sign(key, getattr(hashes, hash_name.upper())())
    Path(out_path).write_bytes(csr.public_bytes(serialization.Encoding.PEM))


def write_weak_csr(out_path: Any) -> None:
    """A well-formed CSR that the core refuses: a 1024-bit RSA key."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    write_csr(out_path, "Weak Intermediate CA", key=rsa.generate_private_key(public_exponent=65537, key_size=1024))


# ------------------------------------------------------------------ a real terminal (pty)

_ANSI = None


def strip_ansi(data: bytes) -> str:
    import re

    global _ANSI
    if _ANSI is None:
        _ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Za-z0-9]|\x1b[=>78cDEHM]")
    return _ANSI.sub("", data.decode("utf-8", "replace"))


class PtyProcess:
    """A command on a pseudo-terminal of a given size: read what it draws, send it keys."""

    def __init__(self, argv: list[str], size: tuple[int, int] = (80, 24), env: dict[str, str | None] | None = None,
                 cwd: str | None = None) -> None:
        import fcntl
        import os
        import pty
        import struct
        import subprocess
        import termios

        self.master, slave = pty.openpty()
        cols, rows = size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        full_env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)}
        full_env.pop("TEXTUAL", None)
        for key, value in (env or {}).items():  # None removes a variable
            if value is None:
                full_env.pop(key, None)
            else:
                full_env[key] = value
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=full_env, cwd=cwd,
                                     start_new_session=True, close_fds=True)
        os.close(slave)
        self.output = bytearray()

    def read_until(self, needle: str, timeout: float = 20.0) -> float | None:
        """Read until ``needle`` shows in the (ANSI-stripped) output; the monotonic time it did, or None."""
        import os
        import select
        import time

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    return None
                if not chunk:
                    return None
                self.output += chunk
                if needle in strip_ansi(bytes(self.output)):
                    return time.monotonic()
            elif self.proc.poll() is not None:
                return None
        return None

    def text(self) -> str:
        return strip_ansi(bytes(self.output))

    def send(self, data: str) -> None:
        import os

        os.write(self.master, data.encode("utf-8"))

    def close(self, timeout: float = 10.0) -> int | None:
        import os
        import select
        import signal
        import subprocess

        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=5)
        while True:  # drain
            try:
                ready, _, _ = select.select([self.master], [], [], 0)
                if not ready:
                    break
                chunk = os.read(self.master, 65536)
                if not chunk:
                    break
                self.output += chunk
            except OSError:
                break
        os.close(self.master)
        return self.proc.returncode


def burst(app: ByorootApp, text: str) -> None:
    """Queue keys the way a fast typist or a paste delivers them: all at once, no waiting between.

    "\\r" is Enter, "\\t" is Tab. The app processes them afterwards, in order.
    """
    import unicodedata

    from textual import events
    from textual.keys import ASCII_KEY_NAMES, KEY_NAME_REPLACEMENTS

    def key_name(ch: str) -> str:  # a character's key name, as Textual's driver names it
        try:
            name = unicodedata.name(ch).lower().replace("-", "_").replace(" ", "_")
        except ValueError:
            name = ASCII_KEY_NAMES.get(ch, ch)
        return KEY_NAME_REPLACEMENTS.get(name, name)

    for ch in text:
        if ch == "\r":
            key, char = "enter", "\r"
        elif ch == "\t":
            key, char = "tab", "\t"
        else:
            key = ch if ch.isalnum() else key_name(ch)
            char = ch
        app.post_message(events.Key(key, char))  # queued in order, as the driver queues what it reads


async def choose_kind(pilot: Pilot[Any], app: ByorootApp, name: str = "intermediate") -> None:
    """On the first screen (the choice of ceremony), move to kind ``name`` and press Enter."""
    from byoroot_tui.core.kinds import KINDS

    await wait_for(pilot, lambda: step_of(app) == "kinds", "the choice of ceremony")
    options = app.screen.query_one("#kinds-list")
    target = list(KINDS).index(name)
    while getattr(options, "highlighted", None) != target:
        await pilot.press("down" if (getattr(options, "highlighted", None) or 0) < target else "up")
    await pilot.press("enter")
    first = KINDS[name].steps[0]
    await wait_for(pilot, lambda: step_of(app) == first, f"the {first} step")


async def to_media(pilot: Pilot[Any], app: ByorootApp) -> None:
    """The intermediate ceremony's media step: chosen on the first screen if the app started
    there (no CSR on any medium), else already showing."""
    await wait_for(pilot, lambda: step_of(app) in ("kinds", "media"), "the first screen")
    if step_of(app) == "kinds":
        await choose_kind(pilot, app, "intermediate")
