"""Removable media: which sticks are mounted, and which files on them look like CSRs.

Linux only for the system part: the mount table (``/proc/self/mounts``) gives device and mount
point; ``/sys/class/block/<dev>`` leads to the disk, whose ``removable`` flag (or a USB parent in
its sysfs path: many USB sticks report ``removable=0``) says whether it is removable. Only mount
points under /media, /run/media and /mnt count. Folders given with ``--media-root`` are always
media (tests and the demo use them).

Nothing here follows symbolic links, reads file contents, or imports cryptography.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from byoroot_tui.core.text import safe_text

MOUNT_TABLES = (Path("/proc/self/mounts"), Path("/proc/mounts"))
SYS_CLASS_BLOCK = Path("/sys/class/block")
SYS_BLOCK = Path("/sys/block")
MEDIA_PREFIXES = (Path("/media"), Path("/run/media"), Path("/mnt"))
CSR_SUFFIXES = (".csr", ".req", ".pem", ".der")

MAX_DEPTH = 4  # folders below the medium's top that are scanned
MAX_ENTRIES = 2000  # entries scanned per medium, in all


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


@dataclass
class Entry:
    """A file or folder on a medium, as scanned."""

    path: Path
    name: str  # safe to show
    is_dir: bool
    csr_like: bool = False
    size: int | None = None
    children: list[Entry] = field(default_factory=list)
    truncated: bool = False  # folder not fully scanned (depth or entry limit)
    error: str | None = None  # why the folder could not be read

    def csr_files(self) -> list[Path]:
        out: list[Path] = []
        if not self.is_dir:
            return [self.path] if self.csr_like else []
        for child in self.children:
            out.extend(child.csr_files())
        return out

    def has_csr(self) -> bool:
        return bool(self.csr_files())


def scan_medium(root: str | os.PathLike[str], max_depth: int = MAX_DEPTH, max_entries: int = MAX_ENTRIES) -> Entry:
    """Scan a medium's folders (no symlinks followed; hidden entries skipped), folders first."""
    top = Path(root)
    budget = [max_entries]

    def walk(path: Path, depth: int) -> Entry:
        entry = Entry(path=path, name=safe_text(path.name or str(path)), is_dir=True)
        try:
            with os.scandir(path) as it:
                items = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            entry.error = os.strerror(exc.errno) if exc.errno else "cannot read"
            return entry
        dirs: list[Entry] = []
        files: list[Entry] = []
        for item in items:
            if item.name.startswith("."):
                continue
            if budget[0] <= 0:
                entry.truncated = True
                break
            budget[0] -= 1
            try:
                st = item.stat(follow_symlinks=False)
            except OSError:
                continue
            p = Path(item.path)
            if stat.S_ISDIR(st.st_mode):
                if depth >= max_depth:
                    dirs.append(Entry(path=p, name=safe_text(item.name), is_dir=True, truncated=True))
                else:
                    dirs.append(walk(p, depth + 1))
            elif stat.S_ISREG(st.st_mode):
                files.append(Entry(path=p, name=safe_text(item.name), is_dir=False,
                                   csr_like=is_csr_like(item.name), size=st.st_size))
            else:  # symlinks, FIFOs, devices: shown, never offered as a CSR
                files.append(Entry(path=p, name=safe_text(item.name), is_dir=False, csr_like=False))
        entry.children = dirs + files
        return entry

    return walk(top, 0)


def preselect_csr(
    media: Sequence[Medium], scans: dict[str, Entry], given: str | os.PathLike[str] | None = None
) -> Path | None:
    """The CSR to preselect: the one given, or the only CSR-like file on the only medium."""
    if given is not None:
        return Path(given).absolute()
    if len(media) != 1:
        return None
    scan = scans.get(media[0].key)
    if scan is None:
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
