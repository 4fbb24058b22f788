"""The station bundle (issue 15): `make bundle` (scripts/bundle.py) from fresh clones of HEAD,
byte for byte the same in two folders; its manifest against the tar's contents; `sh install.sh`
with no network at all (`unshare -n`: a network namespace of its own, run as root), then a
headless demo ceremony, `byoroot --version` and `byoroot self-check`, which names a changed and
a missing installed file.

Real, no mocks: the builds download the wheels locked in bundle/requirements.txt (network to the
package index; pip's cache makes the second build quick), and the install uses the machine's own
Debian python3 and python3-venv (`.ci/run` installs python3-venv; `unshare` is util-linux's).
What the tests check is the last commit: a bundle is built from HEAD.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from byoroot_tui import __version__
from byoroot_tui.core.fingerprint import pgp_words

REPO = Path(__file__).resolve().parents[1]
NAME = f"byoroot-station-{__version__}"
TARGETS = {f"cp{py}-manylinux-{arch}" for py in ("311", "313") for arch in ("x86_64", "aarch64")}
STATION_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"  # Debian's python3, not a developer's


def _clone_and_build(where: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(where)], check=True)
    subprocess.run([sys.executable, str(where / "scripts" / "bundle.py")], check=True, cwd=where,
                   stdout=subprocess.DEVNULL)
    out = list((where / "dist").iterdir())
    assert [p.name for p in out] == [f"{NAME}.tar.gz"], "make bundle makes exactly one file"
    return out[0]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two full bundles (all four targets), from two fresh clones of HEAD in different folders."""
    base = tmp_path_factory.mktemp("bundle")
    first = _clone_and_build(base / "one")
    second = _clone_and_build(base / "elsewhere" / "deeper" / "two")
    return first, second


