# Production AI Systems course. The two commands learners need: `make lab` and `make test`.
# Every target installs the course into .venv first when it is missing or older than pyproject.toml.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.prodai-installed
LAB_ARGS ?=
# Jupyter refuses to run as root unless told; containers and CI machines often are root.
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
PYTEST_ARGS ?=

NOTEBOOK_DIRS := $(wildcard notebooks exercises solutions)

.PHONY: help install lab test unit nbval notebooks exercises site site-instructor html bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@echo "==> installing the course into $(VENV)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the course with its dev extras

lab: $(STAMP)  ## open JupyterLab on the course index (LAB_ARGS=--no-browser for headless)
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" \
	    --LabApp.default_url=/lab/tree/notebooks/00_index.ipynb $(LAB_ROOT) $(LAB_ARGS)

# nbval runs strict: every text output is compared. MPLBACKEND is unset so figures use the
# kernel's inline backend (with Agg they vanish and nbval fails on the missing outputs).
# The package's docstring examples run too (--doctest-modules over prodai_lessons/).
test: $(STAMP)  ## unit tests + docstring examples + every notebook executed and compared by nbval
	env -u MPLBACKEND $(BIN)/python -m pytest tests prodai_lessons $(NOTEBOOK_DIRS) --doctest-modules \
	    --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg \
	    --durations=10 $(PYTEST_ARGS)

unit: $(STAMP)  ## unit tests only (fast)
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

NB ?= $(NOTEBOOK_DIRS)
notebooks: $(STAMP)  ## sync every .md/.ipynb pair and re-execute it (NB=notebooks/02_data_drift.md for one)
	env -u MPLBACKEND $(BIN)/python -m prodai_lessons.tooling.build_notebooks notebooks $(NB)

exercises: $(STAMP)  ## regenerate the exercise stubs (exercises/) from solutions/ and execute them
	env -u MPLBACKEND $(BIN)/prodai build-exercises

# The website: Sphinx + MyST-NB over the notebooks' committed outputs (nothing is executed), with
# the theme, search and MathJax served from the site itself, so it works offline. site/conf.py.
site: $(STAMP)  ## build the course website (lessons + exercises) into _build/site, offline
	$(BIN)/python -m prodai_lessons.tooling.build_site --out _build/site

site-instructor: $(STAMP)  ## the same website with the reference solutions, into _build/site-instructor
	$(BIN)/python -m prodai_lessons.tooling.build_site --instructor --out _build/site-instructor

html: site  ## the website (same as make site; replaces the old nbconvert export)

bench: $(STAMP)  ## run the benchmarks (figures against the reference libraries)
	for f in $(sort $(wildcard benchmarks/bench_*.py)); do echo "==> $$f"; $(BIN)/python "$$f"; done

clean:  ## remove build outputs (keeps .venv)
	rm -rf _build .pytest_cache .hypothesis
