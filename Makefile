# collapse bench — every target installs what it needs into .venv first.
VENV   ?= .venv
PY     := $(VENV)/bin/python
SUITE  ?= suites/smoke.yaml
RESULTS ?= results
IMAGE  ?= bench

.PHONY: install run test test-fast test-network test-nightly lint bench format clean lock docker-build docker-run replication mitigations identities report-check

# torch's exact version comes from the lock, so the two never disagree.
TORCH := $(shell grep -m1 '^torch==' requirements.lock)
# Empty: pip's configured sources. CPU-only machines: make install TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=

$(VENV)/.installed: pyproject.toml requirements.lock
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	# torch first and alone: pip then takes the CPU wheel (on disk, or from TORCH_INDEX) instead of resolving a
	# multi-GB CUDA build; the lock's torch==X.Y.Z is satisfied by X.Y.Z+cpu.
	$(VENV)/bin/pip install --quiet $(TORCH) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	# Everything else at the locked versions: the ranges in pyproject.toml, the exact set in requirements.lock.
	$(VENV)/bin/pip install --quiet --constraint requirements.lock -e '.[dev,parallel,text]'
	touch $@

install: $(VENV)/.installed

## run: the default suite on CPU, then its leaderboard
run: install
	$(VENV)/bin/bench run $(SUITE) --results $(RESULTS)
	$(VENV)/bin/bench leaderboard --results $(RESULTS)

## test: the whole test suite (unit, property, end-to-end smoke run, every benchmark once at tiny sizes) without
## the network; GPU tests skip without CUDA. Hypothesis runs its `dev` profile (at most 100 examples a property).
test: install
	$(PY) -m pytest -q -m "not network"

test-fast: install
	$(PY) -m pytest -q -m "not slow and not network"

## test-network: the tests that need a package registry (a fresh venv installed from the lock)
test-network: install
	$(PY) -m pytest -q -m network

## test-nightly: the whole suite with Hypothesis's `nightly` profile (every property at its full example count)
test-nightly: install
	HYPOTHESIS_PROFILE=nightly $(PY) -m pytest -q -m "not network"

lint: install
	$(VENV)/bin/ruff check bench tests benchmarks tools docs
	$(VENV)/bin/ruff format --check bench tests benchmarks tools docs
	# the architecture's import contracts (pyproject.toml [tool.importlinter], docs/design.md §12)
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/hadolint Dockerfile
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.citation-file-format CITATION.cff

format: install
	$(VENV)/bin/ruff format bench tests benchmarks tools
	$(VENV)/bin/ruff check --fix bench tests benchmarks tools

## report-check: render a tiny run's report and check it in headless Chromium (screenshot: results/report-check/)
report-check: install
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || [ -n "$$CHROMIUM" ] || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	    else echo "report-check: needs Chromium: sudo apt-get install chromium (or set CHROMIUM=/path/to/chrome)" >&2; \
	      exit 1; fi; }
	OMP_NUM_THREADS=1 $(PY) -m tools.report_check --out $(RESULTS)/report-check

## bench: speed benchmarks side by side; writes results/perf.json and fails when a key is null or a goal is missed
bench: install
	mkdir -p $(RESULTS)
	$(PY) -m pytest benchmarks -p no:cacheprovider --benchmark-enable --benchmark-only \
	  --benchmark-json=$(RESULTS)/benchmarks.json -q
	$(PY) -m benchmarks.summarize $(RESULTS)/benchmarks.json $(RESULTS)/perf.json

## replication: rerun the CPU replication of the reference study (three suites, 10 seeds) and rebuild
## docs/replication/ from a clean checkout (the builder refuses dirty runs): 32 min measured on an idle 2-core machine
replication: install
	OMP_NUM_THREADS=1 $(VENV)/bin/bench run suites/replication_cpu.yaml --workers 2 --results $(RESULTS)/replication
	OMP_NUM_THREADS=1 $(VENV)/bin/bench run suites/replication_more_cpu.yaml --workers 2 --results $(RESULTS)/replication
	OMP_NUM_THREADS=1 $(VENV)/bin/bench run suites/replication_fresh_cpu.yaml --workers 2 --results $(RESULTS)/replication
	$(PY) docs/replication/build_tables.py --results $(RESULTS)/replication --out docs/replication

