"""Removable-media discovery and medium scanning (core/media.py): no Textual, fake /proc and /sys."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from byoroot_tui.core.media import (
    Medium,
    device_is_removable,
    discover_media,
    find_csrs,
    folder_media,
    is_csr_like,
    list_folder,
    medium_of,
    parse_mounts,
    preselect_csr,
    removable_media,
)


def fake_sys(tmp_path: Path, disks: dict[str, tuple[str, list[str]]]) -> tuple[Path, Path]:
    """A /sys/class/block + /sys/block pair: disk -> (removable flag, partitions), laid out like the kernel's."""
    devices = tmp_path / "sys" / "devices"
    class_block = tmp_path / "sys" / "class" / "block"
    block = tmp_path / "sys" / "block"
    class_block.mkdir(parents=True)
    block.mkdir(parents=True)
    for disk, (flag, parts) in disks.items():
        bus = "pci0000:00/usb1/1-1" if disk.startswith("usb") else "pci0000:00/ata1"
        d = devices / bus / "block" / disk
        d.mkdir(parents=True)
        (d / "removable").write_text(flag + "\n")
        (block / disk).symlink_to(d)
        (class_block / disk).symlink_to(d)
        for part in parts:
            p = d / part
            p.mkdir()
            (p / "partition").write_text("1\n")
            (class_block / part).symlink_to(p)
    return class_block, block


def test_parse_mounts_unescapes_octal_fields() -> None:
    text = (
        "/dev/sdb1 /media/officer/MY\\040STICK vfat rw,nosuid 0 0\n"
        "proc /proc proc rw 0 0\n"
        "broken line\n"
    )
    entries = parse_mounts(text)
    assert [e.device for e in entries] == ["/dev/sdb1", "proc"]
    assert entries[0].mount_point == Path("/media/officer/MY STICK")
    assert entries[0].fstype == "vfat"


def test_removable_flag_and_usb_bus_and_partitions(tmp_path: Path) -> None:
    cb, b = fake_sys(tmp_path, {"sda": ("0", ["sda1"]), "sdb": ("1", ["sdb1"]), "usbdisk": ("0", ["usbdisk1"])})
    assert device_is_removable("/dev/sdb1", cb, b)  # removable=1 on the parent disk
    assert device_is_removable("/dev/sdb", cb, b)
    assert device_is_removable("/dev/usbdisk1", cb, b)  # claims fixed, but sits on a USB bus
    assert not device_is_removable("/dev/sda1", cb, b)  # the station's own disk
    assert not device_is_removable("/dev/nosuch1", cb, b)
    assert not device_is_removable("tmpfs", cb, b)


def test_removable_media_only_under_media_prefixes(tmp_path: Path) -> None:
    cb, b = fake_sys(tmp_path, {"sda": ("0", ["sda1"]), "sdb": ("1", ["sdb1", "sdb2"])})
    mounts = parse_mounts(
        "/dev/sda1 / ext4 rw 0 0\n"
        "/dev/sdb1 /media/alice/CSRSTICK vfat rw 0 0\n"
        "/dev/sdb2 /srv/data ext4 rw 0 0\n"  # removable, but not where media are mounted
        "/dev/sda1 /mnt/backup ext4 rw 0 0\n"  # under /mnt, but not removable
        "tmpfs /run/media/x tmpfs rw 0 0\n"
    )
    media = removable_media(mounts, sys_class_block=cb, sys_block=b)
    assert [m.path for m in media] == [Path("/media/alice/CSRSTICK")]
    assert media[0].kind == "removable" and media[0].device == "/dev/sdb1"
    assert media[0].label == "CSRSTICK"


def test_discover_reads_the_mount_table_and_adds_media_roots(tmp_path: Path) -> None:
    cb, b = fake_sys(tmp_path, {"sdc": ("1", ["sdc1"])})
    table = tmp_path / "mounts"
    table.write_text("/dev/sdc1 /run/media/bob/KEYS ext4 rw 0 0\n")
    folder = tmp_path / "stick"
    folder.mkdir()
    missing = tmp_path / "gone"
    media = discover_media([folder, missing, folder], mount_tables=[tmp_path / "nope", table],
                           sys_class_block=cb, sys_block=b)
    assert [m.path for m in media] == [folder, Path("/run/media/bob/KEYS")]
    assert media[0].kind == "folder"
    assert discover_media([folder], include_system=False) == folder_media([folder])


def test_discover_on_this_machine_never_raises() -> None:
    assert isinstance(discover_media([]), list)


def test_csr_like_names() -> None:
    for name in ("a.csr", "B.REQ", "x.pem", "y.der", "csr-9e63a172-EXAMPLE-5b0c7.csr"):
        assert is_csr_like(name)
    for name in ("root.key", "notes.txt", "intermediate.crt", "csr", ".csr.swp"):
        assert not is_csr_like(name)


