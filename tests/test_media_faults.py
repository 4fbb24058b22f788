"""Exporting onto real filesystems that fail: a tmpfs that fills up part-way through the export,
read-only mounts, and loop-mounted ext4 and FAT images that are unmounted and mounted again.

Each failure must give one clear line, leave none of the three files and no temp file behind,
leave what was already on the medium untouched (bytes and mtime), and be in the station log.

These tests mount filesystems and need root: they FAIL (never skip) when not run as root (CI
runs as root). A FAT image needs a FAT driver: the kernel's vfat, or fusefat (FUSE); where
neither is available that one test is skipped and says why. Every mount and loop device is
removed in a finalizer, also when a test fails.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509

import factories as f
from test_record import zbar_decode

EXPORTED = ("intermediate.crt", "intermediate-fingerprint.png", "ceremony-record.txt", "ceremony-record.pdf")
PAGE = 4096


# ----------------------------------------------------------------------------- mounting


def need_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("these tests mount filesystems (tmpfs, loop images) and need root; CI runs as root")


def _run(argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


class Images:
    """Filesystem images on loop devices (or FUSE), unmounted and detached in the finalizer."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.mounted: list[Path] = []
        self.images: list[Path] = []

    def make(self, name: str, fs: str, size_mib: int = 8) -> Path:
        need_root()
        image = self.base / f"{name}.img"
        with open(image, "wb") as fh:
            fh.truncate(size_mib * 1024 * 1024)
        self.images.append(image)
        if fs == "ext4":
            tool = shutil.which("mkfs.ext4")
            if not tool:
                pytest.fail("mkfs.ext4 is required (apt-get install e2fsprogs)")
            argv = [tool, "-q", "-F", "-L", "BYOROOT", str(image)]
        else:
            tool = shutil.which("mkfs.vfat") or shutil.which("mkfs.fat")
            if not tool:
                pytest.fail("no mkfs.vfat on this machine (apt-get install dosfstools): the FAT image test cannot run")
            argv = [tool, str(image)]
        r = _run(argv)
        assert r.returncode == 0, r.stderr
        return image

    def mount(self, image: Path, mp: Path, fs: str, *, readonly: bool = False) -> None:
        """Kernel driver through a loop device; fs "fusefat" mounts a FAT image through FUSE."""
        need_root()
        mp.mkdir(exist_ok=True)
        if fs == "fusefat":
            r = _run(["fusefat", "-o", "ro" if readonly else "rw+", str(image), str(mp)])
        else:
            opts = "loop,ro" if readonly else "loop"
            r = _run(["mount", "-t", fs, "-o", opts, str(image), str(mp)])
        if r.returncode != 0:
            pytest.fail(f"cannot mount {image.name} ({fs}) at {mp}: {r.stderr.strip()}")
        self.mounted.append(mp)

    def umount(self, mp: Path) -> None:
        r = _run(["umount", str(mp)])
        assert r.returncode == 0, f"umount {mp}: {r.stderr}"
        self.mounted.remove(mp)

    def loop_devices(self, image: Path) -> list[str]:
        r = _run(["losetup", "-j", str(image)])
        return [line.split(":", 1)[0] for line in r.stdout.splitlines() if line.strip()]

    def cleanup(self) -> None:
        for mp in reversed(self.mounted):
            if _run(["umount", str(mp)]).returncode != 0:
                _run(["umount", "-l", str(mp)])
        self.mounted.clear()
        for image in self.images:
            for dev in self.loop_devices(image):
                _run(["losetup", "-d", dev])


@pytest.fixture
def images(tmp_path):  # type: ignore[no-untyped-def]
    imgs = Images(tmp_path)
    yield imgs
    imgs.cleanup()
    leftover = [img for img in imgs.images if imgs.loop_devices(img)]
    assert not leftover, f"loop devices left attached to {leftover}"


