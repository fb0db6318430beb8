# Docker 学习笔记 · Docker Notes
#
#   make serve   read the site at http://127.0.0.1:8000 (no Docker needed)
#   make unit    the fast tests: no root, no Docker, under 30 s (also the pre-commit hook)
#   make lint    ruff and mypy
#   make test    install the lab, verify every example, build the site, run all tests
#   make build   the publishing build: strict, every example verified on the lab
#
# `make test` and `make deps` need root on Debian 12 / Ubuntu (apt-get).

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements.stamp
# The lab's Docker itself comes from Debian packages unpacked into the lab's state (no apt install):
# these are the tools around it. mmdebstrap and gcc write the base images.
APT_PACKAGES := python3-venv mmdebstrap gcc libc6-dev chromium fonts-noto-cjk curl iptables bubblewrap

export NO_MKDOCS_2_WARNING := 1

# The lab's docker CLI first on PATH, pointed at the playground (examples run on the verification daemons).
LAB_ENV = eval "$$($(PY) -m doclab env 2>/dev/null)" || true

NODE_STAMP := node_modules/.package-lock.stamp

.PHONY: help venv node serve build deps lab check unit lint test bench linkcheck-external clean

help:
	@sed -n '3,10p' Makefile | sed 's/^# \{0,1\}//'

# ---------------------------------------------------------------- python

# The checkout's bytecode, brought up to date (only changed files are compiled): Python reads it even where
# PYTHONDONTWRITEBYTECODE=1 (common in CI images) keeps it from writing any, which made every doclab run
# compile its 60 modules again (50-80 ms).
venv: $(STAMP)
	@$(PY) -m compileall -q -j 0 doclab hooks >/dev/null

# Debian's python3 needs python3-venv (ensurepip) before it can create a venv.
# requirements.txt is the exact lock; the package itself is installed editable without its
# dependencies (they are all in the lock), which gives the `doclab` command and registers the
# MkDocs plugin. A .venv that is a symlink is shared with other checkouts: an editable install
# there would point `doclab` at this checkout for everyone, so it is left out; `$(PY) -m ...`
# run from this directory finds this checkout's package either way.
$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { \
	  if [ "$$(id -u)" != 0 ]; then echo "venv: install python3-venv first (sudo apt-get install python3-venv)" >&2; exit 1; fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq python3-venv </dev/null; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@if [ -L $(VENV) ]; then echo "venv: $(VENV) is shared (a symlink): not installing this checkout into it"; \
	else $(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .; fi
	@touch $@

# ---------------------------------------------------------------- node

# mermaid-cli, which renders the diagrams to SVG at build time (overrides/hooks/diagrams.py),
# into node_modules/ from package-lock.json. It runs Debian's Chromium: puppeteer downloads no browser.
node: $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" != 0 ]; then echo "node: install nodejs and npm first (sudo apt-get install nodejs npm)" >&2; exit 1; fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq nodejs npm </dev/null; }
	PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# ---------------------------------------------------------------- site

# Live-reloading preview. No daemon needed: examples are verified when one
# answers (the lab, when it is up), otherwise one warning and the recorded output.
serve: venv
	@$(MAKE) --no-print-directory node || echo "serve: no node_modules: diagrams are shown as their source" >&2
	@$(LAB_ENV); DOCLAB_VERIFY=auto $(PY) -m mkdocs serve -a 127.0.0.1:8000

# The publishing build: fails unless every example ran and passed.
build: venv node
	@$(LAB_ENV); DOCLAB_REQUIRE_VERIFY=1 $(PY) -m mkdocs build --strict

# ---------------------------------------------------------------- lab

deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all present"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "deps: missing$$missing; run as root (apt-get install)" >&2; exit 1; fi; \
	echo "deps: installing$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing </dev/null

lab: deps venv
	$(PY) -m doclab up --quiet --workers 2

check: venv
	@$(LAB_ENV); $(PY) -m doclab check

# ---------------------------------------------------------------- tests and tools

# The first tier: the pure modules and the page sources. No root, no daemon, no network.
UNIT_TESTS := tests/unit tests/test_pages.py

unit: venv
	$(PY) -m pytest -q $(UNIT_TESTS)

# The strictness mypy holds is written down in pyproject.toml ([tool.mypy]) and CONTRIBUTING.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Both tiers: the unit tier, then everything that needs the lab.
# pytest exits 5 when it collects nothing: that is a failure here.
test: deps venv node lab
	@mkdir -p test-artifacts
	@$(LAB_ENV); $(PY) -m pytest tests/ --junitxml=test-artifacts/junit.xml; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

# 15-25 min on 2 cores; writes bench/results.md and bench/results.json (see bench/README.md). Every figure
# runs on a throw-away lab the benchmark brings up from empty state (that is figure 4b) and purges. That
# lab takes the ports the pages print (4000, 5000), so your lab is stopped first (its state is kept).
bench: deps venv
	$(PY) -m doclab down
	$(PY) -m bench

# Opt-in: also check the external links of the built site (needs the internet).
linkcheck-external: venv
	DOCLAB_LINKCHECK_EXTERNAL=1 $(PY) -m pytest tests/test_site.py -k external -p no:cacheprovider

clean:
	rm -rf site test-artifacts .pytest_cache .ruff_cache .cache
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -prune -exec rm -rf {} +
