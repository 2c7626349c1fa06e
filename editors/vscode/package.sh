#!/bin/sh
# Packages the extension into a .vsix with @vscode/vsce.
#
#   editors/vscode/package.sh [OUTPUT.vsix]
#
# Default output: editors/vscode/golsp-leaks-<version>.vsix. Needs Node >= 20 and npm.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
# Reinstall the npm packages only when package-lock.json changed since the last install.
if [ ! -x node_modules/.bin/vsce ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund >&2
fi
version=$(node -p "require('./package.json').version")
out=${1:-"$here/golsp-leaks-$version.vsix"}
case "$out" in
  /*) ;;
  *) out="$OLDPWD/$out" ;;
esac
mkdir -p "$(dirname "$out")"
./node_modules/.bin/vsce package --allow-missing-repository --no-update-package-json --no-git-tag-version --out "$out" >&2
echo "$out"
