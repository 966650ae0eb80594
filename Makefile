# cytube.shipit: two entry points for a fresh clone (see README.md)
#   make demo   set everything up, install the dashboard, deploy the reference bot, verify it (as root)
#   make test   lint and every test suite (as root)
SHELL := /bin/bash
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: setup demo test lint sanity unit integration molecule sandbox-up sandbox-down benchmark build clean

setup:
	@scripts/setup.sh

demo: setup
	@scripts/demo.sh

test: setup
	@scripts/test.sh

lint: setup
	@scripts/lint.sh

unit: setup
	$(BIN)/pytest tests/unit tests/sandbox tests/examples -q

integration: setup
	$(BIN)/pytest tests/integration -q

molecule: setup
	cd $(CURDIR) && $(BIN)/molecule test

sandbox-up: setup
	sandbox/sandbox up

sandbox-down:
	sandbox/sandbox down

benchmark: setup
	$(BIN)/python scripts/benchmark.py

build: setup
	$(BIN)/ansible-galaxy collection build --force --output-path build/

clean:
	rm -rf build .pytest_cache .ruff_cache tests/output
