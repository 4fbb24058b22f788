"""The CLI's doors into the app: `byoroot`, `byoroot tui`, `byoroot demo` (in a real pty)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from byoroot_tui.cli import main
from byoroot_tui.core.demo import DEMO_CSR_NAME, DEMO_WARNING, make_demo
from byoroot_tui.ui.drive import PtyProcess

REPO = Path(__file__).resolve().parent.parent
BYOROOT = [sys.executable, "-m", "byoroot_tui"]
ENV = {"PYTHONPATH": str(REPO)}


def exit_code(argv: list[str]) -> int:
    """main() returns the code; argparse may also raise SystemExit (help, usage errors)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2


def test_tui_options_are_documented(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code(["tui", "--help"]) == 0
    out = capsys.readouterr().out
    for opt in ("--media-root", "--csr", "--root-cert", "--root-key", "--out"):
        assert opt in out


def test_without_a_terminal_the_app_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "needs a terminal" in capsys.readouterr().err
    assert main(["tui", "--media-root", "/tmp"]) == 2


def test_app_options_before_another_command_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code(["--csr", "x.csr", "inspect", "y.csr"]) == 2


@pytest.mark.parametrize("argv", [
    [], ["--media-root", "/m"], ["--media-root=/m", "--csr", "sign", "--media-root", "/n"],
    ["--root-cert", "r.crt", "--root-key", "r.key", "--pkcs11-module", "/p.so", "--out", "o", "--profiles", "p"],
])
def test_the_apps_own_options_parse_alike_without_the_commands_parsers(argv: list[str]) -> None:
    """`byoroot` with the app's options only is parsed without building every command's parser
    (cold start); it must read exactly as the whole command line reads it."""
    from byoroot_tui.cli import app_options_only, build_parser

    assert app_options_only(argv)
    assert vars(build_parser(commands=False).parse_args(argv)) == vars(build_parser().parse_args(argv))


@pytest.mark.parametrize("argv", [
    ["inspect", "x.csr"], ["--help"], ["--media-root"], ["--media", "/m"], ["--csr", "x.csr", "sign"], ["bogus"],
])
def test_anything_else_gets_the_whole_command_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from byoroot_tui.cli import app_options_only

    assert not app_options_only(argv)


class _FakeApp:
    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.gc_during_run: bool | None = None

    def run(self) -> int:
        import gc

        self.gc_during_run = gc.isenabled()
        if self.fail:
            raise RuntimeError("the app broke")
        return 0


@pytest.mark.parametrize("fail", [False, True])
def test_the_app_runs_with_gc_on_and_the_collector_is_given_back_after(monkeypatch: pytest.MonkeyPatch, fail: bool,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    import gc

    import byoroot_tui.ui.app as ui_app
    from byoroot_tui import cli

    app = _FakeApp(fail)
    monkeypatch.setattr(ui_app, "make_app", lambda **kw: app)
    monkeypatch.setattr(cli.sys, "stdin", type("T", (), {"isatty": lambda self: True})())
    monkeypatch.setattr(cli.sys, "stdout", type("T", (), {"isatty": lambda self: True})())
    assert gc.isenabled()
    assert cli.main([]) == (1 if fail else 0)  # a failing app: one line, no traceback
    assert app.gc_during_run is True  # a commands runs with it off (cli.main); the app, as long as a ceremony, with it on
    assert gc.isenabled()
    if fail:
        assert "internal error (RuntimeError)" in capsys.readouterr().err


def test_gc_is_off_during_a_command_and_given_back_after(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    import gc

    from byoroot_tui import cli

    during: list[bool] = []
    real = cli.COMMANDS["inspect"]

    def inspect(args):  # type: ignore[no-untyped-def]
        during.append(gc.isenabled())
        return real(args)

    monkeypatch.setitem(cli.COMMANDS, "inspect", inspect)
    assert exit_code(["inspect", str(tmp_path / "missing.csr")]) == 1  # a refusal
    assert during == [False]
    assert gc.isenabled()
    assert exit_code(["--version"]) == 0
    assert gc.isenabled()


@pytest.mark.parametrize("rc", [0, 3])
def test_the_console_script_exits_with_mains_code_and_leaves_its_objects_to_the_exit(
        monkeypatch: pytest.MonkeyPatch, rc: int) -> None:
    import gc

    from byoroot_tui import cli

    monkeypatch.setattr(cli, "main", lambda: rc)
    gc.unfreeze()
    try:
        with pytest.raises(SystemExit) as exc:
            cli.run()
        assert exc.value.code == rc
        assert gc.get_freeze_count() > 0  # the interpreter's last collection will not walk them
    finally:
        gc.unfreeze()


def test_the_installed_console_script_is_run() -> None:
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "byoroot"]
    assert script.value == "byoroot_tui.cli:run"


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("inspect", "sign", "verify", "profiles", "log", "demo", "tui"):
        assert command in out
    assert exit_code(["bogus"]) == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err


def test_inspect_and_sign_never_import_textual(tmp_path: Path) -> None:
    m = make_demo(tmp_path)
    code = (
        "import sys\nfrom byoroot_tui.cli import main\n"
        f"main(['inspect', {str(m.csr)!r}])\n"
        f"main(['sign', {str(m.csr)!r}, '--root-cert', {str(m.root_cert)!r}, '--root-key', {str(m.root_key)!r}, "
        "'--officer', 'A', '--officer', 'B'])\n"
        "print('TEXTUAL' if any(k.split('.')[0] in ('textual', 'rich') for k in sys.modules) else 'CLEAN')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **ENV})
    assert out.stdout.strip().endswith("CLEAN"), out.stdout + out.stderr
    assert (m.stick / "intermediate.crt").exists()


def test_demo_headless_still_works(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--headless", "--dir", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert DEMO_WARNING in out and "Verified." in out


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pty")
def test_byoroot_with_media_root_shows_the_csr_on_the_first_screen(tmp_path: Path) -> None:
    """The issue's example, through the real entry point on a real (pseudo) terminal."""
    m = make_demo(tmp_path / "material")
    media_root = tmp_path / "M"
    (media_root / "stick").mkdir(parents=True)
    shutil.copy(m.csr, media_root / "stick" / DEMO_CSR_NAME)
    p = PtyProcess(BYOROOT + ["--media-root", str(media_root)], size=(80, 24), env=ENV)
    try:
        assert p.read_until(DEMO_CSR_NAME) is not None, p.text()[-2000:]
        assert p.read_until("1 Media") is not None
    finally:
        p.send("\x11")  # ctrl+q
        rc = p.close()
    assert rc == 0


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pty")
def test_byoroot_demo_starts_the_app_on_the_demo_material(tmp_path: Path) -> None:
    p = PtyProcess(BYOROOT + ["demo", "--dir", str(tmp_path / "demo")], size=(80, 24), env=ENV)
    try:
        assert p.read_until(DEMO_WARNING) is not None  # printed before the app starts
        assert p.read_until("DEMO — throwaway root key") is not None, p.text()[-2000:]  # the banner in the app
        assert p.read_until(DEMO_CSR_NAME) is not None
    finally:
        p.send("\x11")
        rc = p.close()
    assert rc == 0
    assert (tmp_path / "demo" / "stick" / DEMO_CSR_NAME).exists()


def test_ctrl_c_while_byoroot_starts_is_one_line_and_other_errors_keep_their_traceback() -> None:
    import subprocess
    import sys

    interrupted = subprocess.run([sys.executable, "-c", "import byoroot_tui; raise KeyboardInterrupt"],
                                 capture_output=True, text=True, timeout=60)
    assert interrupted.stderr == "byoroot: interrupted\n"
    assert interrupted.returncode != 0
    other = subprocess.run([sys.executable, "-c", "import byoroot_tui; raise ValueError('not ours')"],
                           capture_output=True, text=True, timeout=60)
    assert "Traceback" in other.stderr and "ValueError: not ours" in other.stderr
