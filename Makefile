# One entry point for developer tasks. `make help` lists them.
SHELL := /bin/bash
PY := .venv/bin/python
export PYTHONPATH := $(CURDIR)

.PHONY: help install demo test test-unit lint bench
help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'
install:  ## create .venv from the hashed lock (uv)
	@scripts/bootstrap.sh
demo: install  ## run the main job end to end on the embedded default (demo data, DuckDB, SQLite Airflow metadata)
	@$(PY) -m transforms.cli demo
test: install  ## install test needs and run every test tier
	@scripts/test.sh
test-unit: install  ## the fast tier: no services
	@$(PY) -m pytest -q -m "unit"
lint:  ## ruff
	@.venv/bin/ruff check .
bench: install  ## benchmarks (see docs/benchmarks.md)
	@$(PY) -m bench.run
