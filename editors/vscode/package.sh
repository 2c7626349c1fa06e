#!/bin/sh
# Packages the extension into platform-specific .vsix files with @vscode/vsce, each carrying the
# language server and its dependencies as wheels for that platform (bundle/wheels/ in the package),
# which the extension installs on first start, offline, into a private environment.
#
#   editors/vscode/package.sh [--out DIR] [TARGET ...]
#
# TARGET: linux-x64 linux-arm64 darwin-arm64 darwin-x64 win32-x64 (default: all five).
# Writes DIR/golsp-leaks-<target>-<version>.vsix (DIR default: editors/vscode/dist) and prints one
# line per package on stdout: its path and its size in bytes.
#
# Needs Node >= 20, npm and a Python 3.10+ with pip ($PYTHON, default python3). The server's own
# wheel is built from this source tree; its dependencies are downloaded with
# `pip download --only-binary=:all:` for the target and Python 3.10-3.14 at the versions in
# bundle/constraints.txt, into $GOLSP_LEAKS_WHEEL_CACHE (default ~/.cache/golsp-leaks-e2e/wheels),
# and reused from there by later runs.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
start_dir=$(pwd)
PYTHON=${PYTHON:-python3}
CACHE=${GOLSP_LEAKS_WHEEL_CACHE:-${GOLSP_LEAKS_E2E_CACHE:-$HOME/.cache/golsp-leaks-e2e}/wheels}
PYTHON_VERSIONS="3.10 3.11 3.12 3.13 3.14"
ALL_TARGETS="linux-x64 linux-arm64 darwin-arm64 darwin-x64 win32-x64"

out_dir="$here/dist"
targets=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out_dir=$2; shift 2 ;;
    --out=*) out_dir=${1#--out=}; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "package.sh: unknown option $1" >&2; exit 2 ;;
    *) targets="$targets $1"; shift ;;
  esac
done
[ -n "$targets" ] || targets=$ALL_TARGETS
case "$out_dir" in /*) ;; *) out_dir="$start_dir/$out_dir" ;; esac
mkdir -p "$out_dir"

# pip's platform tag for each VS Code target (pip also accepts the older manylinux/macOS tags).
platform_of() {
  case "$1" in
    linux-x64) echo manylinux_2_28_x86_64 ;;
    linux-arm64) echo manylinux_2_28_aarch64 ;;
    darwin-arm64) echo macosx_11_0_arm64 ;;
    darwin-x64) echo macosx_11_0_x86_64 ;;
    win32-x64) echo win_amd64 ;;
    *) echo "package.sh: unknown target $1 (known: $ALL_TARGETS)" >&2; return 1 ;;
  esac
}
for t in $targets; do platform_of "$t" >/dev/null; done

cd "$here"
# Reinstall the npm packages only when package-lock.json changed since the last install.
if [ ! -x node_modules/.bin/vsce ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund >&2
fi
version=$(node -p "require('./package.json').version")

# The server's wheel, from this tree.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# (From a copy of what the wheel is made of, so that the build leaves nothing in the tree and no
# stale build/ folder can slip old files into it.)
mkdir -p "$work/src"
cp -R "$repo/pyproject.toml" "$repo/README.md" "$repo/golsp_leaks" "$work/src/"
find "$work/src" -name __pycache__ -type d -prune -exec rm -rf {} +
"$PYTHON" -m pip wheel --quiet --disable-pip-version-check --no-deps --wheel-dir "$work/own" "$work/src" >&2
own=$(ls "$work"/own/golsp_leaks-*.whl)

constraints="$here/bundle/constraints.txt"
key=$( (cat "$constraints" "$here/package.sh"; "$PYTHON" -c 'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read([n for n in zipfile.ZipFile(sys.argv[1]).namelist() if n.endswith(".dist-info/METADATA")][0]).decode())' "$own" | grep '^Requires-Dist') | cksum | cut -d' ' -f1)

for target in $targets; do
  platform=$(platform_of "$target")
  deps="$CACHE/$target-$key"
  if [ ! -f "$deps/.complete" ]; then
    echo "package.sh: downloading wheels for $target ($platform) into $deps" >&2
    rm -rf "$deps"
    mkdir -p "$deps"
    for py in $PYTHON_VERSIONS; do
      # pip evaluates the dependencies' markers for the Python running it, not for --python-version:
      # name the ones that only older Pythons need (tomli and exceptiongroup before 3.11).
      extra=""
      [ "$py" = 3.10 ] && extra="tomli exceptiongroup"
      "$PYTHON" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
        --platform "$platform" --python-version "$py" --implementation cp \
        --constraint "$constraints" --dest "$deps" "$own" pip $extra >&2
    done
    rm -f "$deps"/golsp_leaks-*.whl
    touch "$deps/.complete"
  fi
  rm -rf bundle/wheels
  mkdir -p bundle/wheels
  cp "$deps"/*.whl "$own" bundle/wheels/
  # What the extension reads: the server's version, the wheels, and an id that changes with them.
  "$PYTHON" - "$target" "$version" <<'PY' > bundle/wheels/manifest.json
import hashlib, json, os, sys
names = sorted(n for n in os.listdir("bundle/wheels") if n.endswith(".whl"))
digest = hashlib.sha256()
for name in names:
    with open(os.path.join("bundle/wheels", name), "rb") as f:
        digest.update(name.encode() + b"\0" + hashlib.sha256(f.read()).digest())
print(json.dumps({"target": sys.argv[1], "version": sys.argv[2], "id": digest.hexdigest()[:16],
                  "wheels": names}, indent=2))
PY
  out="$out_dir/golsp-leaks-$target-$version.vsix"
  ./node_modules/.bin/vsce package --target "$target" --allow-missing-repository \
    --no-update-package-json --no-git-tag-version --out "$out" >&2
  rm -rf bundle/wheels
  size=$(wc -c < "$out" | tr -d ' ')
  echo "$out $size"
done
