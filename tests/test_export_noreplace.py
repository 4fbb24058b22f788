"""core/export.py publishes a finished temp file under its name without ever replacing a file,
also where hard links are refused (FAT): first renameat2(RENAME_NOREPLACE), else claim the name
with O_CREAT|O_EXCL and rename over that empty placeholder of ours. Each way is exercised for
real on this machine's filesystems (ext4 under tmp_path); link() is refused with EPERM the way
FAT refuses it, and "renameat2 unsupported" is the EINVAL/ENOSYS/EOPNOTSUPP that FUSE, old
kernels and old C libraries give. The FAT images themselves are in test_media_faults.py.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from byoroot_tui.core import export
from byoroot_tui.core.errors import ExportFailed, TargetExists

NAME = "intermediate.crt"
DATA = b"-----BEGIN CERTIFICATE-----\n" + os.urandom(900).hex().encode() + b"\n-----END CERTIFICATE-----\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "stick"
    d.mkdir()
    return d


@pytest.fixture
def no_links(monkeypatch):  # type: ignore[no-untyped-def]
    """link() refused with EPERM, as on FAT."""
    refused: list[str] = []

    def link(src, dst, *a, **k):  # type: ignore[no-untyped-def]
        refused.append(str(dst))
        raise OSError(errno.EPERM, "Operation not permitted", str(src), None, str(dst))

    monkeypatch.setattr(os, "link", link)
    return refused


class Calls:
    """Records the calls that publish: renameat2 (with its outcome), open() of the target, rename()."""

    def __init__(self, monkeypatch, target: Path) -> None:  # type: ignore[no-untyped-def]
        self.target = target
        self.renameat2: list[str] = []  # "ok" or the errno name
        self.claims: list[int] = []  # flags of every os.open on the target
        self.renames: list[tuple[bool, int | None, int | None]] = []  # (dst is target, size and inode there)
        real_r2, real_open, real_rename = export._renameat2_noreplace, os.open, os.rename

        def r2(src, dst):  # type: ignore[no-untyped-def]
            try:
                real_r2(src, dst)
            except OSError as exc:
                self.renameat2.append(errno.errorcode.get(exc.errno or 0, str(exc.errno)))
                raise
            self.renameat2.append("ok")

        def opener(path, flags, *a, **k):  # type: ignore[no-untyped-def]
            if Path(path) == self.target:
                self.claims.append(flags)
            return real_open(path, flags, *a, **k)

        def rename(src, dst, *a, **k):  # type: ignore[no-untyped-def]
            there = os.lstat(dst) if os.path.lexists(dst) else None
            self.renames.append((Path(dst) == self.target, there.st_size if there else None,
                                 there.st_ino if there else None))
            return real_rename(src, dst, *a, **k)

        monkeypatch.setattr(export, "_renameat2_noreplace", r2)
        monkeypatch.setattr(os, "open", opener)
        monkeypatch.setattr(os, "rename", rename)


def unsupported(code: int):  # type: ignore[no-untyped-def]
    def r2(src, dst):  # type: ignore[no-untyped-def]
        raise OSError(code, os.strerror(code))

    return r2


# ----------------------------------------------------------------------------- renameat2 itself, on the real kernel


@pytest.mark.skipif(export._renameat2 is None, reason="this C library has no renameat2 (the O_EXCL claim is used)")
def test_renameat2_noreplace_never_replaces(folder: Path) -> None:
    a, b = folder / "a", folder / "b"
    a.write_bytes(b"ours")
    b.write_bytes(b"theirs")
    with pytest.raises(FileExistsError):
        export._renameat2_noreplace(a, b)
    assert (a.read_bytes(), b.read_bytes()) == (b"ours", b"theirs")
    export._renameat2_noreplace(a, folder / "c")
    assert sorted(os.listdir(folder)) == ["b", "c"] and (folder / "c").read_bytes() == b"ours"


def test_renameat2_unavailable_reports_enosys(folder: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(export, "_renameat2", None)
    (folder / "a").write_bytes(b"x")
    with pytest.raises(OSError) as err:
        export._renameat2_noreplace(folder / "a", folder / "b")
    assert err.value.errno == errno.ENOSYS
    assert os.listdir(folder) == ["a"]


# ----------------------------------------------------------------------------- the ways, each for real


def test_hard_links_are_used_where_they_exist(folder: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls = Calls(monkeypatch, folder / NAME)
    export.write_new_file(folder, NAME, DATA)
    assert (folder / NAME).read_bytes() == DATA
    assert calls.renameat2 == [] and calls.claims == [] and calls.renames == []
    assert os.listdir(folder) == [NAME]


@pytest.mark.skipif(export._renameat2 is None, reason="this C library has no renameat2 (the O_EXCL claim is used)")
def test_without_hard_links_renameat2_publishes(folder: Path, no_links, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls = Calls(monkeypatch, folder / NAME)
    path = export.write_new_file(folder, NAME, DATA, mode=0o640)
    assert path == folder / NAME and path.read_bytes() == DATA
    assert no_links == [str(folder / NAME)]
    assert calls.renameat2 == ["ok"], "the kernel's RENAME_NOREPLACE did it"
    assert not any(flags & os.O_CREAT for flags in calls.claims) and calls.renames == [], "no placeholder"
    assert os.listdir(folder) == [NAME], "no temp file"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


@pytest.mark.parametrize("code", [errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP])
def test_without_renameat2_the_name_is_claimed_first(code: int, folder: Path, no_links, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(export, "_renameat2_noreplace", unsupported(code))
    calls = Calls(monkeypatch, folder / NAME)
    path = export.write_new_file(folder, NAME, DATA)
    assert path.read_bytes() == DATA
    assert calls.renameat2 == [errno.errorcode[code]]
    excl = os.O_CREAT | os.O_EXCL
    assert [flags & excl for flags in calls.claims] == [excl], "the name was claimed exclusively, once"
    assert len(calls.renames) == 1
    is_target, size, inode = calls.renames[0]
    assert is_target and size == 0, "the rename went over our empty placeholder"
    assert inode != os.stat(path).st_ino, "the placeholder was replaced by the written file"
    assert os.listdir(folder) == [NAME], "no temp file, no second name"


def test_without_renameat2_in_this_c_library_the_name_is_claimed(folder: Path, no_links, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(export, "_renameat2", None)
    calls = Calls(monkeypatch, folder / NAME)
    export.write_new_file(folder, NAME, DATA)
    assert calls.renameat2 == ["ENOSYS"] and len(calls.renames) == 1 and calls.renames[0][1] == 0
    assert (folder / NAME).read_bytes() == DATA and os.listdir(folder) == [NAME]


# ----------------------------------------------------------------------------- refusals and failures on each way


@pytest.mark.parametrize("way", ["renameat2", "claim"])
def test_a_name_taken_in_the_window_is_never_replaced(way: str, folder: Path, no_links, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Another writer takes the name after the early check (which passed): refused with the same
    words as the hard-link way, the other file untouched, nothing of ours left."""
    if way == "claim":
        monkeypatch.setattr(export, "_renameat2_noreplace", unsupported(errno.EINVAL))
    elif export._renameat2 is None:
        pytest.skip("this C library has no renameat2")
    real_check = export.check_writable_target

    def check_then_other_writer(*a, **k):  # type: ignore[no-untyped-def]
        target = real_check(*a, **k)
        target.write_bytes(b"the other writer's file\n")
        return target

    monkeypatch.setattr(export, "check_writable_target", check_then_other_writer)
    calls = Calls(monkeypatch, folder / NAME)
    with pytest.raises(TargetExists, match=f"^{NAME} appeared in .* meanwhile; not overwritten$"):
        export.write_new_file(folder, NAME, DATA)
    assert (folder / NAME).read_bytes() == b"the other writer's file\n"
    assert os.listdir(folder) == [NAME]
    assert calls.renames == []
    assert calls.renameat2 == (["EEXIST"] if way == "renameat2" else ["EINVAL"])