## identities: rerun suites/identities_cpu.yaml (6 seeds) and rebuild docs/identities/ from the run (a clean
## checkout only: --published refuses a run from uncommitted code)
IDENTITY_METRICS := correct,diversity_levenshtein,semantic_unique,semantic_unique_at_k,trivial_share,semantic_entropy,semantic_novelty,real_nll
identities: install
	OMP_NUM_THREADS=1 $(VENV)/bin/bench run suites/identities_cpu.yaml --workers 2 --results $(RESULTS)/identities
	$(VENV)/bin/bench leaderboard --results $(RESULTS)/identities --suite identities_cpu --published --format md \
		--metrics $(IDENTITY_METRICS) > $(RESULTS)/identities/leaderboard.md
	$(VENV)/bin/bench leaderboard --results $(RESULTS)/identities --suite identities_cpu --published --format csv \
		--metrics $(IDENTITY_METRICS) > $(RESULTS)/identities/leaderboard.csv
	$(VENV)/bin/bench report --results $(RESULTS)/identities --suite identities_cpu --published --force \
		--out $(RESULTS)/identities-report
	cp $(RESULTS)/identities/leaderboard.md $(RESULTS)/identities/leaderboard.csv docs/identities/
	rm -f docs/identities/figures/*.png docs/identities/figures/index.html
	cp $(RESULTS)/identities-report/*.png docs/identities/figures/

## mitigations: rerun suites/mitigations_cpu.yaml (10 seeds, about 25 min on 2 cores) and print its leaderboard
mitigations: install
	OMP_NUM_THREADS=1 $(VENV)/bin/bench run suites/mitigations_cpu.yaml --workers 2 --results $(RESULTS)/mitigations
	$(VENV)/bin/bench leaderboard --results $(RESULTS)/mitigations --primary correct --format md

LOCK_VENV := /tmp/collapse-bench-lock
# Keep the versions already locked and add what is new; `make lock UPGRADE=1` takes the newest within the ranges.
LOCK_PIN := $(if $(UPGRADE),,--constraint requirements.lock)
# pip freeze --all (setuptools is torch's dependency) less pip; torch's local label (+cpu) dropped, so that the
# container's +cu126 build satisfies the same pin.
FREEZE := $(LOCK_VENV)/bin/pip freeze --all --exclude pip --exclude-editable --exclude collapse-bench \
	| sed -E 's/^(torch==[^+]+)\+.*/\1/'

## lock: regenerate requirements.lock (3.11: runtime + dev, exact) and requirements-py312.lock (the container's
## runtime set, with hashes) in a throwaway venv
lock:
	rm -rf $(LOCK_VENV)
	python3.11 -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet $(TORCH) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	# The container's runtime set includes the `parallel` and `text` extras, so --workers and the text world work in
	# the image.
	$(LOCK_VENV)/bin/pip install --quiet $(LOCK_PIN) '.[parallel,text]'
	$(FREEZE) > $(LOCK_VENV)/runtime.txt
	$(LOCK_VENV)/bin/pip install --quiet $(LOCK_PIN) '.[dev,parallel,text]'
	{ grep '^#' requirements.lock; $(FREEZE); } > requirements.lock.new
	# The container's Python: the same runtime versions less torch (the base image's CUDA build), every file's hash.
	grep -v '^torch==' $(LOCK_VENV)/runtime.txt > $(LOCK_VENV)/runtime-py312.in
	$(LOCK_VENV)/bin/uv pip compile --quiet --no-deps --no-annotate --generate-hashes --python-version 3.12 \
	  --python-platform x86_64-manylinux_2_28 --custom-compile-command 'make lock' \
	  --output-file requirements-py312.lock $(LOCK_VENV)/runtime-py312.in
	mv requirements.lock.new requirements.lock
	rm -rf $(LOCK_VENV)

## docker-build / docker-run: the pinned CUDA image (needs a Docker engine and an NVIDIA GPU)
docker-build:
	docker build --build-arg GIT_COMMIT="$$(git rev-parse HEAD)" -t $(IMAGE) .

docker-run:
	mkdir -p $(RESULTS)
	docker run --rm --gpus all --user "$$(id -u):$$(id -g)" -v "$$PWD/$(RESULTS):/app/results" $(IMAGE) $(SUITE)

clean:
	rm -rf $(RESULTS) .pytest_cache .ruff_cache .benchmarks
