"""The core and the CLI never import Textual or Rich (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import factories as f

CORE_DIR = f.REPO / "byoroot_tui" / "core"
FORBIDDEN = ("textual", "rich")


def _core_modules() -> list[str]:
    mods = []
    for path in sorted(CORE_DIR.rglob("*.py")):
        parts = list(path.relative_to(f.REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods.append(".".join(parts))
    return mods


CORE_MODULES = _core_modules()
PROBE = (
    "import importlib, json, sys\n"
    "for m in sys.argv[1:]:\n"
    "    importlib.import_module(m)\n"
    "print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] in ('textual', 'rich'))))\n"
)


def _loaded_forbidden(*modules: str) -> list[str]:
    r = subprocess.run([sys.executable, "-c", PROBE, *modules], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_the_core_folder_is_listed() -> None:
    assert "byoroot_tui.core" in CORE_MODULES
    for expected in ("csr", "issue", "signer", "export", "root", "text", "fingerprint", "verify"):
        assert f"byoroot_tui.core.{expected}" in CORE_MODULES


def test_the_probe_sees_textual_when_it_is_imported() -> None:
    """Control: the check can fail (textual and rich are installed in this venv)."""
    loaded = _loaded_forbidden("textual.app")
    assert any(n.startswith("textual") for n in loaded)
    assert any(n.startswith("rich") for n in loaded)


@pytest.mark.parametrize("module", CORE_MODULES + ["byoroot_tui.cli", "byoroot_tui.__main__"])
def test_module_imports_neither_textual_nor_rich(module: str) -> None:
    assert _loaded_forbidden(module) == []


def test_all_core_modules_and_cli_together() -> None:
    assert _loaded_forbidden(*CORE_MODULES, "byoroot_tui.cli") == []


def test_headless_commands_run_without_textual(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Running inspect, sign, verify and profiles (lazy imports included) pulls in neither."""
    c = f.make_ceremony(tmp_path)
    script = (
        "import json, sys, io, contextlib\n"
        "from byoroot_tui.cli import main\n"
        "csr, rc, rk, cert = sys.argv[1:5]\n"
        "codes = []\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    codes.append(main(['profiles']))\n"
        "    codes.append(main(['inspect', csr]))\n"
        "    codes.append(main(['sign', csr, '--root-cert', rc, '--root-key', rk, '--officer', 'A', '--officer', 'B']))\n"
        "    codes.append(main(['verify', cert, '--root-cert', rc, '--csr', csr]))\n"
        "print(json.dumps([codes, sorted(n for n in sys.modules if n.split('.')[0] in ('textual', 'rich'))]))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", script, str(c.csr), str(c.root_cert), str(c.root_key), str(c.cert_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stderr
    codes, loaded = json.loads(r.stdout.strip().splitlines()[-1])
    assert codes == [0, 0, 0, 0]
    assert loaded == []
