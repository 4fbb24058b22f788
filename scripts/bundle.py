"""`make bundle`: one file to carry into the airgapped room, built reproducibly.

    python scripts/bundle.py [--out DIR] [--only-current]   # dist/byoroot-station-<version>.tar.gz
    python scripts/bundle.py --lock                          # rewrite bundle/requirements.txt

The bundle holds byoroot's wheel, every runtime dependency's wheel for CPython 3.11 and 3.13 on
x86_64 and aarch64 manylinux (Debian 12 and 13, a Raspberry Pi), `install.sh`,
`requirements.txt` (every wheel pinned with its SHA-256, for `pip --require-hashes`) and
`MANIFEST.json` (the SHA-256 of every other file of the bundle, and every file each wheel puts
under site-packages, from its RECORD). The SHA-256 of MANIFEST.json is the bundle's identity:
`install.sh` prints it as hex and PGP words, `byoroot --version`, the ceremony sheet and the
station log carry it, and `byoroot self-check` checks the installed files against it.

Reproducible: the dependency wheels are the exact files locked by hash in
bundle/requirements.txt; byoroot's own wheel is built from the last commit (`git archive HEAD`:
uncommitted changes are not in a bundle; nor are its install.sh and lock) with SOURCE_DATE_EPOCH = that commit's time and a
pinned setuptools; the tar members are sorted, owned by 0:0 with no names, dated
SOURCE_DATE_EPOCH, modes 0644/0755; the gzip header has mtime 0 and no file name.
`--only-current` builds for the running interpreter and machine only (the tests' fast path).
"""

from __future__ import annotations

import argparse
import base64
import csv
import gzip
import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "bundle" / "requirements.txt"
BUILD_CONSTRAINTS = ROOT / "bundle" / "build-constraints.txt"
INSTALL_SH = ROOT / "bundle" / "install.sh"
PYTHONS = ("3.11", "3.13")
ARCHES = ("x86_64", "aarch64")
GLIBC_MAX = 36  # Debian 12 has glibc 2.36: nothing newer may be needed
RUNTIME_NAME = "byoroot-tui"


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, **{"text": True, **kw})  # type: ignore[call-overload]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _platform_args(arch: str) -> list[str]:
    plats = [f"manylinux_2_{m}_{arch}" for m in range(GLIBC_MAX, 16, -1)] + [f"manylinux2014_{arch}"]
    return [a for p in plats for a in ("--platform", p)]


def _download(pip: list[str], py: str, arch: str, dest: Path, reqs: list[str]) -> None:
    abi = "cp" + py.replace(".", "")
    _run([*pip, "download", "--quiet", "--disable-pip-version-check", "--only-binary=:all:",
          *_platform_args(arch), "--python-version", py, "--implementation", "cp",
          "--abi", abi, "--abi", "abi3", "--abi", "none", "-d", str(dest), *reqs])


def _combos(only_current: bool) -> list[tuple[str, str]]:
    if only_current:
        return [(f"{sys.version_info.major}.{sys.version_info.minor}", platform.machine())]
    return [(py, arch) for py in PYTHONS for arch in ARCHES]


def _dist_name(wheel: str) -> str:
    return wheel.split("-")[0].replace("_", "-").lower()