def test_a_pem_is_csr_like_only_with_a_request_inside_and_names_sort_naturally(tmp_path: Path) -> None:
    stick = tmp_path / "stick"
    stick.mkdir()
    request = b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
    (stick / "ca-bundle.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" * 3)
    (stick / "key.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    (stick / "request.pem").write_bytes(b"Subject: explanatory text\n" + request)
    (stick / "old.pem").write_bytes(request.replace(b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST"))
    os.mkfifo(stick / "fifo.pem")  # never read (it would block)
    for n in (10, 9, 1):
        (stick / f"file-{n}.csr").write_text("x")
    listing = list_folder(stick)
    csr_like = [i.name for i in listing.items if i.csr_like]
    assert csr_like == ["file-1.csr", "file-9.csr", "file-10.csr", "old.pem", "request.pem"]
    search = find_csrs(stick)
    assert [p.name for p in search.csr_files()] == csr_like
    medium = folder_media([stick])[0]
    assert preselect_csr([medium], {medium.key: search}) is None  # five of them: none preselected
    for name in ("file-1.csr", "file-9.csr", "file-10.csr", "old.pem"):
        (stick / name).unlink()
    search = find_csrs(stick)
    assert [p.name for p in search.csr_files()] == ["request.pem"]
    assert preselect_csr([medium], {medium.key: search}) == stick / "request.pem"  # the bundle does not block it


def test_search_finds_nested_csrs_skips_hidden_and_symlinks(tmp_path: Path) -> None:
    m = tmp_path / "M"
    (m / "stick" / "deep").mkdir(parents=True)
    (m / "stick" / "csr-9e63a172-EXAMPLE-5b0c7.csr").write_text("x")
    (m / "stick" / "readme.txt").write_text("x")
    (m / ".Trash-1000").mkdir()
    (m / ".Trash-1000" / "old.csr").write_text("x")
    (m / "link.csr").symlink_to(m / "stick" / "csr-9e63a172-EXAMPLE-5b0c7.csr")
    (m / "stick" / "deep" / "other.req").write_text("x")
    search = find_csrs(m)
    assert search.csr_files() == [m / "stick" / "csr-9e63a172-EXAMPLE-5b0c7.csr", m / "stick" / "deep" / "other.req"]
    items = list_folder(m).items
    assert ".Trash-1000" not in [i.name for i in items]
    link = next(i for i in items if i.name == "link.csr")
    assert link.kind == "link" and not link.csr_like  # a symlink is shown, never offered as a CSR


def test_search_limits_depth_and_entries(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*[f"d{i}" for i in range(8)])
    deep.mkdir(parents=True)
    (deep / "far.csr").write_text("x")
    search = find_csrs(tmp_path, max_depth=3)
    assert search.csr_files() == [] and search.too_deep and not search.complete
    for i in range(30):
        (tmp_path / f"f{i:02}.csr").write_text("x")
    limited = find_csrs(tmp_path, max_entries=10)
    assert limited.stopped == "limit" and len(limited.csr_files()) <= 10


def test_listing_escapes_hostile_names(tmp_path: Path) -> None:
    (tmp_path / "evil\x1b[31m.csr").write_text("x")
    assert list_folder(tmp_path).items[0].name == "evil\\x1b[31m.csr"


def test_a_missing_medium_says_why(tmp_path: Path) -> None:
    listing = list_folder(tmp_path / "pulled")
    assert listing.error and listing.items == []
    assert find_csrs(tmp_path / "pulled").stopped == "gone"


def test_preselect_only_csr_on_only_medium(tmp_path: Path) -> None:
    a = tmp_path / "a"
    (a / "stick").mkdir(parents=True)
    (a / "stick" / "one.csr").write_text("x")
    media = folder_media([a])
    scans = {media[0].key: find_csrs(a)}
    assert preselect_csr(media, scans) == a / "stick" / "one.csr"
    (a / "two.req").write_text("x")
    assert preselect_csr(media, {media[0].key: find_csrs(a)}) is None
    given = tmp_path / "given.csr"
    assert preselect_csr(media, scans, given) == given
    b = tmp_path / "b"
    b.mkdir()
    assert preselect_csr(folder_media([a, b]), {}) is None


def test_medium_of_picks_the_deepest(tmp_path: Path) -> None:
    outer = Medium(path=tmp_path, label="outer")
    inner = Medium(path=tmp_path / "in", label="inner")
    assert medium_of(tmp_path / "in" / "x.csr", [outer, inner]) is inner
    assert medium_of(tmp_path / "x.csr", [outer, inner]) is outer
    assert medium_of("/elsewhere/x.csr", [outer, inner]) is None


def test_media_and_ceremony_modules_import_no_ui_and_no_crypto() -> None:
    code = (
        "import sys, byoroot_tui.core.media, byoroot_tui.core.ceremony\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'cryptography', 'qrcode')]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert out.stdout.strip() == ""
