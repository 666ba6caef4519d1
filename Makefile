# Two commands: `make demo` runs the whole chain on embedded defaults; `make test` runs every test.
# Each creates (or refreshes) its own virtual environment in .venv from pyproject.toml + constraints.txt.

PYTHON ?= python3
VENV   ?= .venv
PIP     = $(VENV)/bin/python -m pip
export HARVEST_TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: demo test install install-test browser consumers lock clean

$(VENV)/bin/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "harvest needs Python 3.11 or newer; found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# setuptools explains its editable-install modes at length on every install; the install itself is checked by its exit code
$(VENV)/.installed: $(VENV)/bin/python pyproject.toml constraints.txt
	PYTHONWARNINGS=ignore $(PIP) install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	PYTHONWARNINGS=ignore $(PIP) install --quiet -c constraints.txt -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## the bundled demo, end to end, on SQLite under ./harvest-data
demo: install
	$(VENV)/bin/harvest demo

## the whole test suite (needs PostgreSQL for the PostgreSQL half; installs Label Studio and chromium on first run)
test: install-test browser consumers
	$(VENV)/bin/harvest label server install
	$(VENV)/bin/python -m pytest

## the consumers' own virtual environments (datumaro; Ultralytics + torchvision), cached under ~/.cache/harvest/consumers
consumers: install-test
	$(VENV)/bin/python -m tests.consumers.venvs

## Debian's chromium for the browser test (only where apt-get can run as root; never a downloaded browser)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not found and cannot install it here: the browser test will be skipped"; fi; }

## refresh constraints.txt after changing dependencies in pyproject.toml
lock: $(VENV)/.installed-test
	$(PIP) freeze --exclude-editable | grep -v '^harvest' > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
