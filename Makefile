# make demo   - set up .venv and run the demo against the embedded emulator
# make test   - set up .venv and run the whole test suite (what CI runs)
# make lint   - ruff + mypy --strict
# make bench  - run the benchmarks side by side, print the tables, rewrite benchmarks/README.md
#               (about 6 minutes; BENCH_ARGS=--quick for tiny sizes, "--only fleet decode")
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean

.venv/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test,bench]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/orgo-async demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check orgo_async tests benchmarks
	$(BIN)/ruff format --check orgo_async tests benchmarks
	$(BIN)/mypy --strict orgo_async

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .cache