def write_lock(pip: list[str]) -> None:
    """Resolve byoroot's runtime dependencies at constraints.txt's versions for every target and
    write each wheel's name, version and SHA-256 to bundle/requirements.txt."""
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    found: dict[tuple[str, str], set[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for py, arch in _combos(False):
            dest = Path(tmp) / f"{py}-{arch}"
            _download(pip, py, arch, dest, ["-c", str(ROOT / "constraints.txt"), *deps])
            for whl in sorted(dest.glob("*.whl")):
                name, version = whl.name.split("-")[:2]
                found.setdefault((_dist_name(whl.name), version), set()).add(_sha256(whl))
    lines = ["# The exact wheels of byoroot's runtime dependencies in the station bundle, for CPython 3.11 and 3.13",
             "# on x86_64 and aarch64 manylinux (glibc <= 2.36), by SHA-256: `make bundle` downloads these files",
             "# and no others. Made by `python scripts/bundle.py --lock` from constraints.txt's versions.",
             "# byoroot's own wheel is added with its hash when the bundle is built."]
    for (name, version), hashes in sorted(found.items()):
        lines.append(f"{name}=={version} \\")
        lines += [f"    --hash=sha256:{h} \\" for h in sorted(hashes)]
        lines[-1] = lines[-1].removesuffix(" \\")
    LOCK.write_text("\n".join(lines) + "\n")
    print(f"wrote {LOCK.relative_to(ROOT)}: {len(found)} packages")


def _pins(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if "==" in line and not line.startswith("-"):
            name, _, version = line.partition("==")
            pins[_dist_name(name.strip())] = version.split()[0].rstrip("\\").strip()
    return pins


def check_lock(root: Path = ROOT) -> list[str]:
    """What is wrong with bundle/requirements.txt against pyproject.toml and constraints.txt (in
    the tree ``root``): a runtime dependency that is not locked, or locked at another version
    than constraints.txt's."""
    import tomllib

    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    constraints = _pins((root / "constraints.txt").read_text())
    locked = _pins((root / LOCK.relative_to(ROOT)).read_text())
    problems = []
    for dep in deps:
        name = _dist_name(dep.split(">")[0].split("<")[0].split("=")[0].split("[")[0].split(";")[0].strip())
        if name not in locked:
            problems.append(f"{name} is a dependency in pyproject.toml but not in bundle/requirements.txt")
    for name, version in sorted(locked.items()):
        if constraints.get(name, version) != version:
            problems.append(f"{name} is {version} in bundle/requirements.txt but {constraints[name]} in constraints.txt")
    return problems


def _source_date_epoch() -> int:
    out = _run(["git", "-C", str(ROOT), "log", "-1", "--format=%ct"], capture_output=True).stdout
    return int(out.strip())


def _last_commit(src: Path) -> None:
    """The last commit's tree (`git archive HEAD`) into ``src``: everything in a bundle comes from
    it, so uncommitted changes of the working tree never get in."""
    src.mkdir()
    archive = _run(["git", "-C", str(ROOT), "archive", "--format=tar", "HEAD"], capture_output=True,
                   text=False).stdout  # type: ignore[call-overload]
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(src, filter="data")


def _build_wheel(pip: list[str], epoch: int, dest: Path, work: Path, src: Path) -> Path:
    """byoroot's wheel from the last commit, dated SOURCE_DATE_EPOCH, with the pinned setuptools."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch),
           "PIP_CONSTRAINT": str(src / BUILD_CONSTRAINTS.relative_to(ROOT)),
           "PYTHONHASHSEED": "0"}
    _run([*pip, "wheel", "--quiet", "--disable-pip-version-check", "--no-deps", "-w", str(dest), str(src)],
         env=env, cwd=work)
    wheels = list(dest.glob("byoroot_tui-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"bundle: expected one byoroot wheel, found {wheels}")
    return wheels[0]


def _record(wheel: Path) -> dict[str, str]:
    """The wheel's RECORD: each installed path (relative to site-packages) and its SHA-256 hex.
    RECORD itself has no hash; files under *.data/ go elsewhere than site-packages and are kept
    with their wheel path."""
    with zipfile.ZipFile(wheel) as z:
        record_name = next(n for n in z.namelist() if n.endswith(".dist-info/RECORD"))
        rows = list(csv.reader(io.StringIO(z.read(record_name).decode("utf-8"))))
    files: dict[str, str] = {}
    for row in rows:
        if len(row) < 2 or not row[1]:
            continue
        algo, _, digest = row[1].partition("=")
        if algo != "sha256":
            raise SystemExit(f"bundle: {wheel.name} records {row[0]} with {algo}, not sha256")
        files[row[0]] = base64.urlsafe_b64decode(digest + "=" * (-len(digest) % 4)).hex()
    return files


def _tar_gz(out: Path, top: str, files: dict[str, bytes], executable: set[str], epoch: int) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted({str(Path(n).parent) for n in files if str(Path(n).parent) != "."})
        for name in ["", *dirs]:
            info = tarfile.TarInfo(f"{top}/{name}".rstrip("/"))
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, epoch
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info)
        for name in sorted(files):
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mtime = len(files[name]), epoch
            info.mode = 0o755 if name in executable else 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(files[name]))
    with open(out, "wb") as f, gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())


def build(pip: list[str], out_dir: Path, only_current: bool) -> Path:
    import re

    epoch = _source_date_epoch()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = work / "src"
        _last_commit(src)
        version = re.search(r'^__version__ = "([^"]+)"', (src / "byoroot_tui" / "__init__.py").read_text(), re.M)
        __version__ = version.group(1)  # type: ignore[union-attr]
        top = f"byoroot-station-{__version__}"
        problems = check_lock(src)
        if problems:
            raise SystemExit("bundle: bundle/requirements.txt of the last commit is out of date (run "
                             "`python scripts/bundle.py --lock` and commit it):\n  " + "\n  ".join(problems))
        lock = src / LOCK.relative_to(ROOT)
        wheels = work / "wheels"
        wheels.mkdir()
        own = _build_wheel(pip, epoch, work / "own", work, src)
        shutil.copy(own, wheels / own.name)
        for py, arch in _combos(only_current):
            _download(pip, py, arch, wheels, ["--no-deps", "--require-hashes", "-r", str(lock)])
        lock_text = lock.read_text()
        requirements = (f"# Install with: pip install --no-index --find-links wheels --require-hashes -r requirements.txt\n"
                        f"{RUNTIME_NAME}=={__version__} --hash=sha256:{_sha256(own)}\n"
                        + "".join(line + "\n" for line in lock_text.splitlines() if not line.startswith("#")))
        files: dict[str, bytes] = {
            "install.sh": (src / INSTALL_SH.relative_to(ROOT)).read_bytes(),
            "requirements.txt": requirements.encode(),
        }
        for whl in sorted(wheels.glob("*.whl")):
            files[f"wheels/{whl.name}"] = whl.read_bytes()
        manifest = {
            "format": "byoroot-station-manifest v1",
            "byoroot_version": __version__,
            "source_date_epoch": epoch,
            "targets": [f"cp{py.replace('.', '')}-manylinux-{arch}" for py, arch in _combos(only_current)],
            "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
            "wheels": {whl.name: {"name": _dist_name(whl.name), "version": whl.name.split("-")[1],
                                  "record": _record(whl)} for whl in sorted(wheels.glob("*.whl"))},
        }
        files["MANIFEST.json"] = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
        out_dir.mkdir(parents=True, exist_ok=True)
        out = out_dir / f"{top}.tar.gz"
        _tar_gz(out, top, files, {"install.sh"}, epoch)
    digest = hashlib.sha256(files["MANIFEST.json"]).hexdigest()
    print(f"{out}  ({out.stat().st_size / 1e6:.1f} MB, {len(files) - 3} wheels)")
    print(f"  bundle SHA-256:   {_sha256(out)}")
    print(f"  manifest SHA-256: {digest}")

    sys.path.insert(0, str(ROOT))
    from byoroot_tui.core.fingerprint import pgp_words

    print(f"  as PGP words:     {' '.join(pgp_words(digest))}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "dist"), help="folder for the bundle (default: dist/)")
    ap.add_argument("--only-current", action="store_true",
                    help="only this interpreter's Python version and this machine (for tests)")
    ap.add_argument("--lock", action="store_true", help="rewrite bundle/requirements.txt from constraints.txt")
    args = ap.parse_args()
    pip = [sys.executable, "-m", "pip"]
    if args.lock:
        write_lock(pip)
    else:
        build(pip, Path(args.out), args.only_current)
    return 0


if __name__ == "__main__":
    sys.exit(main())
