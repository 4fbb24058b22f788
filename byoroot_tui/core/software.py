"""Which software this is: byoroot's version and, when installed from a station bundle
(scripts/bundle.py, bundle/install.sh), the SHA-256 of the bundle's MANIFEST.json, which
install.sh copies to ``<venv>/share/byoroot/station-manifest.json``. Otherwise it is a
"development install". The sheet, every station-log entry and `byoroot --version` say it;
`byoroot self-check` checks the installed files against that manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import sysconfig
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from byoroot_tui import __version__

DEVELOPMENT = "development install"
# Files an installer writes into a dist-info folder itself: not in the wheel's RECORD (RECORD is
# listed there without a hash, as it cannot hash itself).
_INSTALLER_FILES = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
# The virtual environment's own installer, from the station's python3-venv, not from the bundle.
_VENV_OWN = {"pip", "setuptools"}


def manifest_path() -> Path:
    return Path(sys.prefix) / "share" / "byoroot" / "station-manifest.json"


@lru_cache(maxsize=1)
def manifest_sha256() -> str | None:
    """The SHA-256 (hex) of the installed bundle manifest, or None for a development install."""
    try:
        return hashlib.sha256(manifest_path().read_bytes()).hexdigest()
    except OSError:
        return None


def software_id() -> str:
    """One line naming the software, for the sheet and the station log."""
    digest = manifest_sha256()
    if digest is None:
        return f"byoroot {__version__} ({DEVELOPMENT})"
    return f"byoroot {__version__}, station bundle manifest SHA-256 {digest}"


def version_text() -> str:
    """What `byoroot --version` prints."""
    digest = manifest_sha256()
    if digest is None:
        return f"byoroot {__version__} ({DEVELOPMENT}: not installed from a station bundle)\n"
    from byoroot_tui.core.fingerprint import grouped_hex, pgp_words

    words = pgp_words(digest)
    return (f"byoroot {__version__}\n"
            f"Station bundle manifest SHA-256:\n  {digest}\n"
            f"  {grouped_hex(digest, per_line=8).replace(chr(10), chr(10) + '  ')}\n"
            f"As PGP words (read aloud in order):\n  {' '.join(words[:16])}\n  {' '.join(words[16:])}\n")


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class SelfCheck:
    ok: bool
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def self_check() -> SelfCheck:
    """Re-hash every file that byoroot's and its dependencies' wheels put under site-packages,
    as the manifest lists them (from each wheel's RECORD), and name each that differs or is
    missing. Also names any other package installed in the environment (pip and setuptools of
    the venv itself excepted) and any other file under site-packages (a `.pth` file dropped
    there would run code at every start). Not checked: what the installer generates (bytecode caches,
    bin/ scripts, the dist-info RECORD/INSTALLER/REQUESTED files) and the Python interpreter."""
    from importlib.metadata import distributions

    path = manifest_path()
    try:
        manifest = json.loads(path.read_bytes())
        wheels = manifest["wheels"]
    except (OSError, ValueError, KeyError, TypeError):
        return SelfCheck(False, problems=[f"no station bundle manifest at {path}: this is a "
                                          f"{DEVELOPMENT}, not installed from a station bundle"])
    site = Path(sysconfig.get_paths()["purelib"])
    plat = Path(sysconfig.get_paths()["platlib"])
    result = SelfCheck(True)
    installed = {}
    known: set[str] = set()  # every file under site-packages that is accounted for
    for dist in distributions(path=sorted({str(site), str(plat)})):
        installed[_canon(dist.metadata["Name"])] = dist.version
        if _canon(dist.metadata["Name"]) in _VENV_OWN:
            known.update(os.path.normpath(dist.locate_file(f)) for f in dist.files or [])
    expected: dict[str, list[dict[str, object]]] = {}
    for info in wheels.values():
        expected.setdefault(_canon(info["name"]), []).append(info)
    for name, candidates in sorted(expected.items()):
        if name not in installed:
            result.problems.append(f"missing: the package {name} is not installed")
            continue
        best: list[str] | None = None
        count = 0
        paths: set[str] = set()
        for info in candidates:  # a package has one wheel per target: the installed one differs least
            if info["version"] != installed[name]:
                continue
            problems, n, seen = _check_record(info["record"], site, plat)  # type: ignore[arg-type]
            if best is None or len(problems) < len(best):
                best, count, paths = problems, n, seen
        known.update(paths)
        if best is None:
            result.problems.append(f"differs: {name} {installed[name]} is installed, the bundle has "
                                   f"{candidates[0]['version']}")
            continue
        result.problems += best
        result.checked += count
    for name in sorted(set(installed) - set(expected)):
        if name in _VENV_OWN:
            result.notes.append(f"{name} {installed[name]} is the virtual environment's own (from the station's "
                                "python3-venv), not from the bundle: not checked")
        else:
            result.problems.append(f"not from the bundle: the package {name} {installed[name]} is installed too")
    for top in sorted({str(site), str(plat)}):
        for folder, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")  # bytecode: generated, not checked
            for file in sorted(files):
                where = os.path.normpath(os.path.join(folder, file))
                if where in known or (folder.endswith(".dist-info") and file in _INSTALLER_FILES):
                    continue
                result.problems.append(f"not from the bundle: {where}")
    result.ok = not result.problems
    return result


def _check_record(record: dict[str, str], site: Path, plat: Path) -> tuple[list[str], int, set[str]]:
    problems = []
    count = 0
    seen: set[str] = set()
    for rel, digest in sorted(record.items()):
        parts = rel.split("/")
        if parts[0].endswith(".data"):  # scripts, headers, data: installed outside site-packages
            continue
        if parts[0].endswith(".dist-info") and parts[-1] in _INSTALLER_FILES:
            continue
        count += 1
        target = site / rel
        if not target.exists() and (plat / rel).exists():
            target = plat / rel
        seen.add(os.path.normpath(target))
        try:
            actual = hashlib.sha256(target.read_bytes()).hexdigest()
        except FileNotFoundError:
            problems.append(f"missing: {target}")
            continue
        except OSError as exc:
            problems.append(f"cannot read: {target} ({exc.strerror})")
            continue
        if actual != digest:
            problems.append(f"differs: {target}")
    return problems, count, seen
