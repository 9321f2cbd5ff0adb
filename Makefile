# CX Console: `make run` starts the console, `make test` runs the whole suite. Both set themselves up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The venv is rebuilt only when the pinned requirements change.
REQ_HASH := $(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)
STAMP := $(VENV)/.installed-$(REQ_HASH)

.PHONY: run test test-unit test-integration setup migrate lint format clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

setup: $(STAMP)

migrate: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py createcachetable
	$(PY) manage.py collectstatic --noinput --verbosity 0

run: migrate
	$(PY) manage.py runconsole

# scripts/test.sh also keeps .venv-runtime (requirements.txt alone), from which it starts the production form.
test: setup
	@bash scripts/test.sh

test-unit: setup
	$(PY) -m pytest tests --ignore=tests/integration

test-integration: setup
	@bash scripts/test.sh integration

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf var
