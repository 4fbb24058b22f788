"""Shared fixtures: the CLI runner, ceremonies on disk, tmpfs mounts."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest

import factories as f


@pytest.fixture(autouse=True)
def _isolated_user_folders(tmp_path_factory, monkeypatch):  # type: ignore[no-untyped-def]
    """No test reads or writes the real user's profiles or station log."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))


@pytest.fixture
def cli(capsys):  # type: ignore[no-untyped-def]
    """Call ``byoroot_tui.cli.main(argv)`` in-process and capture what it prints."""
    from byoroot_tui import cli as cli_module

    def run(*argv: object) -> f.Run:
        capsys.readouterr()
        try:
            rc = cli_module.main([str(a) for a in argv])
        except SystemExit as exc:  # argparse usage errors
            rc = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return f.Run(rc, out, err)

    return run


@pytest.fixture
def ceremony(tmp_path):  # type: ignore[no-untyped-def]
    def make(**kwargs) -> f.Ceremony:  # type: ignore[no-untyped-def]
        return f.make_ceremony(tmp_path, **kwargs)

    return make


class Tmpfs:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.mounted: list[Path] = []

    def mount(self, name: str, size: str = "64k") -> Path:
        if os.geteuid() != 0:
            pytest.fail("this test mounts a tmpfs and needs root (CI runs as root)")
        mp = self.base / name
        mp.mkdir()
        r = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mp)],
            capture_output=True, text=True,
        )
        if r.returncode != 0:
            pytest.fail(f"cannot mount a tmpfs at {mp}: {r.stderr.strip()}")
        self.mounted.append(mp)
        return mp

    def remount_readonly(self, mp: Path) -> None:
        r = subprocess.run(["mount", "-o", "remount,ro", str(mp)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.fail(f"cannot remount {mp} read-only: {r.stderr.strip()}")

    @staticmethod
    def fill(mp: Path) -> Path:
        """Fill the filesystem completely with one file; return its path."""
        filler = mp / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            for chunk in (4096, 512, 1):
                while True:
                    try:
                        os.write(fd, b"\0" * chunk)
                    except OSError as exc:
                        assert exc.errno == errno.ENOSPC
                        break
        finally:
            os.close(fd)
        st = os.statvfs(mp)
        assert st.f_bavail * st.f_frsize < 1024
        return filler

    def cleanup(self) -> None:
        for mp in reversed(self.mounted):
            r = subprocess.run(["umount", str(mp)], capture_output=True)
            if r.returncode != 0:
                subprocess.run(["umount", "-l", str(mp)], capture_output=True)


@pytest.fixture
def tmpfs(tmp_path):  # type: ignore[no-untyped-def]
    t = Tmpfs(tmp_path)
    yield t
    t.cleanup()


def pytest_addoption(parser):  # type: ignore[no-untyped-def]
    parser.addoption(
        "--update-snapshots", action="store_true", default=False,
        help="write the screen snapshots in tests/snapshots/ anew instead of comparing (tests/test_ui_snapshots.py)",
    )
