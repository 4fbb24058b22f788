"""Removable media: which sticks are mounted, and which files on them look like CSRs.

Linux only for the system part: the mount table (``/proc/self/mounts``) gives device and mount
point; ``/sys/class/block/<dev>`` leads to the disk, whose ``removable`` flag (or a USB parent in
its sysfs path: many USB sticks report ``removable=0``) says whether it is removable. Only mount
points under /media, /run/media and /mnt count. Folders given with ``--media-root`` are always
media (tests and the demo use them).

The app reads a medium in two bounded ways, both meant for a thread worker: ``list_folder`` reads
one folder (when the officers open it), ``find_csrs`` looks for CSR-like files over the whole
medium (to preselect the only one and open the folders that hold CSRs). Both skip hidden entries,
open folders with O_NOFOLLOW, check a cancellation callback for every entry, and turn every
OSError (a stick pulled mid-walk, a folder that vanished or is unreadable) into a note, never an
exception.

Nothing here follows symbolic links, reads file contents, or imports cryptography.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from dataclasses import dataclass, field
from pathlib import Path

from byoroot_tui.core.text import safe_text

MOUNT_TABLES = (Path("/proc/self/mounts"), Path("/proc/mounts"))
SYS_CLASS_BLOCK = Path("/sys/class/block")
SYS_BLOCK = Path("/sys/block")
MEDIA_PREFIXES = (Path("/media"), Path("/run/media"), Path("/mnt"))
CSR_SUFFIXES = (".csr", ".req", ".pem", ".der")


# The app's bounds (see list_folder and find_csrs).
FOLDER_SHOW = 200  # entries of one folder shown at a time in the file tree; Enter on "… more" shows the next ones
FOLDER_READ_MAX = 50_000  # names read from one folder at most when it is opened
SEARCH_MAX_DEPTH = 8  # folder levels below the medium's top searched for CSR-like files
SEARCH_MAX_ENTRIES = 50_000  # names (files, folders, links, hidden ones too) looked at by one search, in all


@dataclass(frozen=True)
class Medium:
    """One place a CSR can come from."""

    path: Path
    label: str  # safe to show: the folder's name
    device: str | None = None  # e.g. /dev/sdb1; None for --media-root folders
    kind: str = "folder"  # "removable" or "folder"
    detail: str = ""  # safe to show: device and filesystem, or the folder's path

    @property
    def key(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class MountEntry:
    device: str
    mount_point: Path
    fstype: str
    options: str


def _unescape_mount_field(text: str) -> str:
    r"""The kernel writes space, tab, newline and backslash in mount fields as \040 \011 \012 \134."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 3 < len(text) and text[i + 1 : i + 4].isdigit():
            try:
                out.append(chr(int(text[i + 1 : i + 4], 8)))
                i += 4
                continue
            except ValueError:
                pass
        out.append(text[i])
        i += 1
    return "".join(out)


def parse_mounts(text: str) -> list[MountEntry]:
    entries = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        entries.append(
            MountEntry(
                device=_unescape_mount_field(parts[0]),
                mount_point=Path(_unescape_mount_field(parts[1])),
                fstype=parts[2],
                options=parts[3],
            )
        )
    return entries


