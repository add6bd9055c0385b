#!/usr/bin/env bash
# Every test of the VS Code extension, then packaging. Run after `npm ci` in client-vscode/;
# needs ../.venv with agentls installed (the repository's `make test` creates it) and
# /usr/bin/chromium (installed here with apt when missing and running as root).
#
#   type check (tsc --noEmit, strict) -> bundles (esbuild) -> node --test:
#     out/test/unit/      logic + extension.ts against a mock `vscode`
#     out/test/browser/   the chat webview in headless Chromium (playwright-core)
#     out/test/protocol/  vscode-jsonrpc against the real `agentls serve` + the fake model API
#     out/test/integration/  extension.ts + the real vscode-languageclient + the real server
#   -> .vsix with @vscode/vsce (offline)
#   -> out/test/workbench/  the .vsix in a real VS Code (code-server) in Chromium
#      (scripts/workbench.sh: installs code-server and Node 24 once into a cache;
#      AGENTLS_SKIP_WORKBENCH=1 leaves it out)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }

step "prerequisites"
[ -d node_modules ] || fail "node_modules is missing: run 'npm ci' in client-vscode/ first"
[ -x ../.venv/bin/agentls ] || fail "../.venv/bin/agentls is missing: run 'make test' (or 'make chat') at the repository root first"
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's chromium for the webview tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
  else
    fail "/usr/bin/chromium is missing: install it (sudo apt-get install -y chromium)"
  fi
fi
echo "node $(node --version), chromium: $(/usr/bin/chromium --version 2>/dev/null || echo '?')"

step "type check (tsc --noEmit, strict)"
node_modules/.bin/tsc --noEmit -p tsconfig.json
echo "no type errors"

step "bundle (esbuild): extension, webview, tests"
node scripts/build.mjs --tests

step "tests (node --test)"
results=$(mktemp)
trap 'rm -f "$results"' EXIT
status=0
node --test --test-reporter=spec \
  out/test/unit/*.test.js out/test/browser/*.test.js out/test/protocol/*.test.js \
  out/test/integration/*.test.js \
  2>&1 | tee "$results" || status=$?

if [ "$status" -eq 0 ]; then
  step "package (.vsix, offline)"
  rm -f agentls-*.vsix
  node_modules/.bin/vsce package --no-dependencies || status=$?
  ls agentls-*.vsix >/dev/null 2>&1 || { echo "no .vsix was produced" >&2; status=1; }
else
  echo "tests failed: not packaging" >&2
fi

if [ "$status" -eq 0 ] && [ "${AGENTLS_SKIP_WORKBENCH:-}" != 1 ]; then
  step "real workbench (code-server + Chromium)"
  bash scripts/workbench.sh 2>&1 | tee -a "$results" || status=$?
fi

step "summary"
# the runner's own closing lines, last
grep -E '^(ℹ|#) (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ' "$results" || true
exit "$status"
