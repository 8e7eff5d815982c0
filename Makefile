# Set-up and the two Quickstart jobs. Everything installs into .venv from this repository's files;
# torch is pinned through constraints.txt so pip never pulls a multi-GB CUDA build on a CPU machine.
PYTHON ?= python3
VENV ?= .venv
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)

.PHONY: install demo test lint

$(STAMP): pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		--editable ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

demo: $(STAMP)
	NO_ALBUMENTATIONS_UPDATE=1 $(VENV)/bin/alignseg demo

test: $(STAMP)
	NO_ALBUMENTATIONS_UPDATE=1 $(VENV)/bin/python -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check alignseg tests benchmarks scripts