@pytest.mark.parametrize("code", [errno.EIO, errno.ENOSPC, errno.EROFS])
def test_a_failure_after_the_claim_leaves_no_placeholder_and_no_temp(code: int, folder: Path, no_links, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(export, "_renameat2_noreplace", unsupported(errno.EINVAL))
    seen: list[tuple[int, bytes]] = []

    def failing_rename(src, dst, *a, **k):  # type: ignore[no-untyped-def]
        seen.append((os.lstat(dst).st_size, Path(src).read_bytes()))  # our placeholder is there, and our temp file
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "rename", failing_rename)
    with pytest.raises(ExportFailed, match="nothing was left behind") as err:
        export.write_new_file(folder, NAME, DATA)
    assert export._REASONS[code] in str(err.value)
    assert seen == [(0, DATA)], "the rename was attempted over the placeholder"
    assert os.listdir(folder) == [], "the placeholder and the temp file were both removed"


def test_a_file_that_replaced_our_placeholder_is_not_removed(folder: Path, no_links, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """After the claim, another process renames its own file over our placeholder and our rename
    then fails: what is there now is not ours, so the cleanup leaves it."""
    monkeypatch.setattr(export, "_renameat2_noreplace", unsupported(errno.EINVAL))
    real_rename = os.rename

    def other_then_fail(src, dst, *a, **k):  # type: ignore[no-untyped-def]
        theirs = folder / "theirs.part"
        theirs.write_bytes(b"the other writer's file\n")
        real_rename(theirs, dst)
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "rename", other_then_fail)
    with pytest.raises(ExportFailed, match="nothing was left behind"):
        export.write_new_file(folder, NAME, DATA)
    assert os.listdir(folder) == [NAME]
    assert (folder / NAME).read_bytes() == b"the other writer's file\n"


