# collapse bench — every target installs what it needs into .venv first.
VENV   ?= .venv
PY     := $(VENV)/bin/python
SUITE  ?= suites/smoke.yaml
RESULTS ?= results
IMAGE  ?= bench

.PHONY: install run test test-fast lint bench format clean lock docker-build docker-run replication report-check

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
	$(VENV)/bin/ruff check bench tests benchmarks docs
	$(VENV)/bin/ruff format --check bench tests benchmarks docs
	$(VENV)/bin/hadolint Dockerfile
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

format: install
	$(VENV)/bin/ruff format bench tests benchmarks
	$(VENV)/bin/ruff check --fix bench tests benchmarks

## report-check: render a tiny run's report and check it in headless Chromium (screenshot: results/report-check/)
report-check: install
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || [ -n "$$CHROMIUM" ] || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	    else echo "report-check: needs Chromium: sudo apt-get install chromium (or set CHROMIUM=/path/to/chrome)" >&2; \
	      exit 1; fi; }
	OMP_NUM_THREADS=1 $(PY) -m bench.report_check --out $(RESULTS)/report-check

## bench: speed benchmarks side by side; writes results/perf.json
bench: install
	mkdir -p $(RESULTS)
	$(PY) -m pytest benchmarks -p no:cacheprovider --benchmark-only --benchmark-json=$(RESULTS)/benchmarks.json -q
	$(PY) -m benchmarks.summarize $(RESULTS)/benchmarks.json $(RESULTS)/perf.json

## replication: rerun the CPU replication of the reference study and rebuild docs/replication/ (about an hour)
replication: install
	OMP_NUM_THREADS=1 $(VENV)/bin/bench run suites/replication_cpu.yaml --results $(RESULTS)/replication
	OMP_NUM_THREADS=1 $(VENV)/bin/bench run suites/replication_fresh_cpu.yaml --results $(RESULTS)/replication
	$(PY) docs/replication/build_tables.py --results $(RESULTS)/replication --out docs/replication

LOCK_VENV := /tmp/collapse-bench-lock

## lock: regenerate requirements.lock (exact versions, all transitive deps) in a throwaway venv
lock:
	rm -rf $(LOCK_VENV)
	python3.11 -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet torch==2.13.0
	$(LOCK_VENV)/bin/pip install --quiet '.[export]'
	grep '^#' requirements.lock > requirements.lock.new || true
	$(LOCK_VENV)/bin/pip freeze --exclude-editable --exclude collapse-bench \
	  | sed -E 's/^(torch==[^+]+)\+.*/\1/' >> requirements.lock.new
	mv requirements.lock.new requirements.lock
	rm -rf $(LOCK_VENV)

## docker-build / docker-run: the pinned CUDA image (needs a Docker engine and an NVIDIA GPU)
docker-build:
	docker build -t $(IMAGE) .

docker-run:
	mkdir -p $(RESULTS)
	docker run --rm --gpus all --user "$$(id -u):$$(id -g)" -v "$$PWD/$(RESULTS):/app/results" $(IMAGE) $(SUITE)

clean:
	rm -rf $(RESULTS) .pytest_cache .ruff_cache .benchmarks
