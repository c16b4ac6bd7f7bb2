# sslvid: the two commands of the README are `make book` and `make test`.
# Each creates .venv on first use and installs the pinned dependencies (requirements.txt, a lock with
# platform markers: the same file serves Linux x86-64 and aarch64, macOS arm64 and Windows);
# afterwards the stamp file is newer than the pins and nothing is installed again.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.sslvid-installed

NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
CHAPTERS  := $(patsubst notebooks/%.ipynb,book/chapters/%.ipynb,$(NOTEBOOKS))
SMOKE     := $(patsubst notebooks/%.ipynb,build/smoke/%.ipynb,$(NOTEBOOKS))
SOURCES   := $(shell find sslvid -name '*.py' 2>/dev/null)
LINTED    := sslvid tests benchmarks

PROFILE   ?= micro
DATA_ROOT ?=
NB        ?=

.PHONY: book test test-fast lint format chapter chapters lab venv lock clean clean-data FORCE
.DELETE_ON_ERROR:

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

## book: execute every chapter at micro scale (papermill) and build the HTML (Jupyter Book 1.x);
## any Sphinx warning (a broken reference, a missing citation or figure) fails the build; every page
## is rebuilt (--all), because an incremental build can lose the citations of unchanged pages
book: $(STAMP) chapters book/method_cards.md
	$(VENV)/bin/jupyter-book build . --all --quiet --warningiserror --keep-going
	@echo "book: open _build/html/index.html"
	$(PY) -m sslvid book check

chapters: $(CHAPTERS)

## the method cards page, generated from the code's defaults (sslvid.cards)
book/method_cards.md: $(SOURCES) $(STAMP)
	$(PY) -m sslvid book cards $@

## which profile and data the executed chapters were made with: rewritten only when that changes, so a
## `make book` after a smoke build (or a `make chapter PROFILE=paper`) executes every chapter again
## instead of publishing chapters made at another scale
RUN_STAMP := book/chapters/.profile
$(RUN_STAMP): FORCE
	@mkdir -p book/chapters
	@test "$$(cat $@ 2>/dev/null)" = "$(PROFILE) $(DATA_ROOT)" || echo "$(PROFILE) $(DATA_ROOT)" > $@

book/chapters/%.ipynb: notebooks/%.ipynb $(SOURCES) $(STAMP) $(RUN_STAMP)
	@mkdir -p book/chapters
	$(PY) -m sslvid book execute $< $@ --profile $(PROFILE)

## chapter: re-execute one chapter, e.g. make chapter NB=01_data_and_backbones PROFILE=paper DATA_ROOT=/data
chapter: $(STAMP) $(RUN_STAMP)
	@test -n "$(NB)" || { echo "usage: make chapter NB=<notebook name> [PROFILE=paper] [DATA_ROOT=<path>]"; exit 2; }
	@mkdir -p book/chapters
	$(PY) -m sslvid book execute notebooks/$(NB).ipynb book/chapters/$(NB).ipynb --profile $(PROFILE) $(if $(DATA_ROOT),--data-root $(DATA_ROOT))

## test: lint, then the unit tests, plus every notebook under nbval at smoke size
test: $(STAMP) lint
	@rm -rf build/smoke && mkdir -p build/smoke
	@for nb in $(NOTEBOOKS); do $(PY) -m sslvid book prepare $$nb build/smoke/$$(basename $$nb) --profile smoke || exit 1; done
	$(PY) -m pytest tests $(SMOKE) --nbval-lax -q -p no:cacheprovider

## test-fast: the inner loop: unit tests without the notebooks and without the tests marked slow
test-fast: $(STAMP)
	$(PY) -m pytest tests -q -p no:cacheprovider -m "not slow"

## lint: ruff's linter and formatter check over the code, tests and benchmarks; mypy over the package
## (their settings are in pyproject.toml)
lint: $(STAMP)
	$(PY) -m ruff check $(LINTED)
	$(PY) -m ruff format --check $(LINTED)
	$(PY) -m mypy sslvid

## format: apply ruff's safe fixes (import order, modern syntax ...), then its formatting (which also mends
## most long lines, so findings left after the fixes do not stop it; make lint reports what remains)
format: $(STAMP)
	$(PY) -m ruff check --fix --exit-zero $(LINTED)
	$(PY) -m ruff format $(LINTED)

## lab: JupyterLab with the project's kernel
lab: $(STAMP)
	$(PY) -m ipykernel install --sys-prefix --name sslvid --display-name "Python (sslvid)" >/dev/null
	$(VENV)/bin/jupyter lab notebooks

## lock: re-pin requirements.txt for every platform at once (uv's universal resolution) from pyproject.toml
## (the dependencies and the extras the commands above use) and requirements.in (the pins that must not move);
## versions already pinned stay where they can. tests/test_lock.py checks the result resolves per platform.
LOCK_EXTRAS := book test lab cluster decord
lock:
	rm -rf build/lock-venv && $(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/pip install --quiet --disable-pip-version-check uv
	build/lock-venv/bin/uv pip compile --quiet pyproject.toml requirements.in $(LOCK_EXTRAS:%=--extra %) --universal --python-version 3.10 -o requirements.txt
	rm -rf build/lock-venv

clean:
	rm -rf _build book/chapters book/method_cards.md build

clean-data:
	rm -rf data/default data/default-smoke data/cache data/results data/runs data/features