def kernel_has(fs: str) -> bool:
    try:
        return any(line.split()[-1] == fs for line in Path("/proc/filesystems").read_text().splitlines() if line)
    except OSError:
        return False


def fat_driver() -> str:
    """"vfat" (kernel) or "fusefat"; skips, saying why, when this machine has neither."""
    if kernel_has("vfat"):
        return "vfat"
    if shutil.which("fusefat") and os.path.exists("/dev/fuse"):
        return "fusefat"
    pytest.fail("cannot mount a FAT image here: the kernel has no vfat driver and fusefat is not installed")


# ----------------------------------------------------------------------------- what is on a medium


def snapshot(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every entry (hidden ones too) with its bytes, mtime (ns) and mode."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(folder))] = (p.read_bytes() if p.is_file() else b"", st.st_mtime_ns, st.st_mode)
    return out


def log_entries(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_bytes().splitlines()] if log.exists() else []


def assert_log_intact(cli, log: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli("log", "verify", log)
    assert r.rc == 0, r.err


def prefill(mp: Path) -> None:
    """What an officer's stick already holds besides the CSR (checked untouched afterwards)."""
    (mp / "notes.txt").write_bytes(b"hosted CA order 4711\n")
    (mp / "old").mkdir()
    (mp / "old" / "previous-intermediate.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\nold\n")
    past = time.time() - 86400 * 30
    for p in (mp / "notes.txt", mp / "old" / "previous-intermediate.crt"):
        os.utime(p, (past, past))


def export_again_serial(err: str) -> str:
    return f.export_again_serial(err)


def free_pages(filler: Path, pages: int) -> None:
    """Give exactly ``pages`` pages back to a tmpfs that `Tmpfs.fill` filled."""
    size = filler.stat().st_size
    assert size % PAGE == 0 and size >= pages * PAGE
    os.truncate(filler, size - pages * PAGE)


# ----------------------------------------------------------------------------- (a) the medium fills up during the export


@pytest.mark.parametrize(
    ("pages", "fails_at"),
    [(0, "intermediate.crt"), (1, "intermediate-fingerprint.png"), (2, "ceremony-record.txt")],
    ids=["full-before-certificate", "full-at-qr-png", "full-at-sheet"],
)
def test_medium_fills_up_during_export(pages: int, fails_at: str, tmp_path: Path, tmpfs, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The CSR's own stick (the default target) has room for 0, 1 or 2 pages (and inodes: the
    probe before signing passes): the certificate is signed and on the log ("issued"), then the
    export fails writing the temp file of the certificate, of the QR PNG (the certificate's
    already written) or of the sheet (the certificate's and the PNG's written). Whatever was
    written is removed again."""
    from byoroot_tui.core import export

    mp = tmpfs.mount("stick", size="64k")
    c = f.make_ceremony(tmp_path, stick_name="stick")  # the CSR lives on the tmpfs
    prefill(mp)
    filler = tmpfs.fill(mp)
    free_pages(filler, pages)
    before = snapshot(mp)
    log = tmp_path / "station.log"
    real_write_temp, attempts = export._write_temp, []

    def write_temp(folder, filename, *a, **k):  # type: ignore[no-untyped-def]
        try:
            return real_write_temp(folder, filename, *a, **k)
        except OSError as exc:
            attempts.append((filename, exc.errno))
            raise

    monkeypatch.setattr(export, "_write_temp", write_temp)

    r = cli(*c.sign_argv("--log", log, "--officer", "Officer One", "--officer", "Officer Two"))

    f.assert_refusal(r, "full", "nothing of this export is left on the medium")
    assert attempts == [(fails_at, errno.ENOSPC)]  # the file whose temp file did not fit
    serial = export_again_serial(r.err)
    assert snapshot(mp) == before, "no new, partial or temp file; existing files untouched (bytes, mtime)"
    events = log_entries(log)
    # the certificate was on the log before any byte reached the medium, whichever file failed
    assert [e["event"] for e in events] == ["signing", "issued", "export_failed"]
    issued, failed = events[1], events[2]
    assert "full" in str(failed["reason"])
    assert failed["out"] == str(mp) and failed["left"] == [] and failed["restored"] == []
    assert len(str(failed["sha256"])) == 64 and failed["sha256"] == issued["sha256"]
    assert failed["serial"] == issued["serial"] == serial
    assert_log_intact(cli, log)


def test_medium_out_of_inodes(tmp_path: Path, tmpfs, cli) -> None:  # type: ignore[no-untyped-def]
    """A medium with free space but no free inode: not even the probe file can be created, so the
    ceremony is refused before signing: a `refused` entry, nothing on the medium, and the root key
    never used (it is encrypted and no passphrase is given: reaching it would ask for one)."""
    need_root()
    key = f.key("p384", 1)
    c = f.make_ceremony(tmp_path, root_key=key, root_key_bytes=f.key_bytes(key, password=b"never asked for"))
    mp = tmp_path / "inodes"
    mp.mkdir()
    r = _run(["mount", "-t", "tmpfs", "-o", "size=1m,nr_inodes=3,mode=0755", "tmpfs", str(mp)])
    if r.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs: {r.stderr}")
    tmpfs.mounted.append(mp)
    n = 0
    while True:  # use up every inode
        try:
            (mp / f"f{n}").write_bytes(b"x")
            n += 1
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
            break
    before = snapshot(mp)
    log = tmp_path / "station.log"
    r = cli(*c.sign_argv("--out", mp, "--log", log))
    f.assert_refusal(r, "full", str(mp))
    assert "passphrase" not in r.err.lower()  # refused before the key
    assert snapshot(mp) == before
    events = log_entries(log)
    assert [e["event"] for e in events] == ["refused"]  # no signing entry: the key was never opened
    assert "full" in str(events[0]["reason"]) and "sha256" not in events[0]
    assert_log_intact(cli, log)


def test_failed_export_is_retried_onto_another_medium_without_signing_again(tmp_path: Path, tmpfs) -> None:  # type: ignore[no-untyped-def]
    """Core level (what the TUI's retry calls): the same `Issued` goes onto a second medium after the
    first filled up; the certificate written is exactly the one signed, and the log tells both:
    one `issued` entry, then `export_failed` and `exported`."""
    from byoroot_tui.core.csr import load_csr
    from byoroot_tui.core.errors import ExportFailed
    from byoroot_tui.core.issue import make_plan, sign_plan
    from byoroot_tui.core.profiles import get_profile
    from byoroot_tui.core.record import export_ceremony
    from byoroot_tui.core.root import load_root
    from byoroot_tui.core.signer import load_root_key

    c = f.make_ceremony(tmp_path)
    plan = make_plan(load_csr(c.csr), get_profile("intermediate-ca"), load_root(c.root_cert))
    with load_root_key(c.root_key) as signer:
        issued = sign_plan(plan, signer)
    # the key is gone now: a retry cannot sign again, it can only export again
    full = tmpfs.mount("full", size="16k")
    free_pages(tmpfs.fill(full), 1)  # room for the certificate only
    before = snapshot(full)
    log = tmp_path / "station.log"
    with pytest.raises(ExportFailed) as err:
        export_ceremony(issued, full, officers=["A One", "B Two"], csr_file="request.csr", log_path=log)
    assert "full" in str(err.value) and "nothing of this export is left on the medium" in str(err.value)
    assert export_again_serial(str(err.value)) == plan.serial_hex
    assert snapshot(full) == before
    assert [e["event"] for e in log_entries(log)] == ["issued", "export_failed"]
    second = tmpfs.mount("second", size="64k")
    exported = export_ceremony(issued, second, officers=["A One", "B Two"], csr_file="request.csr", log_path=log)
    assert (second / "intermediate.crt").read_bytes() == issued.pem
    assert exported.certificate == second / "intermediate.crt"
    entries = log_entries(log)
    assert [e["event"] for e in entries] == ["issued", "export_failed", "exported"]  # never a second issued
    assert {e["sha256"] for e in entries} == {issued.sha256}
    assert entries[0]["certificate"].encode("ascii") == issued.pem
    assert entries[1]["out"] == str(full) and entries[2]["out"] == str(second)
    lines = log.read_bytes().splitlines()
    assert exported.log_head == hashlib.sha256(lines[-1]).hexdigest()
    assert exported.sheet_head == hashlib.sha256(lines[-2]).hexdigest()  # the sheet was made before `exported`


# ----------------------------------------------------------------------------- (b) read-only media


@pytest.mark.parametrize("fs", ["tmpfs", "ext4"])
@pytest.mark.parametrize("target", ["csr-stick", "out-folder"])
def test_read_only_medium(fs: str, target: str, tmp_path: Path, tmpfs, images, cli) -> None:  # type: ignore[no-untyped-def]
    """The CSR's stick (or the --out medium) is mounted read-only: one line saying so, nothing
    changed on the medium, and the failure is in the log."""
    mp = tmp_path / "stick"
    if fs == "tmpfs":
        mp = tmpfs.mount("stick", size="256k")
    else:
        image = images.make("ro", "ext4")
        images.mount(image, mp, "ext4")
    if target == "csr-stick":
        c = f.make_ceremony(tmp_path, stick_name="stick")
        argv = c.sign_argv()
    else:
        c = f.make_ceremony(tmp_path, stick_name="csr-folder")
        argv = c.sign_argv("--out", mp)
    prefill(mp)
    if fs == "tmpfs":
        tmpfs.remount_readonly(mp)
    else:
        images.umount(mp)
        images.mount(image, mp, "ext4", readonly=True)
    before = snapshot(mp)
    log = tmp_path / "station.log"

    r = cli(*argv, "--log", log)

    f.assert_refusal(r, "read-only")
    assert snapshot(mp) == before
    events = log_entries(log)
    assert len(events) == 1 and events[0]["event"] in ("refused", "export_failed"), events
    assert "read-only" in str(events[0]["reason"])
    assert_log_intact(cli, log)


# ----------------------------------------------------------------------------- (c) loop images: unmount, mount again, read back


def _sign_onto_image_and_remount(fs: str, tmp_path: Path, images: Images, cli) -> None:  # type: ignore[no-untyped-def]
    image = images.make("stick", "ext4" if fs == "ext4" else "vfat")
    mp = tmp_path / "stick"
    images.mount(image, mp, fs)
    c = f.make_ceremony(tmp_path, stick_name="stick")  # the CSR on the image
    prefill(mp)
    log = tmp_path / "station.log"
    t0 = f.utcnow()
    r = cli(*c.sign_argv("--json", "--log", log, "--officer", "Officer One", "--officer", "Officer Two"))
    t1 = f.utcnow()
    assert r.rc == 0, r.err
    report = json.loads(r.out)
    written = {n: (mp / n).read_bytes() for n in EXPORTED}
    others = {k: v[0] for k, v in snapshot(mp).items() if k not in EXPORTED}
    assert f.temp_leftovers(mp) == []

    images.umount(mp)
    assert not os.path.ismount(mp)
    if fs == "ext4" and shutil.which("e2fsck"):
        fsck = _run([shutil.which("e2fsck") or "e2fsck", "-fn", str(image)])
        assert fsck.returncode == 0, f"the filesystem is not clean after the export:\n{fsck.stdout}{fsck.stderr}"
    images.mount(image, mp, fs)

    again = {n: (mp / n).read_bytes() for n in EXPORTED}
    assert again == written, "read back after remounting: byte-identical"
    assert {k: v[0] for k, v in snapshot(mp).items() if k not in EXPORTED} == others
    cert = x509.load_pem_x509_certificate(again["intermediate.crt"])
    fingerprint = hashlib.sha256(f.der(cert)).hexdigest()
    assert fingerprint == report["sha256"]
    sheet = again["ceremony-record.txt"].decode()
    assert "Certificate file:" in sheet and " ".join(report["pgp_words"][:4]) in sheet
    assert zbar_decode(mp / "intermediate-fingerprint.png") == fingerprint
    f.assert_good_intermediate(c, t0, t1)  # openssl verify (and leaf chain), pkilint, profile content
    r = cli("verify", mp / "intermediate.crt", "--root-cert", c.root_cert, "--csr", c.csr,
            "--fingerprint", fingerprint)
    assert r.rc == 0, r.out + r.err
    entries = log_entries(log)
    assert [e["event"] for e in entries] == ["signing", "issued", "exported"]
    assert entries[1]["sha256"] == fingerprint and entries[2]["out"] == str(mp)
    assert {x["name"]: x["sha256"] for x in entries[2]["files"]} == {  # type: ignore[union-attr]
        n: hashlib.sha256(data).hexdigest() for n, data in again.items()}


def test_ext4_image_unmounted_and_remounted_reads_back_identical(tmp_path: Path, images, cli) -> None:  # type: ignore[no-untyped-def]
    _sign_onto_image_and_remount("ext4", tmp_path, images, cli)


def test_vfat_image_unmounted_and_remounted_reads_back_identical(tmp_path: Path, images, cli) -> None:  # type: ignore[no-untyped-def]
    """FAT has no hard links: the export takes core/export.py's rename fallback."""
    if not kernel_has("vfat"):
        pytest.skip("the kernel has no vfat driver here (see the fusefat tests below for FAT through FUSE)")
    _sign_onto_image_and_remount("vfat", tmp_path, images, cli)


def test_fat_image_through_fuse_unmounted_and_remounted_reads_back_identical(tmp_path: Path, images, cli) -> None:  # type: ignore[no-untyped-def]
    if not (shutil.which("fusefat") and os.path.exists("/dev/fuse")):
        pytest.fail("fusefat is not installed (apt-get install fusefat): FAT through FUSE cannot be tested")
    _sign_onto_image_and_remount("fusefat", tmp_path, images, cli)


def test_fat_through_fuse_never_leaves_a_partial_export(tmp_path: Path, images, cli) -> None:  # type: ignore[no-untyped-def]
    """Whether or not the export onto a FUSE-mounted FAT stick succeeds, the
    medium holds either all three files or none of them, and no temp file; a failure is logged."""
    if not (shutil.which("fusefat") and os.path.exists("/dev/fuse")):
        pytest.fail("fusefat is not installed (apt-get install fusefat): FAT through FUSE cannot be tested")
    image = images.make("fat", "vfat")
    mp = tmp_path / "stick"
    images.mount(image, mp, "fusefat")
    c = f.make_ceremony(tmp_path, stick_name="stick")
    prefill(mp)
    before = snapshot(mp)
    log = tmp_path / "station.log"
    r = cli(*c.sign_argv("--log", log))
    images.umount(mp)
    images.mount(image, mp, "fusefat")
    events = [e["event"] for e in log_entries(log)]
    if r.rc == 0:
        assert all((mp / n).exists() for n in EXPORTED)
        assert events == ["signing", "issued", "exported"]
    else:
        assert {k: v[0] for k, v in snapshot(mp).items()} == {k: v[0] for k, v in before.items()}
        if events == ["refused"]:  # refused before signing (the folder cannot take new files)
            f.assert_refusal(r)
        else:
            f.assert_refusal(r, "nothing of this export is left on the medium")
            assert events == ["signing", "issued", "export_failed"]
    assert f.temp_leftovers(mp) == []


def test_rename_fallback_on_a_real_fat_filesystem(tmp_path: Path, images, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """write_new_file on a FAT image, whatever FAT driver this machine has: link() is refused
    (FAT has no hard links), the fallback writes the file (the kernel's vfat: renameat2 with
    RENAME_NOREPLACE; fusefat: FUSE answers that with EINVAL, so the name is claimed with O_EXCL
    and the temp file renamed over the placeholder), and after unmounting and mounting again it
    reads back byte-identical. With fusefat, chmod's ENOSYS (the bug above) is tolerated here so
    that the fallback itself is exercised."""
    from byoroot_tui.core import export

    fs = fat_driver()
    image = images.make("fat", "vfat")
    mp = tmp_path / "fat"
    images.mount(image, mp, fs)
    real_chmod, real_link, real_r2 = os.chmod, os.link, export._renameat2_noreplace
    links: list[int] = []
    noreplace: list[int] = []

    def r2(src, dst):  # type: ignore[no-untyped-def]
        try:
            real_r2(src, dst)
        except OSError as exc:
            noreplace.append(exc.errno or 0)
            raise
        noreplace.append(0)

    def chmod(path, mode, *a, **k):  # type: ignore[no-untyped-def]
        try:
            real_chmod(path, mode, *a, **k)
        except OSError as exc:
            if exc.errno != errno.ENOSYS:
                raise

    def link(src, dst, *a, **k):  # type: ignore[no-untyped-def]
        try:
            return real_link(src, dst, *a, **k)
        except OSError as exc:
            links.append(exc.errno or 0)
            raise

    monkeypatch.setattr(os, "chmod", chmod)
    monkeypatch.setattr(os, "link", link)
    monkeypatch.setattr(export, "_renameat2_noreplace", r2)
    data = os.urandom(3000)
    export.write_new_file(mp, "intermediate.crt", data)
    assert links == [errno.EPERM], "FAT refused the hard link: the rename fallback ran"
    if export._renameat2 is not None:
        assert noreplace == ([errno.EINVAL] if fs == "fusefat" else [0]), noreplace
    assert sorted(os.listdir(mp)) == ["intermediate.crt"], "no temp file left"
    images.umount(mp)
    images.mount(image, mp, fs)
    assert (mp / "intermediate.crt").read_bytes() == data
    from byoroot_tui.core.errors import ExportFailed

    with pytest.raises(ExportFailed, match="already exists"):
        export.write_new_file(mp, "intermediate.crt", b"other")
    assert (mp / "intermediate.crt").read_bytes() == data


# ----------------------------------------------------------------------------- (d) never replaced without --force


@pytest.mark.parametrize("existing", EXPORTED)
def test_existing_file_on_the_medium_is_never_replaced_without_force(existing: str, tmp_path: Path, images, cli) -> None:  # type: ignore[no-untyped-def]
    """On a real ext4 medium: any of the three files already there refuses the ceremony before the
    key is touched; with --force all three are replaced."""
    image = images.make("stick", "ext4")
    mp = tmp_path / "stick"
    images.mount(image, mp, "ext4")
    c = f.make_ceremony(tmp_path, stick_name="stick")
    prefill(mp)
    (mp / existing).write_bytes(b"an earlier ceremony's file\n")
    past = time.time() - 3600
    os.utime(mp / existing, (past, past))
    before = snapshot(mp)
    log = tmp_path / "station.log"

    r = cli(*c.sign_argv("--log", log))
    f.assert_refusal(r, existing, "already exists", "--force")
    assert snapshot(mp) == before
    assert [e["event"] for e in log_entries(log)] == ["refused"]

    r = cli(*c.sign_argv("--log", log, "--force"))
    assert r.rc == 0, r.err
    assert (mp / existing).read_bytes() != b"an earlier ceremony's file\n"
    assert all((mp / n).exists() for n in EXPORTED)
    assert f.temp_leftovers(mp) == []
    assert [e["event"] for e in log_entries(log)] == ["refused", "signing", "issued", "exported"]


def test_file_appearing_during_the_export_is_not_replaced(tmp_path: Path, tmpfs, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Another writer creates intermediate.crt between the check and the link: it is kept as is."""
    from byoroot_tui.core import export
    from byoroot_tui.core.errors import ExportFailed

    mp = tmpfs.mount("stick", size="64k")
    real_link = os.link

    def racing_link(src, dst, *a, **k):  # type: ignore[no-untyped-def]
        Path(dst).write_bytes(b"the other writer's file\n")
        return real_link(src, dst, *a, **k)

    monkeypatch.setattr(os, "link", racing_link)
    with pytest.raises(ExportFailed, match="appeared .* meanwhile; not overwritten"):
        export.write_new_file(mp, "intermediate.crt", b"ours\n")
    assert os.listdir(mp) == ["intermediate.crt"]
    assert (mp / "intermediate.crt").read_bytes() == b"the other writer's file\n"


class SecondWriter:
    """Another process that creates ``target`` exclusively at the worst moment: right before the
    export's first publishing call that names it once the hard link was refused (the window the old
    check-then-rename had between ``exists()`` and ``rename()``). It hooks every call that can give
    the name a file: os.rename, os.replace, os.open and export's renameat2 helper (unless told to
    leave that one alone, for a filesystem where it only reports EINVAL)."""

    def __init__(self, monkeypatch, target: Path, *, renameat2: bool = True) -> None:  # type: ignore[no-untyped-def]
        from byoroot_tui.core import export

        self.target = target
        self.fired: list[str] = []
        real = {"rename": os.rename, "replace": os.replace, "open": os.open,
                "renameat2": getattr(export, "_renameat2_noreplace", None)}

        def hook(name: str, dst_arg: int):  # type: ignore[no-untyped-def]
            def call(*a, **k):  # type: ignore[no-untyped-def]
                if not self.fired and Path(a[dst_arg]) == self.target:
                    self.fired.append(name)
                    fd = real["open"](self.target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                    os.write(fd, b"the other writer's file\n")
                    os.close(fd)
                return real[name](*a, **k)
            return call

        monkeypatch.setattr(os, "rename", hook("rename", 1))
        monkeypatch.setattr(os, "replace", hook("replace", 1))
        monkeypatch.setattr(os, "open", hook("open", 0))
        if renameat2:
            monkeypatch.setattr(export, "_renameat2_noreplace", hook("renameat2", 1), raising=False)


@pytest.mark.parametrize("noreplace", ["renameat2", "no-renameat2"])
def test_file_appearing_during_the_fat_fallback_is_not_replaced(noreplace: str, tmp_path: Path, tmpfs, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """As above, on the fallback FAT sticks take (link refused with EPERM, as FAT does): with
    renameat2(RENAME_NOREPLACE) (the kernel's vfat), and without it (FAT through FUSE), where the
    name is claimed with O_EXCL first. (The old check-then-rename replaced the other file here.)"""
    from byoroot_tui.core import export
    from byoroot_tui.core.errors import ExportFailed

    mp = tmpfs.mount("stick", size="64k")

    def no_links(src, dst, *a, **k):  # type: ignore[no-untyped-def]
        raise OSError(errno.EPERM, "Operation not permitted")

    def unsupported(src, dst):  # type: ignore[no-untyped-def]
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(os, "link", no_links)
    if noreplace == "no-renameat2":  # as FUSE answers RENAME_NOREPLACE for a new name
        monkeypatch.setattr(export, "_renameat2_noreplace", unsupported, raising=False)
    writer = SecondWriter(monkeypatch, mp / "intermediate.crt", renameat2=noreplace == "renameat2")
    with pytest.raises(ExportFailed, match="appeared .* meanwhile; not overwritten"):
        export.write_new_file(mp, "intermediate.crt", b"ours\n")
    assert writer.fired == (["renameat2"] if noreplace == "renameat2" else ["open"])
    assert os.listdir(mp) == ["intermediate.crt"], "no temp file, no placeholder"
    assert (mp / "intermediate.crt").read_bytes() == b"the other writer's file\n"


@pytest.mark.parametrize("way", ["renameat2", "claim"])
def test_fat_export_refuses_a_file_that_appears_and_leaves_nothing(way: str, tmp_path: Path, images, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """On a real FAT image: another writer creates intermediate.crt right after FAT refused the hard
    link. The kernel's RENAME_NOREPLACE (or, forced, the O_EXCL claim FUSE falls back to) refuses;
    the other file, the stick's other files and no temp file or placeholder are on the medium,
    also after unmounting and mounting it again."""
    from byoroot_tui.core import export
    from byoroot_tui.core.errors import ExportFailed

    if way == "renameat2" and export._renameat2 is None:
        pytest.skip("this C library has no renameat2")
    fs = fat_driver()
    image = images.make("fat", "vfat")
    mp = tmp_path / "fat"
    images.mount(image, mp, fs)
    prefill(mp)
    before = {k: v[0] for k, v in snapshot(mp).items()}
    target = mp / "intermediate.crt"
    real_link, real_r2 = os.link, export._renameat2_noreplace
    noreplace: list[int] = []

    def link_then_other_writer(src, dst, *a, **k):  # type: ignore[no-untyped-def]
        try:
            return real_link(src, dst, *a, **k)
        except OSError:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, b"the other writer's file\n")
            os.close(fd)
            raise

    def r2(src, dst):  # type: ignore[no-untyped-def]
        if way == "claim":
            noreplace.append(errno.EINVAL)
            raise OSError(errno.EINVAL, "Invalid argument")
        try:
            real_r2(src, dst)
        except OSError as exc:
            noreplace.append(exc.errno or 0)
            raise
        noreplace.append(0)

    monkeypatch.setattr(os, "link", link_then_other_writer)
    monkeypatch.setattr(export, "_renameat2_noreplace", r2)
    with pytest.raises(ExportFailed, match="appeared in .* meanwhile; not overwritten"):
        export.write_new_file(mp, "intermediate.crt", os.urandom(2000))
    assert noreplace == ([errno.EEXIST] if way == "renameat2" else [errno.EINVAL])
    expected = {**before, "intermediate.crt": b"the other writer's file\n"}
    assert {k: v[0] for k, v in snapshot(mp).items()} == expected
    monkeypatch.undo()
    images.umount(mp)
    images.mount(image, mp, fs)
    assert {k: v[0] for k, v in snapshot(mp).items()} == expected


def test_fat_failure_after_the_claim_leaves_no_placeholder(tmp_path: Path, images, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """On a real FAT image, the O_EXCL-claim way (what FUSE gets; forced for the kernel's vfat):
    the rename over the placeholder fails; the placeholder and the temp file are removed again."""
    from byoroot_tui.core import export
    from byoroot_tui.core.errors import ExportFailed

    fs = fat_driver()
    image = images.make("fat", "vfat")
    mp = tmp_path / "fat"
    images.mount(image, mp, fs)
    prefill(mp)
    before = {k: v[0] for k, v in snapshot(mp).items()}
    def unsupported(src, dst):  # type: ignore[no-untyped-def]
        raise OSError(errno.EINVAL, "Invalid argument")

    if fs != "fusefat":  # FUSE answers RENAME_NOREPLACE with EINVAL by itself
        monkeypatch.setattr(export, "_renameat2_noreplace", unsupported)
    seen: list[int] = []

    def failing_rename(src, dst, *a, **k):  # type: ignore[no-untyped-def]
        seen.append(os.lstat(dst).st_size)  # the placeholder is on the FAT
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "rename", failing_rename)
    with pytest.raises(ExportFailed, match="I/O error .* nothing was left behind"):
        export.write_new_file(mp, "intermediate.crt", os.urandom(2000))
    monkeypatch.undo()
    assert seen == [0]
    assert {k: v[0] for k, v in snapshot(mp).items()} == before
    images.umount(mp)
    images.mount(image, mp, fs)
    assert {k: v[0] for k, v in snapshot(mp).items()} == before
