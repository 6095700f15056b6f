# collapse bench — every target installs what it needs into .venv first.
VENV   ?= .venv
PY     := $(VENV)/bin/python
SUITE  ?= suites/smoke.yaml
RESULTS ?= results
IMAGE  ?= bench

.PHONY: install run test test-fast lint bench format clean lock docker-build docker-run

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	# torch first and pinned: pip then takes the CPU wheel instead of resolving a multi-GB CUDA build.
	$(VENV)/bin/pip install --quiet torch==2.13.0
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

## run: the default suite on CPU, then its leaderboard
run: install
	$(VENV)/bin/bench run $(SUITE) --results $(RESULTS)
	$(VENV)/bin/bench leaderboard --results $(RESULTS)

## test: the whole test suite (unit, property, end-to-end smoke run); GPU tests skip without CUDA
test: install
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

lint: install
	$(VENV)/bin/ruff check bench tests benchmarks
	$(VENV)/bin/ruff format --check bench tests benchmarks
	$(VENV)/bin/hadolint Dockerfile
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

format: install
	$(VENV)/bin/ruff format bench tests benchmarks
	$(VENV)/bin/ruff check --fix bench tests benchmarks

## bench: speed benchmarks side by side; writes results/perf.json
bench: install
	mkdir -p $(RESULTS)
	$(PY) -m pytest benchmarks -p no:cacheprovider --benchmark-only --benchmark-json=$(RESULTS)/benchmarks.json -q
	$(PY) -m benchmarks.summarize $(RESULTS)/benchmarks.json $(RESULTS)/perf.json

clean:
	rm -rf $(RESULTS) .pytest_cache .ruff_cache .benchmarks