def test_a_placeholder_written_into_is_refused_and_kept(folder: Path, no_links, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Another process opens the claimed name without O_EXCL and writes into our placeholder before
    the rename: the placeholder is no longer ours; refused, their bytes kept, no temp file."""
    monkeypatch.setattr(export, "_renameat2_noreplace", unsupported(errno.EINVAL))
    real_open = os.open
    renames: list[object] = []
    monkeypatch.setattr(os, "rename", lambda *a, **k: renames.append(a))

    def claim_then_other_writer(path, flags, *a, **k):  # type: ignore[no-untyped-def]
        fd = real_open(path, flags, *a, **k)
        if Path(path) == folder / NAME:
            other = real_open(path, os.O_WRONLY)
            os.write(other, b"the other writer's file\n")
            os.close(other)
        return fd

    monkeypatch.setattr(os, "open", claim_then_other_writer)
    with pytest.raises(TargetExists, match="appeared in .* meanwhile; not overwritten"):
        export.write_new_file(folder, NAME, DATA)
    assert renames == []
    assert os.listdir(folder) == [NAME]
    assert (folder / NAME).read_bytes() == b"the other writer's file\n"


def test_another_renameat2_failure_is_reported_and_leaves_nothing(folder: Path, no_links, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(export, "_renameat2_noreplace", unsupported(errno.EIO))
    calls = Calls(monkeypatch, folder / NAME)
    with pytest.raises(ExportFailed, match="I/O error .* nothing was left behind"):
        export.write_new_file(folder, NAME, DATA)
    assert calls.claims == [] and calls.renames == [], "an I/O error is not 'unsupported': no claim"
    assert os.listdir(folder) == []


# ----------------------------------------------------------------------------- asked to replace: unchanged


@pytest.mark.parametrize("links", ["links", "no-links"])
def test_overwrite_when_asked_still_replaces(links: str, folder: Path, monkeypatch, request) -> None:  # type: ignore[no-untyped-def]
    if links == "no-links":
        request.getfixturevalue("no_links")
    (folder / NAME).write_bytes(b"last year's certificate\n")
    (folder / "notes.txt").write_bytes(b"keep me\n")
    calls = Calls(monkeypatch, folder / NAME)
    path = export.write_new_file(folder, NAME, DATA, overwrite=True)
    assert path.read_bytes() == DATA
    assert calls.renameat2 == [] and calls.claims == [], "replacing does not go through the no-replace ways"
    assert sorted(os.listdir(folder)) == [NAME, "notes.txt"]
    assert (folder / "notes.txt").read_bytes() == b"keep me\n"


def test_an_existing_file_is_refused_early_without_overwrite(folder: Path, no_links) -> None:  # type: ignore[no-untyped-def]
    (folder / NAME).write_bytes(b"last year's certificate\n")
    with pytest.raises(TargetExists, match="already exists .* refusing to overwrite it$") as err:
        export.write_new_file(folder, NAME, DATA)
    assert isinstance(err.value, ExportFailed) and "--force" not in str(err.value)  # CLI wording is the CLI's
    assert os.listdir(folder) == [NAME] and no_links == []
