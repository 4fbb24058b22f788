"""Write files to the medium so that nothing partial is ever left and nothing is overwritten unasked.

Exclusive temp file on the same filesystem → write all → fsync → close → publish it under its
name without ever replacing a file (or rename over it when asked to replace) → fsync the folder →
read back and compare. Any failure removes what we made.

Publishing never replaces, in this order of preference:

1. ``link(tmp, target)`` — fails with EEXIST if the name exists; atomic on every POSIX filesystem
   that has hard links.
2. ``renameat2(tmp, target, RENAME_NOREPLACE)`` (Linux ≥ 3.15, glibc ≥ 2.28) for filesystems
   without hard links (the kernel's vfat, exFAT): equally atomic, the kernel refuses an existing
   name under the folder's lock.
3. Filesystems with neither (FAT through FUSE, e.g. fusefat: link gives EPERM, renameat2 EINVAL):
   claim the name first with ``open(target, O_CREAT|O_EXCL)`` (an empty placeholder, atomic),
   then rename the temp file over that placeholder. See `_publish_over_claim` for the one narrow
   window that remains there.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import secrets
import stat
import sys
from pathlib import Path

from byoroot_tui.core.errors import ExportFailed, TargetExists
from byoroot_tui.core.text import safe_text

_REASONS = {
    errno.ENOSPC: "the medium is full",
    errno.EDQUOT: "the medium's quota is exhausted",
    errno.EROFS: "the medium is read-only",
    errno.EACCES: "permission denied on the medium",
    errno.EPERM: "permission denied on the medium",
    errno.ENOENT: "the folder is gone (was the medium removed?)",
    errno.ENODEV: "the medium is gone",
    errno.EIO: "I/O error on the medium (was it removed?)",
    errno.ENOTDIR: "the target is not a folder",
}


def _reason(exc: OSError) -> str:
    return _REASONS.get(exc.errno or 0, os.strerror(exc.errno) if exc.errno else "write failed")


def _where(folder: Path) -> str:
    return repr(safe_text(str(folder)))


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # some filesystems cannot fsync a folder
            raise
    finally:
        os.close(fd)


def _appeared(filename: str, folder: Path) -> TargetExists:
    return TargetExists(f"{filename} appeared in {_where(folder)} meanwhile; not overwritten")


# errno values meaning "this kernel or filesystem cannot rename without replacing": try the next way
_NO_NOREPLACE = frozenset({errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP})
_AT_FDCWD = -100  # Linux
_RENAME_NOREPLACE = 1  # linux/fs.h


def _load_renameat2():  # type: ignore[no-untyped-def]
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2  # glibc >= 2.28 (and musl >= 1.2.5)
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_renameat2 = _load_renameat2()


def _renameat2_noreplace(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst`` only if ``dst`` does not exist (atomically, by the kernel).

    Raises OSError: EEXIST when ``dst`` exists; ENOSYS when this libc has no renameat2; EINVAL
    (or ENOSYS/EOPNOTSUPP) when the kernel or the filesystem cannot do RENAME_NOREPLACE.
    """
    if _renameat2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available here")
    if _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(src), None, str(dst))


def _still_our_placeholder(fd: int, target: Path) -> bool:
    """``target`` is still the empty file we created exclusively and hold open as ``fd``."""
    try:
        ours, there = os.fstat(fd), os.lstat(target)
    except OSError:
        return False
    return (ours.st_dev, ours.st_ino) == (there.st_dev, there.st_ino) and ours.st_size == 0