def read_mount_table(paths: Sequence[Path] = MOUNT_TABLES) -> list[MountEntry]:
    for path in paths:
        try:
            return parse_mounts(path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
    return []


def _under(path: Path, prefixes: Iterable[Path]) -> bool:
    for prefix in prefixes:
        if path == prefix:
            continue  # /mnt itself is not a medium
        try:
            path.relative_to(prefix)
            return True
        except ValueError:
            continue
    return False


def device_is_removable(
    device: str, sys_class_block: Path = SYS_CLASS_BLOCK, sys_block: Path = SYS_BLOCK
) -> bool:
    """True when ``device`` (e.g. /dev/sdb1) is on a removable or USB disk."""
    if not device.startswith("/dev/"):
        return False
    name = Path(os.path.realpath(device)).name if os.path.exists(device) else Path(device).name
    node = sys_class_block / name
    try:
        real = node.resolve(strict=True)
    except OSError:
        return False
    disk = real.parent.name if (real / "partition").exists() else real.name
    try:
        flag = (sys_block / disk / "removable").read_text().strip()
    except OSError:
        flag = "0"
    if flag == "1":
        return True
    # USB sticks that claim to be fixed disks: a usb bus in the disk's sysfs device path.
    try:
        disk_path = (sys_block / disk).resolve(strict=True)
    except OSError:
        return False
    return "/usb" in str(disk_path)


def removable_media(
    mounts: Sequence[MountEntry],
    prefixes: Sequence[Path] = MEDIA_PREFIXES,
    sys_class_block: Path = SYS_CLASS_BLOCK,
    sys_block: Path = SYS_BLOCK,
) -> list[Medium]:
    found: dict[Path, Medium] = {}
    for m in mounts:
        if not _under(m.mount_point, prefixes):
            continue
        if not device_is_removable(m.device, sys_class_block, sys_block):
            continue
        found[m.mount_point] = Medium(
            path=m.mount_point,
            label=safe_text(m.mount_point.name or str(m.mount_point)),
            device=m.device,
            kind="removable",
            detail=f"{safe_text(m.device)} {safe_text(m.fstype)} at {safe_text(str(m.mount_point))}",
        )
    return sorted(found.values(), key=lambda x: str(x.path))


def folder_media(roots: Iterable[str | os.PathLike[str]]) -> list[Medium]:
    out = []
    seen: set[Path] = set()
    for r in roots:
        p = Path(r).absolute()
        if p in seen:
            continue
        seen.add(p)
        out.append(Medium(path=p, label=safe_text(p.name or str(p)), device=None, kind="folder",
                          detail=f"folder {safe_text(str(p))}"))
    return out


def discover_media(
    extra_roots: Iterable[str | os.PathLike[str]] = (),
    *,
    mount_tables: Sequence[Path] = MOUNT_TABLES,
    prefixes: Sequence[Path] = MEDIA_PREFIXES,
    sys_class_block: Path = SYS_CLASS_BLOCK,
    sys_block: Path = SYS_BLOCK,
    include_system: bool = True,
) -> list[Medium]:
    """``--media-root`` folders that exist first, then mounted removable media."""
    media = [m for m in folder_media(extra_roots) if m.path.is_dir()]
    if include_system:
        known = {m.path for m in media}
        for m in removable_media(read_mount_table(mount_tables), prefixes, sys_class_block, sys_block):
            if m.path not in known:
                media.append(m)
    return media


def is_csr_like(name: str) -> bool:
    return name.lower().endswith(CSR_SUFFIXES)


PEM_PEEK = 64 * 1024  # a .pem is CSR-like only if a request's BEGIN line is in its first 64 KiB
_REQUEST_LABELS = (b"-----BEGIN CERTIFICATE REQUEST-----", b"-----BEGIN NEW CERTIFICATE REQUEST-----")


def pem_holds_request(name: str, dir_fd: int) -> bool:
    """A `.pem` file is CSR-like only if it holds a CERTIFICATE REQUEST block: a certificate
    bundle (`ca-bundle.pem`) or a key is not. Read without following a link and without blocking
    (a FIFO named *.pem reads nothing); a file that cannot be read is not CSR-like."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError:
        return False
    try:
        import stat

        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        head = os.read(fd, PEM_PEEK)
    except OSError:
        return False
    finally:
        os.close(fd)
    return any(label in head for label in _REQUEST_LABELS)


def csr_like_file(name: str, dir_fd: int) -> bool:
    """CSR-like by its name, and for a `.pem` by its content too (see `pem_holds_request`)."""
    if not is_csr_like(name):
        return False
    return not name.lower().endswith(".pem") or pem_holds_request(name, dir_fd)


def natural_key(name: str) -> list[Any]:
    """Names in natural order: `file-9` before `file-10` (runs of digits compare as numbers)."""
    import re

    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _reason(exc: OSError) -> str:
    return os.strerror(exc.errno) if exc.errno else "cannot read"


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)


def _open_folder(path: Path, *, nofollow: bool = True) -> int:
    """A file descriptor of the folder; refuses a symbolic link (O_NOFOLLOW) unless told not to."""
    return os.open(path, _DIR_FLAGS | (getattr(os, "O_NOFOLLOW", 0) if nofollow else 0))


def _kind(entry: os.DirEntry[str]) -> str:
    """"dir", "file", "link" or "other", never following a link (d_type, or an lstat)."""
    try:
        if entry.is_symlink():
            return "link"
        if entry.is_dir(follow_symlinks=False):
            return "dir"
        if entry.is_file(follow_symlinks=False):
            return "file"
    except OSError:
        pass
    return "other"


@dataclass(frozen=True)
class Item:
    """One entry of a folder, as listed by list_folder."""

    path: Path
    name: str  # safe to show
    kind: str  # "dir", "file", "link" (never followed) or "other" (FIFO, device, socket, unreadable)
    csr_like: bool = False  # a regular file named like a CSR
    size: int | None = None  # known for CSR-like files only

    @property
    def is_dir(self) -> bool:
        return self.kind == "dir"


@dataclass
class Listing:
    """One folder's entries: CSR-like files first, then folders, then the rest, each by name.

    The entries are kept as read (name, kind); ``page`` makes Items (with escaped names) only for
    the entries shown, so a folder of 50,000 files costs 50,000 tuples, not 50,000 objects.
    """

    path: Path
    read_all: bool = True  # False: the folder has more than max_read names; only those were read
    error: str | None = None  # why the folder could not be read (or not to the end)
    cancelled: bool = False
    entries: list[tuple[int, str, str, bool]] = field(default_factory=list)  # (order, raw name, kind, csr_like)
    sizes: dict[str, int] = field(default_factory=dict)  # of the first CSR-like files

    def __len__(self) -> int:
        return len(self.entries)

    def page(self, start: int, stop: int) -> list[Item]:
        return [Item(path=self.path / name, name=safe_text(name), kind=kind, csr_like=csr, size=self.sizes.get(name))
                for _, name, kind, csr in self.entries[start:stop]]

    @property
    def items(self) -> list[Item]:
        return self.page(0, len(self.entries))


def list_folder(
    path: str | os.PathLike[str],
    *,
    max_read: int = FOLDER_READ_MAX,
    stat_max: int = FOLDER_SHOW,
    cancelled: Callable[[], bool] | None = None,
    nofollow: bool = True,
) -> Listing:
    """Read one folder (one scandir; hidden entries skipped; links listed, never followed).

    At most ``max_read`` names are read. Sizes are looked up for the first ``stat_max`` CSR-like
    files only. ``nofollow=False`` is for a medium's own top folder, which may be given as a link.
    """
    folder = Path(path)
    out = Listing(path=folder)
    try:
        fd = _open_folder(folder, nofollow=nofollow)
    except OSError as exc:
        out.error = _reason(exc)
        return out
    try:
        raw: list[tuple[int, str, str, bool]] = []
        names = 0
        try:
            with os.scandir(fd) as it:
                for de in it:
                    if cancelled is not None and cancelled():
                        out.cancelled = True
                        break
                    if names >= max_read:  # hidden names count too: reading them is work as well
                        out.read_all = False
                        break
                    names += 1
                    if de.name.startswith("."):
                        continue
                    kind = _kind(de)
                    csr = kind == "file" and csr_like_file(de.name, fd)
                    raw.append((0 if csr else 1 if kind == "dir" else 2, de.name, kind, csr))
        except OSError as exc:  # the stick went away while reading
            out.error = _reason(exc)
        raw.sort(key=lambda e: (e[0], natural_key(e[1]), e[1]))
        for _, name, _, csr in raw:
            if not csr or len(out.sizes) >= stat_max:
                break  # CSR-like files come first
            try:
                out.sizes[name] = os.stat(name, dir_fd=fd, follow_symlinks=False).st_size
            except OSError:
                continue
        out.entries = raw
    finally:
        os.close(fd)
    return out


@dataclass
class CsrSearch:
    """What find_csrs found, and how far it got. Counts are of names read, hidden ones included."""

    root: Path
    max_depth: int = SEARCH_MAX_DEPTH
    max_entries: int = SEARCH_MAX_ENTRIES
    found: list[Path] = field(default_factory=list)  # CSR-like regular files (sorted once the search ends)
    visited: int = 0  # names read
    folders: int = 0  # folders read
    too_deep: int = 0  # folders not entered: more than max_depth levels below the top
    unreadable: int = 0  # folders that could not be read (vanished, no permission, I/O error)
    skipped: int = 0  # folders not entered: another filesystem mounted there, or one already read
    stopped: str | None = None  # None: ran to its end; "limit", "cancelled", "gone" or "error"
    reason: str | None = None  # for "gone" and "error": why

    @property
    def complete(self) -> bool:
        """Every folder of the medium was looked at: "the only CSR" means something."""
        return self.stopped is None and not self.too_deep and not self.unreadable and not self.skipped

    def csr_files(self) -> list[Path]:
        return list(self.found)

    def summary(self) -> str:
        """One line for the officers (the found paths are not in it)."""
        n = len(self.found)
        files = f"{n} CSR-like file{'' if n == 1 else 's'}"
        entries = f"{self.visited:,} entr{'y' if self.visited == 1 else 'ies'}"
        if self.stopped == "cancelled":
            return "Search for CSR-like files cancelled."
        if self.stopped == "gone":
            return "This medium cannot be read any more (removed?): the search for CSR-like files stopped."
        if self.stopped == "error":
            return f"The search for CSR-like files failed ({self.reason or 'unknown'}); open the folders to look."
        if self.stopped == "limit":
            line = f"Search stopped at its limit of {self.max_entries:,} entries: {files} found so far, none preselected."
        elif n == 0:
            line = f"No CSR-like file ({' '.join(CSR_SUFFIXES)}) found in {entries}."
        elif n == 1:
            line = f"1 CSR-like file found in {entries}."
        else:
            line = f"{files} found in {entries}: choose one."
        if self.too_deep:
            line += f" Folders more than {self.max_depth} levels deep were not searched."
        if self.unreadable:
            line += f" {self.unreadable} folder{'' if self.unreadable == 1 else 's'} could not be read."
        if self.skipped:
            line += f" {self.skipped} folder{'' if self.skipped == 1 else 's'} skipped (another filesystem or seen twice)."
        return line


def find_csrs(
    root: str | os.PathLike[str],
    *,
    max_depth: int = SEARCH_MAX_DEPTH,
    max_entries: int = SEARCH_MAX_ENTRIES,
    cancelled: Callable[[], bool] | None = None,
    progress: Callable[[CsrSearch], None] | None = None,
) -> CsrSearch:
    """Look for CSR-like files on a medium, breadth first, within the bounds; never raises OSError.

    Links are never followed (folders are opened with O_NOFOLLOW, entries classified without
    following); hidden entries are not entered; a folder on another filesystem or already read
    (same device and inode: a bind-mount loop) is skipped. ``cancelled`` is checked before every
    name; ``progress`` is called after every folder. A folder that cannot be read is counted and
    skipped; if the medium's top itself is gone, the search stops with ``stopped="gone"``.
    """
    top = Path(root)
    s = CsrSearch(root=top, max_depth=max_depth, max_entries=max_entries)
    stop = cancelled or (lambda: False)
    try:
        top_st = os.stat(top)  # the medium's top may itself be a link (a --media-root given as one)
    except OSError as exc:
        s.stopped, s.reason = "gone", _reason(exc)
        return s

    def medium_gone() -> bool:
        try:
            st = os.stat(top)
        except OSError:
            return True
        return (st.st_dev, st.st_ino) != (top_st.st_dev, top_st.st_ino)

    seen: set[tuple[int, int]] = set()
    queue: deque[tuple[Path, int]] = deque([(top, 0)])
    while queue and s.stopped is None:
        folder, depth = queue.popleft()
        if stop():
            s.stopped = "cancelled"
            break
        try:
            fd = _open_folder(folder, nofollow=folder is not top)
        except OSError as exc:
            if medium_gone():
                s.stopped, s.reason = "gone", _reason(exc)
                break
            s.unreadable += 1
            continue
        try:
            st = os.fstat(fd)
            if st.st_dev != top_st.st_dev or (st.st_dev, st.st_ino) in seen:
                s.skipped += 1
                continue
            seen.add((st.st_dev, st.st_ino))
            s.folders += 1
            try:
                with os.scandir(fd) as it:
                    for de in it:
                        if stop():
                            s.stopped = "cancelled"
                            break
                        if s.visited >= max_entries:
                            s.stopped = "limit"
                            break
                        s.visited += 1
                        if de.name.startswith("."):
                            continue
                        kind = _kind(de)
                        if kind == "dir":
                            if depth >= max_depth:
                                s.too_deep += 1
                            else:
                                queue.append((folder / de.name, depth + 1))
                        elif kind == "file" and csr_like_file(de.name, fd):
                            s.found.append(folder / de.name)
            except OSError as exc:
                if medium_gone():
                    s.stopped, s.reason = "gone", _reason(exc)
                    break
                s.unreadable += 1
        finally:
            os.close(fd)
        if progress is not None and s.stopped is None:
            progress(s)
    s.found.sort(key=lambda p: (natural_key(str(p)), str(p)))
    return s


def preselect_csr(
    media: Sequence[Medium], scans: dict[str, CsrSearch],
    given: str | os.PathLike[str] | None = None,
) -> Path | None:
    """The CSR to preselect: the one given, or the only CSR-like file on the only medium.

    A search that did not look everywhere (stopped at a bound, unreadable folders) preselects nothing:
    there may be another CSR where it did not look.
    """
    if given is not None:
        return Path(given).absolute()
    if len(media) != 1:
        return None
    scan = scans.get(media[0].key)
    if scan is None or not scan.complete:
        return None
    files = scan.csr_files()
    return files[0] if len(files) == 1 else None


def medium_of(path: str | os.PathLike[str], media: Sequence[Medium]) -> Medium | None:
    """The medium holding ``path`` (the deepest match), if any."""
    p = Path(path).absolute()
    best: Medium | None = None
    for m in media:
        try:
            p.relative_to(m.path)
        except ValueError:
            continue
        if best is None or len(str(m.path)) > len(str(best.path)):
            best = m
    return best


def csr_on_media(media: Sequence[Medium], max_depth: int = 2, max_entries: int = 500) -> bool:
    """True when a CSR-like file lies on one of ``media``, within a small search (`find_csrs`
    bounded to ``max_depth`` folder levels and ``max_entries`` names per medium; no link
    followed). The app starts with the intermediate ceremony then, as it did before there were
    other kinds. Never raises."""
    for medium in media:
        try:
            if find_csrs(medium.path, max_depth=max_depth, max_entries=max_entries).csr_files():
                return True
        except Exception:
            continue
    return False
