"""Write files to the medium so that nothing partial is ever left and nothing is overwritten unasked.

Exclusive temp file on the same filesystem → write all → fsync → close → link (or rename when
asked to replace) → fsync the folder → read back and compare. Any failure removes what we made.
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path

from byoroot_tui.core.errors import ExportFailed
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


def check_writable_target(directory: str | os.PathLike[str], filename: str, overwrite: bool = False) -> Path:
    """Fail early (before signing) when the target folder is missing or the file exists."""
    folder = Path(directory)
    if not folder.is_dir():
        raise ExportFailed(f"cannot write to {_where(folder)}: not an existing folder")
    target = folder / filename
    if (target.exists() or target.is_symlink()) and not overwrite:
        raise ExportFailed(f"{filename} already exists in {_where(folder)}; refusing to overwrite it (use --force)")
    return target


def write_new_file(
    directory: str | os.PathLike[str], filename: str, data: bytes, *, overwrite: bool = False, mode: int = 0o644
) -> Path:
    """Atomically create ``directory/filename`` holding exactly ``data``; returns its path."""
    target = check_writable_target(directory, filename, overwrite)
    folder = target.parent
    tmp = folder / f".{filename}.{secrets.token_hex(6)}.tmp"
    created: Path | None = None
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode)
        created = tmp
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                if written <= 0:
                    raise OSError(errno.EIO, "short write")
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)  # close can report a deferred write error: it raises here
        try:
            os.chmod(tmp, mode)  # the umask may have narrowed the mode given to open
        except OSError as exc:
            if exc.errno not in (errno.ENOSYS, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise  # FAT through FUSE has no modes: what open gave is all there is
        if overwrite:
            os.replace(tmp, target)
            created = target
        else:
            try:
                os.link(tmp, target)  # fails if target exists: no overwrite race
                created = target
                _unlink_quietly(tmp)
            except FileExistsError:
                raise ExportFailed(f"{filename} appeared in {_where(folder)} meanwhile; not overwritten") from None
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                    raise
                # Filesystems without hard links (FAT on USB sticks): check, then rename.
                if target.exists():
                    raise ExportFailed(f"{filename} appeared in {_where(folder)} meanwhile; not overwritten") from None
                os.rename(tmp, target)
                created = target
        _fsync_dir(folder)
        with open(target, "rb") as fh:
            back = fh.read(len(data) + 1)
        if back != data:
            raise ExportFailed(f"read-back of {filename} does not match what was written; it was removed")
        return target
    except ExportFailed:
        if created is not None:
            _unlink_quietly(created)
        _unlink_quietly(tmp)
        raise
    except OSError as exc:
        if created is not None:
            _unlink_quietly(created)
        _unlink_quietly(tmp)
        raise ExportFailed(f"could not write {filename} to {_where(folder)}: {_reason(exc)}; nothing was left behind") from None