def _publish_over_claim(tmp: Path, target: Path, filename: str, folder: Path) -> None:
    """Last resort, for filesystems with neither hard links nor RENAME_NOREPLACE (FAT through FUSE).

    Claims ``target`` with ``O_CREAT|O_EXCL`` (atomic: if the name exists, or appears before the
    claim, the export is refused and nothing is replaced), then renames ``tmp`` over that empty
    placeholder of ours. If anything fails after the claim, the placeholder is removed again — but
    only while it is still ours (same device and inode as the file we hold open, still empty).

    The window that remains: between the check that the placeholder is still ours (just before the
    rename) and the rename itself, a process that does *not* create files exclusively could open
    our placeholder and write into it (or rename its own file over it), and our rename would then
    replace what it wrote. A writer that creates exclusively (O_EXCL, link, RENAME_NOREPLACE) can
    never be replaced, and a file that already exists is never replaced. The window is a few
    system calls long and exists only on filesystems that offer neither of the atomic ways.
    """
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    except FileExistsError:
        raise _appeared(filename, folder) from None
    published = False
    try:
        if not _still_our_placeholder(fd, target):
            raise _appeared(filename, folder)  # someone wrote into or replaced the name we claimed
        os.rename(tmp, target)  # replaces only our own empty placeholder
        published = True
    finally:
        if not published and _still_our_placeholder(fd, target):
            _unlink_quietly(target)
        try:
            os.close(fd)
        except OSError:
            pass  # nothing was ever written through it: a late error here concerns no data


def _publish_noreplace(tmp: Path, target: Path, filename: str, folder: Path) -> bool:
    """Give ``tmp`` the name ``target`` without ever replacing a file there (see the module doc).

    On return ``target`` holds the data; True means it was hard-linked and ``tmp`` is still there
    for the caller to remove, False that ``tmp`` was renamed. ExportFailed if the name exists;
    OSError for any other failure, with no placeholder left behind.
    """
    try:
        os.link(tmp, target)  # fails if target exists: no overwrite race
        return True
    except FileExistsError:
        raise _appeared(filename, folder) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
    # No hard links here (FAT on USB sticks).
    try:
        _renameat2_noreplace(tmp, target)
        return False
    except FileExistsError:
        raise _appeared(filename, folder) from None
    except OSError as exc:
        if exc.errno not in _NO_NOREPLACE:
            raise
    _publish_over_claim(tmp, target, filename, folder)
    return False


def check_writable_target(directory: str | os.PathLike[str], filename: str, overwrite: bool = False) -> Path:
    """Fail early (before signing) when the target folder is missing or the file exists."""
    folder = Path(directory)
    if not folder.is_dir():
        raise ExportFailed(f"cannot write to {_where(folder)}: not an existing folder")
    target = folder / filename
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise ExportFailed(f"cannot write to {_where(folder)}: {_reason(exc)}") from None
    if not overwrite:
        raise TargetExists(f"{filename} already exists in {_where(folder)}; refusing to overwrite it")
    if not stat.S_ISREG(st.st_mode):  # a link, folder, FIFO or device is never replaced, even when asked
        raise ExportFailed(f"{filename} in {_where(folder)} is not a regular file (a link, folder or device?); "
                           "it is not replaced, even with --force")
    return target


TMP_SUFFIX = ".tmp"  # our temp files: ".<name>.<12 hex>.tmp" beside the target
OLD_SUFFIX = ".byoroot-old"  # a file replaced with --force, kept until the whole set is in place


def temp_name(filename: str) -> str:
    return f".{filename}.{secrets.token_hex(6)}{TMP_SUFFIX}"


def write_new_file(
    directory: str | os.PathLike[str], filename: str, data: bytes, *, overwrite: bool = False, mode: int = 0o644
) -> Path:
    """Atomically create ``directory/filename`` holding exactly ``data``; returns its path."""
    target = check_writable_target(directory, filename, overwrite)
    folder = target.parent
    made: list[Path] = []  # the temp file, once it exists
    published: Path | None = None
    try:
        tmp = _write_temp(folder, filename, data, mode, made)
        if overwrite:
            os.replace(tmp, target)
        elif _publish_noreplace(tmp, target, filename, folder):
            _unlink_quietly(tmp)  # hard-linked: the temp name is still there
        published = target
        _fsync_dir(folder)
        with open(target, "rb") as fh:
            back = fh.read(len(data) + 1)
        if back != data:
            raise ExportFailed(f"read-back of {filename} does not match what was written; it was removed")
        return target
    except (ExportFailed, OSError) as exc:
        for path in ([published] if published else []) + made:
            _unlink_quietly(path)
        if isinstance(exc, ExportFailed):
            raise
        raise ExportFailed(f"could not write {filename} to {_where(folder)}: {_reason(exc)}; nothing was left behind") from None


