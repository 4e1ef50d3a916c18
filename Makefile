# The two commands that matter:
#   make run   - set everything up and run the service (embedded Postgres, local model)
#   make test  - set everything up and run the linters, the type checker and the tests
PYTHON ?= python3
VENV ?= .venv
SDK_VENV ?= .venv-sdk
BIN := $(VENV)/bin
# The official MemOS SDK pins its own FastAPI and openai, so it lives in a venv of its own and
# the contract tests drive it as a separate process, exactly as a user's script would.
MEMOS_SDK_VERSION ?= 2.0.33
TORCH_PIP_ARGS ?=

.PHONY: run test lint typecheck install sdk clean

$(BIN)/memos-server: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first, pinned, so nothing else picks a version. On a machine without a local CPU
	# wheel, TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu" avoids CUDA.
	$(BIN)/pip install -qq $(TORCH_PIP_ARGS) "torch==2.13.0"
	$(BIN)/pip install -qq -e ".[dev]"
	@touch $@

install: $(BIN)/memos-server

$(SDK_VENV)/.installed:
	$(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/pip install -qq "MemoryOS==$(MEMOS_SDK_VERSION)" requests
	@touch $@

sdk: $(SDK_VENV)/.installed

run: install
	$(BIN)/memos-server serve

lint: install
	$(BIN)/ruff check src tests migrations bench
	$(BIN)/ruff format --check src tests migrations bench
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

test: install sdk lint typecheck
	MEMOS_SDK_PYTHON=$(abspath $(SDK_VENV))/bin/python $(BIN)/pytest

clean:
	rm -rf $(VENV) $(SDK_VENV) .pytest_cache .mypy_cache .ruff_cache
