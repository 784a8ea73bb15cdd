# make demo   - set up .venv and run the demo against the embedded emulator
# make test   - set up .venv and run the whole test suite (what CI runs)
# make lint   - ruff (check + format) and mypy --strict over the package, tests, benchmarks, examples
# make bench  - run the benchmarks side by side, print the tables, rewrite benchmarks/README.md
#               (about 6 minutes; BENCH_ARGS=--quick for tiny sizes, "--only fleet decode")
# make example - the FastAPI fleet dashboard on http://127.0.0.1:8000 against the emulator
#               (needs xvfb, x11vnc, x11-xserver-utils, node/npm; installs noVNC + xterm.js)
# make chaos  - a seeded chaos run: 20,000 operations with injected faults, the table and
#               the invariants (about 2.5 minutes; SEED=, OPS=, LANES= to change it)
# make soak   - 1,000 long-lived channels, fleet polling and rotations for SOAK_MINUTES
#               (default 5), RSS and fds sampled over time (not in CI)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

EXAMPLE := examples/fleet_dashboard
VENDOR  := $(EXAMPLE)/node_modules/.installed

SEED ?= 1
OPS ?= 20000
LANES ?= 48
SOAK_CHANNELS ?= 1000
SOAK_MINUTES ?= 5

.PHONY: demo test lint bench example chaos soak clean

.venv/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test,bench]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/orgo-async demo

test: $(STAMP)
	-@$(MAKE) --no-print-directory $(VENDOR)  # for the browser test; it skips (saying why) without
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check orgo_async tests benchmarks examples
	$(BIN)/ruff format --check orgo_async tests benchmarks examples
	$(BIN)/mypy --strict orgo_async
	$(BIN)/mypy --strict tests benchmarks examples

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

# The example's front-end libraries, from the npm registry at set-up time (git-ignored).
$(VENDOR): $(EXAMPLE)/package.json $(EXAMPLE)/package-lock.json
	cd $(EXAMPLE) && npm ci --no-audit --no-fund
	touch $(VENDOR)

example: $(STAMP) $(VENDOR)
	$(BIN)/python -m examples.fleet_dashboard $(EXAMPLE_ARGS)

chaos: $(STAMP)
	$(BIN)/python -m benchmarks.chaos --seed $(SEED) --ops $(OPS) --lanes $(LANES)

soak: $(STAMP)
	$(BIN)/python -m benchmarks.chaos --soak --seed $(SEED) --channels $(SOAK_CHANNELS) --minutes $(SOAK_MINUTES) $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .cache $(EXAMPLE)/node_modules
