# sslvid: the two commands of the README are `make book` and `make test`.
# Each creates .venv on first use and installs the pinned dependencies (requirements.txt);
# afterwards the stamp file is newer than the pins and nothing is installed again.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.sslvid-installed

NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
CHAPTERS  := $(patsubst notebooks/%.ipynb,book/chapters/%.ipynb,$(NOTEBOOKS))
SMOKE     := $(patsubst notebooks/%.ipynb,build/smoke/%.ipynb,$(NOTEBOOKS))
SOURCES   := $(shell find sslvid -name '*.py' 2>/dev/null)

PROFILE   ?= micro
DATA_ROOT ?=
NB        ?=

.PHONY: book test chapter chapters lab venv lock clean clean-data
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
book: $(STAMP) chapters
	$(VENV)/bin/jupyter-book build . --all --quiet --warningiserror --keep-going
	@echo "book: open _build/html/index.html"
	$(PY) -m sslvid book check

chapters: $(CHAPTERS)

book/chapters/%.ipynb: notebooks/%.ipynb $(SOURCES) $(STAMP)
	@mkdir -p book/chapters
	$(PY) -m sslvid book execute $< $@ --profile $(PROFILE)

## chapter: re-execute one chapter, e.g. make chapter NB=01_data_and_backbones PROFILE=paper DATA_ROOT=/data
chapter: $(STAMP)
	@test -n "$(NB)" || { echo "usage: make chapter NB=<notebook name> [PROFILE=paper] [DATA_ROOT=<path>]"; exit 2; }
	@mkdir -p book/chapters
	$(PY) -m sslvid book execute notebooks/$(NB).ipynb book/chapters/$(NB).ipynb --profile $(PROFILE) $(if $(DATA_ROOT),--data-root $(DATA_ROOT))

## test: unit tests, plus every notebook under nbval at smoke size
test: $(STAMP)
	@rm -rf build/smoke && mkdir -p build/smoke
	@for nb in $(NOTEBOOKS); do $(PY) -m sslvid book prepare $$nb build/smoke/$$(basename $$nb) --profile smoke || exit 1; done
	$(PY) -m pytest tests $(SMOKE) --nbval-lax -q -p no:cacheprovider

## lab: JupyterLab with the project's kernel
lab: $(STAMP)
	$(PY) -m ipykernel install --sys-prefix --name sslvid --display-name "Python (sslvid)" >/dev/null
	$(VENV)/bin/jupyter lab notebooks

## lock: re-pin requirements.txt from requirements.in in a fresh environment
lock:
	rm -rf build/lock-venv && $(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/pip install --quiet -r requirements.in
	{ sed -n '1,5p' requirements.txt; build/lock-venv/bin/pip freeze --exclude-editable; } > requirements.txt.new
	mv requirements.txt.new requirements.txt && rm -rf build/lock-venv

clean:
	rm -rf _build book/chapters build

clean-data:
	rm -rf data/default data/default-smoke data/cache data/results data/runs data/features
