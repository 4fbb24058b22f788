#!/bin/sh
# Install byoroot from this bundle into a new virtual environment, with no network:
#   sh install.sh DIR        ->  DIR/bin/byoroot
# Needs only Debian's python3 (3.11 or 3.13) and python3-venv. Every file of the bundle is first
# checked against MANIFEST.json; pip then installs from wheels/ alone (--no-index), each wheel
# checked against its SHA-256 in requirements.txt (--require-hashes). Read the manifest's SHA-256
# printed at the end against the one printed on the machine that built the bundle.
set -eu

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: sh install.sh DIR   (DIR: a new folder for byoroot's virtual environment)" >&2
  exit 2
fi
DIR=$1
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python3}

# No pip configuration or PIP_* variable of this machine may add an index or other wheels.
for v in $(env | sed -n 's/^\(PIP_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
export PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1

if ! command -v "$PY" >/dev/null 2>&1; then
  echo "install.sh: $PY not found: install Debian's python3 and python3-venv" >&2
  exit 1
fi
if [ -e "$DIR" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
  echo "install.sh: $DIR exists and is not empty: give a new folder" >&2
  exit 1
fi

# 1. The bundle is whole: every file as the manifest lists it, and no other wheel.
"$PY" - "$HERE" <<'EOF'
import hashlib, json, platform, sys
from pathlib import Path
here = Path(sys.argv[1])
manifest = json.loads((here / "MANIFEST.json").read_bytes())
bad = []
for name, digest in sorted(manifest["files"].items()):
    p = here / name
    if not p.is_file():
        bad.append(f"missing: {name}")
    elif hashlib.sha256(p.read_bytes()).hexdigest() != digest:
        bad.append(f"differs from the manifest: {name}")
extra = sorted(f"wheels/{p.name}" for p in (here / "wheels").iterdir() if f"wheels/{p.name}" not in manifest["files"])
bad += [f"not in the manifest: {name}" for name in extra]
if bad:
    print("install.sh: this bundle is damaged or was changed; nothing was installed:", file=sys.stderr)
    for line in bad:
        print("  " + line, file=sys.stderr)
    sys.exit(1)
target = f"cp{sys.version_info.major}{sys.version_info.minor}-manylinux-{platform.machine()}"
if target not in manifest["targets"]:
    print(f"install.sh: this bundle has no wheels for {target} (it has: {', '.join(manifest['targets'])}); "
          "nothing was installed", file=sys.stderr)
    sys.exit(1)
print(f"Bundle checked: {len(manifest['files'])} files match MANIFEST.json ({target})")
EOF

# 2. The virtual environment, from the bundle's wheels alone.
# DIR was absent or empty (checked above): whatever fails from here on, it is emptied again.
cleanup() { rm -rf "$DIR"; echo "install.sh: $1; nothing was installed" >&2; exit 1; }
"$PY" -m venv "$DIR" || cleanup "could not create the virtual environment (is python3-venv installed?)"
"$DIR/bin/python" -m pip install --quiet --no-index --find-links "$HERE/wheels" --only-binary=:all: \
  --require-hashes -r "$HERE/requirements.txt" || cleanup "pip could not install the bundle's wheels"
mkdir -p "$DIR/share/byoroot"
cp "$HERE/MANIFEST.json" "$DIR/share/byoroot/station-manifest.json"
chmod 0444 "$DIR/share/byoroot/station-manifest.json"

# 3. What was installed, and the manifest's hash to read against the build machine's.
echo "Installed into $DIR:"
"$DIR/bin/python" -m pip list --format=freeze 2>/dev/null | sed 's/^/  /'
echo
"$DIR/bin/byoroot" --version
echo
echo "Run $DIR/bin/byoroot self-check to check the installed files against the manifest at any time."
