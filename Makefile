# The two commands a new contributor needs: `make demo` and `make test`.
# Everything runs from .venv/, built from the pinned locks in requirements/.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages the tests, the demo and the test hosts need on this machine.
APT_PACKAGES := chromium python3-venv libexempi8 libimage-exiftool-perl exfatprogs exfat-fuse debootstrap systemd-container openssh-client openssh-server rsync gnupg git

.PHONY: help venv controller apt-deps lint test test-python test-molecule demo demo-stop bench trials lock clean

help:
	@echo "make demo    run the whole thing on its built-in demo (make demo-stop ends it)"
	@echo "make test    run every check: lint, Python tests, Molecule scenarios"
	@echo "make venv    build .venv/ with the pinned dependencies (developers: tests, demo)"
	@echo "make controller  build .venv-controller/ to deploy from any laptop (Python only)"
	@echo "make bench   print the speed and memory benchmarks"
	@echo "make trials  print the reliability and security trials (as root)"
	@echo "make lock    re-pin requirements/*.in into the lock files"

apt-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages: $$missing"; \
		if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(STAMP): requirements/dev.lock collector/pyproject.toml pyproject.toml
	$(MAKE) apt-deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements/dev.lock
	$(BIN)/python -m pip install -q --no-deps -e collector -e .
	touch $@

venv: $(STAMP)

# A user's controller: the laptop (macOS, Linux, WSL) that runs the playbooks. Python 3.11+
# and its venv module only: no apt, no sudo. ansible-core and its hash-checked pins, plus
# the collections in requirements.yml (none today).
CONTROLLER_VENV ?= .venv-controller

controller:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "make controller: Python 3.11 or newer is needed (ansible-core 2.19), this is " + sys.version.split()[0] + "; give another one with make controller PYTHON=/path/to/python3")'
	test -x $(CONTROLLER_VENV)/bin/python || $(PYTHON) -m venv $(CONTROLLER_VENV)
	$(CONTROLLER_VENV)/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements/controller.lock
	$(CONTROLLER_VENV)/bin/ansible-galaxy collection install -r requirements.yml
	@echo "controller ready: $(CONTROLLER_VENV)/bin/ansible-playbook -i inventory site.yml --ask-vault-pass"

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict collector/src/gphotos_collector fakes testhosts demo benchmarks trials roles/gphotos_login/files
	$(BIN)/mypy --strict --python-version 3.10 collector/src/gphotos_collector

test-python: venv
	$(BIN)/pytest -n auto --maxprocesses=4 --durations=30; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure"; exit 1; fi; exit $$rc

# Every scenario under molecule/, each timed; Molecule and testinfra find ansible-playbook
# and pytest on PATH.
MOLECULE_SCENARIOS := $(patsubst molecule/%/molecule.yml,%,$(wildcard molecule/*/molecule.yml))

test-molecule: venv
	@for scenario in $(MOLECULE_SCENARIOS); do \
		started=$$(date +%s); \
		PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/molecule test -s $$scenario || exit 1; \
		echo "molecule scenario $$scenario passed in $$(( $$(date +%s) - started )) s"; \
	done

test: lint test-python test-molecule

demo: venv
	$(BIN)/python -m demo

demo-stop: venv
	$(BIN)/python -m demo stop

# What bounds a backup, measured in one run (bench/results.json); bench needs root for --deploy.
bench: venv
	$(BIN)/python -m benchmarks --deploy

.PHONY: bench-quick
bench-quick: venv
	$(BIN)/python -m benchmarks --quick

# Every reliability and security trial, one table (root: the disk trials mount filesystems;
# secrets and isolation run on Molecule's default scenario, converged first if it is down).
trials: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m trials

# The servers' lock carries hashes: the role installs it with pip --require-hashes.
UV_VERSION := 0.13.9

lock: venv
	$(BIN)/python -m pip install -q uv==$(UV_VERSION)
	$(BIN)/uv pip compile --universal --python-version 3.10 --no-header --generate-hashes requirements/collector.in -o collector/requirements.lock
	$(BIN)/uv pip compile --universal --python-version 3.11 --no-header requirements/dev.in -o requirements/dev.lock
	$(BIN)/uv pip compile --universal --python-version 3.11 --no-header --generate-hashes -c requirements/dev.lock requirements/controller.in -o requirements/controller.lock

clean:
	rm -rf $(VENV) $(CONTROLLER_VENV) build collector/build .pytest_cache .ruff_cache