# ----------------------------------------------------------------------------- a set of files


class SetFailed(ExportFailed):
    """Writing a set of files failed (or was interrupted). ``left`` names every file of ours still
    on the medium (that could not be removed); ``restored`` the files put back after a failed
    replace. The message says both."""

    def __init__(self, message: str, left: list[Path], restored: list[Path]) -> None:
        super().__init__(message)
        self.left = left
        self.restored = restored


def _write_temp(folder: Path, filename: str, data: bytes, mode: int, made: list[Path]) -> Path:
    """An exclusive temp file beside ``filename`` holding ``data``, fsynced and closed (close can
    report a deferred write error: it raises), with ``mode`` whatever the umask. It is appended
    to ``made`` as soon as it exists, so the caller removes it on any failure."""
    tmp = folder / temp_name(filename)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0), mode)
    made.append(tmp)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            if written <= 0:
                raise OSError(errno.EIO, "short write")
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.chmod(tmp, mode)  # the umask may have narrowed the mode given to open
    except OSError as exc:
        if exc.errno not in (errno.ENOSYS, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise  # FAT through FUSE has no modes: what open gave is all there is
    return tmp


def write_file_set(directory: str | os.PathLike[str], files: list[tuple[str, bytes]], *, overwrite: bool = False,
                   cancel: object = None) -> list[Path]:
    """Write every file of ``files`` into ``directory``, all or none.

    Each file goes to an exclusive temp file first (written, fsynced); only when all are on the
    medium are they given their names (never replacing one, or with ``overwrite``: the file there is
    first renamed aside and put back if anything fails). Then the folder is fsynced and every file
    read back. Any failure, or `interrupts.Interrupted` (a signal; the app's ``cancel`` event is
    checked between steps), removes what this call made and restores what it moved aside; the
    error (`SetFailed`, or the `Interrupted` with ``left``/``restored`` set) names what is left.
    """
    from byoroot_tui.core import interrupts

    folder = Path(directory)
    for name, _ in files:
        check_writable_target(folder, name, overwrite)
    temps: list[Path] = []
    published: list[tuple[Path, Path | None]] = []  # (target, the old file moved aside or None)
    step = "write"
    try:
        for name, data in files:
            interrupts.check(cancel)  # type: ignore[arg-type]
            _write_temp(folder, name, data, 0o644, temps)
        step = "publish"
        for (name, _), tmp in zip(files, temps):
            interrupts.check(cancel)  # type: ignore[arg-type]
            target = folder / name
            with interrupts.deferred():  # a name is moved aside and the new file published as one step
                old: Path | None = None
                if overwrite and (target.exists() or target.is_symlink()):
                    old = folder / f".{name}.{secrets.token_hex(6)}{OLD_SUFFIX}"
                    os.rename(target, old)
                    published.append((target, old))
                try:
                    if _publish_noreplace(tmp, target, name, folder):
                        _unlink_quietly(tmp)
                except BaseException:
                    if old is not None:
                        published.pop()
                        _put_back(old, target)
                    raise
                if old is None:
                    published.append((target, None))
        step = "check"
        interrupts.check(cancel)  # type: ignore[arg-type]
        _fsync_dir(folder)
        for name, data in files:
            with open(folder / name, "rb") as fh:
                if fh.read(len(data) + 1) != data:
                    raise ExportFailed(f"read-back of {name} does not match what was written")
        with interrupts.deferred(reraise=False):
            for _, old in published:
                if old is not None:
                    _unlink_quietly(old)
            try:
                _fsync_dir(folder)
            except OSError:
                pass
        return [folder / name for name, _ in files]
    except BaseException as exc:
        with interrupts.deferred(reraise=False):  # undoing is never cut short by a second signal
            left, restored = _undo(folder, temps, published)
        if isinstance(exc, interrupts.Interrupted):
            exc.left, exc.restored = left, restored  # type: ignore[attr-defined]
            raise
        if isinstance(exc, TargetExists) and not left:
            raise
        if isinstance(exc, ExportFailed):
            reason = str(exc)
        elif isinstance(exc, OSError):
            reason = f"could not write to {_where(folder)}: {_reason(exc)}"
        else:
            raise
        raise SetFailed(reason + describe_left(left, restored), left, restored) from None


def _put_back(old: Path, target: Path) -> bool:
    try:
        os.rename(old, target)
        return True
    except OSError:
        return False


def _gone(path: Path) -> bool:
    try:
        os.lstat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return False


def _undo(folder: Path, temps: list[Path], published: list[tuple[Path, Path | None]]) -> tuple[list[Path], list[Path]]:
    left: list[Path] = []
    restored: list[Path] = []
    for target, old in reversed(published):
        _unlink_quietly(target)
        if not _gone(target) and old is None:
            left.append(target)
        if old is not None:
            if _put_back(old, target):
                restored.append(target)
            else:
                left.append(old)
    for tmp in temps:
        _unlink_quietly(tmp)
        if not _gone(tmp):
            left.append(tmp)
    try:
        _fsync_dir(folder)
    except OSError:
        pass
    return left, restored


def describe_left(left: list[Path], restored: list[Path]) -> str:
    """What a failed set left on the medium, as the end of a one-line message."""
    out = ""
    if left:
        out += "; LEFT ON THE MEDIUM (could not be removed): " + ", ".join(_where(p) for p in left)
    else:
        out += "; nothing of this export is left on the medium"
    if restored:
        out += "; the previous " + ", ".join(p.name for p in restored) + " put back as they were"
    return out


_STALE = re.compile(r"^\.(?P<name>[^/]+)\.[0-9a-f]{12}(?P<kind>\.tmp|\.byoroot-old)$")
_PROBE = re.compile(r"^\.byoroot-probe\.[0-9a-f]{12}$")  # an empty file made by probe_folder


def stale_files(directory: str | os.PathLike[str], names: tuple[str, ...]) -> list[Path]:
    """Temp files and moved-aside files of ours for ``names`` in ``directory``, left by an export
    that was killed (SIGKILL, power loss) before it could clean up."""
    folder = Path(directory)
    try:
        entries = os.listdir(folder)
    except OSError:
        return []
    out = []
    for entry in sorted(entries):
        m = _STALE.match(entry)
        if ((m and m.group("name") in names) or _PROBE.match(entry)) and not (folder / entry).is_symlink():
            out.append(folder / entry)
    return out


def clean_stale(directory: str | os.PathLike[str], names: tuple[str, ...]) -> list[str]:
    """Remove (or put back) what `stale_files` finds; returns one plain sentence per file."""
    folder = Path(directory)
    notes = []
    for path in stale_files(folder, names):
        m = _STALE.match(path.name)
        shown = repr(safe_text(path.name))
        if m is None:  # a probe file: empty, ours, removed without a word
            _unlink_quietly(path)
            continue
        name = m.group("name")
        if m.group("kind") == OLD_SUFFIX and _gone(folder / name):
            if _put_back(path, folder / name):
                notes.append(f"an interrupted export had moved {name} aside as {shown}; it was put back")
                continue
        _unlink_quietly(path)
        what = "temporary file" if m.group("kind") == TMP_SUFFIX else "replaced file kept aside"
        if _gone(path):
            notes.append(f"removed the {what} {shown} left in {_where(folder)} by an interrupted export")
        else:
            notes.append(f"could not remove the {what} {shown} left in {_where(folder)} by an interrupted export")
    return notes


def probe_folder(directory: str | os.PathLike[str], what: str = "") -> None:
    """Before signing: the folder takes new files (an exclusive empty file is made and removed)."""
    folder = Path(directory)
    probe = folder / f".byoroot-probe.{secrets.token_hex(6)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
                     | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as exc:
        if what:
            raise ExportFailed(f"{what} {_where(folder)} cannot take new files: {_reason(exc)}") from None
        raise ExportFailed(f"cannot write to {_where(folder)}: {_reason(exc)}") from None
    os.close(fd)
    _unlink_quietly(probe)