@pytest.fixture(scope="module")
def station(bundles: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The bundle unpacked and installed with `sh install.sh DIR` in a namespace with no network."""
    assert shutil.which("unshare"), "unshare (util-linux) is needed to install with no network"
    base = tmp_path_factory.mktemp("station")
    with tarfile.open(bundles[0]) as tar:
        tar.extractall(base, filter="data")
    venv = base / "opt-byoroot"
    env = {"PATH": STATION_PATH, "HOME": str(base), "LANG": "C.UTF-8"}
    r = subprocess.run(["unshare", "-n", "sh", str(base / NAME / "install.sh"), str(venv)], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return {"base": base, "venv": venv, "env": env, "out": r.stdout,
            "manifest": (base / NAME / "MANIFEST.json").read_bytes()}


def _offline(station: dict[str, object], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["unshare", "-n", *argv], env=station["env"], capture_output=True, text=True,  # type: ignore[arg-type]
                          timeout=300)


def test_two_builds_in_fresh_clones_are_byte_identical(bundles: tuple[Path, Path]) -> None:
    first, second = bundles
    assert first.read_bytes() == second.read_bytes()


def test_the_tar_is_normalised_and_the_manifest_lists_every_file(bundles: tuple[Path, Path]) -> None:
    data = bundles[0].read_bytes()
    assert data[:4] == b"\x1f\x8b\x08\x00", "gzip with no file name in the header (FLG 0)"
    assert data[4:8] == b"\x00\x00\x00\x00", "gzip mtime 0"
    epoch = int(subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%ct"], capture_output=True,
                               text=True, check=True).stdout)
    contents: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        members = tar.getmembers()
        files = [m.name for m in members if m.isfile()]
        assert files == sorted(files)
        for m in members:
            assert (m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "", "", epoch), m.name
            assert m.name == NAME or m.name.startswith(NAME + "/")
            assert m.isdir() or m.isfile()
            expected_mode = 0o755 if m.isdir() or m.name.endswith("/install.sh") else 0o644
            assert m.mode == expected_mode, (m.name, oct(m.mode))
            if m.isfile():
                contents[m.name[len(NAME) + 1:]] = tar.extractfile(m).read()  # type: ignore[union-attr]
    manifest = json.loads(contents.pop("MANIFEST.json"))
    assert manifest["byoroot_version"] == __version__ and manifest["source_date_epoch"] == epoch
    assert set(manifest["targets"]) == TARGETS
    assert manifest["files"] == {name: hashlib.sha256(body).hexdigest() for name, body in contents.items()}
    assert {"install.sh", "requirements.txt"} <= set(contents)
    wheels = {n.removeprefix("wheels/") for n in contents if n.startswith("wheels/")}
    assert wheels == set(manifest["wheels"]) and len(contents) == len(wheels) + 2
    # byoroot's own wheel, and each platform wheel for every target
    assert any(w.startswith(f"byoroot_tui-{__version__}-py3-none-any") for w in wheels)
    for tag in ("cp311-cp311-manylinux", "cp313-cp313-manylinux"):
        for arch in ("x86_64", "aarch64"):
            assert any(w.startswith("cffi-") and tag in w and arch in w for w in wheels), (tag, arch)
            assert any(w.startswith("python_pkcs11-") and tag in w and arch in w for w in wheels), (tag, arch)
    # requirements.txt pins every wheel by its hash
    requirements = contents["requirements.txt"].decode()
    for name in wheels:
        assert f"--hash=sha256:{manifest['files']['wheels/' + name]}" in requirements, name
    # each wheel's RECORD is in the manifest, as hex SHA-256s
    own = next(w for w in wheels if w.startswith("byoroot_tui-"))
    record = manifest["wheels"][own]["record"]
    committed = subprocess.run(["git", "-C", str(REPO), "show", "HEAD:byoroot_tui/cli.py"], capture_output=True,
                               check=True).stdout
    assert record["byoroot_tui/cli.py"] == hashlib.sha256(committed).hexdigest()


def test_install_offline_then_a_demo_ceremony_names_the_software(station: dict[str, object], tmp_path: Path) -> None:
    # the namespace really has no network
    r = _offline(station, "python3", "-c", "import socket; socket.create_connection(('1.1.1.1', 443), timeout=3)")
    assert r.returncode != 0 and "unreachable" in r.stderr.lower(), r.stderr
    digest = hashlib.sha256(station["manifest"]).hexdigest()  # type: ignore[arg-type]
    out = station["out"]
    assert "Bundle checked:" in out and "Installed into" in out  # type: ignore[operator]
    assert f"byoroot-tui=={__version__}" in out and "cryptography==" in out and "textual==" in out  # type: ignore[operator]
    assert digest in out  # type: ignore[operator]
    words = pgp_words(digest)
    assert " ".join(words[:16]) in out and " ".join(words[16:]) in out  # type: ignore[operator]
    byoroot = str(Path(station["venv"]) / "bin" / "byoroot")  # type: ignore[arg-type]

    r = _offline(station, byoroot, "--version")
    assert r.returncode == 0 and __version__ in r.stdout and digest in r.stdout, r.stdout + r.stderr

    demo = tmp_path / "demo"
    r = _offline(station, byoroot, "demo", "--headless", "--dir", str(demo))
    assert r.returncode == 0, r.stdout + r.stderr
    sheet = next(demo.rglob("ceremony-record.txt")).read_text()
    assert f"byoroot {__version__}, from a station bundle" in sheet
    assert digest[:4].upper() + " " + digest[4:8].upper() in sheet  # the manifest hash, grouped
    entries = [json.loads(line) for line in next(demo.rglob("*.jsonl")).read_text().splitlines()]
    assert entries and all(e["software"] == f"byoroot {__version__}, station bundle manifest SHA-256 {digest}"
                           for e in entries)


def test_self_check_passes_then_names_a_changed_and_a_missing_file(station: dict[str, object]) -> None:
    venv = Path(station["venv"])  # type: ignore[arg-type]
    byoroot = str(venv / "bin" / "byoroot")
    r = _offline(station, byoroot, "self-check")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Self-check passed" in r.stdout and "Not checked:" in r.stdout

    site = next(venv.glob("lib/python3.*/site-packages"))
    changed = site / "byoroot_tui" / "core" / "fingerprint.py"
    dep = next(site.glob("cryptography/__about__.py"))
    saved = changed.read_bytes()
    try:
        changed.write_bytes(saved.replace(b"sha256", b"sha257", 1))
        dep.rename(dep.with_name("moved-away.py"))
        (site / "zz-extra.pth").write_text("import os\n")  # a .pth file runs code at every start
        r = _offline(station, byoroot, "self-check")
        assert r.returncode == 1, r.stdout + r.stderr
        assert f"differs: {changed}" in r.stderr
        assert f"missing: {dep}" in r.stderr
        assert f"not from the bundle: {dep.with_name('moved-away.py')}" in r.stderr
        assert f"not from the bundle: {site / 'zz-extra.pth'}" in r.stderr
        assert "self-check FAILED: 4 problem(s)" in r.stderr
    finally:
        changed.write_bytes(saved)
        (site / "zz-extra.pth").unlink(missing_ok=True)
        if not dep.exists():
            dep.with_name("moved-away.py").rename(dep)
    assert _offline(station, byoroot, "self-check").returncode == 0


def test_a_changed_bundle_is_refused_before_anything_is_installed(bundles: tuple[Path, Path], tmp_path: Path) -> None:
    with tarfile.open(bundles[0]) as tar:
        tar.extractall(tmp_path, filter="data")
    wheel = next((tmp_path / NAME / "wheels").glob("qrcode-*.whl"))
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    r = subprocess.run(["unshare", "-n", "sh", str(tmp_path / NAME / "install.sh"), str(tmp_path / "venv")],
                       env={"PATH": STATION_PATH}, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and f"differs from the manifest: wheels/{wheel.name}" in r.stderr, r.stderr
    assert not (tmp_path / "venv").exists()


def test_the_lock_covers_pyproject_at_the_constraints_versions() -> None:
    """bundle/requirements.txt locks every runtime dependency at constraints.txt's version: after a
    dependency is added or upgraded, `python scripts/bundle.py --lock` must be run (and committed)."""
    spec = importlib.util.spec_from_file_location("bundle_script", REPO / "scripts" / "bundle.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    assert module.check_lock() == []


def test_a_development_install_says_so() -> None:
    bin_dir = Path(sys.executable).parent
    r = subprocess.run([str(bin_dir / "byoroot"), "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == f"byoroot {__version__} (development install: not installed from a station bundle)\n"
    r = subprocess.run([str(bin_dir / "byoroot"), "self-check"], capture_output=True, text=True)
    assert r.returncode == 1 and "development install" in r.stderr and "Traceback" not in r.stderr
    assert os.path.exists(bin_dir / "python")
